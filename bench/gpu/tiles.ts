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
import { type LoadedModel, loadModel } from "../../gpu-job/pipeline/model/model-manifest.js";
import { type DeviceRequest, openModelSession } from "../../gpu-job/pipeline/model/session.js";
import { median } from "../median.js";
import { maxAbsDiff, PARITY_INPUT_SEED, parityInput, timeCalls } from "../tile-timing.js";

export interface TileModel {
  label: "light" | "full";
  manifest: string;
  /** How torch_tile.py builds the same weights. */
  torchArgs: string[];
  /** Other float16 graphs of the same weights to time through the same session (another converter's, say). */
  fp16Candidates?: string[];
}

/**
 * PyTorch's modes: float32; every operation in float16 (`.half()`); torch.autocast float16 (mixed); and the
 * "-host" ones, which also time copying the inputs to the card and the outputs back, as onnxruntime-node's
 * session does (bench/torch_tile.py --host-io): the like-for-like peer for a small tile.
 */
type TorchMode = "fp32" | "half" | "autocast" | "fp32-host" | "autocast-host";

export interface TileResult {
  model: string;
  /** "fp32", "fp16" (the manifest's variant) or a candidate float16 file's name. */
  ortGraph: string;
  provider: string;
  torchMode: TorchMode | null;
  ortMsPerTile: number | null;
  torchMsPerTile: number | null;
  ratio: number | null;
  /** Class logits that are not finite (float16 overflow), per runtime. */
  ortNonFinite: number | null;
  torchNonFinite: number | null;
  classLogitsMaxDiffFromCpu: number | null;
  classLogitsMaxDiffFromTorch: number | null;
  error?: string;
}

interface Run {
  ms: number;
  classLogits: (number | null)[];
  nonFinite: number;
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

/** A result row with nothing measured yet. */
function emptyRow(
  model: string,
  ortGraph: string,
  provider: string,
  torchMode: TorchMode | null,
): TileResult {
  return {
    model,
    ortGraph,
    provider,
    torchMode,
    ortMsPerTile: null,
    torchMsPerTile: null,
    ratio: null,
    ortNonFinite: null,
    torchNonFinite: null,
    classLogitsMaxDiffFromCpu: null,
    classLogitsMaxDiffFromTorch: null,
  };
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

async function ortTile(
  manifest: string,
  graph: { precision: "fp32" | "fp16"; file?: string },
  device: DeviceRequest,
  runs: number,
  warmup: number,
): Promise<Run & { provider: string }> {
  const loaded = await loadModel(manifest, graph.precision === "fp16" ? { variant: "fp16" } : {});
  // A candidate graph runs in place of the variant, through the same session code (no manifest sha for it).
  const model = graph.file ? { ...loaded, onnxPath: graph.file } : loaded;
  const session = await openModelSession(model, { device });
  try {
    const { feeds, shapes } = feedsOf(model);
    // At least one untimed call: the first of a CUDA session also builds its kernels.
    const { callMs, last } = await timeCalls(() => session.run(feeds, shapes), runs, Math.max(1, warmup));
    const logits = [...(last?.[model.manifest.classification.output] ?? [])];
    return {
      ms: median(callMs),
      classLogits: logits.map(finiteOrNull),
      nonFinite: logits.filter((v) => !Number.isFinite(v)).length,
      provider: session.provider,
    };
  } finally {
    await session.release();
  }
}

function torchTile(
  python: string,
  root: string,
  m: TileModel,
  mode: TorchMode,
  device: string,
  runs: number,
  warmup: number,
): Run {
  const r = spawnSync(
    python,
    [
      join(root, "bench/torch_tile.py"),
      ...m.torchArgs,
      "--device",
      device,
      ...(mode === "half" ? ["--half"] : mode.startsWith("autocast") ? ["--autocast"] : []),
      ...(mode.endsWith("-host") ? ["--host-io"] : []),
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
    classLogits: (number | null)[];
    nonFiniteClassLogits: number;
  };
  return {
    ms: j.batches["1"]?.medianPerTileMs ?? Number.NaN,
    classLogits: j.classLogits,
    nonFinite: j.nonFiniteClassLogits,
  };
}

/** Largest difference over the logits both runtimes got finite; null when either has a non-finite one. */
function logitDiff(a: (number | null)[], b: (number | null)[]): number | null {
  if (a.some((v) => v === null) || b.some((v) => v === null)) return null;
  return finiteOrNull(maxAbsDiff(a as number[], b as number[]));
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
  const record = (r: TileResult) => {
    process.stderr.write(`${JSON.stringify(r)}\n`);
    results.push(r);
  };
  for (const m of opts.models) {
    const manifest = resolve(m.manifest);
    // The CPU provider's output, the reference for "max difference from the CPU". A model that cannot be
    // loaded (say, the full-size export was not carried) is reported and the next one still measured.
    let cpu: Run;
    try {
      cpu = await ortTile(manifest, { precision: "fp32" }, "cpu", 1, 1);
    } catch (e) {
      record({
        ...emptyRow(m.label, "fp32", "cpu", null),
        error: `onnxruntime (CPU reference): ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    // PyTorch's float16 modes need CUDA; on the CPU only the fp32 peer is run.
    const torchModes: TorchMode[] =
      opts.device === "cuda" ? ["fp32", "fp32-host", "half", "autocast", "autocast-host"] : ["fp32"];
    const torch = new Map<TorchMode, Run | Error>();
    for (const mode of torchModes) {
      try {
        torch.set(mode, torchTile(opts.python, opts.root, m, mode, opts.device, opts.runs, opts.warmup));
      } catch (e) {
        torch.set(mode, e instanceof Error ? e : new Error(String(e)));
      }
    }
    const graphs: { name: string; precision: "fp32" | "fp16"; file?: string; peers: TorchMode[] }[] = [
      { name: "fp32", precision: "fp32", peers: ["fp32", "fp32-host"] },
      { name: "fp16", precision: "fp16", peers: ["half", "autocast", "autocast-host"] },
      ...(m.fp16Candidates ?? []).map((file) => ({
        name: file.split("/").pop() ?? file,
        precision: "fp16" as const,
        file,
        peers: ["half", "autocast", "autocast-host"] as TorchMode[],
      })),
    ];
    for (const g of graphs) {
      let ort: (Run & { provider: string }) | Error;
      try {
        ort = await ortTile(manifest, g, opts.device, opts.runs, opts.warmup);
      } catch (e) {
        ort = e instanceof Error ? e : new Error(String(e));
      }
      for (const mode of g.peers.filter((p) => torchModes.includes(p))) {
        const t = torch.get(mode);
        const r = emptyRow(m.label, g.name, opts.device, mode);
        if (ort instanceof Error) r.error = `onnxruntime: ${ort.message}`;
        else {
          Object.assign(r, {
            provider: ort.provider,
            ortMsPerTile: ort.ms,
            ortNonFinite: ort.nonFinite,
            classLogitsMaxDiffFromCpu: logitDiff(ort.classLogits, cpu.classLogits),
          });
        }
        if (t instanceof Error) r.error = `${r.error ? `${r.error}; ` : ""}PyTorch: ${t.message}`;
        else if (t) {
          r.torchMsPerTile = t.ms;
          r.torchNonFinite = t.nonFinite;
          if (!(ort instanceof Error)) {
            r.ratio = ort.ms / t.ms;
            r.classLogitsMaxDiffFromTorch = logitDiff(ort.classLogits, t.classLogits);
          }
        }
        record(r);
      }
      // On the CPU the float16 graph has no PyTorch peer: still report its time and difference.
      if (g.peers.every((p) => !torchModes.includes(p)) && !(ort instanceof Error))
        record({
          ...emptyRow(m.label, g.name, ort.provider, null),
          ortMsPerTile: ort.ms,
          ortNonFinite: ort.nonFinite,
          classLogitsMaxDiffFromCpu: logitDiff(ort.classLogits, cpu.classLogits),
        });
    }
  }
  return results;
}
