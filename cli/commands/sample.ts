import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runPhantom } from "../../core/phantom/run.js";
import { createProgress } from "../progress.js";
import { analyzeCommand } from "./analyze.js";

/** The bundled sample: a synthetic COVID-19 chest CT, 512x512x64 at 5 mm, zipped DICOM. Regenerated if absent. */
/** Keep in step with HELP.sample. */
const SAMPLE = { class: "covid", seed: 7, size: 512, slices: 64, sliceThickness: 5, format: "zip" } as const;

export async function sampleCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: "string", default: "samples" } } });
  const dir = resolve(values.dir, `${SAMPLE.class}-seed${SAMPLE.seed}`);
  const zip = join(dir, "series.zip");
  if (!existsSync(zip)) {
    const progress = createProgress();
    process.stderr.write(
      `Generating the sample (synthetic chest CT, ${SAMPLE.class}, seed ${SAMPLE.seed}) in ${relative(process.cwd(), dir)} ...\n`,
    );
    await runPhantom({ ...SAMPLE, out: dir }, (d, t) => progress.update("phantom", d, t)).finally(() =>
      progress.stop(),
    );
  }
  const out = join(dir, "results");
  process.stderr.write(
    `Analysing ${relative(process.cwd(), zip)} (a synthetic phantom, not a patient) ...\n`,
  );
  const code = await analyzeCommand([zip, "--out", out]);
  if (code === 0)
    process.stdout.write(
      "Next: `npx deepsc analyze <your series> --out <dir>` (a DICOM folder, a .zip or a NIfTI file); `npx deepsc --help`.\n",
    );
  return code;
}
