/**
 * 3D connected components (6-connectivity) on a Uint8Array state volume, by queue-based flood fill:
 * never recursion, no per-voxel objects. A fill turns the voxels of one state value into another, so the
 * state volume doubles as the "visited" marker and no label volume is needed.
 */
import type { Vec3 } from "../../../core/contracts/volume.js";
import { RunList } from "./runs.js";
import type { VoxelQueue } from "./voxel-queue.js";

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
 * Every 6-connected component of voxels equal to `member`: each is set to `visited` and described, in the
 * raster order of its first voxel (its seed).
 *
 * Two-pass labelling on runs: the runs of members along i are joined by union-find to the runs they
 * overlap in the row before (same slice) and in the same row of the slice before; then each run's
 * statistics go to its component in one sequential sweep. Work per voxel is one read (plus the optional
 * per-voxel counts); the union-find works per run. Exactly the components and statistics a flood fill
 * gives (index sums are sums of integers, exact in doubles).
 */
export function findComponents(
  state: Uint8Array,
  dims: Vec3,
  member: number,
  visited: number,
  opts: StatsOptions = {},
): ComponentStats[] {
  const [nx, ny, nz] = dims;
  const rows = ny * nz;
  const runs = new RunList(1 << 14);
  // rowFirst[r] .. rowFirst[r + 1]: the runs of row r = j + ny * k.
  const rowFirst = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) {
    rowFirst[r] = runs.length;
    const row = r * nx;
    const j = r % ny;
    let i = 0;
    while (i < nx) {
      if (state[row + i] !== member) {
        i++;
        continue;
      }
      const s = i;
      while (i < nx && state[row + i] === member) i++;
      const n = runs.push(s, i);
      if (j > 0) runs.joinOverlapping(n, rowFirst[r - 1]!, rowFirst[r]!);
      if (r >= ny) runs.joinOverlapping(n, rowFirst[r - ny]!, rowFirst[r - ny + 1]!);
    }
  }
  rowFirst[rows] = runs.length;
  const nRuns = runs.length;
  if (nRuns === 0) return [];

  // Component number of each run, numbered in raster order of their first run.
  const comp = new Int32Array(nRuns);
  let count = 0;
  {
    const idOfRoot = new Int32Array(nRuns).fill(-1);
    for (let r = 0; r < nRuns; r++) {
      const root = runs.find(r);
      let id = idOfRoot[root]!;
      if (id < 0) {
        id = count++;
        idOfRoot[root] = id;
      }
      comp[r] = id;
    }
  }
  const seed = new Float64Array(count).fill(-1);
  const voxels = new Float64Array(count);
  const sumI = new Float64Array(count);
  const sumJ = new Float64Array(count);
  const sumK = new Float64Array(count);
  const box = new Int32Array(6 * count);
  for (let c = 0; c < count; c++) {
    box[6 * c] = nx;
    box[6 * c + 1] = -1;
    box[6 * c + 2] = ny;
    box[6 * c + 3] = -1;
    box[6 * c + 4] = nz;
    box[6 * c + 5] = -1;
  }
  const below = new Float64Array(count);
  const right = new Float64Array(count);
  // Voxels of the component in slice sliceK[c] (runs arrive in k order), and the most in any slice.
  const sliceK = new Int32Array(count).fill(-1);
  const sliceCount = new Float64Array(count);
  const maxSlice = new Float64Array(count);
  const values = opts.values;
  const threshold = opts.belowThreshold ?? -Infinity;
  const hasX = opts.x !== undefined;
  const xi = opts.x?.xi ?? 0;
  const xj = opts.x?.xj ?? 0;
  const xk = opts.x?.xk ?? 0;
  const x0 = opts.x?.x0 ?? 0;
  const midline = opts.midline ?? -Infinity;
  const ordinals = opts.ordinals;
  const start = runs.start;
  const end = runs.end;
  for (let r = 0; r < rows; r++) {
    const from = rowFirst[r]!;
    const to = rowFirst[r + 1]!;
    if (from === to) continue;
    const k = (r / ny) | 0;
    const j = r - k * ny;
    const row = r * nx;
    for (let q = from; q < to; q++) {
      const c = comp[q]!;
      const s = start[q]!;
      const e = end[q]!;
      const len = e - s;
      if (seed[c] === -1) seed[c] = row + s;
      voxels[c]! += len;
      sumI[c]! += (len * (s + e - 1)) / 2;
      sumJ[c]! += len * j;
      sumK[c]! += len * k;
      const b = 6 * c;
      if (s < box[b]!) box[b] = s;
      if (e - 1 > box[b + 1]!) box[b + 1] = e - 1;
      if (j < box[b + 2]!) box[b + 2] = j;
      if (j > box[b + 3]!) box[b + 3] = j;
      if (k < box[b + 4]!) box[b + 4] = k;
      if (k > box[b + 5]!) box[b + 5] = k;
      if (sliceK[c] !== k) {
        sliceK[c] = k;
        sliceCount[c] = 0;
      }
      sliceCount[c]! += len;
      if (sliceCount[c]! > maxSlice[c]!) maxSlice[c] = sliceCount[c]!;
      if (values !== undefined) {
        let n = 0;
        for (let v = row + s; v < row + e; v++) if (values[v]! < threshold) n++;
        below[c]! += n;
      }
      if (hasX) {
        // The same expression, in the same order, as for a single voxel: identical rounding.
        let n = 0;
        for (let i = s; i < e; i++) if (xi * i + xj * j + xk * k + x0 < midline) n++;
        right[c]! += n;
      }
      state.fill(visited, row + s, row + e);
      if (ordinals !== undefined) ordinals.fill(Math.min(NO_ORDINAL, FIRST_ORDINAL + c), row + s, row + e);
    }
  }
  const out: ComponentStats[] = [];
  for (let c = 0; c < count; c++) {
    const n = voxels[c]!;
    const b = 6 * c;
    out.push({
      seed: seed[c]!,
      voxels: n,
      centroid: [sumI[c]! / n, sumJ[c]! / n, sumK[c]! / n],
      box: [box[b]!, box[b + 1]!, box[b + 2]!, box[b + 3]!, box[b + 4]!, box[b + 5]!],
      below: below[c]!,
      rightOfMidline: right[c]!,
      maxSliceVoxels: maxSlice[c]!,
      ordinal: ordinals ? Math.min(NO_ORDINAL, FIRST_ORDINAL + c) : NO_ORDINAL,
    });
  }
  return out;
}

/**
 * Give the optimising compiler type feedback for every branch of the fill before the first real volume:
 * a big fill otherwise gets compiled mid-loop with branches it has not seen yet and is thrown back to the
 * interpreter several times (measured: about a second lost per call on a 512 x 512 x 300 chest).
 */
function primeFill(): void {
  const dims: Vec3 = [3, 3, 3];
  const x = { xi: 1, xj: 0, xk: 0, x0: -1 };
  // Enough calls for the engine to start collecting feedback (it allocates it lazily).
  for (let round = 0; round < 16; round++) {
    for (const values of [new Int16Array(27).map((_, v) => (v % 2 ? -1000 : 0)), new Float32Array(27)]) {
      const state = new Uint8Array(27).fill(1);
      findComponents(state, dims, 1, 2, {
        values,
        belowThreshold: -500,
        x,
        midline: 0,
        ordinals: new Uint8Array(27),
      });
      findComponents(state, dims, 2, 3);
    }
  }
}
primeFill();
