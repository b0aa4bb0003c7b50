import { describe, expect, it } from "vitest";
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { LEAD, PACEMAKER } from "../../../core/phantom/metal.js";
import { HU_MAX } from "../../../core/phantom/noise.js";
import { resolvePhantomOptions } from "../../../core/phantom/options.js";
import { renderResolved } from "../../../core/phantom/run.js";
import { differing } from "../../helpers/arrays.js";

/** The slice whose centre is nearest LPS z. */
function nearest(z: number[], target: number): number {
  return z.reduce((best, v, k) => (Math.abs(v - target) < Math.abs(z[best]! - target) ? k : best), 0);
}

/** The LPS z of each slice of an axial grid. */
function sliceZ(g: Geometry): number[] {
  const a = voxelToLps(g);
  return Array.from({ length: g.dims[2] }, (_, k) => a[10]! * k + a[11]!);
}

/** Voxel index of LPS (x, y) in slice k of an axis-aligned axial grid. */
function at(g: Geometry, x: number, y: number, k: number): number {
  const a = voxelToLps(g);
  return (
    Math.round((x - a[3]!) / a[0]!) + g.dims[0] * Math.round((y - a[7]!) / a[5]!) + g.dims[0] * g.dims[1] * k
  );
}

describe("a phantom with options.metal", () => {
  // 0.7 mm pixels, 5 mm slices from z -150 to 145: the lead's slices, the can's, and slices with neither.
  const o = resolvePhantomOptions({
    out: "x",
    class: "normal",
    seed: 4,
    slices: 60,
    sliceThickness: 5,
    noiseSd: 0,
  });
  const plain = renderResolved(o).rendered;
  const metal = renderResolved({ ...o, metal: true }).rendered;
  const g = plain.ct;
  const z = sliceZ(g);
  const plane = g.dims[0] * g.dims[1];

  it("draws the can and the lead where they are, and touches no slice above or below the metal", () => {
    const canSlice = nearest(z, PACEMAKER.centre[2]);
    expect(metal.ct.data[at(g, PACEMAKER.centre[0], PACEMAKER.centre[1], canSlice)]).toBe(HU_MAX);
    const leadSlice = nearest(z, 0);
    expect(metal.ct.data[at(g, LEAD.x, LEAD.y, leadSlice)]).toBe(HU_MAX);
    for (let k = 0; k < z.length; k++) {
      const touched =
        (z[k]! >= LEAD.z0 && z[k]! <= LEAD.z1) ||
        Math.abs(z[k]! - PACEMAKER.centre[2]) <= PACEMAKER.halfSize[2];
      const same = metal.ct.data
        .subarray(k * plane, (k + 1) * plane)
        .every((v, p) => v === plain.ct.data[k * plane + p]);
      expect(same).toBe(!touched);
    }
    // Neither lung nor lesion: the truth is the metal-free phantom's.
    expect(differing(metal.lungs.data, plain.lungs.data)).toBe(0);
    expect(differing(metal.lesions.data, plain.lesions.data)).toBe(0);
  });

  it("streaks the lead's slices dark and bright: a dark one below the air threshold in the chest wall's soft tissue", () => {
    const leadSlice = nearest(z, 0);
    let darkened = 0;
    let brightened = 0;
    for (let p = 0; p < plane; p++) {
      const n = leadSlice * plane + p;
      const before = plain.ct.data[n]!;
      const after = metal.ct.data[n]!;
      // Soft tissue (fat to muscle) that the streaks turn air-like, or brighter than bone's marrow.
      if (before > -150 && before < 100 && after < -320) darkened++;
      if (before > -150 && before < 100 && after > before + 150) brightened++;
    }
    expect(darkened).toBeGreaterThan(100);
    expect(brightened).toBeGreaterThan(100);
  });

  it("is the same for a seed, and another for another seed", () => {
    expect(differing(renderResolved({ ...o, metal: true }).rendered.ct.data, metal.ct.data)).toBe(0);
    const other = renderResolved({ ...o, seed: 5, metal: true }).rendered.ct.data;
    const otherPlain = renderResolved({ ...o, seed: 5 }).rendered.ct.data;
    // The streaks' angles differ: the change metal makes differs between the seeds' (same) anatomy.
    let differ = 0;
    for (let n = 0; n < other.length; n++)
      if (other[n]! - otherPlain[n]! !== metal.ct.data[n]! - plain.ct.data[n]!) differ++;
    expect(differ).toBeGreaterThan(1000);
  });
});
