import { parseArgs } from "node:util";
import { validatePath } from "../../core/validation/validate-path.js";
import { describeReport } from "../describe-report.js";
import { createProgress } from "../progress.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

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
  if (!input || positionals.length > 1) throw new UsageError(HELP.validate);
  if (values.purpose !== "analysis" && values.purpose !== "convert")
    throw new UsageError(`--purpose must be analysis or convert, not '${values.purpose}'`);
  const progress = createProgress(!values.json);
  const { report, inputPaths } = await validatePath(input, {
    mode: values["header-only"] ? "header-only" : "full",
    purpose: values.purpose,
    onProgress: (stage, d, t) => progress.update(stage, d, t),
  }).finally(() => progress.stop());
  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeReport(report, input, inputPaths)}\n`,
  );
  return report.accepted ? 0 : 2;
}
