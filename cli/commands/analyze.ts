import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { isInputRejected } from "../../core/errors.js";
import { removeTempFilesSync } from "../../core/util/temp-path.js";
import { analyze, resultsFolders } from "../../gpu-job/pipeline/analyze.js";
import { ModelOutputError } from "../../gpu-job/pipeline/infer/sliding-window.js";
import { ModelManifestError } from "../../gpu-job/pipeline/model/model-manifest.js";
import { ExecutionProviderError } from "../../gpu-job/pipeline/model/session.js";
import { reasonLine } from "../describe-report.js";
import { onInterrupt } from "../interrupt.js";
import { createProgress } from "../progress.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

const DEVICES = ["auto", "cpu", "cuda"] as const;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      model: { type: "string" },
      device: { type: "string", default: "auto" },
      threads: { type: "string" },
      json: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
  const [input] = positionals;
  if (!input || positionals.length !== 1 || !values.out) throw new UsageError(HELP.analyze);
  const device = values.device as (typeof DEVICES)[number];
  if (!DEVICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(", ")}`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new UsageError("--threads must be a positive integer");

  const progress = createProgress(!values.quiet && !values.json);
  // Interrupted: this run's temporary files go. Every output is written whole or not at all, and no
  // manifest.json vouches for an interrupted run; the next run into the folder replaces what it wrote.
  const outDir = values.out;
  const release = onInterrupt(() => {
    for (const dir of resultsFolders(outDir)) removeTempFilesSync(dir, process.pid);
  });
  try {
    const result = await analyze(input, values.out, {
      device,
      ...(values.model !== undefined ? { model: values.model } : {}),
      ...(threads !== undefined ? { threads } : {}),
      onProgress: (stage, d, t) => progress.update(stage, d, t),
    }).finally(() => progress.stop());
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result.diagnosis)}\n`);
      return 0;
    }
    const d = result.diagnosis;
    const p = d.diagnosis.probabilities;
    const out = relative(process.cwd(), resolve(values.out)) || ".";
    process.stdout.write(
      [
        `predicted ${d.diagnosis.predictedClass}  (covid19 ${p.covid19.toFixed(3)}, cap ${p.cap.toFixed(3)}, non_pneumonia ${p.non_pneumonia.toFixed(3)})`,
        `model     ${d.model.name} ${d.model.version} on ${d.model.executionProvider}${d.model.synthetic ? " — SYNTHETIC, not for clinical use" : ""}`,
        `time      ${(d.timings.totalMs / 1000).toFixed(1)} s`,
        "",
        d.impression,
        "",
        `results in ${out}/: ${result.files.join(", ")}`,
        ...(result.files.includes("report.pdf") ? [`report    ${out}/report.pdf (and report.html)`] : []),
        "",
      ].join("\n"),
    );
    return 0;
  } catch (e) {
    if (isInputRejected(e)) {
      const lines = e.reasons.map(reasonLine);
      process.stderr.write(`deepsc analyze: the input was rejected:\n${lines.join("\n")}\n`);
      return 2;
    }
    if (
      e instanceof ModelManifestError ||
      e instanceof ExecutionProviderError ||
      e instanceof ModelOutputError
    ) {
      process.stderr.write(`deepsc analyze: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    release();
  }
}
