import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type NiftiSliceWriter, openNiftiSliceWriter, writeNifti } from "../../core/nifti/write.js";
import { removeTempFilesSync } from "../../core/util/temp-path.js";
import { validatePath } from "../../core/validation/validate-path.js";
import { onInterrupt } from "../interrupt.js";
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
  const folder = dirname(resolve(out));
  if (!(await stat(folder).catch(() => undefined))?.isDirectory())
    throw new UsageError(
      `the output folder ${folder} does not exist; create it or write the NIfTI elsewhere`,
    );
  if ((await stat(out).catch(() => undefined))?.isDirectory())
    throw new UsageError(
      `${resolve(out)} is a folder; give the NIfTI file's own name (…/ct.nii or …/ct.nii.gz)`,
    );
  // The progress bar and the rejection printer load only when used: start-up is a visible share of a
  // conversion that takes about a second.
  const progress = values.quiet ? SILENT : (await import("../progress.js")).createProgress(true);
  // A plain .nii is written while the series is decoded (no volume held: faster and smaller); a .nii.gz,
  // NIfTI input or a series whose HU may not fit int16 goes through memory.
  // Interrupted (Ctrl-C, a stopped container): the temporary file goes too, then the usual exit status.
  // Registered before the file can exist (its open() starts on the thread pool at once), and reaching the
  // writer through `opening`, so no moment leaves it behind.
  let opening: Promise<NiftiSliceWriter> | undefined;
  const release = onInterrupt(async () => {
    await (await opening)?.abort();
    // writeNifti's own temporary file, when the volume went through memory.
    removeTempFilesSync(dirname(resolve(out)), process.pid);
  });
  opening = out.toLowerCase().endsWith(".nii") ? openNiftiSliceWriter(out) : undefined;
  let slices: NiftiSliceWriter | undefined;
  try {
    slices = await opening;
    const { report, volume, stack, streamed } = await validatePath(input, {
      mode: "full",
      purpose: "convert",
      onProgress: (stage, d, t) => progress.update(stage, d, t),
      ...(slices ? { sliceSink: slices } : {}),
    }).finally(() => progress.stop());
    if (!report.accepted || !(volume || (streamed && stack))) {
      const { describeReport } = await import("../describe-report.js");
      process.stderr.write(`${describeReport(report, input)}\n`);
      return 2;
    }
    if (streamed && stack && slices) await slices.commit(stack.geometry);
    else if (volume) {
      await slices?.abort();
      await writeNifti(volume, out, { datatype: volume.data instanceof Int16Array ? "int16" : "float32" });
    }
    const dims = volume?.dims ?? stack?.geometry.dims;
    if (!values.quiet) process.stderr.write(`wrote ${out} (${dims?.join("x")})\n`);
    return 0;
  } finally {
    // Removes the temporary file unless commit() renamed it into place.
    await slices?.abort();
    release();
  }
}
