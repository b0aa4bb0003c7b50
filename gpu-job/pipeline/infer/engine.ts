/**
 * The DeepSC-COVID inference engine: a scan (HU, own geometry) and its lung mask in; class probabilities,
 * a lesion mask and an evidence map on the scan's own grid out. Every constant comes from model.json.
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";
import type { ClassName, LoadedModel } from "../model/model-manifest.js";
import type { ModelSession } from "../model/session.js";
import { LOGIT_STEPS, type NativeMaps, toNative } from "../postprocess/to-native.js";
import {
  ALIGNED_TOLERANCE_DEG,
  type AlignedScan,
  alignToLps,
  obliquityDeg,
} from "../preprocess/axis-align.js";
import { lungScaleFactors, lungSpreadMm } from "../preprocess/lung-scale.js";
import { buildModelGrid } from "../preprocess/model-grid.js";
import { scanProbabilities } from "./scan-rule.js";
import { slidingWindow } from "./sliding-window.js";
import { tileStarts } from "./tiling.js";
import { votingTiles } from "./voting-tiles.js";

export interface ScanInference extends NativeMaps {
  probabilities: Record<ClassName, number>;
  predictedClass: ClassName;
  /** Model-grid facts worth recording: its size, the tiles and what each tile voted. */
  modelGrid: { depth: number; height: number; width: number; voxelMl: number };
  tiles: { start: number; probabilities: Record<ClassName, number>; lesionMl: number; votes: boolean }[];
  timingsMs: { preprocess: number; inference: number; postprocess: number };
  /** Set when the scan's axes were oblique and it was resampled onto an LPS-aligned grid for the model. */
  resampled: { obliquityDeg: number; alignedDims: [number, number, number] } | null;
  /**
   * Set when the model pixel was scaled to the patient's size (model.json inPlane.lungScale): the factors
   * along x and y, and the lungs' spread they came from (mm, left-right and front-back).
   */
  lungScale: { factors: [number, number]; spreadMm: [number, number] } | null;
}

export interface EngineOptions {
  batch?: number;
  onTile?: (done: number, total: number) => void;
  /**
   * For an oblique scan, called once with each view's lesion logits on the scan's own voxels (in
   * LOGIT_STEPS per unit; the aligned view's are NaN where it did not reach), before they are weighed.
   * For benchmarks that choose the views' weight (bench/oblique-views.ts).
   */
  onViews?: (views: { aligned: Float32Array; own: Int16Array }) => void;
  /**
   * Whether the lung mask holds both whole lungs in plane, so that their spread measures the patient's size
   * for the manifest's lungScale rule (false, the default: the model pixel stays spacingMm).
   */
  lungScaling?: boolean;
}

export async function inferScan(
  volume: Volume,
  lungMask: Uint8Array | null,
  model: LoadedModel,
  session: Pick<ModelSession, "run">,
  opts: EngineOptions = {},
): Promise<ScanInference> {
  const m = model.manifest;
  const t0 = performance.now();
  const angle = obliquityDeg(volume);
  const aligned =
    angle > ALIGNED_TOLERANCE_DEG && lungMask ? alignToLps(volume, lungMask, halfModelSpacing(m)) : null;
  const lungScale = measureLungScale(volume, lungMask, m, opts.lungScaling === true);
  const scale = lungScale?.factors;
  const grid = aligned
    ? buildModelGrid(aligned.volume, aligned.lungMask, m.preprocessing, scale)
    : buildModelGrid(volume, lungMask, m.preprocessing, scale);
  // An oblique scan is also segmented on its own grid (see weighViews).
  const ownGrid = aligned ? buildModelGrid(volume, lungMask, m.preprocessing, scale) : null;
  const t1 = performance.now();
  const run = (feeds: Record<string, Float32Array>, shapes: Record<string, readonly number[]>) =>
    session.run(feeds, shapes);
  const tilesOf = (g: typeof grid) =>
    tileStarts(g.depth, m.preprocessing.tile.slices, m.preprocessing.tile.overlap).length;
  const first = tilesOf(grid);
  const total = first + (ownGrid ? tilesOf(ownGrid) : 0);
  const sw = await slidingWindow(grid, m, run, { ...opts, onTile: (d) => opts.onTile?.(d, total) });
  const own = ownGrid
    ? await slidingWindow(ownGrid, m, run, { ...opts, onTile: (d) => opts.onTile?.(first + d, total) })
    : null;
  const t2 = performance.now();
  const toNativeOpts = {
    threshold: m.segmentation.threshold,
    evidenceRange: m.evidenceMap.range,
  };
  let maps: NativeMaps;
  if (aligned && ownGrid && own) {
    const alignedLogits = new Int16Array(aligned.volume.data.length);
    const onAligned = toNative(grid, sw.lesionLogits, sw.evidence, {
      ...toNativeOpts,
      lungMask: aligned.lungMask,
      logitsInto: alignedLogits,
      lesions: false,
      outsideWindow: "edge",
    });
    const ownLogits = new Int16Array(volume.data.length);
    const onOwn = toNative(ownGrid, own.lesionLogits, own.evidence, {
      ...toNativeOpts,
      lungMask,
      logitsInto: ownLogits,
      lesions: false,
      outsideWindow: "edge",
    });
    if (opts.onViews) {
      const onScan = new Float32Array(ownLogits.length).fill(Number.NaN);
      aligned.sampleToOriginal(alignedLogits, onAligned.evidence, (i, steps) => {
        onScan[i] = steps;
      });
      opts.onViews({ aligned: onScan, own: ownLogits });
    }
    maps = weighViews(
      onAligned.evidence,
      alignedLogits,
      aligned,
      onOwn,
      ownLogits,
      lungMask,
      m.segmentation.threshold,
      alignedViewWeight(m),
    );
  } else {
    maps = toNative(grid, sw.lesionLogits, sw.evidence, { ...toNativeOpts, lungMask });
  }
  const t3 = performance.now();
  const named = (p: ArrayLike<number>) =>
    Object.fromEntries(m.classes.map((c, i) => [c, p[i] as number])) as Record<ClassName, number>;
  // The class comes from the aligned view alone: tilted anatomy costs the own grid's classification much
  // more than its segmentation (seed 9100's oblique phantom: covid19 0.94 aligned, 0.66 on its own grid).
  // Its tiles where the field of view cuts the lungs on a slant do not vote (voting-tiles.ts).
  const votes = aligned
    ? votingTiles(aligned, grid, sw.tileStarts, m.preprocessing.tile.slices)
    : sw.tileStarts.map(() => true);
  const scan = aligned
    ? scanProbabilities(sw.tileProbabilities, sw.tileLesionMl, m.classification.scanRule, votes)
    : sw.probabilities;
  const probabilities = named(scan);
  let best = 0;
  for (let i = 1; i < m.classes.length; i++) if ((scan[i] as number) > (scan[best] as number)) best = i;
  return {
    ...maps,
    probabilities,
    predictedClass: m.classes[best] as ClassName,
    // For an oblique scan, the model grid and tiles recorded are the aligned view's.
    modelGrid: { depth: grid.depth, height: grid.height, width: grid.width, voxelMl: grid.voxelMl },
    tiles: sw.tileStarts.map((start, t) => ({
      start,
      probabilities: named(sw.tileProbabilities[t] as Float64Array),
      lesionMl: sw.tileLesionMl[t] as number,
      votes: votes[t] as boolean,
    })),
    timingsMs: { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 },
    resampled: aligned ? { obliquityDeg: angle, alignedDims: aligned.volume.dims } : null,
    lungScale,
  };
}

/**
 * The lungScale rule's factors for this scan (preprocess/lung-scale.ts), the larger spread on x: the
 * lungs' left-right axis, within a patient's roll of it. Null when not wanted, when the manifest has no
 * rule, or when they are 1 and 1.
 */
function measureLungScale(
  volume: Volume,
  lungMask: Uint8Array | null,
  m: LoadedModel["manifest"],
  wanted: boolean,
): ScanInference["lungScale"] {
  const rule = m.preprocessing.inPlane.lungScale;
  if (!wanted || !rule || !lungMask || !m.preprocessing.inPlane.spacingMm) return null;
  const spread = lungSpreadMm(lungMask, volume);
  const factors = lungScaleFactors(spread, rule);
  return spread && (factors[0] !== 1 || factors[1] !== 1) ? { factors, spreadMm: spread } : null;
}

/** Half the model's voxel size per LPS axis (x, y in plane, z), where the manifest fixes it. */
function halfModelSpacing(m: LoadedModel["manifest"]): Vec3 | undefined {
  const inPlane = m.preprocessing.inPlane.spacingMm;
  const z = m.preprocessing.zResampling.spacingMm;
  if (inPlane === null || inPlane === undefined) return undefined;
  return [inPlane / 2, inPlane / 2, z === null ? 0 : z / 2];
}

/** The aligned view's weight for an oblique scan (model.json's segmentation.obliqueViews; else the plain mean). */
export function alignedViewWeight(m: LoadedModel["manifest"]): number {
  return m.segmentation.obliqueViews?.alignedWeight ?? 0.5;
}

/**
 * An oblique scan's two views, weighed on its own voxels (test-time augmentation over two resamplings):
 * the LPS-aligned grid shows the model anatomy as it learnt it, but the resampling adds artefacts the
 * model never saw (the tilted stack's ends cutting the lungs on a slant); the scan's own grid has no
 * resampling but tilted anatomy, which costs the bundled model more (lesion missed at the lung bases).
 * Their errors differ, so a weighted mean of the two lesion logits (and evidence) beats either alone: on
 * twelve geometry phantoms (bench/README.md, "Weighing the two views") the bundled model's weight 0.8
 * kept every oblique and oblique + descending + anisotropic case within 0.018 of its axial case's Dice
 * (mean |Δ| 0.006), where the aligned view alone reached 0.020 and the plain mean 0.028. The lesion mask
 * is the weighted logit over the threshold, inside the scan's own lung mask.
 */
function weighViews(
  alignedEvidence: Uint8Array,
  alignedLogits: Int16Array,
  aligned: AlignedScan,
  own: NativeMaps,
  ownLogits: Int16Array,
  lungMask: Uint8Array | null,
  threshold: number,
  alignedWeight: number,
): NativeMaps {
  const stepsThreshold = threshold * LOGIT_STEPS;
  const ownWeight = 1 - alignedWeight;
  const lesions = new Uint8Array(ownLogits.length);
  let lesionVoxels = 0;
  const evidence = own.evidence;
  // Each of the scan's voxels is visited once, so it is counted where it is set.
  aligned.sampleToOriginal(alignedLogits, alignedEvidence, (i, steps, q) => {
    const weighed = alignedWeight * steps + ownWeight * (ownLogits[i] as number);
    if (weighed > stepsThreshold && (lungMask === null || lungMask[i] !== 0)) {
      lesions[i] = 1;
      lesionVoxels++;
    }
    evidence[i] = Math.round(alignedWeight * q + ownWeight * (evidence[i] as number));
  });
  return { lesions, evidence, lesionVoxels };
}
