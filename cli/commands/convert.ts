import { parseArgs } from "node:util";
import { writeNifti } from "../../core/nifti/write.js";
import { validatePath } from "../../core/validation/validate-path.js";
import type { Progress } from "../progress.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

const SILENT: Progress = { update() {}, stop() {} };

export async function convertCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { quiet: { type: "boolean", default: false } },
  });
  const [input, out] = positionals;
  if (!input || !out || positionals.length !== 2 || !/\.nii(\.gz)?$/.test(out))
    throw new UsageError(HELP.convert);
  // The progress bar and the rejection printer load only when used: start-up is a visible share of a
  // conversion that takes about a second.
  const progress = values.quiet ? SILENT : (await import("../progress.js")).createProgress(true);
  const { report, volume } = await validatePath(input, {
    mode: "full",
    purpose: "convert",
    onProgress: (stage, d, t) => progress.update(stage, d, t),
  }).finally(() => progress.stop());
  if (!report.accepted || !volume) {
    const { describeReport } = await import("../describe-report.js");
    process.stderr.write(`${describeReport(report, input)}\n`);
    return 2;
  }
  await writeNifti(volume, out, { datatype: volume.data instanceof Int16Array ? "int16" : "float32" });
  if (!values.quiet) process.stderr.write(`wrote ${out} (${volume.dims.join("x")})\n`);
  return 0;
}
