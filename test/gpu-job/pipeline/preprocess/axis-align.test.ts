import { describe, expect, it } from "vitest";
import type { Geometry, Mat3, Vec3, Volume } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import { alignToLps, obliquityDeg } from "../../../../gpu-job/pipeline/preprocess/axis-align.js";

const rad = (d: number) => (d * Math.PI) / 180;
/** Rotation about x by a, then about y by b, as the direction matrix (columns = voxel axes). */
function rotated(a: number, b: number): Mat3 {
  const [ca, sa, cb, sb] = [Math.cos(rad(a)), Math.sin(rad(a)), Math.cos(rad(b)), Math.sin(rad(b))];
  const rx = [1, 0, 0, 0, ca, -sa, 0, sa, ca];
  const ry = [cb, 0, sb, 0, 1, 0, -sb, 0, cb];
  const m = new Array(9).fill(0);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++)
      for (let k = 0; k < 3; k++) m[3 * r + c] += (ry[3 * r + k] as number) * (rx[3 * k + c] as number);
  return m as Mat3;
}

/** A volume whose HU is a linear function of the LPS position (trilinear interpolation reproduces it exactly). */
function linearVolume(g: Geometry, f: (p: Vec3) => number): Volume {
  const [nx, ny, nz] = g.dims;
  const data = new Int16Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = Math.round(f(voxelCentre(g, i, j, k)));
  return { ...g, data };
}

describe("obliquityDeg", () => {
  it("is 0 for axis-aligned scans in any storage order and the tilt angle otherwise", () => {
    const g = (direction: Mat3): Geometry => ({
      dims: [4, 4, 4],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction,
    });
    expect(obliquityDeg(g([1, 0, 0, 0, 1, 0, 0, 0, 1]))).toBeCloseTo(0, 9);
    expect(obliquityDeg(g([1, 0, 0, 0, 1, 0, 0, 0, -1]))).toBeCloseTo(0, 9);
    expect(obliquityDeg(g([1, 0, 0, 0, 0, 1, 0, -1, 0]))).toBeCloseTo(0, 9);
    expect(obliquityDeg(g(rotated(12, 0)))).toBeCloseTo(12, 6);
    // Gantry tilt: only the slice axis leans (a sheared stack).
    const t = rad(15);
    expect(obliquityDeg(g([1, 0, 0, 0, 1, Math.sin(t), 0, 0, Math.cos(t)]))).toBeCloseTo(15, 6);
  });
});

describe("alignToLps", () => {
  const g: Geometry = {
    dims: [24, 20, 12],
    spacing: [1.5, 1.5, 3],
    origin: [-10, 5, 40],
    direction: rotated(12, -8),
  };
  const f = (p: Vec3) => -600 + 3 * p[0] - 2 * p[1] + 4 * p[2];
  const vol = linearVolume(g, f);
  const lungs = Uint8Array.from(vol.data, (v) => (v > -600 ? 1 : 0));
  const aligned = alignToLps(vol, lungs);
  const a = aligned.volume;

  it("builds an identity-direction grid with the scan's voxel sizes that covers the whole scan", () => {
    expect(a.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(a.spacing).toEqual([1.5, 1.5, 3]);
    for (const c of [
      [0, 0, 0],
      [23, 19, 11],
      [23, 0, 11],
      [0, 19, 0],
    ] as Vec3[]) {
      const p = voxelCentre(g, ...c);
      for (let r = 0; r < 3; r++) {
        const idx = ((p[r] as number) - (a.origin[r] as number)) / (a.spacing[r] as number);
        expect(idx).toBeGreaterThan(-1e-6);
        expect(idx).toBeLessThan((a.dims[r] as number) - 1 + 1e-6);
      }
    }
  });

  it("flags the aligned slices where lung touches the edge of the scan's field of view", () => {
    // Independent of the resampling loop: a voxel is imaged when its position maps into the scan's voxel
    // centres (the direction is a rotation, so its inverse is its transpose).
    const d = g.direction;
    const imaged = (x: number, y: number, z: number) => {
      const q = [
        a.origin[0] + x * a.spacing[0] - g.origin[0],
        a.origin[1] + y * a.spacing[1] - g.origin[1],
        a.origin[2] + z * a.spacing[2] - g.origin[2],
      ] as Vec3;
      return [0, 1, 2].every((c) => {
        const idx = (d[c]! * q[0] + d[3 + c]! * q[1] + d[6 + c]! * q[2]) / g.spacing[c]!;
        return idx >= -1e-4 && idx <= g.dims[c]! - 1 + 1e-4;
      });
    };
    const [mx, my, mz] = a.dims;
    const expected = new Uint8Array(mz);
    for (let z = 0; z < mz; z++)
      for (let y = 0; y < my; y++)
        for (let x = 0; x < mx; x++) {
          if (aligned.lungMask[x + mx * (y + my * z)] === 0) continue;
          for (const [dx, dy, dz] of [
            [1, 0, 0],
            [-1, 0, 0],
            [0, 1, 0],
            [0, -1, 0],
            [0, 0, 1],
            [0, 0, -1],
          ]) {
            const [u, v, w] = [x + dx!, y + dy!, z + dz!];
            if (u < 0 || v < 0 || w < 0 || u >= mx || v >= my || w >= mz) continue;
            if (!imaged(u, v, w)) expected[z] = 1;
          }
        }
    expect(Array.from(aligned.lungCutSlices)).toEqual(Array.from(expected));
    expect(expected.some(Boolean)).toBe(true); // this tilted scan's lungs reach its edges
  });

  it("samples HU at the right place (exact for a linear field) and air outside the field of view", () => {
    let inside = 0;
    let outside = 0;
    const [mx, my, mz] = a.dims;
    for (let z = 0; z < mz; z++)
      for (let y = 0; y < my; y++)
        for (let x = 0; x < mx; x++) {
          const v = a.data[x + mx * (y + my * z)] as number;
          const p: Vec3 = [
            a.origin[0] + x * a.spacing[0],
            a.origin[1] + y * a.spacing[1],
            a.origin[2] + z * a.spacing[2],
          ];
          if (v === -1024) {
            outside++;
            continue;
          }
          inside++;
          expect(Math.abs(v - f(p)), `at ${x},${y},${z}`).toBeLessThanOrEqual(1.01); // int16 rounding twice
        }
    expect(inside).toBeGreaterThan(g.dims[0] * g.dims[1] * g.dims[2] * 0.8);
    expect(outside).toBeGreaterThan(0);
  });

  it("samples two continuous maps of the aligned grid back at the scan's own voxel centres, trilinearly", () => {
    const [mx, my, mz] = a.dims;
    // Trilinear interpolation reproduces a linear function exactly: every sample can be checked.
    const f = (x: number, y: number, z: number) => 3 + 0.5 * x - 0.25 * y + 2 * z;
    const h = (x: number, y: number, z: number) => -1 - 2 * x + 0.75 * y + 0.1 * z;
    const map = new Float32Array(mx * my * mz);
    const other = new Float64Array(mx * my * mz);
    for (let z = 0; z < mz; z++)
      for (let y = 0; y < my; y++)
        for (let x = 0; x < mx; x++) {
          map[x + mx * (y + my * z)] = f(x, y, z);
          other[x + mx * (y + my * z)] = h(x, y, z);
        }
    const [nx, ny, nz] = g.dims;
    const got = new Map<number, number>();
    const gotOther = new Map<number, number>();
    aligned.sampleToOriginal(map, other, (n, v, w) => {
      got.set(n, v);
      gotOther.set(n, w);
    });
    let checked = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const p = voxelCentre(g, i, j, k);
          const idx = [0, 1, 2].map(
            (r) => ((p[r] as number) - (a.origin[r] as number)) / (a.spacing[r] as number),
          );
          const inGrid = idx.every((c, r) => c >= -0.5 && c <= (a.dims[r] as number) - 0.5);
          const n = i + nx * (j + ny * k);
          expect(got.has(n), `voxel ${i},${j},${k}`).toBe(inGrid);
          // Away from the clamped border the value is the function itself.
          if (idx.every((c, r) => c >= 0 && c <= (a.dims[r] as number) - 1)) {
            expect(got.get(n)!).toBeCloseTo(f(idx[0]!, idx[1]!, idx[2]!), 3);
            expect(gotOther.get(n)!).toBeCloseTo(h(idx[0]!, idx[1]!, idx[2]!), 3);
            checked++;
          }
        }
    expect(checked).toBeGreaterThan(nx * ny * nz * 0.9);
    expect(() => aligned.sampleToOriginal(new Uint8Array(3), map, () => {})).toThrow(/aligned grid/);
    expect(() => aligned.sampleToOriginal(map, new Uint8Array(3), () => {})).toThrow(/aligned grid/);
  });

  it("coarsens the grid to minSpacing where the scan is finer, still exact and still covering the scan", () => {
    const coarse = alignToLps(vol, lungs, [3, 1, 2]).volume;
    // x: 1.5 mm -> 3 mm; y stays 1.5 (already coarser than 1); z stays 3 (already coarser than 2).
    expect(coarse.spacing).toEqual([3, 1.5, 3]);
    expect(coarse.dims[0]).toBeLessThan(a.dims[0] / 1.8);
    expect(coarse.dims.slice(1)).toEqual(a.dims.slice(1));
    const [mx, my, mz] = coarse.dims;
    let checked = 0;
    for (let z = 0; z < mz; z++)
      for (let y = 0; y < my; y++)
        for (let x = 0; x < mx; x++) {
          const v = coarse.data[x + mx * (y + my * z)] as number;
          if (v === -1024) continue;
          const p: Vec3 = [
            coarse.origin[0] + x * coarse.spacing[0],
            coarse.origin[1] + y * coarse.spacing[1],
            coarse.origin[2] + z * coarse.spacing[2],
          ];
          expect(Math.abs(v - f(p))).toBeLessThanOrEqual(1.01);
          checked++;
        }
    // At least the scan's own volume in coarse voxels is inside it (and was checked).
    const scanMm3 = g.dims[0] * g.dims[1] * g.dims[2] * g.spacing[0] * g.spacing[1] * g.spacing[2];
    expect(checked).toBeGreaterThan((0.8 * scanMm3) / (3 * 1.5 * 3));
  });
});
