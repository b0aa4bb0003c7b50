/**
 * A fixed 2 mm reference sampling of the analytic lungs with the distance of every lung point to the lung
 * surface (the pleura). It is independent of the output grid, so everything decided from it (where a
 * lesion goes, how deep it lies, how far a vessel may grow) is the same for every rendering of a seed.
 *
 * Built once per process (about 2.3 M points) and cached.
 */
import type { Vec3 } from "../contracts/volume.js";
import { CAVITY, LUNG_ENVELOPE, lungSideAt } from "./anatomy.js";

export interface LungModel {
  /** Centre of model point (0, 0, 0), LPS mm. */
  origin: Vec3;
  /** Isotropic step, mm. */
  step: number;
  dims: Vec3;
  /** 0 outside, 1 right lung, 2 left lung. index = i + nx * (j + ny * k). */
  label: Uint8Array;
  /** Distance to the lung surface in mm (0 outside the lungs). */
  depth: Float32Array;
  /** Superior-inferior extent of each lung (mm), for upper/middle/lower zones. */
  zRange: { right: [number, number]; left: [number, number] };
  volumeMl: { right: number; left: number };
}

const STEP = 2;
const LOWEST_LUNG_Z = -230;
let cached: LungModel | undefined;

export function getLungModel(): LungModel {
  cached ??= buildLungModel();
  return cached;
}

function buildLungModel(): LungModel {
  const { right, left } = LUNG_ENVELOPE;
  // One step of margin around everything the lungs can reach, so the border is always outside.
  const x0 = -CAVITY.a - STEP;
  const x1 = CAVITY.a + STEP;
  const y0 = CAVITY.cy - CAVITY.b - STEP;
  const y1 = CAVITY.cy + CAVITY.b + STEP;
  // Below their equator the lungs reach down to the diaphragm, whose recesses stay above LOWEST_LUNG_Z
  // (asserted below: a lung point on the first plane would mean the model was cut).
  const z0 = LOWEST_LUNG_Z - STEP;
  const z1 = Math.max(right.z + right.c, left.z + left.c) + STEP;
  const nx = Math.ceil((x1 - x0) / STEP) + 1;
  const ny = Math.ceil((y1 - y0) / STEP) + 1;
  const nz = Math.ceil((z1 - z0) / STEP) + 1;
  const label = new Uint8Array(nx * ny * nz);
  const zr: { right: [number, number]; left: [number, number] } = {
    right: [Infinity, -Infinity],
    left: [Infinity, -Infinity],
  };
  const count = [0, 0, 0];
  for (let k = 0; k < nz; k++) {
    const z = z0 + k * STEP;
    for (let j = 0; j < ny; j++) {
      const y = y0 + j * STEP;
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const side = lungSideAt(x0 + i * STEP, y, z);
        if (side === 0) continue;
        label[row + i] = side;
        count[side]!++;
        const r = side === 1 ? zr.right : zr.left;
        if (z < r[0]) r[0] = z;
        if (z > r[1]) r[1] = z;
      }
    }
  }
  for (let o = 0; o < nx * ny; o++) {
    if (label[o]) throw new Error("lung model cut at its inferior border: lower LOWEST_LUNG_Z");
  }
  const depth = distanceToOutside(label, [nx, ny, nz], STEP);
  const voxelMl = (STEP * STEP * STEP) / 1000;
  return {
    origin: [x0, y0, z0],
    step: STEP,
    dims: [nx, ny, nz],
    label,
    depth,
    zRange: zr,
    volumeMl: { right: count[1]! * voxelMl, left: count[2]! * voxelMl },
  };
}

/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher, separable lower envelopes of
 * parabolas): for each lung point, the distance to the nearest non-lung point centre, minus half a step
 * so it approximates the distance to the surface between them.
 */
function distanceToOutside(label: Uint8Array, dims: Vec3, step: number): Float32Array {
  const [nx, ny, nz] = dims;
  // Large but finite: q*q still adds exactly, so the parabola intersections stay accurate.
  const big = 1e12;
  const d2 = new Float64Array(label.length);
  for (let i = 0; i < label.length; i++) d2[i] = label[i] ? big : 0;
  const maxN = Math.max(nx, ny, nz);
  const f = new Float64Array(maxN);
  const out = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const zb = new Float64Array(maxN + 1);
  const pass = (n: number, count: number, offsetOf: (line: number) => number, stride: number): void => {
    for (let line = 0; line < count; line++) {
      const base = offsetOf(line);
      for (let q = 0; q < n; q++) f[q] = d2[base + q * stride]!;
      envelope1d(f, n, out, v, zb);
      for (let q = 0; q < n; q++) d2[base + q * stride] = out[q]!;
    }
  };
  pass(nx, ny * nz, (line) => line * nx, 1);
  pass(ny, nx * nz, (line) => (line % nx) + nx * ny * Math.floor(line / nx), nx);
  pass(nz, nx * ny, (line) => line, nx * ny);
  const depth = new Float32Array(label.length);
  for (let i = 0; i < label.length; i++) {
    if (label[i]) depth[i] = Math.max(0, Math.sqrt(d2[i]!) * step - step / 2);
  }
  return depth;
}

function envelope1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let p = v[k]!;
    let s = (f[q]! + q * q - (f[p]! + p * p)) / (2 * q - 2 * p);
    // z[0] is -Infinity, so k never drops below 0.
    while (s <= z[k]!) {
      k--;
      p = v[k]!;
      s = (f[q]! + q * q - (f[p]! + p * p)) / (2 * q - 2 * p);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    d[q] = (q - p) * (q - p) + f[p]!;
  }
}

/** Trilinear interpolation of the depth field at p (mm); 0 outside the model. */
export function depthAt(m: LungModel, x: number, y: number, z: number): number {
  const fx = (x - m.origin[0]) / m.step;
  const fy = (y - m.origin[1]) / m.step;
  const fz = (z - m.origin[2]) / m.step;
  const [nx, ny, nz] = m.dims;
  if (fx < 0 || fy < 0 || fz < 0 || fx >= nx - 1 || fy >= ny - 1 || fz >= nz - 1) return 0;
  const i = Math.floor(fx);
  const j = Math.floor(fy);
  const k = Math.floor(fz);
  const tx = fx - i;
  const ty = fy - j;
  const tz = fz - k;
  const d = m.depth;
  const o = i + nx * (j + ny * k);
  const sy = nx;
  const sz = nx * ny;
  const c00 = d[o]! * (1 - tx) + d[o + 1]! * tx;
  const c10 = d[o + sy]! * (1 - tx) + d[o + sy + 1]! * tx;
  const c01 = d[o + sz]! * (1 - tx) + d[o + sz + 1]! * tx;
  const c11 = d[o + sy + sz]! * (1 - tx) + d[o + sy + sz + 1]! * tx;
  return (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz;
}

/** Unit vector pointing away from the nearest pleura (the depth gradient), or [0,0,0] where flat. */
export function inwardNormalAt(m: LungModel, x: number, y: number, z: number): Vec3 {
  const h = m.step;
  const gx = depthAt(m, x + h, y, z) - depthAt(m, x - h, y, z);
  const gy = depthAt(m, x, y + h, z) - depthAt(m, x, y - h, z);
  const gz = depthAt(m, x, y, z + h) - depthAt(m, x, y, z - h);
  const n = Math.hypot(gx, gy, gz);
  return n > 1e-9 ? [gx / n, gy / n, gz / n] : [0, 0, 0];
}

/** Zone by height within the lung of that side: thirds of its superior-inferior extent. */
export function zoneOf(m: LungModel, side: 1 | 2, z: number): "upper" | "middle" | "lower" {
  const [lo, hi] = side === 1 ? m.zRange.right : m.zRange.left;
  const t = (z - lo) / (hi - lo);
  return t < 1 / 3 ? "lower" : t < 2 / 3 ? "middle" : "upper";
}

/** Centre (mm) of model point index. */
export function modelPoint(m: LungModel, index: number): Vec3 {
  const [nx, ny] = m.dims;
  const i = index % nx;
  const j = Math.floor(index / nx) % ny;
  const k = Math.floor(index / (nx * ny));
  return [m.origin[0] + i * m.step, m.origin[1] + j * m.step, m.origin[2] + k * m.step];
}
