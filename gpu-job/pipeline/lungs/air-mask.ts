/**
 * First step of the segmentation: which voxels are air-like, and which of those are outside the body.
 *
 * Outside air is found slice by slice (each k plane): air 4-connected in that plane to the plane's
 * border. Slice-wise rather than 3D because the airways open to the outside above the scan (or reach the
 * top slice): a 3D fill from the border would enter the trachea and run into the lungs. The price is that
 * a lung reaching the in-plane edge of the field of view (a reconstruction that cuts the chest wall) is
 * taken for outside air in those slices.
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";
import { VoxelQueue } from "./voxel-queue.js";

/** Values of the working state volume shared by the lung stages. */
export const STATE = {
  tissue: 0,
  /** Air-like and not (yet) known to be outside the body. */
  air: 1,
  outside: 2,
  /** Air that is not lung (too small, gas). */
  rejected: 3,
  /** Excluded as trachea or main bronchus. */
  airway: 5,
  /** Scratch markers. */
  scratch: 6,
  front: 7,
  /** Lung, final. */
  lung: 8,
} as const;

/** state = air where HU < threshold, tissue elsewhere. */
export function airMask(volume: Volume, thresholdHu: number): Uint8Array {
  const data = volume.data;
  const state = new Uint8Array(data.length);
  const air = STATE.air;
  for (let v = 0; v < data.length; v++) if (data[v]! < thresholdHu) state[v] = air;
  return state;
}

/**
 * Mark air reachable in-plane from each slice's border as outside. Straight runs of air in from the four
 * edges are marked first (most outside air, in sequential passes); a breadth-first fill then reaches the
 * rest (air behind the table, between the arms and the body) from run voxels next to unmarked air.
 */
export function markOutsideAir(state: Uint8Array, dims: Vec3): void {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const queue = new VoxelQueue(1 << 12);
  const { air, outside } = STATE;
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    for (let j = 0; j < ny; j++) {
      const row = base + nx * j;
      for (let i = 0; i < nx && state[row + i] !== STATE.tissue; i++) state[row + i] = outside;
      for (let i = nx - 1; i >= 0 && state[row + i] !== STATE.tissue; i--) state[row + i] = outside;
    }
    for (let i = 0; i < nx; i++) {
      for (let j = 0; j < ny && state[base + i + nx * j] !== STATE.tissue; j++)
        state[base + i + nx * j] = outside;
      for (let j = ny - 1; j >= 0 && state[base + i + nx * j] !== STATE.tissue; j--)
        state[base + i + nx * j] = outside;
    }
    // Outside voxels next to air not reached yet start the fill.
    queue.clear();
    for (let j = 0; j < ny; j++) {
      const row = base + nx * j;
      for (let i = 0; i < nx; i++) {
        const v = row + i;
        if (state[v] !== outside) continue;
        if (
          (i > 0 && state[v - 1] === air) ||
          (i < nx - 1 && state[v + 1] === air) ||
          (j > 0 && state[v - nx] === air) ||
          (j < ny - 1 && state[v + nx] === air)
        )
          queue.push(v - base);
      }
    }
    for (let head = 0; head < queue.length; head++) {
      const p = queue.at(head);
      const j = (p / nx) | 0;
      const i = p - j * nx;
      const v = base + p;
      if (i > 0 && state[v - 1] === air) {
        state[v - 1] = outside;
        queue.push(p - 1);
      }
      if (i < nx - 1 && state[v + 1] === air) {
        state[v + 1] = outside;
        queue.push(p + 1);
      }
      if (j > 0 && state[v - nx] === air) {
        state[v - nx] = outside;
        queue.push(p - nx);
      }
      if (j < ny - 1 && state[v + nx] === air) {
        state[v + nx] = outside;
        queue.push(p + nx);
      }
    }
  }
}

/**
 * Mean LPS x of the body (every voxel not outside): the midline for left/right decisions. Sampled on a
 * grid of about 2 mm in-plane, which is plenty for a mean over the whole body.
 */
export function bodyMidlineX(
  state: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  x: { xi: number; xj: number; xk: number; x0: number },
): number | undefined {
  const [nx, ny, nz] = dims;
  const si = Math.max(1, Math.floor(2 / spacing[0]));
  const sj = Math.max(1, Math.floor(2 / spacing[1]));
  let sum = 0;
  let count = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j += sj) {
      const row = x.xj * j + x.xk * k + x.x0;
      const base = nx * (j + ny * k);
      for (let i = 0; i < nx; i += si) {
        if (state[base + i] === STATE.outside) continue;
        sum += row + x.xi * i;
        count++;
      }
    }
  }
  return count > 0 ? sum / count : undefined;
}
