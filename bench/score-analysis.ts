/**
 * What the sweep benchmarks (scan-kinds.ts, patient-roll.ts) record of one phantom's analysis: the class
 * against the truth, lesion Dice and false positives against truth/lesions.nii.gz, our lung mask against
 * truth/lungs.nii.gz, the warnings; and the Markdown table cells they print. Also where a sweep's results
 * go and what they open with (oblique-views.ts too).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Diagnosis } from "../core/contracts/diagnosis.js";
import type { LoadedModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { machineInfo } from "./machine.js";
import { compareMasks } from "./masks.js";

/** Phantom class (deepsc phantom --class) -> the model's class name. */
export const CLASS_LABEL = { covid: "covid19", cap: "cap", normal: "non_pneumonia" } as const;
export type PhantomClassName = keyof typeof CLASS_LABEL;

/** The header cells matching `cells` below. */
export const SCORE_HEADER =
  "class | predicted (covid19 / cap / non_pneumonia) | lesion Dice | false positive mL | lung Dice";

const r3 = (x: number | null) => (x === null ? null : Number(x.toFixed(3)));

export async function scoreAnalysis(
  diagnosis: Diagnosis,
  outDir: string,
  truthDir: string,
  cls: PhantomClassName,
) {
  const lesions = await compareMasks(join(outDir, "lesions.nii.gz"), join(truthDir, "lesions.nii.gz"));
  const lungs = await compareMasks(join(outDir, "lungs.nii.gz"), join(truthDir, "lungs.nii.gz"));
  const p = diagnosis.diagnosis.probabilities;
  const row = {
    class: CLASS_LABEL[cls],
    predicted: diagnosis.diagnosis.predictedClass,
    probabilities: { covid19: r3(p.covid19), cap: r3(p.cap), non_pneumonia: r3(p.non_pneumonia) },
    // Without true lesions (normal) Dice is undefined: the false-positive volume is their error.
    lesionDice: cls === "normal" ? null : r3(lesions.dice),
    falsePositiveMl: r3(lesions.falsePositiveMl),
    lungDice: r3(lungs.dice),
    warnings: diagnosis.warnings.map((w) => w.code),
  };
  const wrong = row.predicted === row.class ? "" : " **wrong**";
  const shown = [p.covid19, p.cap, p.non_pneumonia].map((x) => x.toFixed(2)).join(" / ");
  const cells = `${row.class} | ${row.predicted}${wrong} (${shown}) | ${row.lesionDice ?? "–"} | ${row.falsePositiveMl} | ${row.lungDice}`;
  return { row, cells };
}

/** bench/results/<file>, pretty JSON. */
export function writeBenchResults(file: string, results: object): void {
  const dir = resolve(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), `${JSON.stringify(results, null, 2)}\n`);
}

/** The seed whose whole run is a sweep's record (scan-kinds.ts, patient-roll.ts). */
export const RECORD_SEED = 9107;

/** bench/results/<bench>.json for the record seed; another seed's run is kept beside it, not over it. */
export function sweepResultsFile(bench: string, seed: number): string {
  return seed === RECORD_SEED ? `${bench}.json` : `${bench}-seed${seed}.json`;
}

/** What a sweep's results open with: the bench, when, the model, and the machine (load before and now). */
export function sweepRecord(bench: string, model: LoadedModel, loadAverageBefore: number[]) {
  return {
    bench,
    date: new Date().toISOString(),
    model: { name: model.manifest.name, version: model.manifest.version, sha256: model.sha256 },
    machine: machineInfo(loadAverageBefore, loadavg()),
  };
}
