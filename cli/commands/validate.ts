import { parseArgs } from "node:util";
import { validatePath } from "../../core/validation/validate-path.js";
import { describeReport } from "../describe-report.js";
import { createProgress } from "../progress.js";
import { UsageError } from "../usage.js";

export const validateHelp = `deepsc validate <input> [--json] [--header-only] [--purpose analysis|convert]
  Check a DICOM folder, zip, single DICOM file or NIfTI volume. Exit 0 accepted, 2 rejected, 1 error.
  --json          print only the ValidationReport (JSON) on stdout
  --header-only   read headers only (as the ingest Lambda does); pixels are not decoded
  --purpose       analysis (default: the pipeline's rules) or convert (geometry only)`;

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      "header-only": { type: "boolean", default: false },
      purpose: { type: "string", default: "analysis" },
    },
  });
  const input = positionals[0];
  if (!input || positionals.length > 1) throw new UsageError(validateHelp);
  if (values.purpose !== "analysis" && values.purpose !== "convert") throw new UsageError(validateHelp);
  const progress = createProgress(!values.json);
  const { report } = await validatePath(input, {
    mode: values["header-only"] ? "header-only" : "full",
    purpose: values.purpose,
    onProgress: (stage, d, t) => progress.update(stage, d, t),
  }).finally(() => progress.stop());
  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeReport(report, input)}\n`,
  );
  return report.accepted ? 0 : 2;
}
