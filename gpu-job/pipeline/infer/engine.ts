/**
 * The DeepSC-COVID inference engine: a scan (HU, own geometry) and its lung mask in; class probabilities,
 * a lesion mask and an evidence map on the scan's own grid out. Every constant comes from model.json.
 */
import type { Volume } from "../../../core/contracts/volume.js";
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
import { slidingWindow } from "./sliding-window.js";

export interface ScanInference extends NativeMaps {
  probabilities: Record<ClassName, number>;
  predictedClass: ClassName;
  /** Model-grid facts worth recording: its size, the tiles and what each tile voted. */
  modelGrid: { depth: number; height: number; width: number; voxelMl: number };
  tiles: { start: number; probabilities: Record<ClassName, number>; lesionMl: number }[];
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
  const aligned = angle > ALIGNED_TOLERANCE_DEG && lungMask ? alignToLps(volume, lungMask) : null;
  const grid = aligned
    ? buildModelGrid(aligned.volume, aligned.lungMask, m.preprocessing)
    : buildModelGrid(volume, lungMask, m.preprocessing);
  const t1 = performance.now();
  const sw = await slidingWindow(grid, m, (feeds, shapes) => session.run(feeds, shapes), opts);
  const t2 = performance.now();
  const alignedLogits = aligned ? new Int16Array(aligned.volume.data.length) : undefined;
  const onGrid = toNative(grid, sw.lesionLogits, sw.evidence, {
    threshold: m.segmentation.threshold,
    evidenceRange: m.evidenceMap.range,
    lungMask: aligned ? aligned.lungMask : lungMask,
    ...(alignedLogits ? { logitsInto: alignedLogits } : {}),
  });
  const maps =
    aligned && alignedLogits
      ? backToOriginal(
          volume.data.length,
          onGrid.evidence,
          alignedLogits,
          aligned,
          lungMask,
          m.segmentation.threshold,
        )
      : onGrid;
  const t3 = performance.now();
  const named = (p: ArrayLike<number>) =>
    Object.fromEntries(m.classes.map((c, i) => [c, p[i] as number])) as Record<ClassName, number>;
  const probabilities = named(sw.probabilities);
  let best = 0;
  for (let i = 1; i < m.classes.length; i++)
    if ((sw.probabilities[i] as number) > (sw.probabilities[best] as number)) best = i;
  return {
    ...maps,
    probabilities,
    predictedClass: m.classes[best] as ClassName,
    modelGrid: { depth: grid.depth, height: grid.height, width: grid.width, voxelMl: grid.voxelMl },
    tiles: sw.tileStarts.map((start, t) => ({
      start,
      probabilities: named(sw.tileProbabilities[t] as Float64Array),
      lesionMl: sw.tileLesionMl[t] as number,
    })),
    timingsMs: { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 },
    resampled: aligned ? { obliquityDeg: angle, alignedDims: aligned.volume.dims } : null,
  };
}

/**
 * The aligned grid's lesion logits and evidence, sampled trilinearly at the scan's own voxels; lesions are
 * thresholded there and kept inside the scan's own lung mask.
 */
function backToOriginal(
  voxels: number,
  alignedEvidence: Uint8Array,
  alignedLogits: Int16Array,
  aligned: AlignedScan,
  lungMask: Uint8Array | null,
  threshold: number,
): NativeMaps {
  const lesions = new Uint8Array(voxels);
  let lesionVoxels = 0;
  const stepsThreshold = threshold * LOGIT_STEPS;
  aligned.sampleToOriginal(alignedLogits, (i, steps) => {
    if (steps > stepsThreshold && (lungMask === null || lungMask[i] !== 0)) {
      lesions[i] = 1;
      lesionVoxels++;
    }
  });
  const evidence = new Uint8Array(voxels);
  aligned.sampleToOriginal(alignedEvidence, (i, q) => {
    evidence[i] = Math.round(q);
  });
  return { lesions, evidence, lesionVoxels };
}
