/**
 * 3D connected components (6-connectivity) on a Uint8Array state volume, by queue-based flood fill:
 * never recursion, no per-voxel objects. A fill turns the voxels of one state value into another, so the
 * state volume doubles as the "visited" marker and no label volume is needed.
 */
import type { Vec3 } from "../../../core/contracts/volume.js";
import { VoxelQueue } from "./voxel-queue.js";

export interface ComponentStats {
  /** One voxel of the component (to flood it again). */
  seed: number;
  voxels: number;
  /** Mean voxel index along i, j, k. */
  centroid: Vec3;
  /** Inclusive index box [i0, i1, j0, j1, k0, k1]. */
  box: [number, number, number, number, number, number];
  /** Voxels whose value in `values` is below `belowThreshold` (0 when no values were given). */
  below: number;
  /** Voxels whose LPS x is below `midline` (the patient's right of it; 0 when no midline was given). */
  rightOfMidline: number;
  /** Most voxels the component has in any one k slice (its largest cross-section). */
  maxSliceVoxels: number;
  /**
   * The value written for this component's voxels into `StatsOptions.ordinals` (FIRST_ORDINAL + its index
   * in the result), or NO_ORDINAL when the values ran out or no ordinals array was given.
   */
  ordinal: number;
}

/** Ordinals start above the lung labels (1, 2) so both can share one array. */
export const FIRST_ORDINAL = 3;
export const NO_ORDINAL = 255;

/** Optional per-voxel counts of findComponents. */
export interface StatsOptions {
  values?: ArrayLike<number>;
  belowThreshold?: number;
  /** LPS x = xi * i + xj * j + xk * k + x0. */
  x?: { xi: number; xj: number; xk: number; x0: number };
  midline?: number;
  /** When given, every voxel of component n gets FIRST_ORDINAL + n here (NO_ORDINAL from 252 on). */
  ordinals?: Uint8Array;
}

/**
 * Flood the 6-connected region of voxels equal to `from` that contains `seed`, setting them to `to`.
 * Returns with queue[0, length) holding the region's voxels.
 */
export function flood(
  state: Uint8Array,
  dims: Vec3,
  seed: number,
  from: number,
  to: number,
  queue: VoxelQueue,
): void {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  queue.clear();
  if (state[seed] !== from) return;
  state[seed] = to;
  queue.push(seed);
  for (let head = 0; head < queue.length; head++) {
    const v = queue.at(head);
    const k = (v / plane) | 0;
    const rem = v - k * plane;
    const j = (rem / nx) | 0;
    const i = rem - j * nx;
    if (i > 0 && state[v - 1] === from) {
      state[v - 1] = to;
      queue.push(v - 1);
    }
    if (i < nx - 1 && state[v + 1] === from) {
      state[v + 1] = to;
      queue.push(v + 1);
    }
    if (j > 0 && state[v - nx] === from) {
      state[v - nx] = to;
      queue.push(v - nx);
    }
    if (j < ny - 1 && state[v + nx] === from) {
      state[v + nx] = to;
      queue.push(v + nx);
    }
    if (k > 0 && state[v - plane] === from) {
      state[v - plane] = to;
      queue.push(v - plane);
    }
    if (k < nz - 1 && state[v + plane] === from) {
      state[v + plane] = to;
      queue.push(v + plane);
    }
  }
}

/**
 * Every 6-connected component of voxels equal to `member`: each is flooded to `visited` and described.
 * The statistics are gathered during the fill (one visit per voxel).
 */
export function findComponents(
  state: Uint8Array,
  dims: Vec3,
  member: number,
  visited: number,
  queue: VoxelQueue,
  opts: StatsOptions = {},
): ComponentStats[] {
  const scratch = { perSlice: new Int32Array(dims[2]), sums: new Float64Array(3) };
  const out: ComponentStats[] = [];
  const n = state.length;
  for (let start = 0; start < n; start++) {
    if (state[start] !== member) continue;
    const ordinal = opts.ordinals ? Math.min(NO_ORDINAL, FIRST_ORDINAL + out.length) : NO_ORDINAL;
    out.push(fillComponent(state, dims, start, member, visited, queue, opts, scratch, ordinal));
  }
  return out;
}

interface Scratch {
  /** Voxels per slice of the component being filled (reset over its k range afterwards). */
  perSlice: Int32Array;
  /** Index sums: they overflow small integers on big components, a Float64Array keeps them doubles. */
  sums: Float64Array;
}

function fillComponent(
  state: Uint8Array,
  dims: Vec3,
  start: number,
  member: number,
  visited: number,
  queue: VoxelQueue,
  opts: StatsOptions,
  scratch: Scratch,
  ordinal: number,
): ComponentStats {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const values = opts.values;
  const threshold = opts.belowThreshold ?? -Infinity;
  const hasX = opts.x !== undefined;
  const xi = opts.x?.xi ?? 0;
  const xj = opts.x?.xj ?? 0;
  const xk = opts.x?.xk ?? 0;
  const x0 = opts.x?.x0 ?? 0;
  const midline = opts.midline ?? -Infinity;
  const { perSlice, sums } = scratch;
  const ordinals = opts.ordinals;
  sums.fill(0);
  queue.clear();
  state[start] = visited;
  queue.push(start);
  let below = 0;
  let right = 0;
  let i0 = nx;
  let i1 = -1;
  let j0 = ny;
  let j1 = -1;
  let k0 = nz;
  let k1 = -1;
  for (let head = 0; head < queue.length; head++) {
    const v = queue.at(head);
    const k = (v / plane) | 0;
    const rem = v - k * plane;
    const j = (rem / nx) | 0;
    const i = rem - j * nx;
    perSlice[k]!++;
    sums[0]! += i;
    sums[1]! += j;
    sums[2]! += k;
    if (i < i0) i0 = i;
    if (i > i1) i1 = i;
    if (j < j0) j0 = j;
    if (j > j1) j1 = j;
    if (k < k0) k0 = k;
    if (k > k1) k1 = k;
    if (values !== undefined && values[v]! < threshold) below++;
    if (hasX && xi * i + xj * j + xk * k + x0 < midline) right++;
    if (ordinals !== undefined) ordinals[v] = ordinal;
    if (i > 0 && state[v - 1] === member) {
      state[v - 1] = visited;
      queue.push(v - 1);
    }
    if (i < nx - 1 && state[v + 1] === member) {
      state[v + 1] = visited;
      queue.push(v + 1);
    }
    if (j > 0 && state[v - nx] === member) {
      state[v - nx] = visited;
      queue.push(v - nx);
    }
    if (j < ny - 1 && state[v + nx] === member) {
      state[v + nx] = visited;
      queue.push(v + nx);
    }
    if (k > 0 && state[v - plane] === member) {
      state[v - plane] = visited;
      queue.push(v - plane);
    }
    if (k < nz - 1 && state[v + plane] === member) {
      state[v + plane] = visited;
      queue.push(v + plane);
    }
  }
  const count = queue.length;
  let maxSlice = 0;
  for (let k = k0; k <= k1; k++) {
    if (perSlice[k]! > maxSlice) maxSlice = perSlice[k]!;
    perSlice[k] = 0;
  }
  return {
    seed: start,
    voxels: count,
    centroid: [sums[0]! / count, sums[1]! / count, sums[2]! / count],
    box: [i0, i1, j0, j1, k0, k1],
    below,
    rightOfMidline: right,
    maxSliceVoxels: maxSlice,
    ordinal,
  };
}

/**
 * Give the optimising compiler type feedback for every branch of the fill before the first real volume:
 * a big fill otherwise gets compiled mid-loop with branches it has not seen yet and is thrown back to the
 * interpreter several times (measured: about a second lost per call on a 512 x 512 x 300 chest).
 */
function primeFill(): void {
  const dims: Vec3 = [3, 3, 3];
  const x = { xi: 1, xj: 0, xk: 0, x0: -1 };
  const queue = new VoxelQueue(16);
  // Enough calls for the engine to start collecting feedback (it allocates it lazily).
  for (let round = 0; round < 16; round++) {
    for (const values of [new Int16Array(27).map((_, v) => (v % 2 ? -1000 : 0)), new Float32Array(27)]) {
      const state = new Uint8Array(27).fill(1);
      findComponents(state, dims, 1, 2, queue, {
        values,
        belowThreshold: -500,
        x,
        midline: 0,
        ordinals: new Uint8Array(27),
      });
      findComponents(state, dims, 2, 3, queue);
    }
  }
}
primeFill();
