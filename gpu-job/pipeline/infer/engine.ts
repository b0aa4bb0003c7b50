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
}

export interface EngineOptions {
  batch?: number;
  onTile?: (done: number, total: number) => void;
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
  const grid = aligned
    ? buildModelGrid(aligned.volume, aligned.lungMask, m.preprocessing)
    : buildModelGrid(volume, lungMask, m.preprocessing);
  // An oblique scan is also segmented on its own grid (see averageViews).
  const ownGrid = aligned ? buildModelGrid(volume, lungMask, m.preprocessing) : null;
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
    });
    const ownLogits = new Int16Array(volume.data.length);
    const onOwn = toNative(ownGrid, own.lesionLogits, own.evidence, {
      ...toNativeOpts,
      lungMask,
      logitsInto: ownLogits,
      lesions: false,
    });
    maps = averageViews(
      onAligned.evidence,
      alignedLogits,
      aligned,
      onOwn,
      ownLogits,
      lungMask,
      m.segmentation.threshold,
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
  };
}

/** Half the model's voxel size per LPS axis (x, y in plane, z), where the manifest fixes it. */
function halfModelSpacing(m: LoadedModel["manifest"]): Vec3 | undefined {
  const inPlane = m.preprocessing.inPlane.spacingMm;
  const z = m.preprocessing.zResampling.spacingMm;
  if (inPlane === null || inPlane === undefined) return undefined;
  return [inPlane / 2, inPlane / 2, z === null ? 0 : z / 2];
}

/**
 * An oblique scan's two views, averaged on its own voxels (test-time augmentation over two resamplings):
 * the LPS-aligned grid shows the model anatomy as it learnt it, but the resampling adds artefacts the
 * model never saw, above all the tilted stack's ends cutting the lungs on a slant, which it reads as
 * lesion; the scan's own grid has no resampling but tilted anatomy. Their errors differ, so the mean of
 * the two lesion logits (and evidence) is better than either: on the geometry
 * phantom of seed 9100 (bench/README.md) oblique −0.007 / −0.016 / −0.009 and oblique + descending +
 * anisotropic −0.037 / −0.016 / −0.013 Dice against the axial case (aligned / own grid / both); over three
 * seeds the combined case went from −0.050 to −0.017 on average. The lesion mask is the averaged logit over
 * the threshold, inside the scan's own lung mask.
 */
function averageViews(
  alignedEvidence: Uint8Array,
  alignedLogits: Int16Array,
  aligned: AlignedScan,
  own: NativeMaps,
  ownLogits: Int16Array,
  lungMask: Uint8Array | null,
  threshold: number,
): NativeMaps {
  const stepsThreshold = threshold * LOGIT_STEPS;
  const lesions = new Uint8Array(ownLogits.length);
  let lesionVoxels = 0;
  const evidence = own.evidence;
  // Each of the scan's voxels is visited once, so it is counted where it is set.
  aligned.sampleToOriginal(alignedLogits, alignedEvidence, (i, steps, q) => {
    const mean = (steps + (ownLogits[i] as number)) / 2;
    if (mean > stepsThreshold && (lungMask === null || lungMask[i] !== 0)) {
      lesions[i] = 1;
      lesionVoxels++;
    }
    evidence[i] = Math.round((q + (evidence[i] as number)) / 2);
  });
  return { lesions, evidence, lesionVoxels };
}
