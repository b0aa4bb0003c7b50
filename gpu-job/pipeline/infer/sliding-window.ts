/**
 * Whole-scan inference: slide tiles along z over the model grid, run the network on each (with the same
 * whole-scan stack every time), blend the overlapping lesion logits and evidence with Gaussian weights,
 * and combine the tiles' class probabilities by the manifest's scan rule.
 */
import type { ModelManifest } from "../model/model-manifest.js";
import type { ModelGrid } from "../preprocess/model-grid.js";
import { buildStack } from "../preprocess/model-grid.js";
import { scanProbabilities, softmax } from "./scan-rule.js";
import { gaussianWeights, tileStarts } from "./tiling.js";

/** One network call on a batch of tiles; the ONNX session in production, anything shaped like it in tests. */
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
  const weights = gaussianWeights(T, p.tile.gaussianSigmaFraction);
  const depth = Math.max(grid.depth, T);
  const acc = new Float32Array(depth * plane);
  const ev = new Float32Array(depth * plane);
  const norm = new Float64Array(depth);
  const tileProbabilities: Float64Array[] = [];
  const tileLesionMl: number[] = [];
  const threshold = manifest.segmentation.threshold;
  const batch = Math.max(1, opts.batch ?? 1);

  for (let b0 = 0; b0 < starts.length; b0 += batch) {
    const chunk = starts.slice(b0, b0 + batch);
    const n = chunk.length;
    const tiles = new Float32Array(n * T * plane).fill(p.tile.padValue);
    chunk.forEach((s, t) => {
      const end = Math.min(s + T, grid.depth);
      tiles.set(grid.image.subarray(s * plane, end * plane), t * T * plane);
    });
    const stacks = new Float32Array(n * stack.length);
    for (let t = 0; t < n; t++) stacks.set(stack, t * stack.length);
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
      let positive = 0;
      for (let i = base; i < base + real * plane; i++) if ((lesion[i] as number) > threshold) positive++;
      tileLesionMl.push(positive * grid.voxelMl);
      for (let z = 0; z < T; z++) {
        const w = weights[z] as number;
        const dst = (s + z) * plane;
        const src = base + z * plane;
        for (let i = 0; i < plane; i++) {
          acc[dst + i] = (acc[dst + i] as number) + w * (lesion[src + i] as number);
          ev[dst + i] = (ev[dst + i] as number) + w * (evidence[src + i] as number);
        }
        norm[s + z] = (norm[s + z] as number) + w;
      }
    });
    opts.onTile?.(Math.min(b0 + n, starts.length), starts.length);
  }

  const lesionLogits = new Float32Array(grid.depth * plane);
  const evidenceOut = new Float32Array(grid.depth * plane);
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

function output(out: Record<string, Float32Array>, name: string, expected: number): Float32Array {
  const v = out[name];
  if (!v) throw new Error(`the model gave no output named ${name}`);
  if (v.length !== expected)
    throw new Error(`model output ${name} has ${v.length} values, expected ${expected}`);
  return v;
}
