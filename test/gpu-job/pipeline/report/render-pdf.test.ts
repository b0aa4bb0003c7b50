/**
 * The PDF renderer on its own: text survives extraction (pdftotext), characters outside WinAnsi are
 * mapped instead of failing, long words wrap, and images embedded by passing the PNG's IDAT through
 * (Predictor 15) rasterise to the right pixels in poppler.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PDFDocument, StandardFonts } from "pdf-lib";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../../../../gpu-job/pipeline/report/images/encode-png.js";
import { createRaster, fillRect } from "../../../../gpu-job/pipeline/report/images/raster.js";
import { rgbPngLayout } from "../../../../gpu-job/pipeline/report/pdf-image.js";
import { renderPdf, winAnsi, wrap } from "../../../../gpu-job/pipeline/report/render-pdf.js";
import type { ReportDocument } from "../../../../gpu-job/pipeline/report/report-content.js";
import { toolAvailable } from "./dicom-helpers.js";

const HAVE_POPPLER = toolAvailable("pdftotext", ["-v"]) && toolAvailable("pdftoppm", ["-v"]);
const work = mkdtempSync(join(tmpdir(), "deepsc-pdf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function doc(figures: { file: string; width: number; height: number }[]): ReportDocument {
  return {
    title: "Test report",
    disclaimer: { text: "Synthetic model: not for clinical use.", prominent: true },
    blocks: [
      { kind: "heading", text: "Numbers" },
      {
        kind: "table",
        header: ["Name", "Value"],
        rows: [
          ["score ≥ 5", "12.5 %"],
          ["minus", "−3"],
        ],
        align: ["left", "right"],
      },
      ...(figures.length > 0
        ? [
            {
              kind: "figures" as const,
              figures: figures.map((f) => ({ ...f, title: "Figure", caption: "Red left, blue right." })),
            },
          ]
        : []),
    ],
    footer: "footer text",
  };
}

function twoColourPng(): Uint8Array {
  const r = createRaster(64, 32);
  fillRect(r, 0, 0, 32, 32, [255, 0, 0]);
  fillRect(r, 32, 0, 32, 32, [0, 0, 255]);
  return new Uint8Array(encodePng(r));
}

describe("PDF text", () => {
  it("maps characters outside WinAnsi and keeps the ones it has", () => {
    expect(winAnsi("≥ 5 % − 3 → x ≈ y · é ü ² — “q”")).toBe(">= 5 % - 3 -> x ~ y · é ü ² — “q”");
    expect(winAnsi("日本")).toBe("??");
  });

  it("wraps at spaces and cuts words wider than the column", async () => {
    const font = await (await PDFDocument.create()).embedFont(StandardFonts.Helvetica);
    const lines = wrap(`short words then ${"a".repeat(120)} end`, font, 10, 100);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(font.widthOfTextAtSize(l, 10)).toBeLessThanOrEqual(100);
    expect(lines.join("")).toContain("a".repeat(20));
    expect(lines.join(" ").replace(/ /g, "")).toBe(`shortwordsthen${"a".repeat(120)}end`);
  });

  it.skipIf(!HAVE_POPPLER)("holds the disclaimer, the table and the mapped text for pdftotext", async () => {
    const path = join(work, "text.pdf");
    writeFileSync(path, await renderPdf(doc([]), new Map(), { now: new Date(0) }));
    const text = spawnSync("pdftotext", [path, "-"], { encoding: "utf8" }).stdout.replace(/\s+/g, " ");
    expect(text).toContain("Synthetic model: not for clinical use.");
    expect(text).toContain("score >= 5");
    expect(text).toContain("12.5 %");
    expect(text).toContain("Page 1 of 1");
  });
});

describe("PDF images", () => {
  it("reads the layout of 8-bit RGB PNGs only", () => {
    const layout = rgbPngLayout(twoColourPng());
    expect(layout).toMatchObject({ width: 64, height: 32 });
    expect(layout?.idat.length).toBeGreaterThan(0);
    const grey = new PNG({ width: 4, height: 4, colorType: 0 });
    expect(rgbPngLayout(new Uint8Array(PNG.sync.write(grey, { colorType: 0 })))).toBeUndefined();
    expect(rgbPngLayout(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });

  it.skipIf(!HAVE_POPPLER)("rasterises a passed-through PNG to its own pixels", async () => {
    const path = join(work, "image.pdf");
    const pngs = new Map([["images/x.png", twoColourPng()]]);
    writeFileSync(
      path,
      await renderPdf(doc([{ file: "images/x.png", width: 64, height: 32 }]), pngs, { now: new Date(0) }),
    );
    const r = spawnSync("pdftoppm", ["-png", "-r", "36", "-singlefile", path, join(work, "page")]);
    expect(r.status).toBe(0);
    const page = PNG.sync.read(readFileSync(join(work, "page.png")));
    let red = 0;
    let blue = 0;
    let redX = 0;
    let blueX = 0;
    for (let y = 0; y < page.height; y++)
      for (let x = 0; x < page.width; x++) {
        const q = 4 * (x + page.width * y);
        const [R, G, B] = [page.data[q]!, page.data[q + 1]!, page.data[q + 2]!];
        if (R > 240 && G < 15 && B < 15) {
          red++;
          redX += x;
        } else if (B > 240 && R < 15 && G < 15) {
          blue++;
          blueX += x;
        }
      }
    // 430 x 215 pt at 36 dpi: about 215 x 107 pixels, half of each colour.
    expect(red).toBeGreaterThan(8000);
    expect(Math.abs(red - blue) / red).toBeLessThan(0.05);
    expect(redX / red).toBeLessThan(blueX / blue);
  });
});
