import { describe, expect, it } from "vitest";
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { BODY } from "../../../core/phantom/anatomy.js";
import { phantomGrid } from "../../../core/phantom/grid.js";
import { resolvePhantomOptions } from "../../../core/phantom/options.js";
import { renderResolved } from "../../../core/phantom/run.js";
import { paintTable, placeTable, TABLE } from "../../../core/phantom/table.js";

const UPRIGHT = { widthScale: 1, depthScale: 1 };

/** Voxel index of the LPS point (x, y) in slice k of an axis-aligned axial grid. */
function at(g: Geometry, x: number, y: number, k = 0): number {
  const a = voxelToLps(g);
  const i = Math.round((x - a[3]!) / a[0]!);
  const j = Math.round((y - a[7]!) / a[5]!);
  return i + g.dims[0] * j + g.dims[0] * g.dims[1] * k;
}

describe("placeTable", () => {
  it("puts the top just below the body's lowest point, upright, scaled and rolled", () => {
    const g = phantomGrid(resolvePhantomOptions({ out: "x" }));
    expect(placeTable(g, UPRIGHT, 0).topMm).toBeCloseTo(BODY.b + TABLE.gapMm, 10);
    expect(placeTable(g, { widthScale: 1, depthScale: 0.8 }, 0).topMm).toBeCloseTo(
      0.8 * BODY.b + TABLE.gapMm,
      10,
    );
    // Rolled onto its side the body's lowest point is its half width.
    expect(placeTable(g, UPRIGHT, 90).topMm).toBeCloseTo(BODY.a + TABLE.gapMm, 10);
    const r = placeTable(g, UPRIGHT, 30).topMm;
    expect(r).toBeGreaterThan(BODY.b + TABLE.gapMm);
    expect(r).toBeLessThan(BODY.a + TABLE.gapMm);
  });
});

describe("paintTable", () => {
  // 1 mm pixels over 500 mm: the whole table in view, skins two pixels thick.
  const grid = phantomGrid(resolvePhantomOptions({ out: "x", size: 500, slices: 3, pixelSpacing: 1 }));
  const placed = placeTable(grid, UPRIGHT, 0);
  const painted = (g: Geometry = grid): Int16Array => {
    const hu = new Int16Array(g.dims[0] * g.dims[1] * g.dims[2]).fill(-1000);
    paintTable(hu, { grid: g, topMm: placed.topMm });
    return hu;
  };

  it("draws skin, core and skin under the body's axis, the same in every slice, and nothing above it", () => {
    const hu = painted();
    const top = placed.topMm;
    for (const k of [0, 2]) {
      expect(hu[at(grid, 0, top - 1.5, k)]).toBe(-1000);
      expect(hu[at(grid, 0, top + 1, k)]).toBe(TABLE.skinHu);
      expect(hu[at(grid, 0, top + 20, k)]).toBe(TABLE.coreHu);
      expect(hu[at(grid, 0, top + 2 * TABLE.skinMm + TABLE.coreMm - 1, k)]).toBe(TABLE.skinHu);
      expect(hu[at(grid, 0, top + 2 * TABLE.skinMm + TABLE.coreMm + 1.5, k)]).toBe(-1000);
    }
    // Dished: 200 mm out the top is 200^2 / 2R higher; closed at the sides; nothing beyond them.
    const rise = (200 * 200) / (2 * TABLE.dishRadiusMm);
    expect(hu[at(grid, 200, top - rise + 20)]).toBe(TABLE.coreHu);
    expect(hu[at(grid, 200, top + 20)]).toBe(TABLE.coreHu);
    expect(hu[at(grid, -TABLE.halfWidthMm + 1, top + 20)]).toBe(TABLE.skinHu);
    expect(hu[at(grid, TABLE.halfWidthMm + 2, top + 20)]).toBe(-1000);
    // Nothing anywhere above the dish's highest edge.
    const a = voxelToLps(grid);
    const highest = top - (TABLE.halfWidthMm * TABLE.halfWidthMm) / (2 * TABLE.dishRadiusMm) - 1;
    for (let j = 0; j < grid.dims[1]; j++)
      if (a[7]! + a[5]! * j < highest)
        for (let i = 0; i < grid.dims[0]; i++) expect(hu[i + grid.dims[0] * j]).toBe(-1000);
  });

  it("area-averages pixels the skin covers in part", () => {
    // 4 mm pixels: the 2 mm skin and a part of the core or of the air share a pixel.
    const coarse = phantomGrid(resolvePhantomOptions({ out: "x", size: 125, slices: 1, pixelSpacing: 4 }));
    const hu = painted(coarse);
    const values = new Set(hu);
    expect([...values].some((v) => v > TABLE.coreHu && v < TABLE.skinHu && v !== -1000)).toBe(true);
    expect(Math.max(...values)).toBeLessThanOrEqual(TABLE.skinHu);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-1000);
  });

  it("paints a tilted grid where the table lies in LPS, voxel by voxel", () => {
    // A gantry tilt of 20 degrees: each slice meets the level table at another height in its rows.
    const tilted = phantomGrid(
      resolvePhantomOptions({
        out: "x",
        size: 250,
        slices: 5,
        sliceThickness: 10,
        pixelSpacing: 2,
        orientation: { rotateXDeg: 20, rotateYDeg: 0 },
      }),
    );
    const hu = painted(tilted);
    const a = voxelToLps(tilted);
    const [nx, ny, nz] = tilted.dims;
    let checked = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++) {
        const i = nx >> 1;
        const y = a[4]! * i + a[5]! * j + a[6]! * k + a[7]!;
        const x = a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        const depth = y - (placed.topMm - (x * x) / (2 * TABLE.dishRadiusMm));
        // Pixel centres well inside the core, or well clear of the table (the pixels reach 2-3 mm in y).
        if (depth > 8 && depth < 36) {
          expect(hu[i + nx * j + nx * ny * k]).toBe(TABLE.coreHu);
          checked++;
        }
        if (depth < -8 || depth > 52) expect(hu[i + nx * j + nx * ny * k]).toBe(-1000);
      }
    expect(checked).toBeGreaterThan(20);
  });
});

describe("a phantom with options.table", () => {
  it("shows the table below the body and leaves every voxel above it, the lungs and the lesions alone", () => {
    const o = resolvePhantomOptions({
      out: "x",
      class: "covid",
      seed: 3,
      size: 128,
      slices: 8,
      pixelSpacing: 500 / 128,
    });
    const plain = renderResolved(o).rendered;
    const withTable = renderResolved({ ...o, table: true }).rendered;
    expect(withTable.lungs.data).toEqual(plain.lungs.data);
    expect(withTable.lesions.data).toEqual(plain.lesions.data);
    const top = placeTable(withTable.ct, UPRIGHT, 0).topMm;
    const core = at(withTable.ct, 0, top + 22, 4);
    // The noise (15 HU) is on the table as on everything else.
    expect(Math.abs(withTable.ct.data[core]! - TABLE.coreHu)).toBeLessThan(80);
    expect(plain.ct.data[core]).toBeLessThan(-900);
    // Above the table, every voxel is what it was.
    const a = voxelToLps(withTable.ct);
    const highest = top - (TABLE.halfWidthMm * TABLE.halfWidthMm) / (2 * TABLE.dishRadiusMm) - 4;
    let differ = 0;
    for (let n = 0; n < plain.ct.data.length; n++) {
      const j = Math.floor((n % (128 * 128)) / 128);
      if (a[7]! + a[5]! * j < highest && plain.ct.data[n] !== withTable.ct.data[n]) differ++;
    }
    expect(differ).toBe(0);
  });
});
