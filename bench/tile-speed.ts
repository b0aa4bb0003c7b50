/**
 * Per-tile CPU time of DeepSC-COVID: onnxruntime-node (the product's session, gpu-job/pipeline/model) against
 * PyTorch (bench/torch_tile.py, the graph model/export.py exports), same run, same model, same threads, same
 * input (issue 3: ratio ORT / PyTorch ≤ 1.0; the full-size model's per-tile CPU time recorded).
 *
 *  - light: the shipped export (gpu-job/models/model.json) and the checkpoint it came from
 *    (model/weights/deepsc-light.pt); threads 1 and 2; batch 1 on both, and batch 2 on both, because
 *    PyTorch 1.13's 3D convolutions take oneDNN only from batch 2 (model/README.md), so PyTorch's best
 *    per-tile time is its batch-2 time halved. --rounds rounds, the two runtimes alternating which goes
 *    first; median over all timed calls after --warmup warm-up calls per block.
 *  - full: an untrained `full` export (model/export.py --config full --random-init --seed 0, cached in
 *    /tmp/deepsc-bench/full-<hash of the exporting Python>/) with onnxruntime-node, threads 1 and 2, and
 *    PyTorch on the same random weights (same seed). The time of a dense network does not depend on its
 *    weights.
 *
 * Inputs: the parity fixture's formula x[i] = ((i * 2654435761 + seed) mod 2^32) / 2^32 (stack seed 12345,
 * tile seed 12346), computed bit for bit by both languages; the batch-1 class logits of both runtimes are
 * compared to show they ran the same thing.
 *
 * Usage: npx tsx bench/tile-speed.ts [--runs 20] [--warmup 3] [--rounds 2] [--threads 1,2]
 *          [--full-runs 3] [--skip-full] [--skip-full-torch] [--model model.json] [--checkpoint x.pt]
 * Writes bench/results/tile-speed.json and prints a Markdown table.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import { machineInfo } from "./machine.js";
import { median } from "./median.js";
import { maxAbsDiff, PARITY_INPUT_SEED, parityInput, timeCalls } from "./tile-timing.js";

const ROOT = resolve(import.meta.dirname, "..");
const RESULTS = join(ROOT, "bench", "results");
const PYTHON = "/usr/bin/python3";
/**
 * Where the untrained full export is cached: keyed by the Python that writes the graph, so a change to the
 * network's export form is timed instead of an earlier session's graph.
 */
const FULL_DIR = (() => {
  const hash = createHash("sha256");
  const sources = join(ROOT, "model", "deepsc");
  for (const f of readdirSync(sources)
    .filter((n) => n.endsWith(".py"))
    .sort())
    hash.update(f).update(readFileSync(join(sources, f)));
  hash.update(readFileSync(join(ROOT, "model", "export.py")));
  return `/tmp/deepsc-bench/full-${hash.digest("hex").slice(0, 12)}`;
})();
const TARGET_RATIO = 1.0;

const loadAverage = () => loadavg().map((x) => Number(x.toFixed(2)));

interface Timing {
  /** Every timed call, ms, per batch size. */
  callMs: Record<string, number[]>;
  classLogits: number[];
}

async function timeOrt(
  manifestPath: string,
  threads: number,
  batches: number[],
  runs: number,
  warmup: number,
): Promise<Timing> {
  const model = await loadModel(manifestPath);
  const session = await openModelSession(model, { device: "cpu", threads });
  try {
    const shapeOf = (name: string) => {
      const input = model.manifest.inputs.find((i) => i.name === name);
      if (!input) throw new Error(`model has no input ${name}`);
      return input.shape;
    };
    const stackShape = shapeOf("stack");
    const tileShape = shapeOf("tile");
    const size = (s: readonly number[]) => s.slice(1).reduce((a, b) => a * b, 1);
    const stack1 = parityInput(size(stackShape), PARITY_INPUT_SEED);
    const tile1 = parityInput(size(tileShape), PARITY_INPUT_SEED + 1);
    const result: Timing = { callMs: {}, classLogits: [] };
    for (const batch of batches) {
      const repeat = (x: Float32Array) => {
        const out = new Float32Array(x.length * batch);
        for (let b = 0; b < batch; b++) out.set(x, b * x.length);
        return out;
      };
      const feeds = { stack: repeat(stack1), tile: repeat(tile1) };
      const shapes = { stack: [batch, ...stackShape.slice(1)], tile: [batch, ...tileShape.slice(1)] };
      const { callMs, last } = await timeCalls(() => session.run(feeds, shapes), runs, warmup);
      result.callMs[String(batch)] = callMs;
      if (batch === 1) result.classLogits = Array.from(last?.class_logits ?? []);
    }
    return result;
  } finally {
    await session.release();
  }
}

function timeTorch(
  weights: string[],
  threads: number,
  batches: number[],
  runs: number,
  warmup: number,
): Timing & { torch: string } {
  const args = [
    join(ROOT, "bench", "torch_tile.py"),
    ...weights,
    "--threads",
    String(threads),
    "--batches",
    batches.join(","),
    "--runs",
    String(runs),
    "--warmup",
    String(warmup),
    "--input-seed",
    String(PARITY_INPUT_SEED),
  ];
  const r = spawnSync(PYTHON, args, { encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`torch_tile.py failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  const parsed = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    torch: string;
    batches: Record<string, { callMs: number[] }>;
    classLogits: number[];
  };
  return {
    torch: parsed.torch,
    callMs: Object.fromEntries(Object.entries(parsed.batches).map(([b, v]) => [b, v.callMs])),
    classLogits: parsed.classLogits,
  };
}

function merge(into: Record<string, number[]>, from: Record<string, number[]>) {
  for (const [b, xs] of Object.entries(from)) into[b] = [...(into[b] ?? []), ...xs];
}

const perTile = (calls: Record<string, number[]>) =>
  Object.fromEntries(Object.entries(calls).map(([b, xs]) => [b, median(xs) / Number(b)]));

/** The untrained full-size export, made once (model/export.py's own --random-init path). */
function fullExport(): string {
  const manifest = join(FULL_DIR, "model.json");
  if (existsSync(manifest)) return manifest;
  process.stderr.write(`exporting an untrained full model to ${FULL_DIR} (once) ...\n`);
  const r = spawnSync(
    PYTHON,
    [join(ROOT, "model", "export.py"), "--config", "full", "--random-init", "--seed", "0", "--out", FULL_DIR],
    { encoding: "utf8", stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0) throw new Error(`model/export.py --config full failed (exit ${r.status})`);
  return manifest;
}

interface Comparison {
  threads: number;
  ortPerTileMs: Record<string, number>;
  torchPerTileMs: Record<string, number>;
  ortCalls: Record<string, number[]>;
  torchCalls: Record<string, number[]>;
  classLogitsMaxAbsDiff: number;
}

async function compare(
  manifest: string,
  torchWeights: string[],
  threads: number[],
  ortBatches: number[],
  torchBatches: number[],
  opts: { runs: number; warmup: number; rounds: number; skipTorch?: boolean; label: string },
): Promise<{ comparisons: Comparison[]; torchVersion: string | null }> {
  const comparisons: Comparison[] = [];
  let torchVersion: string | null = null;
  for (const t of threads) {
    const ortCalls: Record<string, number[]> = {};
    const torchCalls: Record<string, number[]> = {};
    let ortLogits: number[] = [];
    let torchLogits: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const ort = async () => {
        const r = await timeOrt(manifest, t, ortBatches, opts.runs, opts.warmup);
        merge(ortCalls, r.callMs);
        ortLogits = r.classLogits;
      };
      const torch = () => {
        if (opts.skipTorch) return;
        const r = timeTorch(torchWeights, t, torchBatches, opts.runs, opts.warmup);
        merge(torchCalls, r.callMs);
        torchLogits = r.classLogits;
        torchVersion = r.torch;
      };
      // Alternate which runtime goes first, so a drift in the machine's load hits both alike.
      if (round % 2 === 0) {
        await ort();
        torch();
      } else {
        torch();
        await ort();
      }
      process.stderr.write(`${opts.label}, ${t} thread(s), round ${round + 1}/${opts.rounds} done\n`);
    }
    comparisons.push({
      threads: t,
      ortPerTileMs: perTile(ortCalls),
      torchPerTileMs: perTile(torchCalls),
      ortCalls,
      torchCalls,
      classLogitsMaxAbsDiff: maxAbsDiff(ortLogits, torchLogits),
    });
  }
  return { comparisons, torchVersion };
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      rounds: { type: "string", default: "2" },
      threads: { type: "string", default: "1,2" },
      "full-runs": { type: "string", default: "3" },
      "skip-full": { type: "boolean", default: false },
      "skip-full-torch": { type: "boolean", default: false },
      model: { type: "string" },
      checkpoint: { type: "string", default: join(ROOT, "model", "weights", "deepsc-light.pt") },
    },
  });
  const runs = Number(values.runs);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const fullRuns = Number(values["full-runs"]);
  const threads = values.threads.split(",").map(Number);
  for (const n of [runs, rounds, fullRuns, ...threads])
    if (!Number.isInteger(n) || n < 1)
      throw new Error("--runs, --rounds, --full-runs, --threads: positive integers");
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error("--warmup must be a non-negative integer");
  const lightManifest = resolve(values.model ?? bundledModelPath());
  const light = await loadModel(lightManifest);
  mkdirSync(RESULTS, { recursive: true });

  const loadBefore = loadAverage();
  const lightRun = await compare(
    lightManifest,
    ["--checkpoint", values.checkpoint],
    threads,
    [1, 2],
    [1, 2],
    {
      runs,
      warmup,
      rounds,
      label: "light",
    },
  );
  let fullRun: Awaited<ReturnType<typeof compare>> | null = null;
  let fullModel: { parameters: number; sha256: string } | null = null;
  if (!values["skip-full"]) {
    const manifest = fullExport();
    const m = await loadModel(manifest);
    fullModel = { parameters: Number(m.manifest.parameters), sha256: m.sha256 };
    // One round, batch 1 (and PyTorch batch 2, its fast path): a full-size tile takes seconds.
    fullRun = await compare(
      manifest,
      ["--config", "full", "--random-init", "--seed", "0"],
      threads,
      [1],
      [1, 2],
      { runs: fullRuns, warmup: 1, rounds: 1, skipTorch: values["skip-full-torch"], label: "full" },
    );
  }
  const loadAfter = loadAverage();

  const ratios = lightRun.comparisons.map((c) => {
    const ort1 = c.ortPerTileMs["1"]!;
    const ort2 = c.ortPerTileMs["2"]!;
    const torch1 = c.torchPerTileMs["1"]!;
    const torch2 = c.torchPerTileMs["2"]!;
    const best = Math.min(ort1, ort2);
    return {
      threads: c.threads,
      batch1: ort1 / torch1,
      batch2: ort2 / torch2,
      /** Each runtime at its best batch size: what a deployment would pick. */
      bestVsBest: best / Math.min(torch1, torch2),
    };
  });
  const results = {
    date: new Date().toISOString(),
    machine: machineInfo(loadBefore, loadAfter),
    input: {
      formula: "x[i] = ((i * 2654435761 + seed) mod 2^32) / 2^32 (float32), the parity fixture's",
      stackSeed: PARITY_INPUT_SEED,
      tileSeed: PARITY_INPUT_SEED + 1,
    },
    onnxruntimeNode: (await import("onnxruntime-node/package.json", { with: { type: "json" } })).default
      .version,
    torch: lightRun.torchVersion,
    light: {
      model: {
        manifest: lightManifest,
        version: light.manifest.version,
        sha256: light.sha256,
        parameters: light.manifest.parameters,
        checkpoint: values.checkpoint,
      },
      runs,
      warmup,
      rounds,
      comparisons: lightRun.comparisons,
      ratios,
      targetRatio: TARGET_RATIO,
    },
    full: fullRun
      ? {
          model: { dir: FULL_DIR, trained: false, seed: 0, ...fullModel },
          runs: fullRuns,
          warmup: 1,
          note: "untrained weights; the time of a dense network does not depend on its weights",
          comparisons: fullRun.comparisons,
        }
      : null,
  };
  writeFileSync(join(RESULTS, "tile-speed.json"), `${JSON.stringify(results, null, 2)}\n`);

  const ms = (x: number | undefined) =>
    x === undefined ? "—" : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
  const verdict = (r: number) => (r <= TARGET_RATIO ? "met" : "**not met**");
  const lines = [
    `Per-tile CPU time, ${results.machine.cores}-core ${results.machine.cpu}, load average ${loadBefore.join("/")} before, ${loadAfter.join("/")} after; onnxruntime-node ${results.onnxruntimeNode}, PyTorch ${results.torch}`,
    "",
    "| model, threads | ORT batch 1 | ORT batch 2 (per tile) | PyTorch batch 1 | PyTorch batch 2 (per tile) | ORT/PyTorch, same batch 1 / 2 | best vs best | logits max diff |",
    "|---|---|---|---|---|---|---|---|",
    ...lightRun.comparisons.map((c, i) => {
      const r = ratios[i]!;
      return `| light 16x128x128, ${c.threads} | ${ms(c.ortPerTileMs["1"])} | ${ms(c.ortPerTileMs["2"])} | ${ms(c.torchPerTileMs["1"])} | ${ms(c.torchPerTileMs["2"])} | **${r.batch1.toFixed(2)}** (${verdict(r.batch1)}) / **${r.batch2.toFixed(2)}** (${verdict(r.batch2)}) | **${r.bestVsBest.toFixed(2)}** (${verdict(r.bestVsBest)}) | ${c.classLogitsMaxAbsDiff.toExponential(1)} |`;
    }),
    ...(fullRun?.comparisons ?? []).map((c) => {
      const t1 = c.torchPerTileMs["1"];
      const t2 = c.torchPerTileMs["2"];
      const o1 = c.ortPerTileMs["1"]!;
      const sameBatch = t1 !== undefined ? (o1 / t1).toFixed(2) : "—";
      const best = t1 !== undefined && t2 !== undefined ? (o1 / Math.min(t1, t2)).toFixed(2) : "—";
      return `| full 24x256x256 (untrained), ${c.threads} | ${ms(o1)} | — | ${ms(t1)} | ${ms(t2)} | ${sameBatch} / — | ${best} | ${Number.isNaN(c.classLogitsMaxAbsDiff) ? "—" : c.classLogitsMaxAbsDiff.toExponential(1)} |`;
    }),
    "",
    `light: median of ${runs * rounds} calls per cell (${rounds} rounds x ${runs}, ${warmup} warm-up calls per block); full: median of ${fullRuns} calls after 1 warm-up.`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
