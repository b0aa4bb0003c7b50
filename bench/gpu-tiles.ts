/**
 * Issue 3's per-tile GPU check, run by `gpu.mjs --tiles` on the GPU machine: one tile through the product's
 * own session (gpu-job/pipeline/model/session.ts, CUDA provider) against PyTorch eager on the same card
 * (bench/torch_tile.py --device cuda), fp32 and fp16, for the light model and, when given, the full-size one
 * (an untrained `model/export.py --config full --random-init --seed 0 --fp16` export, whose weights
 * torch_tile.py rebuilds from the same seed). Same input for both runtimes: the parity fixture's formula.
 * Reported: median ms per tile (batch 1) of each runtime and their ratio (DESIGN.md §6 anchor: ORT-CUDA
 * fp16 ≤ 1.0 × PyTorch eager fp16), and the largest class-logit difference of each CUDA run from the CPU
 * provider's output (and from PyTorch's at the same precision).
 * Also runnable here with --tile-device cpu, as a check that the script works before a GPU session.
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { type LoadedModel, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { type DeviceRequest, openModelSession } from "../gpu-job/pipeline/model/session.js";
import { maxAbsDiff, median, PARITY_INPUT_SEED, parityInput, timeCalls } from "./tile-timing.js";

export interface TileModel {
  label: "light" | "full";
  manifest: string;
  /** How torch_tile.py builds the same weights. */
  torchArgs: string[];
}

export interface TileResult {
  model: string;
  precision: "fp32" | "fp16";
  provider: string;
  ortMsPerTile: number | null;
  torchMsPerTile: number | null;
  ratio: number | null;
  classLogitsMaxDiffFromCpu: number | null;
  classLogitsMaxDiffFromTorch: number | null;
  error?: string;
}

function feedsOf(model: LoadedModel) {
  const [stack, tile] = model.manifest.inputs;
  const shape = (s: readonly (number | string)[]) => s.map((d) => (typeof d === "number" ? d : 1));
  const stackShape = shape(stack.shape);
  const tileShape = shape(tile.shape);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return {
    feeds: {
      [stack.name]: parityInput(size(stackShape), PARITY_INPUT_SEED),
      [tile.name]: parityInput(size(tileShape), PARITY_INPUT_SEED + 1),
    },
    shapes: { [stack.name]: stackShape, [tile.name]: tileShape },
  };
}

async function ortTile(
  manifest: string,
  precision: "fp32" | "fp16",
  device: DeviceRequest,
  runs: number,
  warmup: number,
): Promise<{ ms: number; classLogits: number[]; provider: string }> {
  const model = await loadModel(manifest, precision === "fp16" ? { variant: "fp16" } : {});
  const session = await openModelSession(model, { device });
  try {
    const { feeds, shapes } = feedsOf(model);
    // At least one untimed call: the first of a CUDA session also builds its kernels.
    const { callMs, last } = await timeCalls(() => session.run(feeds, shapes), runs, Math.max(1, warmup));
    const logits = last?.[model.manifest.classification.output] ?? new Float32Array();
    return { ms: median(callMs), classLogits: [...logits], provider: session.provider };
  } finally {
    await session.release();
  }
}

function torchTile(
  python: string,
  root: string,
  m: TileModel,
  precision: "fp32" | "fp16",
  device: string,
  runs: number,
  warmup: number,
): { ms: number; classLogits: number[] } {
  const r = spawnSync(
    python,
    [
      join(root, "bench/torch_tile.py"),
      ...m.torchArgs,
      "--device",
      device,
      ...(precision === "fp16" ? ["--half"] : []),
      "--batches",
      "1",
      "--runs",
      String(runs),
      "--warmup",
      String(warmup),
      "--threads",
      "4",
    ],
    { encoding: "utf8", cwd: root, timeout: 600_000, maxBuffer: 16 << 20 },
  );
  if (r.status !== 0) throw new Error(`torch_tile.py failed: ${r.stderr.slice(-800)}`);
  const j = JSON.parse(r.stdout) as {
    batches: Record<string, { medianPerTileMs: number }>;
    classLogits: number[];
  };
  return { ms: j.batches["1"]?.medianPerTileMs ?? Number.NaN, classLogits: j.classLogits };
}

export async function tileCheck(opts: {
  root: string;
  models: TileModel[];
  device: "cuda" | "cpu";
  python: string;
  runs: number;
  warmup: number;
}): Promise<TileResult[]> {
  const results: TileResult[] = [];
  for (const m of opts.models) {
    // The CPU provider's output, the reference for "max difference from the CPU".
    const cpu = await ortTile(resolve(m.manifest), "fp32", "cpu", 1, 1);
    for (const precision of ["fp32", "fp16"] as const) {
      const r: TileResult = {
        model: m.label,
        precision,
        provider: opts.device,
        ortMsPerTile: null,
        torchMsPerTile: null,
        ratio: null,
        classLogitsMaxDiffFromCpu: null,
        classLogitsMaxDiffFromTorch: null,
      };
      try {
        const ort = await ortTile(resolve(m.manifest), precision, opts.device, opts.runs, opts.warmup);
        r.provider = ort.provider;
        r.ortMsPerTile = ort.ms;
        r.classLogitsMaxDiffFromCpu = maxAbsDiff(ort.classLogits, cpu.classLogits);
        // PyTorch eager fp16 needs CUDA; on the CPU only the fp32 peer is run.
        if (precision === "fp32" || opts.device === "cuda") {
          const torch = torchTile(opts.python, opts.root, m, precision, opts.device, opts.runs, opts.warmup);
          r.torchMsPerTile = torch.ms;
          r.ratio = ort.ms / torch.ms;
          r.classLogitsMaxDiffFromTorch = maxAbsDiff(ort.classLogits, torch.classLogits);
        }
      } catch (e) {
        r.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
      process.stderr.write(`${JSON.stringify(r)}\n`);
      results.push(r);
    }
  }
  return results;
}
