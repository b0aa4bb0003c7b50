/**
 * connectedComponents: hand-built masks with known components (6 vs 26 neighbourhoods, merges that happen
 * late in the raster, the `within` restriction, grid borders) and random masks against an independent
 * breadth-first flood fill.
 */
import { describe, expect, it } from "vitest";
import type { Vec3 } from "../../../../core/contracts/volume.js";
import { type Connectivity, connectedComponents } from "../../../../gpu-job/pipeline/findings/components.js";

const at = (dims: Vec3, i: number, j: number, k: number): number => i + dims[0] * (j + dims[1] * k);

function maskWith(dims: Vec3, voxels: Array<[number, number, number]>): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [i, j, k] of voxels) m[at(dims, i, j, k)] = 1;
  return m;
}

/** Independent oracle: BFS labelling with an explicit neighbour list; components in raster order of first voxel. */
function floodFill(mask: Uint8Array, dims: Vec3, connectivity: Connectivity, within?: Uint8Array) {
  const [nx, ny, nz] = dims;
  const label = new Int32Array(mask.length).fill(-1);
  const offsets: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const manhattan = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (manhattan === 0) continue;
        if (connectivity === 6 && manhattan > 1) continue;
        offsets.push([di, dj, dk]);
      }
  const fg = (idx: number) => mask[idx] !== 0 && within?.[idx] !== 0;
  const sizes: number[] = [];
  for (let idx = 0; idx < mask.length; idx++) {
    if (!fg(idx) || label[idx]! >= 0) continue;
    const c = sizes.length;
    sizes.push(0);
    const queue = [idx];
    label[idx] = c;
    while (queue.length > 0) {
      const v = queue.pop()!;
      sizes[c]!++;
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      const k = Math.floor(v / (nx * ny));
      for (const [di, dj, dk] of offsets) {
        const [a, b, d] = [i + di, j + dj, k + dk];
        if (a < 0 || b < 0 || d < 0 || a >= nx || b >= ny || d >= nz) continue;
        const w = at(dims, a, b, d);
        if (fg(w) && label[w]! < 0) {
          label[w] = c;
          queue.push(w);
        }
      }
    }
  }
  const perVoxel: number[] = [];
  for (let idx = 0; idx < mask.length; idx++) if (fg(idx)) perVoxel.push(label[idx]!);
  return { count: sizes.length, sizes, perVoxel };
}

/** Small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("connectedComponents", () => {
  it("joins corner-touching voxels with 26-connectivity and keeps them apart with 6", () => {
    const dims: Vec3 = [4, 4, 4];
    const mask = maskWith(dims, [
      [0, 0, 0],
      [1, 1, 1], // corner of the first
      [3, 3, 3], // alone
    ]);
    const c26 = connectedComponents(mask, dims, 26);
    expect(c26.count).toBe(2);
    expect(Array.from(c26.voxels)).toEqual([2, 1]);
    expect(Array.from(c26.componentOfVoxel)).toEqual([0, 0, 1]);
    const c6 = connectedComponents(mask, dims, 6);
    expect(c6.count).toBe(3);
    expect(Array.from(c6.voxels)).toEqual([1, 1, 1]);
  });

  it("merges a U shape whose arms meet only at the bottom of the raster", () => {
    // Two vertical arms (i = 0 and i = 4) over j = 0..3, joined by a bar at j = 3: the arms get different
    // provisional labels and merge late; the first voxel's component must win (index 0 for everything).
    const dims: Vec3 = [5, 4, 1];
    const voxels: Array<[number, number, number]> = [];
    for (let j = 0; j < 4; j++) voxels.push([0, j, 0], [4, j, 0]);
    for (let i = 1; i < 4; i++) voxels.push([i, 3, 0]);
    const c = connectedComponents(maskWith(dims, voxels), dims, 6);
    expect(c.count).toBe(1);
    expect(Array.from(c.voxels)).toEqual([11]);
    expect(new Set(c.componentOfVoxel)).toEqual(new Set([0]));
  });

  it("merges across slices through the previous slice only (a staircase in k)", () => {
    const dims: Vec3 = [3, 3, 3];
    const mask = maskWith(dims, [
      [0, 0, 0],
      [1, 1, 1],
      [2, 2, 2],
      [2, 0, 2], // touches (1,1,1) by a corner only
    ]);
    expect(connectedComponents(mask, dims, 26).count).toBe(1);
    expect(connectedComponents(mask, dims, 6).count).toBe(4);
  });

  it("only counts voxels inside `within`, and reports the ones it leaves out", () => {
    const dims: Vec3 = [6, 1, 1];
    const mask = Uint8Array.from([1, 1, 1, 1, 1, 0]);
    const within = Uint8Array.from([1, 1, 0, 2, 2, 2]);
    const c = connectedComponents(mask, dims, 26, within);
    expect(c.count).toBe(2);
    expect(Array.from(c.voxels)).toEqual([2, 2]);
    expect(c.excluded).toBe(1);
    expect(Array.from(c.componentOfVoxel)).toEqual([0, 0, 1, 1]);
  });

  it("does not wrap around row or slice borders", () => {
    // (nx-1, j) and (0, j+1) are adjacent in memory, not in space.
    const dims: Vec3 = [5, 3, 3];
    const mask = maskWith(dims, [
      [4, 0, 0],
      [0, 1, 0], // next to (4, 0, 0) in memory
      [4, 2, 1],
      [0, 0, 2], // next to (4, 2, 1) in memory
    ]);
    expect(connectedComponents(mask, dims, 26).count).toBe(4);
  });

  it("numbers components by their first voxel in raster order", () => {
    const dims: Vec3 = [8, 8, 2];
    const mask = maskWith(dims, [
      [6, 6, 0], // listed first, but second in raster order (index 54)
      [1, 1, 0], // index 9: first in raster order
      [3, 0, 1], // slice 1: third
    ]);
    const c = connectedComponents(mask, dims, 26);
    expect(c.count).toBe(3);
    // Foreground voxels in raster order: (1,1,0), (6,6,0), (3,0,1).
    expect(Array.from(c.componentOfVoxel)).toEqual([0, 1, 2]);
  });

  it("rejects a mask whose length does not match the grid", () => {
    expect(() => connectedComponents(new Uint8Array(7), [2, 2, 2], 26)).toThrow(RangeError);
    expect(() => connectedComponents(new Uint8Array(8), [2, 2, 2], 26, new Uint8Array(4))).toThrow(
      RangeError,
    );
  });

  const cases: Array<{ dims: Vec3; density: number; seed: number; offset: number }> = [
    { dims: [7, 5, 6], density: 0.35, seed: 1, offset: 0 },
    { dims: [13, 11, 9], density: 0.25, seed: 2, offset: 1 }, // unaligned view: no 32-bit skipping
    { dims: [16, 12, 10], density: 0.08, seed: 3, offset: 0 }, // sparse: mostly skipped words
    { dims: [9, 16, 8], density: 0.5, seed: 4, offset: 3 },
  ];
  for (const { dims, density, seed, offset } of cases) {
    for (const connectivity of [6, 26] as const) {
      it(`matches a flood fill on a random ${dims.join("x")} mask (density ${density}, ${connectivity}-connected)`, () => {
        const n = dims[0] * dims[1] * dims[2];
        const random = rng(seed);
        const buffer = new Uint8Array(n + offset);
        const mask = buffer.subarray(offset);
        const within = new Uint8Array(n);
        for (let v = 0; v < n; v++) {
          mask[v] = random() < density ? 1 + Math.floor(random() * 3) : 0;
          within[v] = random() < 0.85 ? 1 : 0;
        }
        const got = connectedComponents(mask, dims, connectivity, within);
        const want = floodFill(mask, dims, connectivity, within);
        expect(got.count).toBe(want.count);
        expect(Array.from(got.voxels)).toEqual(want.sizes);
        expect(Array.from(got.componentOfVoxel)).toEqual(want.perVoxel);
        let excluded = 0;
        for (let v = 0; v < n; v++) if (mask[v] !== 0 && within[v] === 0) excluded++;
        expect(got.excluded).toBe(excluded);
      });
    }
  }
});
