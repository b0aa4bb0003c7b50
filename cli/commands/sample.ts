import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Volume } from "../../core/contracts/volume.js";
import { runPhantom } from "../../core/phantom/run.js";
import { validatePath } from "../../core/validation/validate-path.js";
import { describeReport } from "../describe-report.js";
import { createProgress } from "../progress.js";

/** The bundled sample: a synthetic COVID-19 chest CT, 512x512x64 at 5 mm, zipped DICOM. Regenerated if absent. */
/** Keep in step with HELP.sample. */
const SAMPLE = { class: "covid", seed: 7, size: 512, slices: 64, sliceThickness: 5, format: "zip" } as const;

export async function sampleCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: "string", default: "samples" } } });
  const dir = resolve(values.dir, `${SAMPLE.class}-seed${SAMPLE.seed}`);
  const zip = join(dir, "series.zip");
  const progress = createProgress();
  if (!existsSync(zip)) {
    process.stderr.write(
      `Generating the sample (synthetic chest CT, ${SAMPLE.class}, seed ${SAMPLE.seed}) in ${relative(process.cwd(), dir)} ...\n`,
    );
    await runPhantom({ ...SAMPLE, out: dir }, (d, t) => progress.update("phantom", d, t));
    progress.stop();
  }
  const { report, volume } = await validatePath(zip, {
    mode: "full",
    purpose: "analysis",
    onProgress: (stage, d, t) => progress.update(stage, d, t),
  }).finally(() => progress.stop());
  process.stdout.write(`${describeReport(report, relative(process.cwd(), zip))}\n`);
  if (volume) process.stdout.write(`${describeVolume(volume)}\n`);
  process.stdout.write(
    "\nThis sample is a synthetic phantom, not a patient. Next: `npx deepsc validate <your series> --json`,\n" +
      "`npx deepsc convert <your series> out.nii.gz`. Analysis (model, findings, reports) arrives with the model issue.\n",
  );
  return report.accepted ? 0 : 2;
}

function describeVolume(v: Volume): string {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let lung = 0;
  let sum = 0;
  for (let i = 0; i < v.data.length; i++) {
    const x = v.data[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    if (x > -950 && x < -700) lung++;
  }
  const voxelMl = (v.spacing[0] * v.spacing[1] * v.spacing[2]) / 1000;
  return [
    `volume  ${v.dims.join(" x ")} ${v.data instanceof Int16Array ? "int16" : "float32"} HU, ${(v.data.byteLength / 2 ** 20).toFixed(0)} MiB`,
    `        HU min ${min}, max ${max}, mean ${(sum / v.data.length).toFixed(0)}; aerated-lung-range voxels (-950..-700 HU): ${((lung * voxelMl) / 1000).toFixed(2)} L`,
  ].join("\n");
}
