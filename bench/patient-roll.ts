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
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Geometry, Mat3, Vec3 } from "../core/contracts/volume.js";
import { writeNifti } from "../core/nifti/write.js";
import { SCAN_CENTRE } from "../core/phantom/anatomy.js";
import { planPhantom, renderPhantom } from "../core/phantom/generate.js";
import { phantomGrid } from "../core/phantom/grid.js";
import type { PhantomClass } from "../core/phantom/lesions.js";
import { resolvePhantomOptions } from "../core/phantom/options.js";
import { analyze } from "../gpu-job/pipeline/analyze.js";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import { machineInfo } from "./machine.js";
import { compareMasks } from "./masks.js";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = "/tmp/deepsc-bench/roll";
const LABEL = { covid: "covid19", cap: "cap", normal: "non_pneumonia" } as const;
const GRID = { size: 512, slices: 120, sliceThickness: 2.5, noiseSd: 15 } as const;

const { values: args } = parseArgs({
  options: {
    rolls: { type: "string", default: "0,5,10,20" },
    classes: { type: "string", default: "normal,cap,covid" },
    seed: { type: "string", default: "9107" },
  },
});
const rolls = args.rolls.split(",").map(Number);
const classes = args.classes.split(",") as PhantomClass[];
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
console.log(
  "| roll | class | predicted (covid19 / cap / non_pneumonia) | lesion Dice | false positive mL | lung Dice | PATIENT_ROLLED |",
);
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
      const lesions = await compareMasks(join(out, "lesions.nii.gz"), join(dir, "truth", "lesions.nii.gz"));
      const lungs = await compareMasks(join(out, "lungs.nii.gz"), join(dir, "truth", "lungs.nii.gz"));
      const p = diagnosis.diagnosis.probabilities;
      const r3 = (x: number | null) => (x === null ? null : Number(x.toFixed(3)));
      const row = {
        rollDeg: roll,
        class: LABEL[cls],
        predicted: diagnosis.diagnosis.predictedClass,
        probabilities: { covid19: r3(p.covid19), cap: r3(p.cap), non_pneumonia: r3(p.non_pneumonia) },
        lesionDice: cls === "normal" ? null : r3(lesions.dice),
        falsePositiveMl: r3(lesions.falsePositiveMl),
        lungDice: r3(lungs.dice),
        warnings: diagnosis.warnings.map((w) => w.code),
      };
      rows.push(row);
      console.log(
        `| ${roll}° | ${row.class} | ${row.predicted}${row.predicted === row.class ? "" : " **wrong**"} (${[p.covid19, p.cap, p.non_pneumonia].map((x) => x.toFixed(2)).join(" / ")}) | ${row.lesionDice ?? "–"} | ${row.falsePositiveMl} | ${row.lungDice} | ${row.warnings.includes("PATIENT_ROLLED") ? "yes" : "no"} |`,
      );
    }
} finally {
  await session.release();
}
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench", "results", "patient-roll.json"),
  `${JSON.stringify(
    {
      bench: "patient-roll",
      date: new Date().toISOString(),
      model: { name: model.manifest.name, version: model.manifest.version, sha256: model.sha256 },
      seed,
      grid: GRID,
      machine: machineInfo(loadBefore, loadavg()),
      rows,
    },
    null,
    2,
  )}\n`,
);
