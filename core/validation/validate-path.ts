/** Validate a local path (file, folder or zip); rejections raised while opening (zip limits) become reports. */
import { resolve } from "node:path";
import { isInputRejected } from "../errors.js";
import { openLocalInput } from "../input/open-local.js";
import { rejectionReport, type ValidateOptions, type ValidationOutcome, validateSource } from "./validate.js";

export async function validatePath(path: string, opts: ValidateOptions): Promise<ValidationOutcome> {
  let source: Awaited<ReturnType<typeof openLocalInput>>;
  try {
    source = await openLocalInput(resolve(path), opts.limits);
  } catch (e) {
    if (isInputRejected(e)) return { report: rejectionReport(e.reasons, opts.mode, opts.uidSalt) };
    throw e;
  }
  try {
    return await validateSource(source, opts);
  } finally {
    await source.close();
  }
}
