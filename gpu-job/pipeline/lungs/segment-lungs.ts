/**
 * Classical lung segmentation on the CT's own grid (no model): thresholds, connected components and
 * morphology, every size in physical units so it behaves the same at any voxel size or orientation. The
 * steps below think in axial slices; a stack whose slices are nearer coronal or sagittal is read in LPS
 * order and its labels copied back (axial-order.ts).
 *
 *   1. Air: HU < airThresholdHu (-320); air reaching the border of its slice is outside the body, unless
 *      the body itself reaches the border and the region lies mostly within the body's convex hull (lungs
 *      cut by a narrow field of view; air-mask.ts).
 *      Lung that a streak from metal joined to the outside air through a gap narrower than leakNeckMm is
 *      taken back (leaks.ts).
 *   2. Trachea and main bronchi out of the air inside the body (airways.ts), so they neither count as lung
 *      nor join the lungs into one component.
 *   3. Lungs: 3D 6-connected components of the remaining air of at least minLungMl with a cross-section
 *      of at least minLungAreaMm2 in some slice, not gas (median HU not below gasMedianHu: stomach and
 *      bowel gas is near -1000 HU, aerated lung near -850; when nothing passes, those with a median of at
 *      least darkLungMinHu, with a warning: severe emphysema), not behind a thin wall (thin-wall.ts: the
 *      foam core of a table wholly in view, a covered cushion: outside the patient), and at least
 *      minLungFraction of the largest such component (airway remnants above the seed, bubbles and bowel
 *      gas drop out).
 *   4. Sides: a component with a real share on both sides of the body midline holds both lungs and is
 *      split by erosion and a watershed on the distance map (split.ts); otherwise the two largest
 *      components on opposite sides of the midline are the lungs, the right one at lower LPS x. Further
 *      components join the lung whose mean x is nearer.
 *   5. Each lung's in-plane holes filled (fill-holes.ts: vessels, bronchi, enclosed lesions), then, on
 *      axial stacks, the soft tissue within its in-plane convex hull that has lung above and below it
 *      (envelope-fill.ts: consolidation against the pleura or too large for the hole filling; the heart
 *      and the diaphragm domes stay out), then the lung closed in 3D with a ball of closingRadiusMm
 *      (closing.ts: what is left of the outline's dents), then zones (zones.ts) and volumes.
 * Failure modes are values: an empty segmentation with warnings, never an exception for odd anatomy;
 * malformed input (data length not matching dims) and invalid options throw.
 * Memory: the volume plus one byte per voxel each for the working state, the labels and the zones, the
 * fill queue (the largest component's voxel indices) and box-sized buffers in the split and closing.
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";
import { airState, bodyMidlineX, STATE } from "./air-mask.js";
import { excludeAirways } from "./airways.js";
import { axialOrder } from "./axial-order.js";
import { closeLung } from "./closing.js";
import {
  type ComponentStats,
  FIRST_ORDINAL,
  findComponents,
  flood,
  NO_ORDINAL,
  type StatsOptions,
} from "./components.js";
import { fillLungEnvelope, TURNED_AXIS_FROM_DEG } from "./envelope-fill.js";
import { outOfViewMask } from "./field-of-view.js";
import { fillLungHoles } from "./fill-holes.js";
import { lpsX, pixelAreaMm2, sliceOrder, voxelVolumeMl } from "./grid.js";
import { type LabelBox, unionBox } from "./label-boxes.js";
import { reclaimLeakedCavities } from "./leaks.js";
import { bodyRollDeg, lungRollDeg } from "./lung-axis.js";
import { type LungSegmentationOptions, resolveLungOptions } from "./options.js";
import { splitMergedLungs } from "./split.js";
import { thinWallShares } from "./thin-wall.js";
import { LUNG_LABEL, type LungSegmentation } from "./types.js";
import { VoxelQueue } from "./voxel-queue.js";
import { assignZones } from "./zones.js";

/** Two separate components further apart than this (mm, mean x) are two lungs whatever the midline says. */
const TWO_LUNGS_MIN_SEPARATION_MM = 80;
const RIGHT = LUNG_LABEL.right;
const LEFT = LUNG_LABEL.left;

export function segmentLungs(volume: Volume, options?: Partial<LungSegmentationOptions>): LungSegmentation {
  const o = resolveLungOptions(options);
  // Coronal, sagittal and steeply tilted stacks are segmented in LPS order and their labels copied back.
  const reordered = axialOrder(volume);
  if (!reordered) return segmentAxialStack(volume, o);
  const lungs = segmentAxialStack(reordered.volume, o);
  return {
    ...lungs,
    dims: [...volume.dims],
    spacing: [...volume.spacing],
    labels: reordered.toNative(lungs.labels),
    zones: reordered.toNative(lungs.zones),
  };
}

function segmentAxialStack(volume: Volume, o: LungSegmentationOptions): LungSegmentation {
  const dims = [...volume.dims] as Volume["dims"];
  const [nx, ny, nz] = dims;
  if (!dims.every((d) => Number.isInteger(d) && d > 0) || volume.data.length !== nx * ny * nz)
    throw new RangeError(`volume data length ${volume.data.length} does not match dims ${dims.join("x")}`);
  const warnings: string[] = [];
  const voxelMl = voxelVolumeMl(volume);
  const queue = new VoxelQueue(1 << 16);
  const labels = new Uint8Array(volume.data.length);
  const empty = (why: string): LungSegmentation => {
    warnings.push(why);
    return result(volume, labels, new Uint8Array(labels.length), voxelMl, warnings);
  };

  const outOfView = outOfViewMask(volume);
  const state = airState(volume, o.airThresholdHu, outOfView);
  const leaked = reclaimLeakedCavities(state, volume, outOfView, {
    neckMm: o.leakNeckMm,
    minAreaMm2: o.leakMinAreaMm2,
    gasMedianHu: o.gasMedianHu,
  });
  const x = lpsX(volume);
  const midline = bodyMidlineX(state, dims, volume.spacing, x);
  if (midline === undefined) return empty("No lungs found: there is no body in the volume (all air).");
  const airway = excludeAirways(state, volume, o);
  // Components write their ordinals into `labels`; assignSides turns them into right/left.
  const stats = { values: volume.data, belowThreshold: o.gasMedianHu, x, midline, ordinals: labels };
  const { lungs, dark } = keepLungLike(
    state,
    volume,
    STATE.air,
    STATE.lung,
    o,
    voxelMl,
    queue,
    stats,
    outOfView,
  );
  if (lungs.length === 0) {
    // The components' ordinals are in `labels`: none of them is lung.
    labels.fill(0);
    return empty("No lungs found: no air-filled region of lung size and attenuation inside the body.");
  }
  if (airway.reason === "not-axial")
    warnings.push("Slices are not axial: the trachea and main bronchi were not searched for or excluded.");
  else if (airway.reason === "no-trachea")
    warnings.push(
      `No trachea found within ${o.tracheaSearchDepthMm} mm of the top of the scan: airways were not excluded.`,
    );
  else if (airway.leak)
    warnings.push("Airway growing stopped at a leak into the lung; the airway exclusion may be incomplete.");

  if (dark)
    warnings.push(
      `The lungs are unusually dark (more than half their voxels below ${o.gasMedianHu} HU: severe emphysema, ` +
        "or HU off calibration); air regions of lung size were taken for them.",
    );
  if (leaked.length > 0)
    warnings.push(
      `In ${leaked.length} slice(s) lung met the outside air through a gap narrower than ${o.leakNeckMm} mm ` +
        "(a streak from metal, most likely) and was kept as lung.",
    );
  const boxes = assignSides(state, volume, lungs, midline, o, labels, warnings, queue);
  fillLungHoles(labels, dims, o.maxHoleAreaMm2 / pixelAreaMm2(volume), boxes);
  const order = sliceOrder(volume);
  // Which way is left-right for the between-the-lungs rule: the lungs' own axis when the body turns with it
  // (a rolled patient), else the image's.
  const lungsAxisDeg = order.axial ? rolledAxisDeg(labels, state, volume) : null;
  // Hole filling, the envelope fill and the closing stay inside each lung's box.
  for (const lung of [RIGHT, LEFT]) {
    const box = boxes[lung];
    if (box && order.axial)
      fillLungEnvelope(labels, state, volume, lung, boxes, {
        maxGapMm: o.envelopeMaxGapMm,
        minBracketed: o.envelopeMinBracketed,
        maxHu: o.closingMaxHu,
        lungsAxisDeg,
      });
  }
  for (const lung of [RIGHT, LEFT]) {
    const box = boxes[lung];
    if (box)
      closeLung(labels, state, volume, lung, box, {
        radiusMm: o.closingRadiusMm,
        maxHu: o.closingMaxHu,
        cellMm: o.closingCellMm,
      });
  }
  const zones = assignZones(labels, volume);
  const view = fieldOfViewWarnings(labels, volume, outOfView);
  warnings.push(...view.warnings);
  return result(volume, labels, zones, voxelMl, warnings, boxes, view.cutInPlane);
}

/**
 * Components of `member` voxels that can be lung (step 3's rules) end as `kept`; air behind a thin wall
 * (thin-wall.ts) as STATE.outside, the rest as STATE.rejected. Returns the kept components, largest first.
 */
function keepLungLike(
  state: Uint8Array,
  volume: Volume,
  member: number,
  kept: number,
  o: LungSegmentationOptions,
  voxelMl: number,
  queue: VoxelQueue,
  stats: StatsOptions,
  outOfView: Uint8Array | undefined,
): { lungs: ComponentStats[]; dark: boolean } {
  const comps = findComponents(state, volume.dims, member, kept, stats);
  const minSliceVoxels = o.minLungAreaMm2 / pixelAreaMm2(volume);
  const sized = (c: ComponentStats): boolean =>
    c.voxels * voxelMl >= o.minLungMl && c.maxSliceVoxels >= minSliceVoxels;
  const outside = outsideBehindThinWalls(
    state,
    volume,
    kept,
    comps.filter(sized),
    stats.ordinals,
    o,
    queue,
    outOfView,
  );
  const lungSized = (c: ComponentStats): boolean => !outside.has(c) && sized(c);
  let lungLike = (c: ComponentStats): boolean => lungSized(c) && c.below <= c.voxels / 2;
  let dark = false;
  if (!comps.some(lungLike)) {
    // Nothing lung-like: lungs darker than the gas rule allows (severe emphysema, HU off calibration) are
    // still not gas if their median is above darkLungMinHu; room air and bowel gas read -1000.
    const darkLungs = new Set(
      comps.filter((c) => lungSized(c) && medianAtLeast(state, volume, c, kept, o.darkLungMinHu, queue)),
    );
    lungLike = (c) => darkLungs.has(c);
    dark = darkLungs.size > 0;
  }
  const largest = comps.reduce((m, c) => (lungLike(c) ? Math.max(m, c.voxels) : m), 0);
  const keep = (c: ComponentStats): boolean => lungLike(c) && c.voxels >= o.minLungFraction * largest;
  // Flooding the (usually few and small) rejects is cheaper than flooding the lungs again.
  for (const c of comps)
    if (!keep(c) && !outside.has(c)) flood(state, volume.dims, c.seed, kept, STATE.rejected, queue);
  return { lungs: comps.filter(keep).sort((a, b) => b.voxels - a.voxels), dark };
}

/** Whether at least half of component `c`'s voxels (all `kept` in `state`) read `hu` or more. */
function medianAtLeast(
  state: Uint8Array,
  volume: Volume,
  c: ComponentStats,
  kept: number,
  hu: number,
  queue: VoxelQueue,
): boolean {
  flood(state, volume.dims, c.seed, kept, STATE.scratch, queue);
  let atLeast = 0;
  for (let h = 0; h < queue.length; h++) {
    const v = queue.at(h);
    if ((volume.data[v] as number) >= hu) atLeast++;
    state[v] = kept;
  }
  return 2 * atLeast >= queue.length;
}

/**
 * Which of `candidates` (components of `kept` voxels, their ordinals in `ordinals`) are air outside the
 * patient behind a thin wall; those are turned to STATE.outside. Measured again while any turns, since a
 * cushion may lie on a table core that is outside only once known to be.
 */
function outsideBehindThinWalls(
  state: Uint8Array,
  volume: Volume,
  kept: number,
  candidates: ComponentStats[],
  ordinals: Uint8Array | undefined,
  o: LungSegmentationOptions,
  queue: VoxelQueue,
  outOfView: Uint8Array | undefined,
): Set<ComponentStats> {
  const outside = new Set<ComponentStats>();
  if (o.thinWallMm <= 0 || !ordinals || candidates.length === 0) return outside;
  const grid = { dims: volume.dims, spacing: volume.spacing, outOfView };
  const box = candidates.map((c) => c.box).reduce((a, b) => unionBox(a, b));
  for (let turned = true; turned; ) {
    turned = false;
    const shares = thinWallShares(state, grid, ordinals, kept, o.thinWallMm, box);
    for (const c of candidates) {
      if (outside.has(c) || c.ordinal === NO_ORDINAL || shares[c.ordinal]! < o.thinWallMaxShare) continue;
      flood(state, volume.dims, c.seed, kept, STATE.outside, queue);
      outside.add(c);
      turned = true;
    }
  }
  return outside;
}

/**
 * Write right/left labels for every kept component (all STATE.lung in `state`). Returns a box holding
 * each side (the union of its components' boxes).
 */
function assignSides(
  state: Uint8Array,
  volume: Volume,
  lungs: ComponentStats[],
  midline: number,
  o: LungSegmentationOptions,
  labels: Uint8Array,
  warnings: string[],
  queue: VoxelQueue,
): Array<LabelBox | undefined> {
  const dims = volume.dims;
  const boxes: Array<LabelBox | undefined> = [];
  const grow = (label: number, b: LabelBox): void => {
    const cur = boxes[label];
    boxes[label] = cur ? unionBox(cur, b) : [...b];
  };
  const x = lpsX(volume);
  const meanX = (c: ComponentStats): number =>
    x.xi * c.centroid[0] + x.xj * c.centroid[1] + x.xk * c.centroid[2] + x.x0;
  // Side of each component ordinal, applied in one pass at the end; ordinals of rejected components map
  // to 0. Components without an ordinal (past the 252nd) are painted by flooding them.
  const side = new Uint8Array(256);
  side[RIGHT] = RIGHT;
  side[LEFT] = LEFT;
  const paint = (c: ComponentStats, label: number): void => {
    grow(label, c.box);
    if (c.ordinal !== NO_ORDINAL) {
      side[c.ordinal] = label;
      return;
    }
    flood(state, dims, c.seed, STATE.lung, STATE.scratch, queue);
    for (let h = 0; h < queue.length; h++) labels[queue.at(h)] = label;
  };
  const sideOf = (xv: number, reference: number): number => (xv < reference ? RIGHT : LEFT);

  const [first, second, ...rest] = lungs;
  if (!first) return boxes;
  const share = first.rightOfMidline / first.voxels;
  let refX = midline;
  if (Math.min(share, 1 - share) >= o.mergedSideFraction) {
    // Both lungs in one component: the split writes right/left over its ordinal (or its flooded mark).
    let mask = labels;
    let mark = first.ordinal;
    if (mark === NO_ORDINAL) {
      flood(state, dims, first.seed, STATE.lung, STATE.scratch, queue);
      mask = state;
      mark = STATE.scratch;
    }
    if (!splitMergedLungs(mask, mark, first.box, volume, midline, o.minSplitFraction, labels)) {
      warnings.push(
        "The lungs touch and could not be separated by erosion; they were split at the body midline.",
      );
      splitAtMidline(mask, mark, first.box, dims, x, midline, labels);
    }
    grow(RIGHT, first.box);
    grow(LEFT, first.box);
    const means = sideMeans(labels, first, dims, x);
    if (means) refX = (means.right + means.left) / 2;
    for (const c of [second, ...rest]) if (c) paint(c, sideOf(meanX(c), refX));
  } else {
    const xa = meanX(first);
    const xb = second ? meanX(second) : undefined;
    const twoLungs =
      second !== undefined &&
      xb !== undefined &&
      ((xa - midline) * (xb - midline) < 0 ||
        (second.voxels >= 0.25 * first.voxels && Math.abs(xa - xb) >= TWO_LUNGS_MIN_SEPARATION_MM));
    if (twoLungs && second && xb !== undefined) {
      paint(first, xa < xb ? RIGHT : LEFT);
      paint(second, xa < xb ? LEFT : RIGHT);
      refX = (xa + xb) / 2;
    } else {
      paint(first, sideOf(xa, midline));
      if (second) paint(second, sideOf(meanX(second), midline));
    }
    for (const c of rest) paint(c, sideOf(meanX(c), refX));
  }
  for (let v = 0; v < labels.length; v++) {
    const l = labels[v]!;
    if (l >= FIRST_ORDINAL) labels[v] = side[l]!;
  }
  // A merged component always yields both sides (cores, or the midline split of a component with a real
  // share on each side), so a side has voxels exactly when it has a box.
  const right = boxes[RIGHT] !== undefined;
  const left = boxes[LEFT] !== undefined;
  if (right !== left) warnings.push(`Only one lung found (the ${right ? "right" : "left"}).`);
  return boxes;
}

/** Right/left by the side of the body midline, for the voxels holding `mark` in `mask` within `box`. */
function splitAtMidline(
  mask: Uint8Array,
  mark: number,
  box: LabelBox,
  dims: Vec3,
  x: ReturnType<typeof lpsX>,
  midline: number,
  labels: Uint8Array,
): void {
  const [nx, ny] = dims;
  for (let k = box[4]; k <= box[5]; k++)
    for (let j = box[2]; j <= box[3]; j++) {
      const row = x.xj * j + x.xk * k + x.x0;
      for (let i = box[0]; i <= box[1]; i++) {
        const v = i + nx * (j + ny * k);
        if (mask[v] === mark) labels[v] = row + x.xi * i < midline ? RIGHT : LEFT;
      }
    }
}

/** Mean LPS x of each side's voxels within a component's box, when both sides are present. */
function sideMeans(
  labels: Uint8Array,
  c: ComponentStats,
  dims: Vec3,
  x: ReturnType<typeof lpsX>,
): { right: number; left: number } | undefined {
  const [nx, ny] = dims;
  const [i0, i1, j0, j1, k0, k1] = c.box;
  const sum = [0, 0, 0];
  const count = [0, 0, 0];
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++) {
      const row = x.xj * j + x.xk * k + x.x0;
      for (let i = i0; i <= i1; i++) {
        const l = labels[i + nx * (j + ny * k)]!;
        if (!l) continue;
        sum[l]! += row + x.xi * i;
        count[l]!++;
      }
    }
  if (!count[RIGHT] || !count[LEFT]) return undefined;
  return { right: sum[RIGHT]! / count[RIGHT]!, left: sum[LEFT]! / count[LEFT]! };
}

/**
 * Caveats about lungs cut by the field of view (their volumes and zones are then partial), and whether a
 * lung reaches its in-plane edge.
 */
function fieldOfViewWarnings(
  labels: Uint8Array,
  volume: Volume,
  outOfView?: Uint8Array,
): { warnings: string[]; cutInPlane: boolean } {
  const [nx, ny, nz] = volume.dims;
  const plane = nx * ny;
  const order = sliceOrder(volume);
  const top = order.superiorK;
  const bottom = nz - 1 - top;
  // Which labels appear in the top slice, the bottom slice, and on the in-plane border.
  const atTop = new Set<number>();
  const atBottom = new Set<number>();
  const atEdge = new Set<number>();
  const viewRim = outOfView ? rimOf(outOfView, nx, ny) : [];
  for (let p = 0; p < plane; p++) {
    atTop.add(labels[top * plane + p]!);
    atBottom.add(labels[bottom * plane + p]!);
  }
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    for (let i = 0; i < nx; i++) {
      atEdge.add(labels[base + i]!);
      atEdge.add(labels[base + i + nx * (ny - 1)]!);
    }
    for (let j = 0; j < ny; j++) {
      atEdge.add(labels[base + nx * j]!);
      atEdge.add(labels[base + nx * j + nx - 1]!);
    }
    for (const p of viewRim) atEdge.add(labels[base + p]!);
  }
  const out: string[] = [];
  const first = order.axial ? "top" : "first slice";
  const last = order.axial ? "bottom" : "last slice";
  for (const [label, side] of [
    [RIGHT, "right"],
    [LEFT, "left"],
  ] as const) {
    const partial = "its volume and zones cover only the part scanned";
    if (nz === 1 && atTop.has(label)) out.push(`The ${side} lung lies in a single slice: ${partial}.`);
    else {
      if (atTop.has(label))
        out.push(`The ${side} lung reaches the ${first} of the field of view: ${partial}.`);
      if (atBottom.has(label))
        out.push(`The ${side} lung reaches the ${last} of the field of view: ${partial}.`);
    }
    if (atEdge.has(label)) out.push(`The ${side} lung reaches the in-plane edge of the field of view.`);
  }
  return { warnings: out, cutInPlane: atEdge.has(RIGHT) || atEdge.has(LEFT) };
}

/** The in-view pixels of a plane with an out-of-view 4-neighbour: the reconstruction circle's rim. */
function rimOf(outOfView: Uint8Array, nx: number, ny: number): number[] {
  const rim: number[] = [];
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      const p = i + nx * j;
      if (outOfView[p]) continue;
      if (
        (i > 0 && outOfView[p - 1]) ||
        (i < nx - 1 && outOfView[p + 1]) ||
        (j > 0 && outOfView[p - nx]) ||
        (j < ny - 1 && outOfView[p + nx])
      )
        rim.push(p);
    }
  return rim;
}

function result(
  volume: Volume,
  labels: Uint8Array,
  zones: Uint8Array,
  voxelMl: number,
  warnings: string[],
  boxes: Array<LabelBox | undefined> = [],
  cutInPlane = false,
): LungSegmentation {
  const [nx, ny] = volume.dims;
  const counts = [0, 0, 0];
  for (const label of [RIGHT, LEFT]) {
    const b = boxes[label];
    if (!b) continue;
    for (let k = b[4]; k <= b[5]; k++)
      for (let j = b[2]; j <= b[3]; j++) {
        const row = nx * (j + ny * k);
        for (let i = b[0]; i <= b[1]; i++) if (labels[row + i] === label) counts[label]!++;
      }
  }
  return {
    dims: [...volume.dims],
    spacing: [...volume.spacing],
    labels,
    zones,
    volumeMl: { right: counts[RIGHT]! * voxelMl, left: counts[LEFT]! * voxelMl },
    warnings,
    cutInPlane,
  };
}

/**
 * The share of the lungs' roll the body's outline must show too before the envelope fill walks along the
 * lungs' axis. One-sided pleural fluid turns the lungs' axis of an upright patient (seed 9107: 4.5 degrees
 * with 500 mL on the right, 9.6 with 1200 mL), and the turned walk then let 15 mL of mediastinum into the
 * other lung (bench/README.md, "Pleural effusions"); the body's outline did not turn. A rolled patient's body
 * turns with the lungs, a little less with a table under it.
 */
export const BODY_CONFIRMS_ROLL = 0.5;

/** The lungs' roll (lungRollDeg) when the body confirms it or it is small; null (the image's axes) otherwise. */
function rolledAxisDeg(labels: Uint8Array, state: Uint8Array, volume: Volume): number | null {
  const lungs = lungRollDeg(labels, volume);
  if (lungs === null || Math.abs(lungs) < TURNED_AXIS_FROM_DEG) return lungs;
  const body = bodyRollDeg(state, STATE.outside, volume);
  return body !== null && body * lungs > 0 && Math.abs(body) >= BODY_CONFIRMS_ROLL * Math.abs(lungs)
    ? lungs
    : null;
}
