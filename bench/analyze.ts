/**
 * `deepsc analyze` end to end on the CPU (issue 3's speed and memory acceptance, issue 4's post-inference
 * budget), the built bin in its own process under GNU time, as a user or the Batch job would run it:
 *  1. a 512x512x300 covid phantom (1.25 mm slices, DICOM folder), light model, --device cpu: median wall
 *     time and peak RSS over --runs runs (targets ≤ 60 s, ≤ 4 GB), plus diagnosis.json's stage timings;
 *     issue 4's "lung segmentation + findings + all writers ≤ 10 s" is read from the same timings;
 *  2. a 512x512x600 phantom (0.625 mm, thin-slice chest CT), one run, for "a 512x512x600 scan fits in 4 GB
 *     on CPU" (peak RSS).
 * Phantoms are generated once into /tmp/deepsc-bench/analyze/ and reused.
 *
 * Usage: npm run build && npx tsx bench/analyze.ts [--runs 3] [--threads N] [--model model.json] [--skip-600]
 * Writes bench/results/analyze.json and prints a Markdown table.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runPhantom } from "../core/phantom/run.js";
import { machineInfo } from "./machine.js";
import { median } from "./median.js";
import { isCurrentPhantom } from "./quality-phantoms.js";

const ROOT = resolve(import.meta.dirname, "..");
const BIN = join(ROOT, "dist/bin/deepsc.mjs");
const CACHE = "/tmp/deepsc-bench/analyze";
const RESULTS = join(ROOT, "bench", "results");
const TARGET_SECONDS = 60;
const TARGET_RSS_MB = 4096;
const TARGET_POST_INFERENCE_MS = 10_000;
/**
 * Timings that are not issue 4's (reading the input, and the model: preprocessing, tiles, mapping back).
 * Every other key of diagnosis.json.timings is lung segmentation, findings or a writer, so writers added
 * later with their own timing key are counted without editing this script.
 */
const NOT_POST_INFERENCE = new Set(["totalMs", "readMs", "preprocessMs", "inferenceMs", "postprocessMs"]);

const loadAverage = () => loadavg().map((x) => Number(x.toFixed(2)));

interface Scan {
  label: string;
  slices: number;
  sliceMm: number;
}

interface AnalyzeRun {
  wallSeconds: number;
  peakRssMb: number;
  timings: Record<string, number>;
  predictedClass: string;
  executionProvider: string;
  model: { name: string; version: string; sha256: string };
  /** Files manifest.json lists, i.e. the writers that ran, plus manifest.json itself. */
  outputs: string[];
}

async function phantomSeries(scan: Scan): Promise<string> {
  const out = join(CACHE, scan.label);
  const dir = join(out, "dicom");
  if (isCurrentPhantom(out) && existsSync(dir) && readdirSync(dir).length === scan.slices) return dir;
  rmSync(out, { recursive: true, force: true });
  process.stderr.write(`generating ${scan.label} (once, cached under ${CACHE}) ...\n`);
  await runPhantom({
    class: "covid",
    seed: 2026,
    size: 512,
    slices: scan.slices,
    sliceThickness: scan.sliceMm,
    format: "dicom",
    out,
  });
  return dir;
}

/** GNU time -v: "Maximum resident set size (kbytes): N" and "Elapsed (wall clock) time (...): [h:]m:ss.ss". */
function parseGnuTime(stderr: string): { wallSeconds: number; peakRssMb: number } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const wall = /Elapsed \(wall clock\) time \([^)]*\): ([\d:.]+)/.exec(stderr);
  if (!rss || !wall) throw new Error(`no GNU time report in:\n${stderr.slice(-2000)}`);
  const wallSeconds = wall[1]!.split(":").reduce((s, part) => s * 60 + Number(part), 0);
  return { wallSeconds, peakRssMb: Number(rss[1]) / 1024 };
}

interface AnalyzeFailure {
  failed: true;
  exitCode: number | null;
  /** GNU time's "Command terminated by signal N", when the process was killed or aborted. */
  signal: number | null;
  wallSeconds: number;
  peakRssMb: number;
  /** The first line that says why (a V8 fatal error, an exception), and the tail of stderr. */
  reason: string;
  stderrTail: string;
}

/** One `deepsc analyze` under GNU time; a failed run is a value (its RSS and reason are results too). */
function runAnalyze(input: string, out: string, extra: string[]): AnalyzeRun | AnalyzeFailure {
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(
    "/usr/bin/time",
    ["-v", process.execPath, BIN, "analyze", input, "--out", out, "--device", "cpu", "--quiet", ...extra],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const measured = parseGnuTime(r.stderr);
  if (r.status !== 0) {
    const signal = /Command terminated by signal (\d+)/.exec(r.stderr);
    const reason =
      r.stderr
        .split("\n")
        .find((l) => /FATAL ERROR|Error:|error:/.test(l))
        ?.trim() ?? "unknown";
    // GNU time's own report follows the command's stderr; keep what came before it.
    const own = r.stderr.split(/\n\s*Command being timed:/)[0] ?? r.stderr;
    return {
      failed: true,
      exitCode: r.status,
      signal: signal ? Number(signal[1]) : null,
      ...measured,
      reason,
      stderrTail: own.slice(-1500),
    };
  }
  const diagnosis = JSON.parse(readFileSync(join(out, "diagnosis.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
    files: { path: string }[];
    timings?: { reportsMs: number; totalMs: number };
  };
  // The reports are written after diagnosis.json (they show it); manifest.json, written last, times them.
  const timings = manifest.timings
    ? { ...diagnosis.timings, reportsMs: manifest.timings.reportsMs, totalMs: manifest.timings.totalMs }
    : diagnosis.timings;
  return {
    ...measured,
    timings,
    predictedClass: diagnosis.diagnosis.predictedClass,
    executionProvider: diagnosis.model.executionProvider,
    model: { name: diagnosis.model.name, version: diagnosis.model.version, sha256: diagnosis.model.sha256 },
    outputs: [...manifest.files.map((f) => f.path), "manifest.json"],
  };
}

const failed = (r: AnalyzeRun | AnalyzeFailure | undefined): r is AnalyzeFailure =>
  r !== undefined && "failed" in r;

/** Issue 4's stages (lungs + findings + writers) as the timings name them, and their sum. */
function postInference(timings: Record<string, number>) {
  const keys = Object.keys(timings).filter((k) => !NOT_POST_INFERENCE.has(k));
  return { keys, ms: keys.reduce((s, k) => s + (timings[k] ?? 0), 0) };
}

function medianTimings(runs: AnalyzeRun[]): Record<string, number> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.timings)))];
  return Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r.timings[k] ?? 0))]));
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      threads: { type: "string" },
      model: { type: "string" },
      "skip-600": { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
  const extra = [
    ...(values.threads !== undefined ? ["--threads", values.threads] : []),
    ...(values.model !== undefined ? ["--model", resolve(values.model)] : []),
  ];
  mkdirSync(RESULTS, { recursive: true });
  const scan300: Scan = { label: "covid-512x512x300-1.25mm", slices: 300, sliceMm: 1.25 };
  const scan600: Scan = { label: "covid-512x512x600-0.625mm", slices: 600, sliceMm: 0.625 };
  const input300 = await phantomSeries(scan300);
  const input600 = values["skip-600"] ? undefined : await phantomSeries(scan600);

  const loadBefore = loadAverage();
  const out = join(CACHE, "out");
  const r300: AnalyzeRun[] = [];
  for (let i = 0; i < runs; i++) {
    const run = runAnalyze(input300, out, extra);
    if (failed(run))
      throw new Error(`deepsc analyze failed on the 300-slice scan: ${run.reason}\n${run.stderrTail}`);
    r300.push(run);
    const last = run;
    process.stderr.write(
      `512x512x300 run ${i + 1}/${runs}: ${last.wallSeconds.toFixed(1)} s, ${last.peakRssMb.toFixed(0)} MB\n`,
    );
  }
  const r600 = input600 ? runAnalyze(input600, out, extra) : undefined;
  if (r600)
    process.stderr.write(
      `512x512x600: ${failed(r600) ? `FAILED (${r600.reason}) after ` : ""}${r600.wallSeconds.toFixed(1)} s, ${r600.peakRssMb.toFixed(0)} MB peak RSS\n`,
    );
  rmSync(out, { recursive: true, force: true });
  const loadAfter = loadAverage();

  const timings = medianTimings(r300);
  const outside = median(r300.map((r) => r.wallSeconds * 1000 - (r.timings.totalMs ?? 0)));
  const post = postInference(timings);
  const wall = median(r300.map((r) => r.wallSeconds));
  const rss = Math.max(...r300.map((r) => r.peakRssMb));
  const first = r300[0]!;
  const results = {
    date: new Date().toISOString(),
    machine: machineInfo(loadBefore, loadAfter),
    command:
      `node dist/bin/deepsc.mjs analyze <dicom folder> --out <dir> --device cpu --quiet ${extra.join(" ")}`.trim(),
    model: first.model,
    executionProvider: first.executionProvider,
    scan300: {
      phantom: { ...scan300, class: "covid", seed: 2026, format: "dicom", size: 512 },
      runs: r300,
      medianWallSeconds: wall,
      maxPeakRssMb: rss,
      medianTimingsMs: timings,
      targets: { wallSeconds: TARGET_SECONDS, peakRssMb: TARGET_RSS_MB },
      met: { wall: wall <= TARGET_SECONDS, rss: rss <= TARGET_RSS_MB },
      postInference: {
        summedTimingKeys: post.keys,
        medianMs: post.ms,
        targetMs: TARGET_POST_INFERENCE_MS,
        met: post.ms <= TARGET_POST_INFERENCE_MS,
        outputsPresent: first.outputs,
        /**
         * Process wall time not in timings.totalMs (median over runs): Node start-up, module loading, the
         * model's session, and manifest.json's own hashing. An upper bound on what the timings miss.
         */
        outsideTimingsMs: outside,
        upperBoundMs: post.ms + outside,
      },
    },
    scan600: r600
      ? {
          phantom: { ...scan600, class: "covid", seed: 2026, format: "dicom", size: 512 },
          run: r600,
          peakRssMb: r600.peakRssMb,
          targetRssMb: TARGET_RSS_MB,
          completed: !failed(r600),
          // A run that died is not a scan that fits, whatever its RSS when it died.
          met: !failed(r600) && r600.peakRssMb <= TARGET_RSS_MB,
        }
      : null,
  };
  writeFileSync(join(RESULTS, "analyze.json"), `${JSON.stringify(results, null, 2)}\n`);

  const verdict = (ok: boolean) => (ok ? "met" : "**not met**");
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const stageOrder = Object.keys(timings).filter((k) => k !== "totalMs");
  const lines = [
    `deepsc analyze, ${results.machine.cores}-core ${results.machine.cpu}, load average ${loadBefore.join("/")} before, ${loadAfter.join("/")} after; model ${first.model.name} ${first.model.version} on ${first.executionProvider}`,
    "",
    "| benchmark | result | target | verdict |",
    "|---|---|---|---|",
    `| analyze 512x512x300 (1.25 mm, DICOM), wall, median of ${runs} | ${wall.toFixed(1)} s | ≤ ${TARGET_SECONDS} s | ${verdict(results.scan300.met.wall)} |`,
    `| analyze 512x512x300, peak RSS (max of ${runs}) | ${rss.toFixed(0)} MB | ≤ ${TARGET_RSS_MB} MB | ${verdict(results.scan300.met.rss)} |`,
    `| lungs + findings + writers (${post.keys.join(" + ")}) | ${s(post.ms)} | ≤ 10 s | ${verdict(post.ms <= TARGET_POST_INFERENCE_MS)} |`,
    `| the same + everything outside the timings (start-up, model session, manifest) | ≤ ${s(post.ms + outside)} | ≤ 10 s | ${verdict(post.ms + outside <= TARGET_POST_INFERENCE_MS)} (upper bound) |`,
    r600
      ? failed(r600)
        ? `| analyze 512x512x600 (0.625 mm, DICOM), peak RSS, 1 run | **failed** after ${r600.wallSeconds.toFixed(1)} s at ${r600.peakRssMb.toFixed(0)} MB: ${r600.reason} | ≤ ${TARGET_RSS_MB} MB | **not met** |`
        : `| analyze 512x512x600 (0.625 mm, DICOM), peak RSS, 1 run | ${r600.peakRssMb.toFixed(0)} MB (wall ${r600.wallSeconds.toFixed(1)} s) | ≤ ${TARGET_RSS_MB} MB | ${verdict(r600.peakRssMb <= TARGET_RSS_MB)} |`
      : "| analyze 512x512x600 | skipped | | |",
    "",
    `Stage timings, 512x512x300 (diagnosis.json.timings + manifest.json's reportsMs, median): ${stageOrder.map((k) => `${k.replace(/Ms$/, "")} ${s(timings[k]!)}`).join(", ")}; total in-process ${s(timings.totalMs ?? 0)}.`,
    `Outputs present (manifest.json): ${first.outputs.join(", ")}.`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
