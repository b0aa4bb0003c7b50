import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import {
  CAP_COLOUR,
  CHART_SIZE,
  COVID_COLOUR,
  renderPeripheralChart,
  SCAN_COLOUR,
} from "../../../../../gpu-job/pipeline/report/images/chart.js";
import { encodePng } from "../../../../../gpu-job/pipeline/report/images/encode-png.js";
import type { Raster, Rgb } from "../../../../../gpu-job/pipeline/report/images/raster.js";

function count(r: Raster, c: Rgb): number {
  let n = 0;
  for (let p = 0; p < r.data.length; p += 3)
    if (r.data[p] === c[0] && r.data[p + 1] === c[1] && r.data[p + 2] === c[2]) n++;
  return n;
}

const at = (r: Raster, x: number, y: number): number[] => {
  const p = 3 * (x + r.width * y);
  return [r.data[p]!, r.data[p + 1]!, r.data[p + 2]!];
};

describe("peripheral distribution chart", () => {
  it("draws the scan's curve and both references, the scan's marker where its share says", () => {
    const r = renderPeripheralChart([0.2, 0.4, 0.6, 0.8, 1]);
    expect([r.width, r.height]).toEqual([CHART_SIZE.width, CHART_SIZE.height]);
    expect(count(r, SCAN_COLOUR)).toBeGreaterThan(500);
    expect(count(r, COVID_COLOUR)).toBeGreaterThan(200);
    expect(count(r, CAP_COLOUR)).toBeGreaterThan(200);
    // Plot box x 90..690 for 0..35 mm, y 370..50 for 0..1: the 35 mm marker (share 1) sits at (690, 50),
    // the 14 mm marker (share 0.4) at (330, 242).
    expect(at(r, 690, 50)).toEqual([...SCAN_COLOUR]);
    expect(at(r, 330, 242)).toEqual([...SCAN_COLOUR]);
    // COVID-19 reference at 35 mm: share 0.81 -> y = 370 - 320 * 0.81 = 110.8.
    expect(at(r, 690, 111)).toEqual([...COVID_COLOUR]);
  });

  it("keeps the legend out of the plot, where it could hide a curve", () => {
    // A COVID-like scan: its 7 -> 14 mm segment runs from (210, 130) to (330, 98), through the upper left
    // of the plot, where the legend used to be drawn over it.
    const r = renderPeripheralChart([0.75, 0.85, 0.95, 1, 1]);
    for (const x of [230, 270, 310]) {
      const y = Math.round(130 + ((98 - 130) * (x - 210)) / (330 - 210));
      expect(at(r, x, y), `(${x}, ${y})`).toEqual([...SCAN_COLOUR]);
    }
    // Nothing but grid, axes and curves inside the plot box (x 90..690, y 50..370): no legend text (the
    // axis colour) away from the axes.
    let text = 0;
    for (let y = 52; y < 368; y++) for (let x = 93; x < 688; x++) if (at(r, x, y)[0] === 40) text++;
    expect(text).toBe(0);
    // The legend's swatches lie below the plot and its axis title.
    let below = 0;
    for (let y = 420; y < r.height; y++)
      for (let x = 0; x < r.width; x++) if (at(r, x, y)[2] === 180) below++;
    expect(below).toBeGreaterThan(40);
  });

  it("leaves the scan's curve out without lesions", () => {
    const r = renderPeripheralChart([null, null, null, null, null]);
    expect(count(r, SCAN_COLOUR)).toBe(0);
    expect(count(r, COVID_COLOUR)).toBeGreaterThan(200);
  });

  it("encodes as an 8-bit RGB PNG holding exactly the raster and no text chunks", () => {
    const r = renderPeripheralChart([0.1, 0.2, 0.3, 0.4, 0.5]);
    const png = encodePng(r);
    const decoded = PNG.sync.read(png);
    expect([decoded.width, decoded.height]).toEqual([r.width, r.height]);
    for (let p = 0, q = 0; p < r.data.length; p += 3, q += 4) {
      if (
        decoded.data[q] !== r.data[p] ||
        decoded.data[q + 1] !== r.data[p + 1] ||
        decoded.data[q + 2] !== r.data[p + 2]
      )
        throw new Error(`pixel ${p / 3} differs`);
    }
    const chunks: string[] = [];
    for (let pos = 8; pos < png.length; ) {
      const len = png.readUInt32BE(pos);
      chunks.push(png.toString("latin1", pos + 4, pos + 8));
      pos += 12 + len;
    }
    expect(chunks[0]).toBe("IHDR");
    expect(png[8 + 8 + 8]).toBe(8); // bit depth
    expect(png[8 + 8 + 9]).toBe(2); // colour type RGB
    expect(chunks.filter((c) => !["IHDR", "IDAT", "IEND"].includes(c))).toEqual([]);
  });
});
