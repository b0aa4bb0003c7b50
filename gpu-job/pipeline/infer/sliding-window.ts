/**
 * Whole-scan inference: slide tiles along z over the model grid, run the network on each (with the same
 * whole-scan stack every time), blend the overlapping lesion logits and evidence with Gaussian weights,
 * and combine the tiles' class probabilities by the manifest's scan rule.
 */
import { DEFAULT_BLENDING_FLOOR, type ModelManifest } from "../model/model-manifest.js";
import type { ModelGrid } from "../preprocess/model-grid.js";
import { buildStack } from "../preprocess/model-grid.js";
import { scanProbabilities, softmax } from "./scan-rule.js";
import { gaussianWeights, tileStarts } from "./tiling.js";

/**
 * One network call on a batch of tiles; the ONNX session in production, anything shaped like it in tests.
 * Its input arrays are reused for the next call: a runner must not keep them after it resolves.
 */
export type TileRunner = (
  feeds: Record<string, Float32Array>,
  shapes: Record<string, readonly number[]>,
) => Promise<Record<string, Float32Array>>;

export interface SlidingWindowResult {
  /** Blended lesion logits on the model grid, [depth][height][width]. */
  lesionLogits: Float32Array;
  /** Blended evidence on the model grid, in the manifest's evidence range. */
  evidence: Float32Array;
  /** Scan probabilities in the manifest's class order. */
  probabilities: Float64Array;
  tileStarts: number[];
  tileProbabilities: Float64Array[];
  /** Lesion volume each tile segments itself (padding excluded), mL on the model grid. */
  tileLesionMl: number[];
}

export interface SlidingWindowOptions {
  /** Tiles per network call (the models have a dynamic batch axis). Default 1. */
  batch?: number;
  onTile?: (done: number, total: number) => void;
}

export async function slidingWindow(
  grid: ModelGrid,
  manifest: ModelManifest,
  run: TileRunner,
  opts: SlidingWindowOptions = {},
): Promise<SlidingWindowResult> {
  const p = manifest.preprocessing;
  const T = p.tile.slices;
  const plane = grid.height * grid.width;
  const [stackSpec, tileSpec] = manifest.inputs;
  const stack = buildStack(grid, p.stack.slices);
  const starts = tileStarts(grid.depth, T, p.tile.overlap);
  const weights = gaussianWeights(
    T,
    p.tile.gaussianSigmaFraction,
    p.tile.blendingFloor ?? DEFAULT_BLENDING_FLOOR,
  );
  const depth = Math.max(grid.depth, T);
  const acc = new Float32Array(depth * plane);
  const ev = new Float32Array(depth * plane);
  const norm = new Float64Array(depth);
  const tileProbabilities: Float64Array[] = [];
  const tileLesionMl: number[] = [];
  const threshold = manifest.segmentation.threshold;
  const batch = Math.max(1, opts.batch ?? 1);

  // The same whole-scan stack goes with every tile, and each call's inputs are dead once it returns: one
  // stack buffer and one tile buffer per batch size, filled once and reused (for the full-size model 12 MB
  // of stack per tile was being allocated and copied again).
  const buffers = new Map<number, { stacks: Float32Array; tiles: Float32Array }>();
  const buffersFor = (n: number) => {
    let b = buffers.get(n);
    if (!b) {
      const stacks = new Float32Array(n * stack.length);
      for (let t = 0; t < n; t++) stacks.set(stack, t * stack.length);
      b = { stacks, tiles: new Float32Array(n * T * plane) };
      buffers.set(n, b);
    }
    return b;
  };

  for (let b0 = 0; b0 < starts.length; b0 += batch) {
    const chunk = starts.slice(b0, b0 + batch);
    const n = chunk.length;
    const { stacks, tiles } = buffersFor(n);
    chunk.forEach((s, t) => {
      const end = Math.min(s + T, grid.depth);
      tiles.set(grid.image.subarray(s * plane, end * plane), t * T * plane);
      // Slices past the scan's end are padding (the last tile of a short scan).
      tiles.fill(p.tile.padValue, t * T * plane + (end - s) * plane, (t + 1) * T * plane);
    });
    const out = await run(
      { [stackSpec.name]: stacks, [tileSpec.name]: tiles },
      {
        [stackSpec.name]: [n, 1, p.stack.slices, grid.height, grid.width],
        [tileSpec.name]: [n, 1, T, grid.height, grid.width],
      },
    );
    const logits = output(out, manifest.classification.output, n * manifest.classes.length);
    const lesion = output(out, manifest.segmentation.output, n * T * plane);
    const evidence = output(out, manifest.evidenceMap.output, n * T * plane);
    chunk.forEach((s, t) => {
      const k = manifest.classes.length;
      tileProbabilities.push(softmax(logits.subarray(t * k, (t + 1) * k)));
      const real = Math.min(T, grid.depth - s);
      const base = t * T * plane;
      tileLesionMl.push(countAbove(lesion, base, base + real * plane, threshold) * grid.voxelMl);
      for (let z = 0; z < T; z++) {
        const w = weights[z] as number;
        addWeighted(acc, (s + z) * plane, lesion, base + z * plane, plane, w);
        addWeighted(ev, (s + z) * plane, evidence, base + z * plane, plane, w);
        norm[s + z] = (norm[s + z] as number) + w;
      }
    });
    opts.onTile?.(Math.min(b0 + n, starts.length), starts.length);
  }

  // Normalised in place: the accumulators become the results (two fewer scan-sized arrays to allocate).
  const lesionLogits = acc.subarray(0, grid.depth * plane);
  const evidenceOut = ev.subarray(0, grid.depth * plane);
  const [evMin, evMax] = manifest.evidenceMap.range;
  for (let z = 0; z < grid.depth; z++) {
    const inv = 1 / (norm[z] as number);
    for (let i = z * plane; i < (z + 1) * plane; i++) {
      lesionLogits[i] = (acc[i] as number) * inv;
      const e = (ev[i] as number) * inv;
      evidenceOut[i] = e < evMin ? evMin : e > evMax ? evMax : e;
    }
  }
  const probabilities = scanProbabilities(tileProbabilities, tileLesionMl, manifest.classification.scanRule);
  return {
    lesionLogits,
    evidence: evidenceOut,
    probabilities,
    tileStarts: starts,
    tileProbabilities,
    tileLesionMl,
  };
}

/** dst[at + i] += w * src[from + i] for i < n: one tile slice blended into the scan's accumulator. */
function addWeighted(
  dst: Float32Array,
  at: number,
  src: Float32Array,
  from: number,
  n: number,
  w: number,
): void {
  for (let i = 0; i < n; i++) dst[at + i] = (dst[at + i] as number) + w * (src[from + i] as number);
}

/** How many of v[from..to) exceed the threshold (a tile's lesion voxels). */
function countAbove(v: Float32Array, from: number, to: number, threshold: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if ((v[i] as number) > threshold) n++;
  return n;
}

/**
 * The model's outputs are unusable: missing, mis-sized, or holding NaN or infinity (an fp16 model can
 * overflow). Nothing is written from such a run: a NaN probability or logit would otherwise crash the
 * findings or silently drop lesion voxels (NaN fails every threshold).
 */
export class ModelOutputError extends Error {
  override readonly name = "ModelOutputError";
}

function output(out: Record<string, Float32Array>, name: string, expected: number): Float32Array {
  const v = out[name];
  if (!v) throw new ModelOutputError(`the model gave no output named ${name}`);
  if (v.length !== expected)
    throw new ModelOutputError(`model output ${name} has ${v.length} values, expected ${expected}`);
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i] as number))
      throw new ModelOutputError(
        `model output ${name} holds ${v[i]} (value ${i}): the model overflowed or is broken; an fp16 model can overflow where its fp32 variant does not`,
      );
  return v;
}
