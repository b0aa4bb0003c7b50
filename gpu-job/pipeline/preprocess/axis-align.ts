/**
 * Oblique and gantry-tilted scans, put straight for the model. The model was trained on scans whose voxel
 * axes run along the patient's axes; a scan reconstructed at an angle shows it the anatomy rotated, which
 * it segments worse. Such a scan is resampled onto an LPS-aligned grid with the same voxel sizes (trilinear
 * for HU, nearest for the lung labels), analysed there, and the results are sampled back onto the scan's
 * own voxels, so every output still lies on the input's grid. They go back as continuous maps (lesion
 * logits, evidence), trilinearly, and are thresholded only on the scan's voxels: sampling a finished 0/1
 * mask back by nearest voxel would move every lesion border by up to half an aligned voxel, which on thick
 * slices (3.3 mm) cost several points of Dice.
 *
 * Axis-aligned scans (permutations and flips of LPS, within ALIGNED_TOLERANCE_DEG) never come here: they
 * are reoriented exactly, without interpolation (orientation.ts).
 */
import type { Geometry, Vec3, Volume } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { orientedView } from "./orientation.js";

/** Largest angle between a voxel axis and its patient axis still analysed without resampling. */
export const ALIGNED_TOLERANCE_DEG = 1;
/** HU outside the scanned field of view: air. */
const OUTSIDE_HU = -1024;

/** Largest angle (degrees) between each voxel axis and the patient axis it is read along. */
export function obliquityDeg(g: Geometry): number {
  const view = orientedView(g);
  let worst = 0;
  view.axes.forEach(({ native }, patient) => {
    const d = g.direction;
    const col: Vec3 = [d[native] as number, d[3 + native] as number, d[6 + native] as number];
    const len = Math.hypot(...col);
    const cos = Math.min(1, Math.abs(col[patient] as number) / len);
    worst = Math.max(worst, (Math.acos(cos) * 180) / Math.PI);
  });
  return worst;
}

export interface AlignedScan {
  /** The scan on an LPS-aligned grid (identity direction). */
  volume: Volume;
  /** Lung labels (> 0 lung) on that grid. */
  lungMask: Uint8Array;
  /**
   * Sample two continuous maps of the aligned grid (trilinearly) at every voxel centre of the original grid,
   * handing both values to `put` with the original voxel's index; voxels outside the aligned grid are
   * skipped. Two at once because the engine maps lesion logits and evidence back together: the voxel
   * positions and weights, most of the work over a whole scan, are computed once.
   */
  sampleToOriginal(
    a: ArrayLike<number>,
    b: ArrayLike<number>,
    put: (index: number, a: number, b: number) => void,
  ): void;
  /**
   * One flag per aligned z slice: 1 where lung on that slice touches the edge of the scan's field of view
   * (a lung voxel next to a voxel the scan did not image, which the resampling filled with air). That is
   * where the tilted scan's end faces cut the lungs on a slant.
   */
  lungCutSlices: Uint8Array;
}

/** The trilinear value of map around corner `at` (strides sx, sy, sz; 0 on the last plane), fractions f*. */
function trilinear(
  map: ArrayLike<number>,
  at: number,
  sx: number,
  sy: number,
  sz: number,
  fx: number,
  fy: number,
  fz: number,
): number {
  const v00 = (map[at] as number) + ((map[at + sx] as number) - (map[at] as number)) * fx;
  const v10 = (map[at + sy] as number) + ((map[at + sy + sx] as number) - (map[at + sy] as number)) * fx;
  const v01 = (map[at + sz] as number) + ((map[at + sz + sx] as number) - (map[at + sz] as number)) * fx;
  const v11 =
    (map[at + sz + sy] as number) + ((map[at + sz + sy + sx] as number) - (map[at + sz + sy] as number)) * fx;
  const c0 = v00 + (v10 - v00) * fy;
  const c1 = v01 + (v11 - v01) * fy;
  return c0 + (c1 - c0) * fz;
}

/** 3x3 inverse of a row-major matrix. */
function invert3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError("degenerate voxel axes");
  return [
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ];
}

/**
 * `minSpacing` (mm per LPS axis) coarsens the aligned grid where the scan is finer: the model sees the
 * scan at its own, coarser spacing anyway (2.8 mm in plane, 2.5 mm slices for the bundled model), so
 * resampling a 0.7 mm scan at 0.7 mm only costs time (12 s for 512x512x300) and memory. Half the model's
 * spacing keeps at least two aligned voxels per model voxel for its area averaging.
 */
export function alignToLps(volume: Volume, lungMask: Uint8Array, minSpacing?: Vec3): AlignedScan {
  const [nx, ny, nz] = volume.dims;
  const a = voxelToLps(volume);
  const lin = [a[0], a[1], a[2], a[4], a[5], a[6], a[8], a[9], a[10]] as number[];
  const o: Vec3 = [a[3] as number, a[7] as number, a[11] as number];
  const inv = invert3(lin);
  // The aligned grid keeps the voxel size each patient axis had (no finer than minSpacing), and covers every
  // voxel centre of the scan.
  const native = orientedView(volume).spacing;
  const spacing = native.map((d, r) => Math.max(d, minSpacing?.[r] ?? 0)) as Vec3;
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const i of [0, nx - 1])
    for (const j of [0, ny - 1])
      for (const k of [0, nz - 1])
        for (let r = 0; r < 3; r++) {
          const p =
            (o[r] as number) +
            (lin[3 * r] as number) * i +
            (lin[3 * r + 1] as number) * j +
            (lin[3 * r + 2] as number) * k;
          lo[r] = Math.min(lo[r] as number, p);
          hi[r] = Math.max(hi[r] as number, p);
        }
  const dims = [0, 1, 2].map(
    (r) => Math.ceil(((hi[r] as number) - (lo[r] as number)) / (spacing[r] as number) - 1e-6) + 1,
  ) as Vec3;
  const [mx, my, mz] = dims;
  const hu = new Int16Array(mx * my * mz);
  const lungs = new Uint8Array(mx * my * mz);
  // Which aligned voxels the scan did not image (HU alone cannot tell: real scans hold -1024 inside too).
  const outside = new Uint8Array(mx * my * mz);
  const src = volume.data;
  const plane = nx * ny;
  // Native index coordinates of aligned voxel (x, y, z) = inv * (lo + s*(x, y, z) - o): linear, so stepping x adds a constant.
  const step: Vec3 = [
    (inv[0] as number) * spacing[0],
    (inv[3] as number) * spacing[0],
    (inv[6] as number) * spacing[0],
  ];
  const eps = 1e-4;
  for (let z = 0; z < mz; z++)
    for (let y = 0; y < my; y++) {
      const p: Vec3 = [
        (lo[0] as number) - o[0],
        (lo[1] as number) + y * spacing[1] - o[1],
        (lo[2] as number) + z * spacing[2] - o[2],
      ];
      let ci = (inv[0] as number) * p[0] + (inv[1] as number) * p[1] + (inv[2] as number) * p[2];
      let cj = (inv[3] as number) * p[0] + (inv[4] as number) * p[1] + (inv[5] as number) * p[2];
      let ck = (inv[6] as number) * p[0] + (inv[7] as number) * p[1] + (inv[8] as number) * p[2];
      let out = (z * my + y) * mx;
      for (let x = 0; x < mx; x++, out++, ci += step[0], cj += step[1], ck += step[2]) {
        if (
          ci < -eps ||
          cj < -eps ||
          ck < -eps ||
          ci > nx - 1 + eps ||
          cj > ny - 1 + eps ||
          ck > nz - 1 + eps
        ) {
          hu[out] = OUTSIDE_HU;
          outside[out] = 1;
          continue;
        }
        const i0 = Math.min(Math.max(Math.floor(ci), 0), nx - 1);
        const j0 = Math.min(Math.max(Math.floor(cj), 0), ny - 1);
        const k0 = Math.min(Math.max(Math.floor(ck), 0), nz - 1);
        const i1 = Math.min(i0 + 1, nx - 1);
        const j1 = Math.min(j0 + 1, ny - 1);
        const k1 = Math.min(k0 + 1, nz - 1);
        const fi = Math.min(Math.max(ci - i0, 0), 1);
        const fj = Math.min(Math.max(cj - j0, 0), 1);
        const fk = Math.min(Math.max(ck - k0, 0), 1);
        // trilinear() written out: calling it here (one call site seeing Int16Array, the other other arrays)
        // made this loop 30 % slower, 570 -> 745 ms on a 512x512x120 oblique scan; same results either way.
        const b00 = i0 + j0 * nx + k0 * plane;
        const b01 = i0 + j0 * nx + k1 * plane;
        const b10 = i0 + j1 * nx + k0 * plane;
        const b11 = i0 + j1 * nx + k1 * plane;
        const di = i1 - i0;
        const v00 = (src[b00] as number) + ((src[b00 + di] as number) - (src[b00] as number)) * fi;
        const v01 = (src[b01] as number) + ((src[b01 + di] as number) - (src[b01] as number)) * fi;
        const v10 = (src[b10] as number) + ((src[b10 + di] as number) - (src[b10] as number)) * fi;
        const v11 = (src[b11] as number) + ((src[b11 + di] as number) - (src[b11] as number)) * fi;
        const c0 = v00 + (v10 - v00) * fj;
        const c1 = v01 + (v11 - v01) * fj;
        hu[out] = Math.round(c0 + (c1 - c0) * fk);
        const ni = Math.round(ci) < nx ? Math.round(ci) : nx - 1;
        const nj = Math.round(cj) < ny ? Math.round(cj) : ny - 1;
        const nk = Math.round(ck) < nz ? Math.round(ck) : nz - 1;
        lungs[out] = lungMask[Math.max(ni, 0) + Math.max(nj, 0) * nx + Math.max(nk, 0) * plane] as number;
      }
    }
  const aligned: Volume = { dims, spacing, origin: lo, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], data: hu };

  const sampleToOriginal = (
    a: ArrayLike<number>,
    b: ArrayLike<number>,
    put: (index: number, a: number, b: number) => void,
  ): void => {
    if (a.length !== hu.length || b.length !== hu.length) throw new Error("map is not on the aligned grid");
    const dx = (lin[0] as number) / spacing[0];
    const dy = (lin[3] as number) / spacing[1];
    const dz = (lin[6] as number) / spacing[2];
    const inside = (p: number, m: number) => p >= -0.5 && p <= m - 0.5;
    // Aligned continuous index of native voxel (i, j, k) = (o + lin * (i, j, k) - lo) / spacing.
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++) {
        let px =
          ((o[0] as number) + (lin[1] as number) * j + (lin[2] as number) * k - (lo[0] as number)) /
          spacing[0];
        let py =
          ((o[1] as number) + (lin[4] as number) * j + (lin[5] as number) * k - (lo[1] as number)) /
          spacing[1];
        let pz =
          ((o[2] as number) + (lin[7] as number) * j + (lin[8] as number) * k - (lo[2] as number)) /
          spacing[2];
        let n = (k * ny + j) * nx;
        for (let i = 0; i < nx; i++, n++, px += dx, py += dy, pz += dz) {
          if (!inside(px, mx) || !inside(py, my) || !inside(pz, mz)) continue;
          const cx = Math.min(Math.max(px, 0), mx - 1);
          const cy = Math.min(Math.max(py, 0), my - 1);
          const cz = Math.min(Math.max(pz, 0), mz - 1);
          const x0 = Math.floor(cx);
          const y0 = Math.floor(cy);
          const z0 = Math.floor(cz);
          const fx = cx - x0;
          const fy = cy - y0;
          const fz = cz - z0;
          const sx = x0 < mx - 1 ? 1 : 0;
          const sy = y0 < my - 1 ? mx : 0;
          const sz = z0 < mz - 1 ? mx * my : 0;
          const at = x0 + mx * (y0 + my * z0);
          put(n, trilinear(a, at, sx, sy, sz, fx, fy, fz), trilinear(b, at, sx, sy, sz, fx, fy, fz));
        }
      }
  };
  return {
    volume: aligned,
    lungMask: lungs,
    sampleToOriginal,
    lungCutSlices: cutSlices(lungs, outside, dims),
  };
}

/** Per z slice: 1 where a lung voxel has a 6-neighbour outside the field of view (see lungCutSlices). */
function cutSlices(lungs: Uint8Array, outside: Uint8Array, [mx, my, mz]: Vec3): Uint8Array {
  const cut = new Uint8Array(mz);
  const plane = mx * my;
  for (let z = 0; z < mz; z++)
    for (let y = 0; y < my && !cut[z]; y++)
      for (let x = 0, n = z * plane + y * mx; x < mx; x++, n++) {
        if (lungs[n] === 0) continue;
        if (
          (x > 0 && outside[n - 1]) ||
          (x < mx - 1 && outside[n + 1]) ||
          (y > 0 && outside[n - mx]) ||
          (y < my - 1 && outside[n + mx]) ||
          (z > 0 && outside[n - plane]) ||
          (z < mz - 1 && outside[n + plane])
        ) {
          cut[z] = 1;
          break;
        }
      }
  return cut;
}
