/**
 * The GPU path run for real (issue 5's measured job time and cost, issue 3's provider selection): `analyze()`
 * on the GPU machine, on the 512x512x300 COVID-19 phantom of bench/analyze.ts (DICOM folder, 1.25 mm), with
 *  - cuda-fp32: the CUDA provider and the fp32 model,
 *  - cuda-fp16: the CUDA provider and model.json's fp16 variant,
 *  - cpu: the same machine's CPU provider on all its cores (the peer, same run),
 * each in a fresh process, as a Batch job runs one study per container (session creation, CUDA and cuDNN
 * start-up included), then `auto` (the job's default, which must choose CUDA itself). For each: wall time, peak
 * RSS, diagnosis.json's stage timings, the provider that really ran; and the providers' agreement — class
 * probabilities and lesion-mask Dice of each run against the CPU run.
 *
 * The GPU machine has no Node and no registry: `npm run bench:gpu:bundle` builds .gpucheck/ (this script as
 * one esbuild bundle; dcmjs bundled beside it; onnxruntime-node left out), and ../shared/gpu/ brings Node with
 * onnxruntime-node's CUDA provider. bench/gpu/run.sh runs the whole check there in one go (bench/README.md,
 * "The GPU path"); by hand:
 *   node .gpucheck/gpu.mjs --out DIR [--model M] [--configs cuda-fp32,cpu]   per scan: DIR/gpu.json
 *   node .gpucheck/gpu.mjs --tiles --out DIR [--full F] [--fp16-candidates D] per tile: DIR/gpu-tiles.json
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Diagnosis } from "../../core/contracts/diagnosis.js";
import { runPhantom } from "../../core/phantom/run.js";
import { ModelManifestSchema } from "../../gpu-job/pipeline/model/model-manifest.js";
import type { DeviceRequest } from "../../gpu-job/pipeline/model/session.js";
import { compareMasks } from "../masks.js";
import { type TileModel, tileCheck } from "./tiles.js";

/** A manifest read and checked by the engine's own schema (no sha256 check: the .onnx may not be here). */
const readManifest = (path: string) => ModelManifestSchema.parse(JSON.parse(readFileSync(path, "utf8")));

interface Config {
  name: string;
  device: DeviceRequest;
  variant?: string;
}

const CONFIGS: Config[] = [
  { name: "cuda-fp32", device: "cuda" },
  { name: "cuda-fp16", device: "cuda", variant: "fp16" },
  { name: "cpu", device: "cpu" },
  // The Batch job's default: must pick CUDA by itself (and now runs warm: page cache, driver loaded).
  { name: "auto", device: "auto" },
];

interface RunResult {
  config: string;
  ok: boolean;
  error?: string;
  wallSeconds: number;
  peakRssMb: number;
  timings?: Diagnosis["timings"];
  provider?: string;
  providerNote?: string | null;
  variant?: string | null;
  tiles?: number;
  predictedClass?: string;
  probabilities?: Record<string, number>;
  lesionMl?: number;
  /** ms per tile in order (the first, with CUDA's warm-up, measured from the end of preprocessing). */
  tileMs?: number[];
}

/** Child: one analysis in this process; prints one JSON line. */
async function runOne(config: Config, input: string, out: string, model: string): Promise<void> {
  const { analyze } = await import("../../gpu-job/pipeline/analyze.js");
  const t0 = performance.now();
  const result: RunResult = { config: config.name, ok: false, wallSeconds: 0, peakRssMb: 0 };
  // When the lungs were done and each tile ended: the first tile's time holds CUDA's and cuDNN's warm-up.
  let lungsDone: number | null = null;
  const tileEnds: number[] = [];
  try {
    const { diagnosis: d } = await analyze(input, out, {
      model,
      device: config.device,
      ...(config.variant ? { variant: config.variant } : {}),
      onProgress: (stage, done) => {
        if (stage === "lungs" && done === 1) lungsDone = performance.now();
        if (stage === "inference") tileEnds.push(performance.now());
      },
    });
    Object.assign(result, {
      ok: true,
      timings: d.timings,
      provider: d.model.executionProvider,
      providerNote: d.model.executionProviderNote,
      variant: d.model.variant,
      tiles: d.diagnosis.tiles,
      predictedClass: d.diagnosis.predictedClass,
      probabilities: d.diagnosis.probabilities,
      lesionMl: d.findings.extent.lesionVolumeMl,
      // Between the lungs' end and the first tile's end lies the preprocessing too: taken out.
      tileMs: tileEnds.map((t, i) =>
        Math.round(i === 0 ? t - (lungsDone ?? t) - d.timings.preprocessMs : t - (tileEnds[i - 1] as number)),
      ),
    });
  } catch (e) {
    result.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  result.wallSeconds = (performance.now() - t0) / 1000;
  // maxRSS is in kilobytes.
  result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function phantom(cache: string): Promise<string> {
  const dir = join(cache, "dicom");
  if (existsSync(dir) && readdirSync(dir).length === 300) return dir;
  process.stderr.write("generating the 512x512x300 covid phantom ...\n");
  await runPhantom({
    class: "covid",
    seed: 2026,
    size: 512,
    slices: 300,
    sliceThickness: 1.25,
    format: "dicom",
    out: cache,
  });
  return dir;
}

function gpuName(): string | null {
  const r = spawnSync(
    "nvidia-smi",
    ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
    {
      encoding: "utf8",
    },
  );
  return r.status === 0 ? r.stdout.trim() : null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      one: { type: "string" },
      input: { type: "string" },
      model: { type: "string", default: "gpu-job/models/model.json" },
      cache: { type: "string", default: "/tmp/deepsc-bench/gpu" },
      tiles: { type: "boolean", default: false },
      full: { type: "string" },
      "tile-device": { type: "string", default: "cuda" },
      // Other float16 graphs of the same weights to time per tile: light-*.onnx and full-*.onnx in a folder.
      "fp16-candidates": { type: "string" },
      python: { type: "string", default: "python3" },
      runs: { type: "string", default: "50" },
      warmup: { type: "string", default: "10" },
      // Per-scan: a subset of CONFIGS, in order (the full-size model's CPU run is minutes on 16 cores).
      configs: { type: "string" },
    },
  });
  const model = resolve(values.model);
  if (values.tiles) {
    if (!values.out)
      throw new Error(
        "usage: gpu.mjs --tiles --out DIR [--full full/model.json] [--fp16-candidates DIR] [--tile-device cpu]",
      );
    await tiles(values, model);
    return;
  }
  if (values.one) {
    const config = CONFIGS.find((c) => c.name === values.one);
    if (!config || !values.input || !values.out) throw new Error("--one NAME needs --input and --out");
    await runOne(config, values.input, values.out, model);
    return;
  }
  if (!values.out)
    throw new Error("usage: gpu.mjs --out DIR [--model model.json] [--cache DIR] [--configs cuda-fp32,cpu]");
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const configs = values.configs
    ? values.configs.split(",").map((name) => {
        const c = CONFIGS.find((k) => k.name === name);
        if (!c) throw new Error(`--configs: unknown ${name} (${CONFIGS.map((k) => k.name).join(", ")})`);
        return c;
      })
    : CONFIGS;
  const input = await phantom(values.cache);
  const runs: RunResult[] = [];
  for (const config of configs) {
    const dir = join(values.cache, `out-${config.name}`);
    // A failed run must not leave an earlier run's masks to be compared.
    rmSync(dir, { recursive: true, force: true });
    const r = spawnSync(
      process.execPath,
      [process.argv[1]!, "--one", config.name, "--input", input, "--out", dir, "--model", model],
      { encoding: "utf8", maxBuffer: 64 << 20, timeout: 240_000 },
    );
    const line = r.stdout.trim().split("\n").pop() ?? "";
    let result: RunResult;
    try {
      result = JSON.parse(line) as RunResult;
    } catch {
      result = {
        config: config.name,
        ok: false,
        error: `exit ${r.status} ${r.signal ?? ""}: ${r.stderr.slice(-1500)}`,
        wallSeconds: 0,
        peakRssMb: 0,
      };
    }
    process.stderr.write(`${JSON.stringify(result)}\n`);
    runs.push(result);
  }
  // Agreement with the CPU provider: the same model and input, so differences are the providers' arithmetic
  // (TF32 convolutions on CUDA, fp16 in the variant).
  // Only what this invocation produced: the cache may hold an earlier run's outputs, of another model too.
  const ranHere = new Set(runs.filter((r) => r.ok).map((r) => r.config));
  const lesions = (name: string) => join(values.cache, `out-${name}`, "lesions.nii.gz");
  const agreement: Record<string, number | null> = {};
  for (const config of configs) {
    if (!ranHere.has("cpu") || !ranHere.has(config.name)) {
      agreement[config.name] = null;
      continue;
    }
    const r = await compareMasks(lesions(config.name), lesions("cpu"));
    // compareMasks leaves Dice undefined when the reference is empty: two empty masks agree fully.
    agreement[config.name] = r.dice ?? (r.predictedMl === 0 ? 1 : 0);
  }
  const diagnosis = join(values.cache, "out-cuda-fp32", "diagnosis.json");
  if (ranHere.has("cuda-fp32") && existsSync(diagnosis))
    writeFileSync(join(out, "diagnosis-cuda-fp32.json"), readFileSync(diagnosis));
  const report = {
    date: new Date().toISOString(),
    machine: {
      gpu: gpuName(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: totalmem() / 2 ** 30,
    },
    node: process.version,
    model: readManifest(model).version,
    scan: "covid phantom seed 2026, 512x512x300, 0.70 x 0.70 x 1.25 mm, DICOM folder (bench/analyze.ts's scan)",
    runs,
    lesionDiceVsCpu: agreement,
  };
  writeFileSync(join(out, "gpu.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

/** `--tiles`: issue 3's per-tile check against PyTorch on the same card (bench/gpu/tiles.ts). */
async function tiles(
  values: {
    out?: string;
    full?: string;
    "tile-device"?: string;
    "fp16-candidates"?: string;
    python?: string;
    runs?: string;
    warmup?: string;
  },
  model: string,
): Promise<void> {
  const device = values["tile-device"] === "cpu" ? "cpu" : "cuda";
  const dir = values["fp16-candidates"] ? resolve(values["fp16-candidates"]) : null;
  const candidates = (label: string) =>
    dir
      ? readdirSync(dir)
          .filter((f) => f.startsWith(`${label}-`) && f.endsWith(".onnx"))
          .sort()
          .map((f) => join(dir, f))
      : [];
  const models: TileModel[] = [
    {
      label: "light",
      manifest: model,
      torchArgs: ["--checkpoint", "model/weights/deepsc-light.pt"],
      fp16Candidates: candidates("light"),
    },
  ];
  if (values.full)
    models.push({
      label: "full",
      manifest: resolve(values.full),
      torchArgs: ["--config", "full", "--random-init", "--seed", "0"],
      fp16Candidates: candidates("full"),
    });
  const results = await tileCheck({
    root: process.cwd(),
    models,
    device,
    python: values.python ?? "python3",
    runs: Number(values.runs ?? 50),
    warmup: Number(values.warmup ?? 10),
  });
  const out = resolve(values.out ?? ".");
  mkdirSync(out, { recursive: true });
  // What ran, so the figures can be traced to the exact graphs: each manifest's version and files' sha256.
  const modelInfo = models.map((m) => {
    if (!existsSync(m.manifest)) return { label: m.label, manifest: m.manifest, missing: true };
    const j = readManifest(m.manifest);
    return {
      label: m.label,
      version: j.version,
      sha256: j.sha256,
      fp16Sha256: j.variants?.fp16?.sha256 ?? null,
      fp16Candidates: m.fp16Candidates ?? [],
    };
  });
  const torch = spawnSync(values.python ?? "python3", ["-c", "import torch; print(torch.__version__)"], {
    encoding: "utf8",
  });
  const report = {
    date: new Date().toISOString(),
    gpu: gpuName(),
    node: process.version,
    torch: torch.status === 0 ? torch.stdout.trim() : null,
    device,
    models: modelInfo,
    results,
  };
  writeFileSync(join(out, "gpu-tiles.json"), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
