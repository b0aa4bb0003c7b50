/**
 * Lung that leaked into the outside air through a narrow gap. Outside air is found slice by slice as the
 * air reaching the slice's border (air-mask.ts), so a single dark line across the chest wall joins that
 * slice's lung to the room: a streak from metal (a pacemaker or its leads, a line, a port, spinal hardware)
 * reads -500 to -900 HU in soft tissue, and where it runs from the lung out through the wall the whole lung
 * of that slice went "outside" (a 1.5 mm streak over 10 slices of a 512 x 512 phantom: 378 mL of the left
 * lung lost). No anatomy joins a lung to the room in plane; a lung cut by a narrow field of view reaches the
 * border itself, not through a neck.
 *
 * So, per slice: the outside air eroded by a square of half-side neckMm / 2 (a neck narrower than neckMm
 * closes), the part of it that still reaches the border taken away, and what is left — wide air cut off from
 * the border behind a neck — grown back by the same square within the outside air. Such a cavity is air
 * again (not outside) when it is at least minAreaMm2 and its median is not gas (room air reads -1000 HU,
 * lung about -850): room air in a skin fold or beside an arm stays outside. Outside air that the reclaimed
 * lung then cuts off from the border (bits of it behind a rib or a vessel) is air too. Pixels coarser than
 * neckMm / 2 along an axis are not eroded along it (the rule cannot see a neck there; such streaks blur away).
 */
import type { Volume } from "../../../core/contracts/volume.js";
import { STATE } from "./air-mask.js";
import { floodFromBorder } from "./plane-flood.js";
import { doubled, RunList } from "./runs.js";
import { VoxelQueue } from "./voxel-queue.js";

export interface LeakOptions {
  neckMm: number;
  minAreaMm2: number;
  gasMedianHu: number;
}

/**
 * Turn the cavities the header describes from STATE.outside back to STATE.air, in every slice of `state`.
 * Returns the slices where it did so. Works on runs along i, so a slice without a leak costs one read of
 * its state; only a slice with a cut-off core is worked pixel by pixel.
 */
export function reclaimLeakedCavities(
  state: Uint8Array,
  volume: Volume,
  outOfView: Uint8Array | undefined,
  o: LeakOptions,
): number[] {
  const [nx, ny, nz] = volume.dims;
  const plane = nx * ny;
  const ri = Math.floor(o.neckMm / 2 / volume.spacing[0]);
  const rj = Math.floor(o.neckMm / 2 / volume.spacing[1]);
  const slices: number[] = [];
  if (o.neckMm <= 0 || (ri === 0 && rj === 0)) return slices;
  const minPixels = o.minAreaMm2 / (volume.spacing[0] * volume.spacing[1]);
  const unseen = outOfView ?? new Uint8Array(plane);
  const rows = new RowRuns(ny);
  const eroded = new RunList(4 * ny);
  const queue = new VoxelQueue(1 << 12);
  const seen = new Uint8Array(plane);
  const data = volume.data;
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    // Outside or out of view: out-of-view padding, like the image's surroundings, never narrows a neck.
    const open = (p: number): boolean => unseen[p] === 1 || state[base + p] === STATE.outside;
    rows.read(state, base, unseen, nx, ri);
    const cores = cutOffCores(rows, eroded, nx, ny, rj);
    if (cores.length === 0) continue;
    let reclaimedHere = false;
    for (const runs of cores) {
      const pixels = grow(runs, seen, nx, ny, ri, rj, (q) => state[base + q] === STATE.outside && !unseen[q]);
      if (pixels.length >= minPixels && medianHu(data, base, pixels) >= o.gasMedianHu) {
        for (const q of pixels) state[base + q] = STATE.air;
        reclaimedHere = true;
      }
      for (const q of pixels) seen[q] = 0;
    }
    if (!reclaimedHere) continue;
    slices.push(k);
    // Bits of the leaked lung that the grown core missed (behind a rib or a vessel near the pleura) are now
    // cut off from the border by the reclaimed lung: air too.
    const work = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) work[p] = open(p) ? 1 : 0;
    floodFromBorder(work, nx, ny, queue, 1, 2);
    for (let p = 0; p < plane; p++) if (work[p] === 1 && !unseen[p]) state[base + p] = STATE.air;
  }
  return slices;
}

/** Per row, the runs of open pixels eroded along the row by ri (a run at the image's edge is not eroded there). */
class RowRuns {
  /** Row j's runs are [first[j], first[j + 1]) of start/end. */
  readonly first: Int32Array;
  start: Int32Array = new Int32Array(1024);
  end: Int32Array = new Int32Array(1024);

  constructor(ny: number) {
    this.first = new Int32Array(ny + 1);
  }

  /** Runs of pixels that are outside in `state` (slice at `base`) or out of view in `unseen`. */
  read(state: Uint8Array, base: number, unseen: Uint8Array, nx: number, ri: number): void {
    const ny = this.first.length - 1;
    const outside = STATE.outside;
    let n = 0;
    for (let j = 0; j < ny; j++) {
      this.first[j] = n;
      const row = nx * j;
      let i = 0;
      while (i < nx) {
        if (state[base + row + i] !== outside && unseen[row + i] !== 1) {
          i++;
          continue;
        }
        const s = i;
        while (i < nx && (state[base + row + i] === outside || unseen[row + i] === 1)) i++;
        const lo = s === 0 ? 0 : s + ri;
        const hi = i === nx ? nx : i - ri;
        if (hi <= lo) continue;
        if (n === this.start.length) {
          this.start = doubled(this.start);
          this.end = doubled(this.end);
        }
        this.start[n] = lo;
        this.end[n] = hi;
        n++;
      }
    }
    this.first[ny] = n;
  }
}

/**
 * The row-eroded runs eroded along columns by rj (rows beyond the image count as open), labelled into
 * 4-connected components; returns the runs [row, start, end] of each component that reaches no edge of the
 * image (a core cut off from the border).
 */
function cutOffCores(rows: RowRuns, eroded: RunList, nx: number, ny: number, rj: number): Array<number[][]> {
  eroded.length = 0;
  const runRow: number[] = [];
  let prevFirst = 0;
  let rowFirst = 0;
  let cur: Int32Array = new Int32Array(64);
  let next: Int32Array = new Int32Array(64);
  for (let j = 0; j < ny; j++) {
    // Intersect the runs of rows j - rj .. j + rj (those inside the image) into cur[0, len).
    const b0 = Math.max(0, j - rj);
    const b1 = Math.min(ny - 1, j + rj);
    let len = 0;
    for (let r = rows.first[b0]!; r < rows.first[b0 + 1]!; r++) {
      if (len + 2 > cur.length) cur = doubled(cur);
      cur[len++] = rows.start[r]!;
      cur[len++] = rows.end[r]!;
    }
    for (let b = b0 + 1; b <= b1 && len > 0; b++) {
      let x = 0;
      let y = rows.first[b]!;
      const yEnd = rows.first[b + 1]!;
      let out = 0;
      while (x < len && y < yEnd) {
        const s = Math.max(cur[x]!, rows.start[y]!);
        const e = Math.min(cur[x + 1]!, rows.end[y]!);
        if (e > s) {
          if (out + 2 > next.length) next = doubled(next);
          next[out++] = s;
          next[out++] = e;
        }
        if (cur[x + 1]! < rows.end[y]!) x += 2;
        else y++;
      }
      [cur, next] = [next, cur];
      len = out;
    }
    prevFirst = rowFirst;
    rowFirst = eroded.length;
    for (let q = 0; q < len; q += 2) {
      const n = eroded.push(cur[q]!, cur[q + 1]!);
      runRow[n] = j;
      eroded.joinOverlapping(n, prevFirst, rowFirst);
    }
  }
  const edge = new Set<number>();
  for (let r = 0; r < eroded.length; r++) {
    const j = runRow[r]!;
    if (j === 0 || j === ny - 1 || eroded.start[r] === 0 || eroded.end[r] === nx) edge.add(eroded.find(r));
  }
  const cores = new Map<number, number[][]>();
  for (let r = 0; r < eroded.length; r++) {
    const root = eroded.find(r);
    if (edge.has(root)) continue;
    const runs = cores.get(root) ?? [];
    runs.push([runRow[r]!, eroded.start[r]!, eroded.end[r]!]);
    cores.set(root, runs);
  }
  return [...cores.values()];
}

/** The pixels within the square about any pixel of the runs that pass `within`; `seen` is scratch (left marked). */
function grow(
  runs: number[][],
  seen: Uint8Array,
  nx: number,
  ny: number,
  ri: number,
  rj: number,
  within: (p: number) => boolean,
): number[] {
  const out: number[] = [];
  for (const [j, s, e] of runs as Array<[number, number, number]>)
    for (let b = Math.max(0, j - rj); b <= Math.min(ny - 1, j + rj); b++)
      for (let a = Math.max(0, s - ri); a < Math.min(nx, e + ri); a++) {
        const q = a + nx * b;
        if (seen[q] || !within(q)) continue;
        seen[q] = 1;
        out.push(q);
      }
  return out;
}

function medianHu(data: ArrayLike<number>, base: number, pixels: number[]): number {
  const values = Float64Array.from(pixels, (q) => data[base + q] as number).sort();
  return values[values.length >> 1] as number;
}
