import { describe, expect, it } from "vitest";
import type { Geometry, Mat3, Vec3 } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import {
  inPlaneFieldOfViewMm,
  nativeIndex,
  orientedView,
} from "../../../../gpu-job/pipeline/preprocess/orientation.js";

function geometry(direction: Mat3, dims: Vec3 = [4, 5, 6], spacing: Vec3 = [0.7, 0.8, 2.5]): Geometry {
  return { dims, spacing, origin: [10, -20, 30], direction };
}

/** Native (i, j, k) of a native flat index. */
function ijk(g: Geometry, idx: number): Vec3 {
  const [nx, ny] = g.dims;
  return [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))];
}

/** Check that every oriented step moves towards L, P and S respectively, and that the mapping is a bijection. */
function expectLpsOrdered(g: Geometry): void {
  const v = orientedView(g);
  expect(v.dims[0] * v.dims[1] * v.dims[2]).toBe(g.dims[0] * g.dims[1] * g.dims[2]);
  const seen = new Set<number>();
  for (let z = 0; z < v.dims[2]; z++)
    for (let y = 0; y < v.dims[1]; y++)
      for (let x = 0; x < v.dims[0]; x++) {
        const idx = nativeIndex(v, x, y, z);
        expect(idx).toBeGreaterThanOrEqual(0);
        seen.add(idx);
        const p = voxelCentre(g, ...ijk(g, idx));
        for (const [axis, step] of [
          [0, [1, 0, 0]],
          [1, [0, 1, 0]],
          [2, [0, 0, 1]],
        ] as const) {
          const next = [x + step[0], y + step[1], z + step[2]];
          if ((next[axis] as number) >= v.dims[axis]) continue;
          const q = voxelCentre(
            g,
            ...ijk(g, nativeIndex(v, next[0] as number, next[1] as number, next[2] as number)),
          );
          expect(q[axis] - p[axis], `axis ${axis}`).toBeGreaterThan(0);
        }
      }
  expect(seen.size).toBe(g.dims[0] * g.dims[1] * g.dims[2]);
}

describe("orientedView", () => {
  it("is the identity for an LPS axial scan", () => {
    const v = orientedView(geometry([1, 0, 0, 0, 1, 0, 0, 0, 1]));
    expect(v.stride).toEqual([1, 4, 20]);
    expect(v.offset).toBe(0);
    expect(v.spacing).toEqual([0.7, 0.8, 2.5]);
  });

  it("flips a descending stack along z", () => {
    const g = geometry([1, 0, 0, 0, 1, 0, 0, 0, -1]);
    const v = orientedView(g);
    expect(v.stride).toEqual([1, 4, -20]);
    expect(v.offset).toBe(5 * 20);
    expectLpsOrdered(g);
  });

  it("flips x and y of an RAS-stored volume (NIfTI from many tools)", () => {
    expectLpsOrdered(geometry([-1, 0, 0, 0, -1, 0, 0, 0, 1]));
  });

  it("permutes a coronal acquisition (j along -z, k along +y) and carries the spacing", () => {
    const g = geometry([1, 0, 0, 0, 0, 1, 0, -1, 0]);
    const v = orientedView(g);
    expect(v.axes.map((a) => a.native)).toEqual([0, 2, 1]);
    expect(v.spacing).toEqual([0.7, 2.5, 0.8]);
    expect(v.dims).toEqual([4, 6, 5]);
    expectLpsOrdered(g);
  });

  it("keeps a permutation (no resampling) for an oblique stack", () => {
    const a = (20 * Math.PI) / 180;
    const g = geometry([Math.cos(a), 0, Math.sin(a), 0, 1, 0, -Math.sin(a), 0, Math.cos(a)]);
    const v = orientedView(g);
    expect(v.axes.map((x) => x.native)).toEqual([0, 1, 2]);
    expect(v.axes.map((x) => x.flipped)).toEqual([false, false, false]);
  });
});

describe("inPlaneFieldOfViewMm", () => {
  it("measures the patient's left-right and front-back extent whichever voxel axes carry them", () => {
    // Axial: 4 x 0.7 = 2.8 mm across, 5 x 0.8 = 4 mm front to back.
    expect(inPlaneFieldOfViewMm(geometry([1, 0, 0, 0, 1, 0, 0, 0, 1]))).toBeCloseTo(2.8, 9);
    // Coronal (j head to feet, k front to back): front to back is k's 6 x 2.5 = 15 mm, not j's 4 mm.
    const coronal = geometry([1, 0, 0, 0, 0, 1, 0, -1, 0], [40, 5, 6], [0.7, 0.8, 2.5]);
    expect(inPlaneFieldOfViewMm(coronal)).toBeCloseTo(15, 9);
  });
});
