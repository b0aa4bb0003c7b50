/**
 * A patient rolled about the body's long axis: the anatomy rotated in plane while the image is declared
 * axial, as a CT of a patient lying a little on one side is (the scanner's axes are the table's, not the
 * patient's): phantoms with `patientRollDeg` (deepsc phantom --roll), whose voxels show rolled anatomy under
 * an axial header. Then analyze(), lesion Dice against the truth, false positives, our lung mask against
 * the true lungs.
 *
 * Usage: npx tsx bench/patient-roll.ts [--rolls 0,5,10,20] [--classes normal,cap,covid] [--seed 9107]
 * Writes bench/results/patient-roll.json (patient-roll-seed<S>.json for another seed); phantoms and results
 * under /tmp/deepsc-bench/roll/.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runPhantom } from "../core/phantom/run.js";
import { analyze } from "../gpu-job/pipeline/analyze.js";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import {
  type PhantomClassName,
  RECORD_SEED,
  SCORE_HEADER,
  scoreAnalysis,
  sweepRecord,
  sweepResultsFile,
  writeBenchResults,
} from "./score-analysis.js";

const CACHE = "/tmp/deepsc-bench/roll";
const GRID = { size: 512, slices: 120, sliceThickness: 2.5, noiseSd: 15 } as const;

const { values: args } = parseArgs({
  options: {
    rolls: { type: "string", default: "0,5,10,20" },
    classes: { type: "string", default: "normal,cap,covid" },
    seed: { type: "string", default: String(RECORD_SEED) },
  },
});
const rolls = args.rolls.split(",").map(Number);
const classes = args.classes.split(",") as PhantomClassName[];
const seed = Number(args.seed);

const loadBefore = loadavg();
const model = await loadModel(bundledModelPath());
const session = await openModelSession(model, { device: "cpu", threads: 2 });
const rows: Record<string, unknown>[] = [];
console.log(`| roll | ${SCORE_HEADER} | PATIENT_ROLLED |`);
console.log("|---|---|---|---|---|---|---|");
try {
  for (const roll of rolls)
    for (const cls of classes) {
      const dir = join(CACHE, `${cls}-${seed}-roll${roll}`);
      const phantom = await runPhantom({
        class: cls,
        seed,
        ...GRID,
        format: "nifti",
        patientRollDeg: roll,
        out: dir,
      });
      const out = join(dir, "result");
      const { diagnosis } = await analyze(phantom.ctPath, out, {
        device: "cpu",
        session: { model, session },
      });
      const { row, cells } = await scoreAnalysis(diagnosis, out, join(dir, "truth"), cls);
      rows.push({ rollDeg: roll, ...row });
      console.log(`| ${roll}° | ${cells} | ${row.warnings.includes("PATIENT_ROLLED") ? "yes" : "no"} |`);
    }
} finally {
  await session.release();
}
writeBenchResults(sweepResultsFile("patient-roll", seed), {
  ...sweepRecord("patient-roll", model, loadBefore),
  seed,
  grid: GRID,
  rows,
});
