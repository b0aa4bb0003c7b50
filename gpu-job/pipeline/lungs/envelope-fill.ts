/**
 * Consolidation within the lung's convex envelope: puts back dense lesions (consolidation about 0..+100
 * HU, ground glass above the air threshold) that the air threshold left out and that neither the hole
 * filling (a lesion against the pleura is not enclosed in-plane; a large one is over its size cap) nor the
 * closing (a lesion's pit is wider than its ball) restores.
 *
 * Per lung and per slice, the candidates are the voxels inside the 2D convex hull of that lung's voxels
 * in the slice that are not lung, not outside the body, not excluded airway and below `maxHu` (bone).
 * Against the chest wall the hull's edge runs along the pleura (the rib cage is convex in-plane), so a
 * subpleural lesion's pit lies inside it. So does anatomy in the lung's concavities: the heart in the
 * cardiac notch, the mediastinum, and in the basal slices the diaphragm domes (liver, spleen) within the
 * ring or crescent of the lung base. Two rules keep those out:
 *
 * - Between the lungs: a candidate whose nearest lung voxel towards the other lung, along the in-plane
 *   axis closer to left-right, belongs to the other lung is mediastinum (the heart bulging into either
 *   lung), never a candidate. For a patient rolled TURNED_AXIS_FROM_DEG or more, "towards the other lung"
 *   is along the lungs' own left-right axis (lungs/lung-axis.ts), not along the image's rows.
 * - Lung above and below: a lesion inside the lung has lung above and below it in the same column, while
 *   the heart and the domes sit on the diaphragm with abdomen, never lung, under them. A candidate is
 *   bracketed when the lung above and the lung below it along k are at most `maxGapMm` apart. A region
 *   (4-connected in-plane) of candidates is filled, its bracketed voxels, when at least `minBracketed` of
 *   its voxels are bracketed. A region the lung encloses in-plane (a lesion too large for the hole
 *   filling) also counts voxels with lung only under them (a lesion at the apex); a dome's top, enclosed
 *   by the lung base, has lung only above it.
 *
 * The hull's spans are widened by MARGIN_MM, whose voxels join a region that passes when they too are
 * bracketed (a lesion that takes the lung's outermost voxels leaves the hull's edge a chord inside the
 * pleura's curve).
 *
 * Lung here is the lung as segmented before this step: what the step adds in one slice never brackets
 * another slice's candidates, so the result does not depend on the order the slices are visited in.
 * Beyond the volume's first and last slice counts as no lung (what lies there is unknown). Meant for
 * axial stacks (the caller skips others): "above and below" is along k.
 *
 * Cost: per slice, one pass over the lung's rows to find its extremes and one over the hull's spans;
 * per candidate, walks along its column to the nearest lung (at most maxGapMm each way), for at most
 * SAMPLES voxels of a region that fails. Memory: plane-sized buffers and the list of voxels to add.
 */
import type { Volume } from "../../../core/contracts/volume.js";
import { STATE } from "./air-mask.js";
import { lpsX, sliceOrder } from "./grid.js";
import type { LabelBox } from "./label-boxes.js";
import { LUNG_LABEL } from "./types.js";
import { VoxelQueue } from "./voxel-queue.js";

export interface EnvelopeFillOptions {
  /** Largest distance (mm, along k) from the lung above a candidate to the lung below it; 0 turns it off. */
  maxGapMm: number;
  /** Share of a region's voxels that must be bracketed for the region to be filled. */
  minBracketed: number;
  /** No voxel at or above this (bone). */
  maxHu: number;
  /**
   * The lungs' left-right axis in the LPS x-y plane, degrees from +x towards +y (lungs/lung-axis.ts), for
   * the between-the-lungs rule on a rolled patient; null or absent: the image axis closer to x.
   */
  lungsAxisDeg?: number | null;
}

/**
 * From this far off the image's x axis, the between-the-lungs rule walks along the lungs' own axis instead
 * of the image's rows: with a patient rolled 15 degrees, the heart's corner in the left lung's hull has no
 * right lung along its image row (the roll moved it), was taken for consolidation, and a normal phantom got
 * 50 mL of false lesion (bench/README.md, "A patient rolled"). Upright phantoms read about 1 degree.
 */
export const TURNED_AXIS_FROM_DEG = 5;

/**
 * Fill lung `lung` in `labels` within its convex envelope; `boxes` holds each lung's box (the other
 * lung's too, for the between-the-lungs rule). Returns the number of voxels added.
 */
export function fillLungEnvelope(
  labels: Uint8Array,
  state: Uint8Array,
  volume: Volume,
  lung: number,
  boxes: Array<LabelBox | undefined>,
  o: EnvelopeFillOptions,
): number {
  const box = boxes[lung];
  // Whole slices; a bracketed voxel is at least one slice from the lung each way.
  const maxGap = Math.floor(o.maxGapMm / volume.spacing[2]);
  if (!box || !(maxGap >= 2)) return 0;
  const fill = new EnvelopeFill(labels, state, volume, lung, box, boxes, o, maxGap);
  for (let k = box[4]; k <= box[5]; k++) if (fill.candidates(k)) fill.regions(k);
  return fill.apply();
}

/**
 * The hull's spans are widened by this (mm, at least a voxel) on each side: a lesion that takes the
 * lung's outermost voxels in a row leaves the hull's edge a chord, inside the pleura's curve (by up to a
 * voxel, or a few mm for a large lesion). What the margin adds must still be bracketed by lung, which
 * the chest wall outside a smooth pleura is not.
 */
const MARGIN_MM = 3;
/** Values of `cand`. */
const CANDIDATE = 1;
const FLOODED = 2;
const MARGIN = 3;
const MARGIN_SEEN = 4;
/** Most voxels of a region whose columns are walked to decide on it. */
const SAMPLES = 64;

/**
 * The state of one lung's fill. One method per step, each a small loop nest (V8 optimises small
 * functions early, and this runs once per scan, cold).
 */
class EnvelopeFill {
  private readonly nx: number;
  private readonly nz: number;
  private readonly plane: number;
  private readonly i0: number;
  private readonly j0: number;
  private readonly bw: number;
  private readonly bh: number;
  private readonly maxHu: number;
  /** Columns the hull's span is widened by on each side (see MARGIN_MM). */
  private readonly margin: number;
  private readonly marginRows: number;
  private readonly minBracketed: number;
  /** +1 when the patient's feet lie towards higher k. */
  private readonly inferiorStep: 1 | -1;
  private readonly mediastinum: BetweenTheLungs;
  /** Per box voxel of the current slice: 0, CANDIDATE, FLOODED, MARGIN or MARGIN_SEEN. */
  private readonly cand: Uint8Array;
  /** The hull's span of each row of the current slice (empty: lo > hi). */
  private readonly spanLo: Int32Array;
  private readonly spanHi: Int32Array;
  private readonly minI: Int32Array;
  private readonly maxI: Int32Array;
  private readonly left: Float64Array;
  private readonly right: Float64Array;
  private readonly chainJ: Int32Array;
  private readonly chainI: Int32Array;
  private readonly span = new Int32Array(2);
  private readonly region = new VoxelQueue(4096);
  private readonly filled = new VoxelQueue(4096);

  constructor(
    private readonly labels: Uint8Array,
    private readonly state: Uint8Array,
    private readonly volume: Volume,
    private readonly lung: number,
    box: LabelBox,
    boxes: Array<LabelBox | undefined>,
    o: EnvelopeFillOptions,
    private readonly maxGap: number,
  ) {
    const other = lung === LUNG_LABEL.right ? LUNG_LABEL.left : LUNG_LABEL.right;
    this.nx = volume.dims[0];
    this.nz = volume.dims[2];
    this.plane = volume.dims[0] * volume.dims[1];
    this.i0 = box[0];
    this.j0 = box[2];
    this.bw = box[1] - box[0] + 1;
    this.bh = box[3] - box[2] + 1;
    this.maxHu = o.maxHu;
    this.margin = Math.max(1, Math.round(MARGIN_MM / volume.spacing[0]));
    this.marginRows = Math.max(1, Math.round(MARGIN_MM / volume.spacing[1]));
    this.minBracketed = o.minBracketed;
    this.inferiorStep = sliceOrder(volume).superiorK === 0 ? 1 : -1;
    const axis = o.lungsAxisDeg;
    this.mediastinum =
      axis !== undefined && axis !== null && Math.abs(axis) >= TURNED_AXIS_FROM_DEG
        ? new TurnedMediastinumTest(labels, volume, lung, other, box, axis)
        : new MediastinumTest(labels, volume, lung, other, box, boxes[other]);
    this.cand = new Uint8Array(this.bw * this.bh);
    this.spanLo = new Int32Array(this.bh);
    this.spanHi = new Int32Array(this.bh);
    this.minI = new Int32Array(this.bh);
    this.maxI = new Int32Array(this.bh);
    this.left = new Float64Array(this.bh);
    this.right = new Float64Array(this.bh);
    this.chainJ = new Int32Array(this.bh);
    this.chainI = new Int32Array(this.bh);
  }

  /** Slice k: its hull and candidates (in `cand`); false when the lung is not in it. */
  candidates(k: number): boolean {
    const { labels, lung, nx, bw, bh, minI, maxI } = this;
    const base = k * this.plane + this.i0 + nx * this.j0;
    let first = -1;
    let last = -1;
    // Row extremes, scanning in from both ends of the row.
    for (let j = 0; j < bh; j++) {
      const row = base + nx * j;
      let a = 0;
      while (a < bw && labels[row + a] !== lung) a++;
      let b = bw - 1;
      while (b > a && labels[row + b] !== lung) b--;
      minI[j] = a < bw ? a : -1;
      maxI[j] = a < bw ? b : -1;
      if (a < bw) {
        if (first < 0) first = j;
        last = j;
      }
    }
    this.spanLo.fill(0);
    this.spanHi.fill(-1);
    if (first < 0) return false;
    envelope(minI, first, last, this.chainJ, this.chainI, this.left, -1);
    envelope(maxI, first, last, this.chainJ, this.chainI, this.right, 1);
    this.mediastinum.slice(k);
    this.cand.fill(0);
    const mj = this.marginRows;
    for (let j = Math.max(0, first - mj); j <= Math.min(bh - 1, last + mj); j++) {
      // Rows past the hull's ends take the nearest end row's span as their margin.
      const jj = Math.min(last, Math.max(first, j));
      const lo = Math.max(0, Math.ceil(this.left[jj]! - 1e-6));
      const hi = Math.min(bw - 1, Math.floor(this.right[jj]! + 1e-6));
      const inside = j === jj;
      this.spanLo[j] = Math.max(0, lo - this.margin);
      this.spanHi[j] = Math.min(bw - 1, hi + this.margin);
      this.candidateRow(base + nx * j, j, this.spanLo[j]!, this.spanHi[j]!, inside ? lo : 1, inside ? hi : 0);
    }
    return true;
  }

  /**
   * One row's widened span [lo, hi]: the voxels that may be lung, CANDIDATE within the hull's span
   * [inLo, inHi], MARGIN outside it.
   */
  private candidateRow(row: number, j: number, lo: number, hi: number, inLo: number, inHi: number): void {
    const { labels, state, cand, maxHu, span } = this;
    const hu = this.volume.data;
    // Rows along x (the usual case) take the between-the-lungs test as one span.
    const rowWise = this.mediastinum.rowSpan(j, span);
    const from = span[0]!;
    const to = span[1]!;
    for (let i = lo, p = lo + this.bw * j; i <= hi; i++, p++) {
      const v = row + i;
      if (labels[v] !== 0) continue;
      const s = state[v];
      if (s === STATE.outside || s === STATE.airway || !(hu[v]! < maxHu)) continue;
      if (rowWise ? i >= from && i <= to : this.mediastinum.between(i, j)) continue;
      cand[p] = i >= inLo && i <= inHi ? CANDIDATE : MARGIN;
    }
  }

  /** Slice k: flood each region of candidates and fill it when it passes. */
  regions(k: number): void {
    const { bw, bh, cand } = this;
    for (let j = 0; j < bh; j++) {
      const hi = this.spanHi[j]!;
      for (let i = this.spanLo[j]!, p = i + bw * j; i <= hi; i++, p++)
        if (cand[p] === CANDIDATE) this.fillRegion(k, p);
    }
  }

  /**
   * Bracket code of voxel v (slice k): 2 when lung lies above and below it at most maxGap slices apart,
   * else 1 when `underOnly` and lung lies under it within maxGap, else 0. Walks its column (the lung as
   * segmented before this step: fills are labelled only at the end).
   */
  private bracket(v: number, k: number, underOnly: boolean): number {
    const { labels, lung, plane, maxGap } = this;
    let up = 0;
    for (let d = 1; d <= maxGap && k + d < this.nz; d++)
      if (labels[v + d * plane] === lung) {
        up = d;
        break;
      }
    // Down only as far as a bracket allows, unless lung under it alone may do.
    const reach = underOnly && this.inferiorStep < 0 ? maxGap : up > 0 ? maxGap - up : 0;
    let down = 0;
    for (let d = 1; d <= reach && k - d >= 0; d++)
      if (labels[v - d * plane] === lung) {
        down = d;
        break;
      }
    if (up > 0 && down > 0 && up + down <= maxGap) return 2;
    if (!underOnly) return 0;
    return (this.inferiorStep > 0 ? up : down) > 0 ? 1 : 0;
  }

  /**
   * The region of candidates holding p0 in slice k: flood it; decide on its bracketed share, measured on
   * at most SAMPLES of its voxels spread over it (column walks are the cost, and the large regions are
   * the heart and the domes); when it passes, fill its voxels that qualify.
   */
  private fillRegion(k: number, p0: number): void {
    const { bw, cand, labels, lung, region, nx } = this;
    const base = k * this.plane + this.i0 + nx * this.j0;
    region.clear();
    region.push(p0);
    cand[p0] = FLOODED;
    const voxel = (p: number): number => base + (p % bw) + nx * ((p / bw) | 0);
    let enclosed = true;
    for (let h = 0; h < region.length; h++) {
      const p = region.at(h);
      // The box's edge, or a neighbour that is neither lung nor candidate, opens the region.
      for (let m = 0; m < 4; m++) {
        const q = this.neighbour(p, m);
        if (q < 0) {
          enclosed = false;
          continue;
        }
        const c = cand[q]!;
        if (c === CANDIDATE) {
          cand[q] = FLOODED;
          region.push(q);
        } else if (c === 0 && labels[voxel(q)] !== lung) enclosed = false;
      }
    }
    const n = region.length;
    const need = enclosed ? 1 : 2;
    const stride = Math.max(1, Math.floor(n / SAMPLES));
    let sampled = 0;
    let pass = 0;
    for (let h = 0; h < n; h += stride, sampled++)
      if (this.bracket(voxel(region.at(h)), k, enclosed) >= need) pass++;
    if (pass < this.minBracketed * sampled) return;
    for (let h = 0; h < n; h++) {
      const v = voxel(region.at(h));
      if (this.bracket(v, k, enclosed) >= need) this.filled.push(v);
    }
    // On into the margin next to the region, at most the margin's width away: its bracketed voxels.
    let layer = 0;
    for (let steps = Math.max(this.margin, this.marginRows); steps > 0 && layer < region.length; steps--) {
      const end = region.length;
      for (let h = layer; h < end; h++) {
        const p = region.at(h);
        for (let m = 0; m < 4; m++) {
          const q = this.neighbour(p, m);
          if (q < 0 || cand[q] !== MARGIN) continue;
          cand[q] = MARGIN_SEEN;
          region.push(q);
          if (this.bracket(voxel(q), k, false) === 2) this.filled.push(voxel(q));
        }
      }
      layer = end;
    }
  }

  /** In-plane 4-neighbour m (0..3: -i, +i, -j, +j) of box pixel p, or -1 beyond the lung's box. */
  private neighbour(p: number, m: number): number {
    const { bw, bh } = this;
    const pj = (p / bw) | 0;
    const pi = p - pj * bw;
    if (m === 0) return pi === 0 ? -1 : p - 1;
    if (m === 1) return pi === bw - 1 ? -1 : p + 1;
    if (m === 2) return pj === 0 ? -1 : p - bw;
    return pj === bh - 1 ? -1 : p + bw;
  }

  /** Label the filled voxels (after every slice, so no fill counted as lung); returns how many. */
  apply(): number {
    for (let h = 0; h < this.filled.length; h++) this.labels[this.filled.at(h)] = this.lung;
    return this.filled.length;
  }
}

/** The between-the-lungs rule, asked slice by slice about box voxels (i, j). */
interface BetweenTheLungs {
  /** Prepare slice k. */
  slice(k: number): void;
  /** Row j's voxels between the lungs as one span [span[0], span[1]] and true; false to ask per voxel. */
  rowSpan(j: number, span: Int32Array): boolean;
  between(i: number, j: number): boolean;
}

/**
 * The between-the-lungs rule, slice by slice: along each line of the in-plane axis closer to LPS x, the
 * lung's voxel nearest the other lung and the other lung's voxel nearest this lung; a voxel between the
 * two is mediastinum.
 */
class MediastinumTest implements BetweenTheLungs {
  private readonly axisI: boolean;
  /** +1 when the other lung lies towards higher index along the axis. */
  private readonly step: 1 | -1;
  /** Per line across the box: this lung's medial-most and the other lung's lateral-most index (-1: none). */
  private readonly own: Int32Array;
  private readonly theirs: Int32Array;
  /** Which lines of the current slice are scanned (`stamp` of the slice they were scanned in). */
  private readonly scanned: Int32Array;
  private stamp = 0;
  private k = 0;

  constructor(
    private readonly labels: Uint8Array,
    private readonly volume: Volume,
    private readonly lung: number,
    private readonly other: number,
    private readonly box: LabelBox,
    private readonly otherBox: LabelBox | undefined,
  ) {
    const x = lpsX(volume);
    this.axisI = Math.abs(x.xi) >= Math.abs(x.xj);
    const along = this.axisI ? x.xi : x.xj;
    // The right lung lies at lower x: its other lung is towards +x.
    const towardsOther = lung === LUNG_LABEL.right ? 1 : -1;
    this.step = along * towardsOther >= 0 ? 1 : -1;
    const lines = this.axisI ? box[3] - box[2] + 1 : box[1] - box[0] + 1;
    this.own = new Int32Array(lines);
    this.theirs = new Int32Array(lines);
    this.scanned = new Int32Array(lines);
  }

  /** Prepare slice k (its lines are scanned when first asked about). */
  slice(k: number): void {
    this.k = k;
    this.stamp++;
  }

  /**
   * When the lines run along i: the box columns [span[0], span[1]] of row j of the prepared slice that lie
   * between the lungs (span[0] > span[1]: none), and true; false when the lines run along j.
   */
  rowSpan(j: number, span: Int32Array): boolean {
    if (!this.axisI) return false;
    if (this.scanned[j] !== this.stamp) this.scan(j);
    const own = this.own[j]!;
    const theirs = this.theirs[j]!;
    const b0 = this.box[0];
    if (theirs < 0) {
      span[0] = 1;
      span[1] = 0;
    } else if (this.step > 0) {
      span[0] = own < 0 ? 0 : own + 1 - b0;
      span[1] = theirs - 1 - b0;
    } else {
      span[0] = theirs + 1 - b0;
      span[1] = own < 0 ? this.box[1] - b0 : own - 1 - b0;
    }
    return true;
  }

  /** Whether box voxel (i, j) of the prepared slice lies between the lungs. */
  between(i: number, j: number): boolean {
    const a = this.axisI ? i + this.box[0] : j + this.box[2];
    const n = this.axisI ? j : i;
    if (this.scanned[n] !== this.stamp) this.scan(n);
    const own = this.own[n]!;
    const theirs = this.theirs[n]!;
    if (theirs < 0) return false;
    // A line without this lung: between when the other lung lies that way.
    if (own < 0) return this.step > 0 ? a < theirs : a > theirs;
    return this.step > 0 ? a > own && a < theirs : a < own && a > theirs;
  }

  private scan(n: number): void {
    const { labels, box, otherBox, step, k } = this;
    const [nx, ny] = this.volume.dims;
    // Axis a runs towards the other lung (index), b across it.
    const [a0, a1, b] = this.axisI ? [box[0], box[1], box[2] + n] : [box[2], box[3], box[0] + n];
    const line = k * nx * ny + b * (this.axisI ? nx : 1);
    const strideA = this.axisI ? 1 : nx;
    this.scanned[n] = this.stamp;
    this.own[n] = firstOf(labels, line, strideA, step > 0 ? a1 : a0, step > 0 ? a0 : a1, this.lung);
    this.theirs[n] = -1;
    if (otherBox === undefined || k < otherBox[4] || k > otherBox[5]) return;
    const [o0, o1, c0, c1] = this.axisI
      ? [otherBox[0], otherBox[1], otherBox[2], otherBox[3]]
      : [otherBox[2], otherBox[3], otherBox[0], otherBox[1]];
    if (b < c0 || b > c1) return;
    this.theirs[n] = firstOf(labels, line, strideA, step > 0 ? o0 : o1, step > 0 ? o1 : o0, this.other);
  }
}

/**
 * The between-the-lungs rule along the lungs' own left-right axis (a rolled patient): from a voxel, step
 * towards the other lung along that axis, one voxel at a time along the larger index component; the voxel
 * is between the lungs when the other lung comes before any voxel of this one. The same rule as
 * MediastinumTest's, whose lines are the image's rows.
 */
class TurnedMediastinumTest implements BetweenTheLungs {
  /** Index steps per walk step towards the other lung; the larger one is 1 in magnitude. */
  private readonly di: number;
  private readonly dj: number;
  private base = 0;

  constructor(
    private readonly labels: Uint8Array,
    private readonly volume: Volume,
    private readonly lung: number,
    private readonly other: number,
    private readonly box: LabelBox,
    axisDeg: number,
  ) {
    const t = (axisDeg * Math.PI) / 180;
    // The right lung lies at lower x: its other lung is along +axis.
    const sign = lung === LUNG_LABEL.right ? 1 : -1;
    const [ux, uy] = [sign * Math.cos(t), sign * Math.sin(t)];
    const d = volume.direction;
    // Index components of the LPS step (ux, uy, 0): onto each in-plane voxel axis, over its spacing.
    const di = (ux * d[0] + uy * d[3]) / volume.spacing[0];
    const dj = (ux * d[1] + uy * d[4]) / volume.spacing[1];
    const m = Math.max(Math.abs(di), Math.abs(dj));
    this.di = di / m;
    this.dj = dj / m;
  }

  slice(k: number): void {
    this.base = k * this.volume.dims[0] * this.volume.dims[1];
  }

  /** Never row-wise: each voxel is walked (see between). */
  rowSpan(_j: number, _span: Int32Array): boolean {
    return false;
  }

  /** Whether box voxel (i, j) of the prepared slice lies between the lungs. */
  between(i: number, j: number): boolean {
    const [nx, ny] = this.volume.dims;
    const i0 = i + this.box[0];
    const j0 = j + this.box[2];
    for (let t = 1; ; t++) {
      const x = Math.round(i0 + t * this.di);
      const y = Math.round(j0 + t * this.dj);
      if (x < 0 || y < 0 || x >= nx || y >= ny) return false;
      const l = this.labels[this.base + x + nx * y];
      if (l === this.lung) return false;
      if (l === this.other) return true;
    }
  }
}

/** First index from `from` to `to` (inclusive, either direction) along a line whose label is `value`, or -1. */
function firstOf(
  labels: Uint8Array,
  line: number,
  stride: number,
  from: number,
  to: number,
  value: number,
): number {
  const d = to >= from ? 1 : -1;
  for (let a = from; ; a += d) {
    if (labels[line + a * stride] === value) return a;
    if (a === to) return -1;
  }
}

/**
 * Convex envelope of the points (j, at[j]) for the rows first..last that have one (at[j] >= 0), evaluated
 * at every row into `out`: the lower envelope (sign -1, the hull's low-i side) or the upper one (sign 1).
 */
function envelope(
  at: Int32Array,
  first: number,
  last: number,
  cj: Int32Array,
  ci: Int32Array,
  out: Float64Array,
  sign: -1 | 1,
): void {
  let n = 0;
  for (let j = first; j <= last; j++) {
    const i = at[j]!;
    if (i < 0) continue;
    // Drop the last point while it does not bulge outwards past the chord from the one before to this one.
    while (n >= 2) {
      const cross =
        (cj[n - 1]! - cj[n - 2]!) * (i - ci[n - 2]!) - (ci[n - 1]! - ci[n - 2]!) * (j - cj[n - 2]!);
      if (sign * cross >= 0) n--;
      else break;
    }
    cj[n] = j;
    ci[n] = i;
    n++;
  }
  out[cj[0]!] = ci[0]!;
  for (let s = 0; s < n - 1; s++) {
    const ja = cj[s]!;
    const jb = cj[s + 1]!;
    const ia = ci[s]!;
    const ib = ci[s + 1]!;
    for (let j = ja + 1; j <= jb; j++) out[j] = ia + ((ib - ia) * (j - ja)) / (jb - ja);
  }
}
