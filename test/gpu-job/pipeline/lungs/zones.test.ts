/**
 * assignZones: thirds of each lung's own height in patient z, whatever the slice order or obliquity, and
 * the same thirds as the phantom truth's model (core/phantom/lung-model.ts zoneOf).
 */
import { describe, expect, it } from "vitest";
import type { Geometry, Vec3 } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import { getLungModel, zoneOf } from "../../../../core/phantom/lung-model.js";
import { LUNG_ZONE } from "../../../../gpu-job/pipeline/lungs/types.js";
import { assignZones } from "../../../../gpu-job/pipeline/lungs/zones.js";
import { gridOf, renderSmall } from "./phantom-fixture.js";

const ZONE_NAME = {
  [LUNG_ZONE.upper]: "upper",
  [LUNG_ZONE.middle]: "middle",
  [LUNG_ZONE.lower]: "lower",
} as const;

function axial(dims: Vec3, spacing: Vec3, descending = false): Geometry {
  return {
    dims,
    spacing,
    origin: [0, 0, descending ? 100 : 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, descending ? -1 : 1],
  };
}

describe("assignZones", () => {
  it("splits each lung into thirds of its own height (ascending stack)", () => {
    const g = axial([2, 1, 9], [1, 1, 3]);
    const labels = new Uint8Array(18);
    for (let k = 0; k < 9; k++) labels[2 * k] = 1; // right lung: k 0..8, z 0..24
    for (let k = 3; k <= 5; k++) labels[2 * k + 1] = 2; // left lung: k 3..5, z 9..15
    const z = assignZones(labels, g);
    const right = Array.from({ length: 9 }, (_, k) => z[2 * k]);
    // t = k/8: 0,.125,.25 lower; .375,.5,.625 middle; .75,.875,1 upper.
    expect(right).toEqual([3, 3, 3, 2, 2, 2, 1, 1, 1]);
    // t = 0, .5, 1 for the left lung's own extent.
    expect([z[7], z[9], z[11]]).toEqual([3, 2, 1]);
    // Outside the lungs: none.
    expect(z[1]).toBe(0);
  });

  it("uses patient z, not the k index: a descending stack gets the same zones per position", () => {
    const dims: Vec3 = [3, 2, 12];
    const asc = axial(dims, [1, 1, 2.5]);
    const desc = axial(dims, [1, 1, 2.5], true);
    const labelsAsc = new Uint8Array(72);
    const labelsDesc = new Uint8Array(72);
    // The same lung (z from 2.5 to 27.5 mm) in both grids: in the descending grid z = 100 - 2.5 k.
    for (let k = 0; k < 12; k++) {
      const zA = 2.5 * k;
      for (let v = 0; v < 6; v++) if (zA >= 2.5 && zA <= 27.5) labelsAsc[v + 6 * k] = v % 2 ? 1 : 2;
      const zD = 100 - 2.5 * k;
      for (let v = 0; v < 6; v++) if (zD >= 72.5 && zD <= 97.5) labelsDesc[v + 6 * k] = v % 2 ? 1 : 2;
    }
    const za = assignZones(labelsAsc, asc);
    const zd = assignZones(labelsDesc, desc);
    // The top slice of the lung is k = 11 ascending, k = 1 descending; both upper.
    expect(za[6 * 11]).toBe(LUNG_ZONE.upper);
    expect(zd[6 * 1]).toBe(LUNG_ZONE.upper);
    expect(za[6 * 1]).toBe(LUNG_ZONE.lower);
    expect(zd[6 * 11]).toBe(LUNG_ZONE.lower);
    // Position by position (relative to each lung's bottom), identical zone sequences.
    const seqA = Array.from({ length: 11 }, (_, n) => za[6 * (1 + n) + 1]);
    const seqD = Array.from({ length: 11 }, (_, n) => zd[6 * (11 - n) + 1]);
    expect(seqD).toEqual(seqA);
  });

  it("measures height along patient z on an oblique grid", () => {
    const g = gridOf({
      size: 16,
      slices: 10,
      sliceThickness: 20,
      orientation: { rotateXDeg: 30, rotateYDeg: -20 },
    });
    const [nx, ny, nz] = g.dims;
    const labels = new Uint8Array(nx * ny * nz);
    for (let v = 0; v < labels.length; v++) labels[v] = v % 3 === 0 ? 1 : 0;
    const zones = assignZones(labels, g);
    let lo = Infinity;
    let hi = -Infinity;
    const zs = new Float64Array(labels.length);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const v = i + nx * (j + ny * k);
          zs[v] = voxelCentre(g, i, j, k)[2];
          if (!labels[v]) continue;
          lo = Math.min(lo, zs[v]!);
          hi = Math.max(hi, zs[v]!);
        }
    const counts = [0, 0, 0, 0];
    for (let v = 0; v < labels.length; v++) {
      if (!labels[v]) {
        expect(zones[v]).toBe(0);
        continue;
      }
      const t = (zs[v]! - lo) / (hi - lo);
      // Away from the boundaries (rounding), the zone is the third of patient height.
      if (Math.abs(t - 1 / 3) < 1e-9 || Math.abs(t - 2 / 3) < 1e-9) continue;
      expect(zones[v]).toBe(t < 1 / 3 ? 3 : t < 2 / 3 ? 2 : 1);
      counts[zones[v]!]!++;
    }
    // The k index alone would not give this: each zone mixes several k slices on this grid.
    expect(counts[1]).toBeGreaterThan(100);
    expect(counts[2]).toBeGreaterThan(100);
    expect(counts[3]).toBeGreaterThan(100);
  });

  it("a lung at a single height is all middle zone; tiny and mismatched inputs", () => {
    const g = axial([3, 1, 1], [1, 1, 1]);
    expect(Array.from(assignZones(Uint8Array.from([1, 2, 0]), g))).toEqual([2, 2, 0]);
    expect(() => assignZones(new Uint8Array(2), g)).toThrow(RangeError);
  });

  it("agrees with the phantom truth's zones (thirds of each lung's height)", () => {
    const r = renderSmall("normal", 3);
    const g = r.lungs;
    const zones = assignZones(g.data, g);
    const model = getLungModel();
    const [nx, ny, nz] = g.dims;
    let agree = 0;
    let total = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const v = i + nx * (j + ny * k);
          const side = g.data[v]!;
          if (side !== 1 && side !== 2) continue;
          total++;
          const truth = zoneOf(model, side, voxelCentre(g, i, j, k)[2]);
          if (ZONE_NAME[zones[v] as 1 | 2 | 3] === truth) agree++;
        }
    // The voxel grid and the 2 mm model disagree only in the slices at the two zone boundaries.
    expect(total).toBeGreaterThan(50000);
    expect(agree / total).toBeGreaterThan(0.99);
  });
});
