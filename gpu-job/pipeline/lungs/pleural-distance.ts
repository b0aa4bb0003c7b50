/**
 * Subpleural depth of every lung voxel, in millimetres (finding 4: share of lesion volume within
 * 7/14/21/28/35 mm of the pleura).
 *
 * Definition. For a lung voxel p (label > 0), pleuralDistanceMm(p) is the Euclidean distance, in mm,
 * from p's centre to the centre of the nearest voxel of the volume whose label is 0:
 *   d(p) = min over q with labels[q] = 0 of || diag(spacing) * (p - q) ||.
 * So a lung voxel with a non-lung face neighbour along i is at spacing[0], one with only a diagonal
 * non-lung neighbour in-plane at hypot(spacing[0], spacing[1]), and so on; the pleural surface itself lies
 * about half a voxel closer than this (callers wanting surface depth subtract half a voxel step; the
 * phantom truth's reference depth does that on its own 2 mm grid). Both lungs count as lung: where the
 * two lungs touch there is no background between them, so that contact is not pleura here.
 * Non-lung voxels get 0.
 *
 * Field of view. Nothing beyond the volume's edges is background: a lung cut by the first or last slice
 * (or by the in-plane field of view) gets no fake pleura along the cut; its depth is measured to the real
 * non-lung voxels inside the volume only. A lung voxel with no non-lung voxel anywhere in the volume (a
 * volume that is all lung) gets +Infinity.
 *
 * Exact separable EDT (see distance-transform.ts), computed only in the lungs' bounding box grown by one
 * voxel: every voxel of that one-voxel ring is non-lung, and the nearest background of a lung voxel never
 * lies farther out than the ring (clamping any outside background voxel onto the ring brings it closer),
 * so the crop changes no value.
 *
 * Gantry tilt. With `direction`, a stack whose slice step is not perpendicular to its slices (a sheared
 * grid: validation accepts tilts up to 30 degrees) is measured in physical space: each slice is shifted in
 * plane by its share of the step (rounded to a quarter millimetre) onto a grid whose third axis is the slice
 * normal, spaced by the step's normal component, and the EDT runs there. Spacing alone (the unsheared
 * formula) was off by up to 2.9 mm at 30 degrees.
 */
import type { Mat3, Vec3 } from "../../../core/contracts/volume.js";
import { squaredDistanceTransform } from "./distance-transform.js";

export function pleuralDistanceMm(
  labels: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  direction?: Mat3,
): Float32Array {
  const [nx, ny, nz] = dims;
  if (labels.length !== nx * ny * nz) throw new RangeError("labels length must equal nx*ny*nz");
  const out = new Float32Array(labels.length);
  const box = lungBox(labels, dims);
  if (!box) return out;
  const shear = direction ? sliceShear(direction, spacing) : null;
  if (shear) return shearedDistances(labels, dims, spacing, box, shear, out);
  const [i0, i1, j0, j1, k0, k1] = box;
  const bx = i1 - i0 + 1;
  const by = j1 - j0 + 1;
  const bz = k1 - k0 + 1;
  const d2 = new Float32Array(bx * by * bz);
  let b = 0;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++, b++) d2[b] = labels[idx]! > 0 ? Infinity : 0;
    }
  }
  squaredDistanceTransform(d2, [bx, by, bz], spacing);
  b = 0;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++, b++) {
        if (labels[idx]! > 0) out[idx] = Math.sqrt(d2[b]!);
      }
    }
  }
  return out;
}

/**
 * How a slice step moves in plane, in pixels along i and j (`di`, `dj`), and its component along the slices'
 * normal in mm (`normalMm`); null when the step is perpendicular to the slices (the usual stack) or the
 * in-plane axes themselves are not perpendicular (not a gantry tilt; measured by spacing as before).
 */
function sliceShear(
  direction: Mat3,
  [sx, sy, sz]: Vec3,
): { di: number; dj: number; normalMm: number } | null {
  const col = (c: number) => [direction[3 * c]!, direction[3 * c + 1]!, direction[3 * c + 2]!];
  const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
  const [c, r, d] = [col(0), col(1), col(2)];
  if (Math.abs(dot(c, r)) > 1e-6) return null;
  const n = [c[1]! * r[2]! - c[2]! * r[1]!, c[2]! * r[0]! - c[0]! * r[2]!, c[0]! * r[1]! - c[1]! * r[0]!];
  const [along, across] = [dot(d, c), dot(d, r)];
  if (Math.abs(along) < 1e-6 && Math.abs(across) < 1e-6) return null;
  return { di: (along * sz) / sx, dj: (across * sz) / sy, normalMm: Math.abs(dot(d, n)) * sz };
}

/** The largest error a slice's rounded shift may add, in mm: shifts are rounded to sub-pixels this fine. */
const SHIFT_STEP_MM = 0.25;

/**
 * pleuralDistanceMm on a sheared stack: the slices of the lung box shifted onto a grid along their normal.
 * Along an axis the slices shift on, the grid has `f` cells per pixel so that shifts round to at most
 * SHIFT_STEP_MM; voxels sit on every f-th cell and the cells between them are neither lung nor background.
 */
function shearedDistances(
  labels: Uint8Array,
  [nx, ny]: Vec3,
  [sx, sy]: Vec3,
  [i0, i1, j0, j1, k0, k1]: [number, number, number, number, number, number],
  shear: { di: number; dj: number; normalMm: number },
  out: Float32Array,
): Float32Array {
  const bz = k1 - k0 + 1;
  const fi = shear.di === 0 ? 1 : Math.ceil(sx / (2 * SHIFT_STEP_MM));
  const fj = shear.dj === 0 ? 1 : Math.ceil(sy / (2 * SHIFT_STEP_MM));
  const si = Int32Array.from({ length: bz }, (_, z) => Math.round(z * shear.di * fi));
  const sj = Int32Array.from({ length: bz }, (_, z) => Math.round(z * shear.dj * fj));
  const [minI, maxI] = [Math.min(...si), Math.max(...si)];
  const [minJ, maxJ] = [Math.min(...sj), Math.max(...sj)];
  const gx = (i1 - i0) * fi + 1 + maxI - minI;
  const gy = (j1 - j0) * fj + 1 + maxJ - minJ;
  // Cells no voxel of the volume lands on are not background: nothing beyond the volume is (see above).
  const d2 = new Float32Array(gx * gy * bz).fill(Infinity);
  const at = (i: number, j: number, z: number) =>
    (i - i0) * fi + si[z]! - minI + gx * ((j - j0) * fj + sj[z]! - minJ + gy * z);
  for (let z = 0; z < bz; z++)
    for (let j = j0; j <= j1; j++) {
      let idx = i0 + nx * (j + ny * (k0 + z));
      for (let i = i0; i <= i1; i++, idx++) if (labels[idx] === 0) d2[at(i, j, z)] = 0;
    }
  squaredDistanceTransform(d2, [gx, gy, bz], [sx / fi, sy / fj, shear.normalMm]);
  for (let z = 0; z < bz; z++)
    for (let j = j0; j <= j1; j++) {
      let idx = i0 + nx * (j + ny * (k0 + z));
      for (let i = i0; i <= i1; i++, idx++) if (labels[idx]! > 0) out[idx] = Math.sqrt(d2[at(i, j, z)]!);
    }
  return out;
}

/** Bounding box of the lung voxels grown by one voxel and clipped to the volume; undefined if none. */
function lungBox(
  labels: Uint8Array,
  dims: Vec3,
): [number, number, number, number, number, number] | undefined {
  const [nx, ny, nz] = dims;
  // Rows are tested for any lung four bytes at a time where the layout allows (most rows hold none).
  const words =
    nx % 4 === 0 && labels.byteOffset % 4 === 0
      ? new Uint32Array(labels.buffer, labels.byteOffset, labels.length >> 2)
      : undefined;
  const rowWords = nx >> 2;
  let i0 = nx;
  let i1 = -1;
  let j0 = ny;
  let j1 = -1;
  let k0 = nz;
  let k1 = -1;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      if (words) {
        let any = false;
        for (let w = row >> 2, end = (row >> 2) + rowWords; w < end; w++)
          if (words[w] !== 0) {
            any = true;
            break;
          }
        if (!any) continue;
      }
      let first = 0;
      while (first < nx && labels[row + first] === 0) first++;
      if (first === nx) continue;
      let last = nx - 1;
      while (labels[row + last] === 0) last--;
      if (first < i0) i0 = first;
      if (last > i1) i1 = last;
      if (j < j0) j0 = j;
      if (j > j1) j1 = j;
      if (k < k0) k0 = k;
      if (k > k1) k1 = k;
    }
  }
  if (i1 < 0) return undefined;
  return [
    Math.max(0, i0 - 1),
    Math.min(nx - 1, i1 + 1),
    Math.max(0, j0 - 1),
    Math.min(ny - 1, j1 + 1),
    Math.max(0, k0 - 1),
    Math.min(nz - 1, k1 + 1),
  ];
}
