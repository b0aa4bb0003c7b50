import { describe, expect, it } from "vitest";
import {
  BANNER_BACKGROUND,
  SYNTHETIC_BANNER,
  withBanner,
} from "../../../../../gpu-job/pipeline/report/images/banner.js";
import { createRaster, type Raster } from "../../../../../gpu-job/pipeline/report/images/raster.js";

const WHITE = [255, 255, 255];
const pixel = (r: Raster, x: number, y: number) =>
  Array.from(r.data.subarray(3 * (x + r.width * y), 3 * (x + r.width * y) + 3));
const whiteColumns = (r: Raster, rows: number) => {
  const xs = new Set<number>();
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < r.width; x++) if (pixel(r, x, y).every((v, i) => v === WHITE[i])) xs.add(x);
  return [...xs];
};

describe("withBanner", () => {
  it("adds a red strip with the text above the image and keeps every pixel of the image below it", () => {
    const image = createRaster(512, 300, [10, 20, 30]);
    const out = withBanner(image, SYNTHETIC_BANNER);
    const band = out.height - image.height;
    expect(band).toBeGreaterThan(0);
    expect(out.width).toBe(512);
    expect(Buffer.from(out.data.subarray(band * 512 * 3)).equals(Buffer.from(image.data))).toBe(true);
    expect(pixel(out, 0, 0)).toEqual([...BANNER_BACKGROUND]);
    const xs = whiteColumns(out, band);
    // Drawn at twice the font size (38 glyphs of 12 px), centred, inside the strip.
    expect(Math.max(...xs) - Math.min(...xs) + 1).toBe(SYNTHETIC_BANNER.length * 12 - 2);
    expect(Math.abs(Math.min(...xs) - (511 - Math.max(...xs)))).toBeLessThanOrEqual(2);
  });

  it("wraps the text on a narrow image so that none of it is cut off", () => {
    const wide = withBanner(createRaster(512, 10), SYNTHETIC_BANNER);
    const narrow = withBanner(createRaster(120, 10), SYNTHETIC_BANNER);
    const band = narrow.height - 10;
    expect(band).toBeGreaterThan(wide.height - 10);
    const xs = whiteColumns(narrow, band);
    expect(xs.length).toBeGreaterThan(0);
    expect(Math.min(...xs)).toBeGreaterThan(0);
    expect(Math.max(...xs)).toBeLessThan(119);
  });
});
