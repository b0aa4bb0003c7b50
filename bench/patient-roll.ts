/**
 * A patient rolled about the body's long axis: the anatomy rotated in plane while the image is declared
 * axial, as a CT of a patient lying a little on one side is (the scanner's axes are the table's, not the
 * patient's). The phantom generator cannot do this (its anatomy is always upright, only the grid moves), so
 * this script renders a phantom on a grid rotated about z around the scan centre and writes it, with its
 * truth, on the upright grid: the voxels show rolled anatomy, the header says axial. Then analyze(), lesion
 * Dice against the truth, false positives, our lung mask against the true lungs.
 *
 * Usage: npx tsx bench/patient-roll.ts [--rolls 0,5,10,20] [--classes normal,cap,covid] [--seed 9107]
 * Writes bench/results/patient-roll.json; phantoms and results under /tmp/deepsc-bench/roll/.
 */
import { mkdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Geometry, Mat3, Vec3 } from "../core/contracts/volume.js";
import { writeNifti } from "../core/nifti/write.js";
import { SCAN_CENTRE } from "../core/phantom/anatomy.js";
import { planPhantom, renderPhantom } from "../core/phantom/generate.js";
import { phantomGrid } from "../core/phantom/grid.js";
import { resolvePhantomOptions } from "../core/phantom/options.js";
import { analyze } from "../gpu-job/pipeline/analyze.js";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import { machineInfo } from "./machine.js";
import { type PhantomClassName, SCORE_HEADER, scoreAnalysis, writeBenchResults } from "./score-analysis.js";

const CACHE = "/tmp/deepsc-bench/roll";
const GRID = { size: 512, slices: 120, sliceThickness: 2.5, noiseSd: 15 } as const;

const { values: args } = parseArgs({
  options: {
    rolls: { type: "string", default: "0,5,10,20" },
    classes: { type: "string", default: "normal,cap,covid" },
    seed: { type: "string", default: "9107" },
  },
});
const rolls = args.rolls.split(",").map(Number);
const classes = args.classes.split(",") as PhantomClassName[];
const seed = Number(args.seed);

/** The upright grid rotated by `deg` about z around the scan centre (x towards y for positive angles). */
function rolledGrid(upright: Geometry, deg: number): Geometry {
  const t = (deg * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const d = upright.direction;
  const cols = [0, 1, 2].map((k): Vec3 => {
    const [x, y, z] = [d[k]!, d[3 + k]!, d[6 + k]!];
    return [c * x - s * y, s * x + c * y, z];
  });
  const direction = [0, 1, 2].flatMap((r) => cols.map((col) => col[r]!)) as Mat3;
  const half = upright.dims.map((n, k) => ((n - 1) * upright.spacing[k]!) / 2);
  const origin = [0, 1, 2].map(
    (r) => SCAN_CENTRE[r]! - cols[0]![r]! * half[0]! - cols[1]![r]! * half[1]! - cols[2]![r]! * half[2]!,
  ) as Vec3;
  return { ...upright, direction, origin };
}

const loadBefore = loadavg();
const model = await loadModel(bundledModelPath());
const session = await openModelSession(model, { device: "cpu", threads: 2 });
const rows: Record<string, unknown>[] = [];
console.log(`| roll | ${SCORE_HEADER} | PATIENT_ROLLED |`);
console.log("|---|---|---|---|---|---|---|");
try {
  for (const roll of rolls)
    for (const cls of classes) {
      const o = resolvePhantomOptions({ out: "unused", class: cls, seed, ...GRID });
      const upright = phantomGrid(o);
      const r = renderPhantom(planPhantom(cls, seed), rolledGrid(upright, roll), {
        noiseSd: o.noiseSd,
        correlatedNoise: o.correlatedNoise,
      });
      const dir = join(CACHE, `${cls}-${seed}-roll${roll}`);
      mkdirSync(join(dir, "truth"), { recursive: true });
      const declared = {
        dims: upright.dims,
        spacing: upright.spacing,
        origin: upright.origin,
        direction: upright.direction,
      };
      const lesionMask = Uint8Array.from(r.lesions.data, (v) => (v > 0 ? 1 : 0));
      await writeNifti({ ...declared, data: r.ct.data }, join(dir, "ct.nii.gz"));
      await writeNifti({ ...declared, data: lesionMask }, join(dir, "truth", "lesions.nii.gz"));
      await writeNifti({ ...declared, data: r.lungs.data }, join(dir, "truth", "lungs.nii.gz"));
      const out = join(dir, "result");
      const { diagnosis } = await analyze(join(dir, "ct.nii.gz"), out, {
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
writeBenchResults("patient-roll.json", {
  bench: "patient-roll",
  date: new Date().toISOString(),
  model: { name: model.manifest.name, version: model.manifest.version, sha256: model.sha256 },
  seed,
  grid: GRID,
  machine: machineInfo(loadBefore, loadavg()),
  rows,
});
