/**
 * First step of the segmentation: which voxels are air-like, and which of those are outside the body.
 *
 * Outside air is found slice by slice (each k plane): air 4-connected in that plane to the plane's
 * border. Slice-wise rather than 3D because the airways open to the outside above the scan (or reach the
 * top slice): a 3D fill from the border would enter the trachea and run into the lungs.
 *
 * A reconstruction that cuts the chest wall (a field of view narrower than the chest) lets the lungs
 * reach the border too. So where the body itself touches the slice's border, a border region counts as
 * outside only if most of it lies outside the body's in-plane convex hull: outside air wraps the body's
 * convex outline, a cut lung lies within it. Where the body is wholly inside the field of view nothing
 * changes. A round reconstruction circle is an edge like the border: its padding (field-of-view.ts) is
 * outside, never air, and a region touching it is on the edge of the view.
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";
import { ViewEdge } from "./field-of-view.js";
import { RunList } from "./runs.js";

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

/** The runs of one slice: a RunList and each run's row. Rows go in order, the runs in i order within one. */
class SliceRuns extends RunList {
  readonly row: Int32Array;
  /** The previous row's runs [prevFirst, rowFirst) and the current row's from rowFirst. */
  private prevFirst = 0;
  private rowFirst = 0;

  constructor(maxRuns: number) {
    super(maxRuns);
    this.row = new Int32Array(maxRuns);
  }

  reset(): void {
    this.length = 0;
    this.prevFirst = 0;
    this.rowFirst = 0;
  }

  beginRow(): void {
    this.prevFirst = this.rowFirst;
    this.rowFirst = this.length;
  }

  /** Append run [s, e) on row j, joined with the previous row's runs it overlaps (4-connectivity). */
  add(s: number, e: number, j: number): void {
    const n = this.push(s, e);
    this.row[n] = j;
    this.joinOverlapping(n, this.prevFirst, this.rowFirst);
  }
}

/**
 * The state volume the lung stages start from: air (HU < thresholdHu) is STATE.air, or STATE.outside when
 * it is reachable in-plane from its slice's border or from the out-of-view pixels `outOfView` marks
 * (nx * ny, field-of-view.ts; with the exception for a body cut by the field of view that the header
 * describes); out-of-view pixels are STATE.outside; everything else is STATE.tissue.
 *
 * One sequential read of the HU values plus work per run; no per-voxel fill.
 */
export function airState(volume: Volume, thresholdHu: number, outOfView?: Uint8Array): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const data = volume.data;
  const plane = nx * ny;
  const state = new Uint8Array(data.length);
  // Out-of-view pixels (field-of-view.ts) are neither air nor tissue: outside, and the edge of the view.
  const unseen = outOfView ?? new Uint8Array(plane);
  const edge = new ViewEdge(nx, ny, outOfView);
  // A row holds at most ceil(nx / 2) runs of either kind.
  const maxRuns = ny * Math.ceil(nx / 2);
  const air = new SliceRuns(maxRuns);
  const tissue = new SliceRuns(maxRuns);
  // Per region root: on the border; pixel count; pixels within the body's hull.
  const border = new Uint8Array(maxRuns);
  const size = new Int32Array(maxRuns);
  const inside = new Int32Array(maxRuns);
  const hull = new BodyHull(ny);
  const onEdge = (r: SliceRuns, n: number): boolean => edge.touches(r.row[n]!, r.start[n]!, r.end[n]!);
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    air.reset();
    tissue.reset();
    for (let j = 0; j < ny; j++) {
      const row = base + nx * j;
      air.beginRow();
      tissue.beginRow();
      const seen = nx * j;
      let i = 0;
      while (i < nx) {
        if (unseen[seen + i]) {
          state[row + i] = STATE.outside;
          i++;
          continue;
        }
        const s = i;
        while (i < nx && !unseen[seen + i] && !(data[row + i]! < thresholdHu)) i++;
        if (i > s) tissue.add(s, i, j);
        const a = i;
        while (i < nx && !unseen[seen + i] && data[row + i]! < thresholdHu) i++;
        if (i > a) air.add(a, i, j);
      }
    }
    border.fill(0, 0, air.length);
    let anyOnBorder = false;
    for (let r = 0; r < air.length; r++)
      if (onEdge(air, r)) {
        border[air.find(r)] = 1;
        anyOnBorder = true;
      }
    if (anyOnBorder && hull.ofLargestRegion(tissue, size, onEdge)) {
      // The body reaches the border: border air regions mostly within its hull are inside it.
      size.fill(0, 0, air.length);
      inside.fill(0, 0, air.length);
      for (let r = 0; r < air.length; r++) {
        const root = air.find(r);
        if (!border[root]) continue;
        size[root]! += air.end[r]! - air.start[r]!;
        inside[root]! += hull.overlap(air.row[r]!, air.start[r]!, air.end[r]!);
      }
      for (let r = 0; r < air.length; r++) if (border[r] && 2 * inside[r]! > size[r]!) border[r] = 0;
    }
    for (let r = 0; r < air.length; r++) {
      const row = base + nx * air.row[r]!;
      state.fill(border[air.find(r)] ? STATE.outside : STATE.air, row + air.start[r]!, row + air.end[r]!);
    }
  }
  return state;
}

/**
 * The in-plane convex hull of one region of a slice, as the interval of i it spans on each row: the left
 * edge is the lower convex envelope of the region's leftmost pixel per row, the right edge the upper
 * concave envelope of its rightmost (a 4-connected region has pixels on every row between its first and
 * last).
 */
class BodyHull {
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly chain: Int32Array;
  private first = 0;
  private last = -1;

  constructor(ny: number) {
    this.lo = new Float64Array(ny);
    this.hi = new Float64Array(ny);
    this.chain = new Int32Array(ny);
  }

  /**
   * Set the hull to that of the largest region of `runs`, if that region touches the slice's border
   * (`onEdge`). Returns whether it does. `size` is scratch, one entry per run.
   */
  ofLargestRegion(runs: SliceRuns, size: Int32Array, onEdge: (r: SliceRuns, n: number) => boolean): boolean {
    if (runs.length === 0) return false;
    size.fill(0, 0, runs.length);
    let body = 0;
    for (let r = 0; r < runs.length; r++) {
      const root = runs.find(r);
      size[root]! += runs.end[r]! - runs.start[r]!;
      if (size[root]! > size[body]!) body = root;
    }
    let touches = false;
    this.first = Number.MAX_SAFE_INTEGER;
    this.last = -1;
    for (let r = 0; r < runs.length; r++) {
      if (runs.find(r) !== body) continue;
      const j = runs.row[r]!;
      if (j < this.first) this.first = j;
      if (j > this.last) {
        this.last = j;
        this.lo[j] = runs.start[r]!;
        this.hi[j] = runs.end[r]! - 1;
      } else {
        this.lo[j] = Math.min(this.lo[j]!, runs.start[r]!);
        this.hi[j] = Math.max(this.hi[j]!, runs.end[r]! - 1);
      }
      touches ||= onEdge(runs, r);
    }
    if (!touches) return false;
    this.envelope(this.lo, 1);
    this.envelope(this.hi, -1);
    return true;
  }

  /** Pixels of the run [s, e) on row j within the hull. */
  overlap(j: number, s: number, e: number): number {
    if (j < this.first || j > this.last) return 0;
    const from = Math.max(s, Math.ceil(this.lo[j]! - 1e-9));
    const to = Math.min(e - 1, Math.floor(this.hi[j]! + 1e-9));
    return to >= from ? to - from + 1 : 0;
  }

  /**
   * Replace v[first..last] by its lower convex envelope (sign 1) or upper concave one (sign -1):
   * Andrew's monotone chain over the rows, then linear interpolation between the chain's vertices.
   */
  private envelope(v: Float64Array, sign: 1 | -1): void {
    const c = this.chain;
    let n = 0;
    for (let j = this.first; j <= this.last; j++) {
      // Pop while the last two vertices and row j do not turn the envelope's way.
      while (n >= 2) {
        const a = c[n - 2]!;
        const b = c[n - 1]!;
        const cross = (b - a) * (v[j]! - v[a]!) - (v[b]! - v[a]!) * (j - a);
        if (sign * cross > 0) break;
        n--;
      }
      c[n++] = j;
    }
    for (let t = 0; t + 1 < n; t++) {
      const a = c[t]!;
      const b = c[t + 1]!;
      for (let j = a + 1; j < b; j++) v[j] = v[a]! + ((v[b]! - v[a]!) * (j - a)) / (b - a);
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
