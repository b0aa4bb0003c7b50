/**
 * Trachea and main bronchi: found, grown and taken out of the air inside the body, so they never count as
 * lung and no longer join the two lungs into one air component.
 *
 * 1. Seed. From the superior end of the scan down to `tracheaSearchDepthMm`, slice by slice, look for a
 *    2D (4-connected) blob of air voxels inside the body below `airwayThresholdHu` that looks like the trachea
 *    lumen: area within [tracheaMinAreaMm2, tracheaMaxAreaMm2], compact (fills at least 45 % of its
 *    bounding box, aspect at most 2.5) and within `tracheaMaxOffsetMm` of the body's midline (mean LPS x
 *    of that slice's body). The first slice with such a blob wins; among several, the one nearest the
 *    midline. Only axial-ish stacks (slice normal within 45 degrees of the body axis) are searched.
 * 2. Growth. Breadth-first (6-connected) through air voxels inside the body below `airwayThresholdHu`, never
 *    above the seed slice, layer by layer (a layer = one breadth-first step). The carina is where a layer
 *    falls apart into two 26-connected pieces, each at least 10 % of the seed's size, for two layers
 *    running; after it the growth keeps to voxels within `mainBronchusLengthMm` of the carina (the main
 *    bronchi). A layer larger than `airwayLeakFactor` times the seed, or a total above `maxAirwayMl`,
 *    is a leak into parenchyma: the growth stops and its last three layers are undone.
 * 3. The grown lumen plus one voxel around it (26-neighbourhood; the partial-volume rim between lumen and
 *    wall, which is air-like at the -320 HU lung threshold but not at the lumen threshold) leaves the
 *    air the lungs are then selected from. Bronchi inside a lung that this takes out come back with the
 *    in-plane hole filling.
 */
import type { Volume } from "../../../core/contracts/volume.js";
import { STATE } from "./air-mask.js";
import { lpsX, pixelAreaMm2, sliceOrder, voxelVolumeMl } from "./grid.js";
import type { LungSegmentationOptions } from "./options.js";
import { VoxelQueue } from "./voxel-queue.js";

export interface AirwayResult {
  /** A trachea seed was found and grown. */
  found: boolean;
  /** Why not, when not found. */
  reason?: "not-axial" | "no-trachea";
  carinaFound: boolean;
  leak: boolean;
  /** Voxels taken out of the air (lumen and rim). */
  removedVoxels: number;
}

/** Airway voxels are looked for among air inside the body, before any lung selection. */
const { air: CANDIDATE, airway: AIRWAY, front: FRONT, outside: OUTSIDE } = STATE;
const ROLLBACK_LAYERS = 3;
const MIN_FILL = 0.45;
const MAX_ASPECT = 2.5;
const CARINA_PIECE_FRACTION = 0.1;

export function excludeAirways(state: Uint8Array, volume: Volume, o: LungSegmentationOptions): AirwayResult {
  const order = sliceOrder(volume);
  if (!order.axial)
    return { found: false, reason: "not-axial", carinaFound: false, leak: false, removedVoxels: 0 };
  const seed = findTracheaSeed(state, volume, o, order);
  if (!seed) return { found: false, reason: "no-trachea", carinaFound: false, leak: false, removedVoxels: 0 };
  const grown = growAirway(state, volume, o, seed, order.step);
  const rim = dilateInto(state, volume.dims, grown.queue);
  return {
    found: true,
    carinaFound: grown.carinaFound,
    leak: grown.leak,
    removedVoxels: grown.queue.length + rim,
  };
}

interface Seed {
  k: number;
  voxels: Int32Array;
}

function findTracheaSeed(
  state: Uint8Array,
  volume: Volume,
  o: LungSegmentationOptions,
  order: ReturnType<typeof sliceOrder>,
): Seed | undefined {
  const [nx, ny, nz] = volume.dims;
  const [sx, sy, sz] = volume.spacing;
  const plane = nx * ny;
  const hu = volume.data;
  const x = lpsX(volume);
  const area = pixelAreaMm2(volume);
  const slices = Math.min(nz, Math.max(1, Math.ceil(o.tracheaSearchDepthMm / sz)));
  const seen = new Uint8Array(plane);
  const queue = new VoxelQueue(1024);
  for (let s = 0; s < slices; s++) {
    const k = order.superiorK + order.step * s;
    const base = k * plane;
    // Midline of this slice's body.
    let sumX = 0;
    let bodyCount = 0;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (state[base + i + nx * j] === OUTSIDE) continue;
        sumX += x.xi * i + x.xj * j;
        bodyCount++;
      }
    }
    if (bodyCount === 0) continue;
    const midX = sumX / bodyCount + x.xk * k + x.x0;
    seen.fill(0);
    const visit = (r: number): void => {
      if (seen[r] || state[base + r] !== CANDIDATE || hu[base + r]! >= o.airwayThresholdHu) return;
      seen[r] = 1;
      queue.push(r);
    };
    let best: { offset: number; voxels: Int32Array } | undefined;
    for (let p = 0; p < plane; p++) {
      if (seen[p] || state[base + p] !== CANDIDATE || hu[base + p]! >= o.airwayThresholdHu) continue;
      // 2D 4-connected blob of lumen-like voxels.
      queue.clear();
      seen[p] = 1;
      queue.push(p);
      let i0 = nx;
      let i1 = -1;
      let j0 = ny;
      let j1 = -1;
      let si = 0;
      let sj = 0;
      for (let h = 0; h < queue.length; h++) {
        const q = queue.at(h);
        const j = (q / nx) | 0;
        const i = q - j * nx;
        si += i;
        sj += j;
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (i > 0) visit(q - 1);
        if (i < nx - 1) visit(q + 1);
        if (j > 0) visit(q - nx);
        if (j < ny - 1) visit(q + nx);
      }
      const n = queue.length;
      const mm2 = n * area;
      if (mm2 < o.tracheaMinAreaMm2 || mm2 > o.tracheaMaxAreaMm2) continue;
      const w = (i1 - i0 + 1) * sx;
      const h = (j1 - j0 + 1) * sy;
      if (n / ((i1 - i0 + 1) * (j1 - j0 + 1)) < MIN_FILL || Math.max(w, h) / Math.min(w, h) > MAX_ASPECT)
        continue;
      const cx = x.xi * (si / n) + x.xj * (sj / n) + x.xk * k + x.x0;
      const offset = Math.abs(cx - midX);
      if (offset > o.tracheaMaxOffsetMm) continue;
      if (!best || offset < best.offset) {
        const voxels = new Int32Array(n);
        for (let q = 0; q < n; q++) voxels[q] = base + queue.at(q);
        best = { offset, voxels };
      }
    }
    if (best) return { k, voxels: best.voxels };
  }
  return undefined;
}

function growAirway(
  state: Uint8Array,
  volume: Volume,
  o: LungSegmentationOptions,
  seed: Seed,
  step: -1 | 1,
): { queue: VoxelQueue; carinaFound: boolean; leak: boolean } {
  const [nx, ny, nz] = volume.dims;
  const [sx, sy, sz] = volume.spacing;
  const plane = nx * ny;
  const hu = volume.data;
  const thr = o.airwayThresholdHu;
  const maxVoxels = o.maxAirwayMl / voxelVolumeMl(volume);
  const seedCount = seed.voxels.length;
  const queue = new VoxelQueue(seedCount * 64);
  for (const v of seed.voxels) {
    state[v] = AIRWAY;
    queue.push(v);
  }
  const layerStarts: number[] = [0];
  let carina: [number, number, number] | undefined;
  let splitLayers = 0;
  let previousCentroid: [number, number, number] = centroidOf(queue, 0, queue.length, nx, plane);
  const r2 = o.mainBronchusLengthMm * o.mainBronchusLengthMm;
  const admit = (v: number, i: number, j: number, k: number): void => {
    if (state[v] !== CANDIDATE || hu[v]! >= thr) return;
    // Never above the seed slice: the growth runs down the trachea.
    if ((k - seed.k) * step < 0) return;
    if (carina) {
      const dx = (i - carina[0]) * sx;
      const dy = (j - carina[1]) * sy;
      const dz = (k - carina[2]) * sz;
      if (dx * dx + dy * dy + dz * dz > r2) return;
    }
    state[v] = AIRWAY;
    queue.push(v);
  };
  let start = 0;
  let end = queue.length;
  let leak = false;
  while (start < end) {
    for (let h = start; h < end; h++) {
      const v = queue.at(h);
      const k = (v / plane) | 0;
      const rem = v - k * plane;
      const j = (rem / nx) | 0;
      const i = rem - j * nx;
      if (i > 0) admit(v - 1, i - 1, j, k);
      if (i < nx - 1) admit(v + 1, i + 1, j, k);
      if (j > 0) admit(v - nx, i, j - 1, k);
      if (j < ny - 1) admit(v + nx, i, j + 1, k);
      if (k > 0) admit(v - plane, i, j, k - 1);
      if (k < nz - 1) admit(v + plane, i, j, k + 1);
    }
    const layerStart = end;
    const layerEnd = queue.length;
    if (layerEnd === layerStart) break;
    layerStarts.push(layerStart);
    if (layerEnd - layerStart > o.airwayLeakFactor * seedCount || layerEnd > maxVoxels) {
      leak = true;
      const undoFrom = layerStarts[Math.max(1, layerStarts.length - 1 - ROLLBACK_LAYERS)]!;
      for (let h = undoFrom; h < queue.length; h++) state[queue.at(h)] = CANDIDATE;
      queue.length = undoFrom;
      break;
    }
    if (!carina) {
      const pieces = bigPieces(
        state,
        volume.dims,
        queue,
        layerStart,
        layerEnd,
        CARINA_PIECE_FRACTION * seedCount,
      );
      splitLayers = pieces >= 2 ? splitLayers + 1 : 0;
      if (splitLayers === 2) carina = previousCentroid;
      else if (splitLayers === 0) previousCentroid = centroidOf(queue, layerStart, layerEnd, nx, plane);
    }
    start = layerStart;
    end = layerEnd;
  }
  return { queue, carinaFound: carina !== undefined, leak };
}

/** Mean voxel index of queue entries [from, to). */
function centroidOf(
  queue: VoxelQueue,
  from: number,
  to: number,
  nx: number,
  plane: number,
): [number, number, number] {
  let si = 0;
  let sj = 0;
  let sk = 0;
  for (let h = from; h < to; h++) {
    const v = queue.at(h);
    const k = (v / plane) | 0;
    const rem = v - k * plane;
    const j = (rem / nx) | 0;
    si += rem - j * nx;
    sj += j;
    sk += k;
  }
  const n = Math.max(1, to - from);
  return [si / n, sj / n, sk / n];
}

/**
 * How many 26-connected pieces of the layer queue[from, to) hold at least `minSize` voxels (and 2). The
 * layer's voxels are airway; they are marked as front while counted and put back.
 */
function bigPieces(
  state: Uint8Array,
  dims: readonly [number, number, number],
  layer: VoxelQueue,
  from: number,
  to: number,
  minSize: number,
): number {
  for (let h = from; h < to; h++) state[layer.at(h)] = FRONT;
  const piece = new VoxelQueue(Math.max(16, to - from));
  let big = 0;
  for (let h = from; h < to; h++) {
    const s = layer.at(h);
    if (state[s] !== FRONT) continue;
    piece.clear();
    state[s] = AIRWAY;
    piece.push(s);
    for (let p = 0; p < piece.length; p++) relabelNeighbours(state, dims, piece.at(p), FRONT, AIRWAY, piece);
    if (piece.length >= Math.max(2, minSize)) big++;
  }
  return big;
}

/** Take the air voxels 26-adjacent to the airway out too; returns how many. */
function dilateInto(state: Uint8Array, dims: readonly [number, number, number], airway: VoxelQueue): number {
  let added = 0;
  const n = airway.length;
  for (let h = 0; h < n; h++) added += relabelNeighbours(state, dims, airway.at(h), CANDIDATE, AIRWAY);
  return added;
}

/**
 * Relabel `from` -> `to` among the 26 neighbours of voxel v inside the grid, pushing each onto `queue` when
 * one is given (a flood's frontier); returns how many were relabelled.
 */
function relabelNeighbours(
  state: Uint8Array,
  dims: readonly [number, number, number],
  v: number,
  from: number,
  to: number,
  queue?: VoxelQueue,
): number {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const k = (v / plane) | 0;
  const rem = v - k * plane;
  const j = (rem / nx) | 0;
  const i = rem - j * nx;
  let changed = 0;
  for (let dk = -1; dk <= 1; dk++) {
    const kk = k + dk;
    if (kk < 0 || kk >= nz) continue;
    for (let dj = -1; dj <= 1; dj++) {
      const jj = j + dj;
      if (jj < 0 || jj >= ny) continue;
      for (let di = -1; di <= 1; di++) {
        const ii = i + di;
        if (ii < 0 || ii >= nx) continue;
        const w = ii + nx * (jj + ny * kk);
        if (state[w] !== from) continue;
        state[w] = to;
        queue?.push(w);
        changed++;
      }
    }
  }
  return changed;
}
