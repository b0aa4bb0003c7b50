/**
 * Issue 3's quality acceptance, through the real pipeline (gpu-job/pipeline/analyze.ts: our own lung
 * segmentation, the inference engine, the writers), on phantoms generated at run time with seeds never
 * used in training:
 *  - 60 held-out phantoms, seeds 9100–9119 per class (covid, cap, normal), the model card's evaluation
 *    protocol (512x512x120 at 0.703 x 0.703 x 2.5 mm, noise 15 HU, NIfTI): per case the predicted class,
 *    lesion Dice against the truth on the native grid, predicted and true lesion mL, false-positive mL
 *    (predicted outside the truth) and our lung mask's Dice against the true lungs; summary: 3-class
 *    accuracy and confusion matrix, Dice mean/min for COVID-19 and CAP, false-positive mL mean/max on
 *    non-pneumonia, against the targets (accuracy ≥ 0.95, Dice ≥ 0.85, FP < 1 mL);
 *  - geometry: one seed written as DICOM axially, descending, oblique, anisotropic and all three at once;
 *    each lesion Dice against its own truth must be within 0.02 of the axial case's.
 * --truth-lungs adds a diagnostic: COVID-19 and CAP cases once more through the same engine with the
 * phantom's true lung mask, to tell what our lung segmentation costs from what the model misses.
 * Cases run one at a time (a 2-core machine with other work on it), one ONNX session reused.
 * Phantoms are cached in /tmp/deepsc-bench/quality/ (generation is deterministic), so a rerun after a
 * model swap only pays for the analyses: `npx tsx bench/model-quality.ts --model path/to/model.json`.
 *
 * Usage: npx tsx bench/model-quality.ts [--cases N] [--seeds 9100-9119] [--model model.json]
 *          [--threads 2] [--skip-geometry] [--geometry-only] [--geometry-seed 9100] [--truth-lungs]
 *          [--resume] [--clean]
 * --cases N takes the first N cases in seed-major order (covid, cap, normal of seed 9100, then 9101, ...),
 * for a quick check; a subset writes bench/results/model-quality-subset.json, the full set
 * bench/results/model-quality.json. Finished cases are logged per model (ONNX and model.json hashes) in
 * the cache; --resume picks an interrupted run up where it stopped (--clean deletes the cache at the end).
 * Prints Markdown tables.
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Geometry } from "../core/contracts/volume.js";
import { readNiftiFile } from "../core/nifti/read.js";
import type { PhantomOptions } from "../core/phantom/options.js";
import { validatePath } from "../core/validation/validate-path.js";
import { analyze } from "../gpu-job/pipeline/analyze.js";
import { inferScan } from "../gpu-job/pipeline/infer/engine.js";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import { machineInfo } from "./machine.js";
import { compareMasks, compareVolumes } from "./masks.js";
import {
  cachedPhantom,
  GEOMETRY_VARIANTS,
  geometryPhantom,
  PROTOCOL,
  QUALITY_CACHE,
} from "./quality-phantoms.js";
import { CLASS_LABEL as LABEL } from "./score-analysis.js";

const ROOT = resolve(import.meta.dirname, "..");
const RESULTS = join(ROOT, "bench", "results");
const CACHE = QUALITY_CACHE;
const CLASSES = ["covid", "cap", "normal"] as const;
type PhantomClass = (typeof CLASSES)[number];
const ORDER = ["covid19", "cap", "non_pneumonia"] as const;
const TARGETS = { accuracy: 0.95, dice: 0.85, falsePositiveMl: 1, geometryDiceDelta: 0.02 };

const loadAverage = () => loadavg().map((x) => Number(x.toFixed(2)));
const round = (x: number, d = 4) => Number(x.toFixed(d));

interface CaseResult {
  case: string;
  class: PhantomClass;
  seed: number;
  truth: string;
  predicted: string;
  correct: boolean;
  probabilities: Record<string, number>;
  /** Lesion Dice against truth on the native grid; null when the truth has no lesion. */
  dice: number | null;
  predictedMl: number;
  truthMl: number;
  /** Predicted lesion outside the true lesions. */
  falsePositiveMl: number;
  /** Our lung segmentation against the phantom's true lungs (what masks the model's input). */
  lungDice: number;
  seconds: number;
}

/** The same grid exactly (same dims, spacing, origin and axes), as a phantom's truth and its NIfTI CT. */
function sameVoxels(a: Geometry, b: Geometry): boolean {
  const close = (x: readonly number[], y: readonly number[]) => x.every((v, i) => Math.abs(v - y[i]!) < 1e-4);
  return (
    close(a.dims, b.dims) &&
    close(a.spacing, b.spacing) &&
    close(a.origin, b.origin) &&
    close(a.direction, b.direction)
  );
}

type Session = {
  model: Awaited<ReturnType<typeof loadModel>>;
  session: Awaited<ReturnType<typeof openModelSession>>;
};

async function runCase(
  name: string,
  cls: PhantomClass,
  seed: number,
  options: Omit<PhantomOptions, "out">,
  session: Session,
): Promise<CaseResult> {
  const { ct, truthDir } = await cachedPhantom(name, options);
  const outDir = join(CACHE, "out", name);
  const t0 = performance.now();
  const { diagnosis } = await analyze(ct, outDir, { device: "cpu", session });
  const seconds = (performance.now() - t0) / 1000;
  const lesions = await compareMasks(join(outDir, "lesions.nii.gz"), join(truthDir, "lesions.nii.gz"));
  const lungs = await compareMasks(join(outDir, "lungs.nii.gz"), join(truthDir, "lungs.nii.gz"));
  rmSync(outDir, { recursive: true, force: true });
  const predicted = diagnosis.diagnosis.predictedClass;
  return {
    case: name,
    class: cls,
    seed,
    truth: LABEL[cls],
    predicted,
    correct: predicted === LABEL[cls],
    probabilities: Object.fromEntries(
      Object.entries(diagnosis.diagnosis.probabilities).map(([k, v]) => [k, round(v)]),
    ),
    dice: lesions.dice === null ? null : round(lesions.dice),
    predictedMl: round(lesions.predictedMl, 2),
    truthMl: round(lesions.truthMl, 2),
    falsePositiveMl: round(lesions.falsePositiveMl, 2),
    lungDice: round(lungs.dice ?? 0),
    seconds: round(seconds, 1),
  };
}

function stats(xs: number[]) {
  if (xs.length === 0) return null;
  return {
    n: xs.length,
    mean: round(xs.reduce((s, x) => s + x, 0) / xs.length),
    min: round(Math.min(...xs)),
    max: round(Math.max(...xs)),
  };
}

function summarise(cases: CaseResult[]) {
  const matrix = ORDER.map((t) =>
    ORDER.map((p) => cases.filter((c) => c.truth === t && c.predicted === p).length),
  );
  const dice = (cls: PhantomClass) =>
    stats(cases.filter((c) => c.class === cls && c.dice !== null).map((c) => c.dice as number));
  const accuracy = cases.length ? cases.filter((c) => c.correct).length / cases.length : 0;
  const diceCovid = dice("covid");
  const diceCap = dice("cap");
  const fp = stats(cases.filter((c) => c.class === "normal").map((c) => c.falsePositiveMl));
  return {
    cases: cases.length,
    accuracy: round(accuracy),
    confusion: { rows: "truth", columns: "predicted", order: ORDER, matrix },
    diceCovid19: diceCovid,
    diceCap: diceCap,
    nonPneumoniaFalsePositiveMl: fp,
    lungDice: stats(cases.map((c) => c.lungDice)),
    secondsPerCase: stats(cases.map((c) => c.seconds)),
    met: {
      accuracy: accuracy >= TARGETS.accuracy,
      diceCovid19: diceCovid ? diceCovid.mean >= TARGETS.dice : null,
      diceCovid19Min: diceCovid ? diceCovid.min >= TARGETS.dice : null,
      diceCap: diceCap ? diceCap.mean >= TARGETS.dice : null,
      diceCapMin: diceCap ? diceCap.min >= TARGETS.dice : null,
      falsePositive: fp ? fp.mean < TARGETS.falsePositiveMl : null,
      falsePositiveMax: fp ? fp.max < TARGETS.falsePositiveMl : null,
    },
  };
}

function seedRange(spec: string): number[] {
  const m = /^(\d+)-(\d+)$/.exec(spec);
  if (!m || Number(m[2]) < Number(m[1])) throw new Error(`--seeds: use N-M, got ${spec}`);
  return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
}

async function main() {
  const { values } = parseArgs({
    options: {
      cases: { type: "string" },
      seeds: { type: "string", default: "9100-9119" },
      model: { type: "string" },
      threads: { type: "string", default: "2" },
      "skip-geometry": { type: "boolean", default: false },
      "geometry-only": { type: "boolean", default: false },
      "geometry-seed": { type: "string", default: "9100" },
      clean: { type: "boolean", default: false },
      resume: { type: "boolean", default: false },
      "truth-lungs": { type: "boolean", default: false },
    },
  });
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1) throw new Error("--threads must be a positive integer");
  const all = seedRange(values.seeds).flatMap((seed) => CLASSES.map((cls) => ({ cls, seed })));
  const limit = values.cases === undefined ? all.length : Number(values.cases);
  if (!Number.isInteger(limit) || limit < 0) throw new Error("--cases must be a non-negative integer");
  const selected = values["geometry-only"] ? [] : all.slice(0, limit);
  const subset = selected.length < all.length || values.seeds !== "9100-9119";
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(CACHE, { recursive: true });

  const manifestPath = resolve(values.model ?? bundledModelPath());
  const model = await loadModel(manifestPath);
  const session: Session = { model, session: await openModelSession(model, { device: "cpu", threads }) };
  const loadBefore = loadAverage();
  const started = performance.now();
  // Each finished case is appended here, keyed by the ONNX file and model.json (preprocessing lives there),
  // so --resume picks up a run that was interrupted (a long run on a shared machine). Opt-in: a change to
  // the pipeline's code would not change the key.
  const manifestHash = createHash("sha256").update(readFileSync(manifestPath)).digest("hex");
  const progressFile = join(
    CACHE,
    `progress-${model.sha256.slice(0, 12)}-${manifestHash.slice(0, 12)}.jsonl`,
  );
  if (!values.resume) rmSync(progressFile, { force: true });
  const done = new Map<string, CaseResult>();
  if (existsSync(progressFile))
    for (const line of readFileSync(progressFile, "utf8").split("\n"))
      if (line.trim()) {
        const r = JSON.parse(line) as CaseResult;
        done.set(r.case, r);
      }
  if (done.size) process.stderr.write(`resuming: ${done.size} case(s) already done (${progressFile})\n`);
  const measure = async (...args: Parameters<typeof runCase>): Promise<CaseResult> => {
    const cached = done.get(args[0]);
    if (cached) return cached;
    const r = await runCase(...args);
    appendFileSync(progressFile, `${JSON.stringify(r)}\n`);
    return r;
  };
  const cases: CaseResult[] = [];
  const truthLungs: {
    case: string;
    diceOwnLungs: number | null;
    diceTruthLungs: number | null;
    predictedClassTruthLungs: string;
  }[] = [];
  const geometry: (CaseResult & {
    variant: string;
    diagnostic: boolean;
    grid: string;
    diceDelta: number | null;
  })[] = [];
  try {
    for (const { cls, seed } of selected) {
      const name = `${cls}-${seed}`;
      const r = await measure(name, cls, seed, { class: cls, seed, format: "nifti", ...PROTOCOL }, session);
      cases.push(r);
      process.stderr.write(
        `[${cases.length}/${selected.length}] ${name}: ${r.predicted}${r.correct ? "" : " (WRONG)"}, Dice ${r.dice ?? "—"}, ` +
          `${r.predictedMl} mL predicted / ${r.truthMl} mL truth, FP ${r.falsePositiveMl} mL, lungs ${r.lungDice}, ${r.seconds} s\n`,
      );
    }
    if (values["truth-lungs"]) {
      // Same engine and session, the phantom's true lung mask instead of ours: separates what the lung
      // segmentation costs from what the model misses (model/evaluate.py measures with true lungs).
      for (const c of cases.filter((x) => x.class !== "normal")) {
        const dir = join(CACHE, c.case);
        const { volume } = await validatePath(join(dir, "ct.nii.gz"), { mode: "full", purpose: "analysis" });
        if (!volume) throw new Error(`${c.case}: the phantom was rejected`);
        const { volume: lungs } = await readNiftiFile(join(dir, "truth", "lungs.nii.gz"));
        const { volume: truth } = await readNiftiFile(join(dir, "truth", "lesions.nii.gz"));
        if (!sameVoxels(volume, lungs)) throw new Error(`${c.case}: true lungs are not on the CT's grid`);
        const mask = new Uint8Array(lungs.data.length);
        for (let i = 0; i < mask.length; i++) mask[i] = lungs.data[i]! > 0 ? 1 : 0;
        const inference = await inferScan(volume, mask, session.model, session.session);
        const r = compareVolumes({ ...volume, data: inference.lesions }, truth, c.case);
        truthLungs.push({
          case: c.case,
          diceOwnLungs: c.dice,
          diceTruthLungs: r.dice === null ? null : round(r.dice),
          predictedClassTruthLungs: inference.predictedClass,
        });
        process.stderr.write(`true lungs ${c.case}: Dice ${r.dice?.toFixed(4)} (own lungs ${c.dice})\n`);
      }
    }
    if (!values["skip-geometry"]) {
      const seed = Number(values["geometry-seed"]);
      for (const v of GEOMETRY_VARIANTS) {
        const { name, options } = geometryPhantom(v, seed);
        const r = await measure(name, "covid", seed, options, session);
        const axial = geometry[0]?.dice ?? r.dice;
        const delta = r.dice === null || axial === null ? null : round(r.dice - axial);
        const ps = options.pixelSpacing ?? 360 / options.size;
        geometry.push({
          ...r,
          variant: v.variant,
          diagnostic: v.diagnostic ?? false,
          grid: `${options.size}x${options.size}x${options.slices} at ${ps.toFixed(3)} x ${ps.toFixed(3)} x ${options.sliceThickness} mm`,
          diceDelta: delta,
        });
        process.stderr.write(`geometry ${v.variant}: Dice ${r.dice}, delta ${delta}, lungs ${r.lungDice}\n`);
      }
    }
  } finally {
    await session.session.release();
    rmSync(join(CACHE, "out"), { recursive: true, force: true });
    if (values.clean) rmSync(CACHE, { recursive: true, force: true });
  }
  const loadAfter = loadAverage();
  const summary = summarise(cases);
  const geometryMet = geometry
    .filter((g) => !g.diagnostic)
    .every((g) => g.diceDelta !== null && Math.abs(g.diceDelta) <= TARGETS.geometryDiceDelta);
  const m = model.manifest;
  const results = {
    date: new Date().toISOString(),
    machine: machineInfo(loadBefore, loadAfter),
    model: {
      manifest: manifestPath,
      manifestSha256: manifestHash,
      name: m.name,
      version: m.version,
      config: m.config,
      sha256: model.sha256,
      trainingIterations: (m.training as { totalIterations?: number; iterations?: number } | undefined)
        ?.totalIterations,
    },
    pipeline: "gpu-job/pipeline/analyze.ts (own lung segmentation), --device cpu, one session reused",
    threads,
    protocol: { ...PROTOCOL, pixelSpacingMm: 360 / PROTOCOL.size, format: "nifti", seeds: values.seeds },
    targets: TARGETS,
    /** This invocation's wall time; cases resumed from an earlier, interrupted run are not in it. */
    wallSeconds: round((performance.now() - started) / 1000, 1),
    resumedCases: [...cases, ...geometry].filter((c) => done.has(c.case)).length,
    summary,
    cases,
    truthLungsDiagnostic: truthLungs.length
      ? {
          note: "same engine and session with the phantom's true lung mask instead of our lung segmentation",
          diceCovid19: stats(
            truthLungs
              .filter((t) => t.case.startsWith("covid") && t.diceTruthLungs !== null)
              .map((t) => t.diceTruthLungs as number),
          ),
          diceCap: stats(
            truthLungs
              .filter((t) => t.case.startsWith("cap") && t.diceTruthLungs !== null)
              .map((t) => t.diceTruthLungs as number),
          ),
          cases: truthLungs,
        }
      : null,
    geometry: geometry.length
      ? { seed: Number(values["geometry-seed"]), format: "dicom", met: geometryMet, variants: geometry }
      : null,
  };
  const file = subset ? "model-quality-subset.json" : "model-quality.json";
  writeFileSync(join(RESULTS, file), `${JSON.stringify(results, null, 2)}\n`);

  const verdict = (ok: boolean | null) => (ok === null ? "—" : ok ? "met" : "**not met**");
  const f = (x: number | undefined, d = 3) => (x === undefined ? "—" : x.toFixed(d));
  const s = summary;
  const lines = [
    `Model quality, ${m.name} ${m.version} (sha256 ${model.sha256.slice(0, 12)}), ${s.cases} held-out phantoms (seeds ${values.seeds}), ` +
      `${results.machine.cores}-core CPU, load average ${loadBefore.join("/")} before, ${loadAfter.join("/")} after; ${results.wallSeconds} s; written to bench/results/${file}`,
    "",
    "| metric | result | target | verdict |",
    "|---|---|---|---|",
    `| 3-class accuracy | ${f(s.accuracy)} (${cases.filter((c) => c.correct).length}/${s.cases}) | ≥ ${TARGETS.accuracy} | ${verdict(s.cases ? s.met.accuracy : null)} |`,
    `| lesion Dice, COVID-19 (mean / min, n=${s.diceCovid19?.n ?? 0}) | ${f(s.diceCovid19?.mean)} / ${f(s.diceCovid19?.min)} | ≥ ${TARGETS.dice} | ${verdict(s.met.diceCovid19)} (min: ${verdict(s.met.diceCovid19Min)}) |`,
    `| lesion Dice, CAP (mean / min, n=${s.diceCap?.n ?? 0}) | ${f(s.diceCap?.mean)} / ${f(s.diceCap?.min)} | ≥ ${TARGETS.dice} | ${verdict(s.met.diceCap)} (min: ${verdict(s.met.diceCapMin)}) |`,
    `| false-positive lesion volume, non-pneumonia (mean / max, n=${s.nonPneumoniaFalsePositiveMl?.n ?? 0}) | ${f(s.nonPneumoniaFalsePositiveMl?.mean, 1)} / ${f(s.nonPneumoniaFalsePositiveMl?.max, 1)} mL | < ${TARGETS.falsePositiveMl} mL | ${verdict(s.met.falsePositive)} (max: ${verdict(s.met.falsePositiveMax)}) |`,
    `| our lung mask vs true lungs, Dice (mean / min) | ${f(s.lungDice?.mean)} / ${f(s.lungDice?.min)} | (diagnostic) | |`,
    "",
    `Confusion matrix (rows truth, columns predicted; ${ORDER.join(", ")}): ${JSON.stringify(s.confusion.matrix)}`,
  ];
  const tl = results.truthLungsDiagnostic;
  if (tl)
    lines.push(
      "",
      `Diagnostic, the same engine with the phantoms' true lungs instead of ours: lesion Dice COVID-19 ${f(tl.diceCovid19?.mean)} / ${f(tl.diceCovid19?.min)}, CAP ${f(tl.diceCap?.mean)} / ${f(tl.diceCap?.min)} (mean / min).`,
    );
  if (geometry.length) {
    lines.push(
      "",
      `Geometry (covid seed ${values["geometry-seed"]}, DICOM; lesion Dice against each grid's own truth):`,
      "",
      "| variant | grid | class | lesion Dice | Δ vs axial | verdict (|Δ| ≤ 0.02) | lung Dice |",
      "|---|---|---|---|---|---|---|",
      ...geometry.map(
        (g) =>
          `| ${g.variant} | ${g.grid} | ${g.predicted} | ${f(g.dice ?? undefined)} | ${g.variant === "axial" ? "—" : f(g.diceDelta ?? undefined)} | ${g.variant === "axial" ? "reference" : g.diagnostic ? "(diagnostic)" : verdict(g.diceDelta !== null && Math.abs(g.diceDelta) <= TARGETS.geometryDiceDelta)} | ${f(g.lungDice)} |`,
      ),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
