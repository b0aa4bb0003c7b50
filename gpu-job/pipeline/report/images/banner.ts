/**
 * The band a key image carries above its pixels when the model was trained on synthetic data: an image
 * leaves the report (a PACS viewer, a slide, a message) without the report's disclaimer, so it must say
 * so itself. Drawn as a strip added above the image, never over the anatomy or its labels.
 */
import { drawText, GLYPH_HEIGHT, textWidth } from "./font.js";
import { createRaster, type Raster, type Rgb } from "./raster.js";

export const SYNTHETIC_BANNER = "SYNTHETIC MODEL - NOT FOR CLINICAL USE";

export const BANNER_BACKGROUND: Rgb = [170, 0, 0];
const BANNER_TEXT: Rgb = [255, 255, 255];

/** The raster with `text` in white on a red strip above it, in as many lines as its width needs. */
export function withBanner(r: Raster, text: string): Raster {
  const scale = textWidth(text, 2) + 16 <= r.width ? 2 : 1;
  const lines = wrap(text, Math.max(1, r.width - 8 * scale), scale);
  const lineHeight = (GLYPH_HEIGHT + 3) * scale;
  const pad = 3 * scale;
  const band = lines.length * lineHeight + 2 * pad - 3 * scale;
  const out = createRaster(r.width, band + r.height, BANNER_BACKGROUND);
  out.data.set(r.data, band * r.width * 3);
  lines.forEach((line, i) => {
    drawText(out, line, (r.width - textWidth(line, scale)) / 2, pad + i * lineHeight, BANNER_TEXT, scale);
  });
  return out;
}

/** Words to lines no wider than `width` pixels (a word wider than that stands alone, cut by the edge). */
function wrap(text: string, width: number, scale: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line === "" ? word : `${line} ${word}`;
    if (line !== "" && textWidth(next, scale) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  lines.push(line);
  return lines;
}
