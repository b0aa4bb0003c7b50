/**
 * The gpu-job container's entrypoint (`node dist/gpu-job/main.js`, the Dockerfile's ENTRYPOINT): read the
 * environment once, compose the real dependencies (S3 through the shared client factory, the DeepSC-COVID
 * pipeline loaded lazily), run one attempt (job/run-job.ts) and exit with a code Batch understands
 * (job/exit-codes.ts). Logs are JSON lines (Powertools Logger) without patient data.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import type { S3Client } from "@aws-sdk/client-s3";
import { JOB_PARAMETER_ENV } from "../core/contracts/study.js";
import { describeErrorForLog } from "../core/util/describe-error.js";
import { createS3Client } from "../lambdas/adapters/s3-object-store.js";
import { EXIT_CODES } from "./job/exit-codes.js";
import { JobConfigError, parseJobEnv, S3_ENDPOINT_ENV } from "./job/params.js";
import { type AnalyzeFn, type JobLogger, reportConfigError, runJob } from "./job/run-job.js";
import { S3JobStore } from "./job/s3-job-store.js";
import { inputShapeOf } from "./job/stage-in.js";
import type { StoreFactory } from "./job/store.js";

export const SERVICE_NAME = "deepsc-gpu-job";

/**
 * The pipeline (and with it ONNX Runtime and the CUDA libraries) loads on first use only, so a job with a
 * bad configuration fails in milliseconds and a load failure is classified like any other internal error.
 */
async function loadAnalyze(): Promise<AnalyzeFn> {
  const { analyze } = await import("./pipeline/analyze.js");
  return analyze;
}

export interface MainOptions {
  env?: NodeJS.ProcessEnv;
  /** The pipeline. @default the real analyze (gpu-job/pipeline/analyze.ts), imported on first use */
  analyze?: AnalyzeFn;
  logger?: JobLogger;
  /** @default S3 through createS3Client (DEEPSC_S3_ENDPOINT for S3-compatible servers) */
  storeFor?: StoreFactory;
}

function powertoolsLogger(env: NodeJS.ProcessEnv): { logger: JobLogger; base: Logger } {
  const base = new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
  const logger: JobLogger = {
    info: (m, f) => base.info(m, f ?? {}),
    warn: (m, f) => base.warn(m, f ?? {}),
    error: (m, f) => base.error(m, f ?? {}),
  };
  return { logger, base };
}

/** One S3 client for every bucket the job touches (created on first use; close() destroys it). */
export function s3Stores(env: NodeJS.ProcessEnv): { storeFor: StoreFactory; close: () => void } {
  let client: S3Client | undefined;
  const get = (): S3Client => {
    if (client === undefined) {
      const endpoint = env[S3_ENDPOINT_ENV] || undefined;
      client = createS3Client({
        ...(endpoint !== undefined ? { endpoint, forcePathStyle: true } : {}),
        ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
      });
    }
    return client;
  };
  return { storeFor: (bucket) => new S3JobStore(get(), bucket), close: () => client?.destroy() };
}

/** Run one attempt; resolves to the process exit code. Never rejects. */
export async function main(options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  let logger = options.logger;
  if (logger === undefined) {
    const pt = powertoolsLogger(env);
    logger = pt.logger;
    // Tenant and study are not patient data; they tie every line of this attempt together.
    const tenant = env[JOB_PARAMETER_ENV.tenant];
    const studyId = env[JOB_PARAMETER_ENV.studyId];
    pt.base.appendKeys({
      ...(tenant ? { tenant } : {}),
      ...(studyId ? { studyId } : {}),
      ...(env.AWS_BATCH_JOB_ID ? { jobId: env.AWS_BATCH_JOB_ID } : {}),
      ...(env.AWS_BATCH_JOB_ATTEMPT ? { attempt: env.AWS_BATCH_JOB_ATTEMPT } : {}),
    });
  }
  const s3 = options.storeFor === undefined ? s3Stores(env) : undefined;
  const storeFor = options.storeFor ?? (s3 as NonNullable<typeof s3>).storeFor;
  try {
    let config: ReturnType<typeof parseJobEnv>;
    try {
      config = parseJobEnv(env);
    } catch (e) {
      if (e instanceof JobConfigError) return (await reportConfigError(e, { storeFor, logger })).exitCode;
      throw e;
    }
    // Loaded inside the attempt, so a broken pipeline module is an internal error with failure.json.
    const analyze: AnalyzeFn =
      options.analyze ?? ((input, out, opts) => loadAnalyze().then((fn) => fn(input, out, opts)));

    logger.info("job starting", {
      inputShape: inputShapeOf(config.params.inputKey),
      executionProvider: config.executionProvider,
      model: config.model.kind,
    });
    const outcome = await runJob(config, { storeFor, analyze, logger });
    logger.info("job finished", { status: outcome.status, exitCode: outcome.exitCode });
    return outcome.exitCode;
  } catch (e) {
    // Only a bug in the job itself gets here: runJob classifies every failure it meets.
    logger.error("job crashed", describeErrorForLog(e));
    return EXIT_CODES.INTERNAL_ERROR;
  } finally {
    s3?.close();
  }
}

/**
 * Run as the container's process: SIGTERM (Spot reclaim, timeout, cancel) ends the attempt at once with 143
 * — it is restart-safe, so there is nothing to save — and the exit code is set explicitly because the
 * pipeline's native threads could otherwise keep the process alive.
 */
export async function runAsEntrypoint(options: MainOptions = {}): Promise<never> {
  const stop = (fields: { message: string; signal?: NodeJS.Signals }) => {
    process.stdout.write(
      `${JSON.stringify({ level: "WARN", ...fields, service: SERVICE_NAME, timestamp: new Date().toISOString() })}\n`,
    );
    process.exit(EXIT_CODES.TERMINATED);
  };
  const onSignal = (signal: NodeJS.Signals) => stop({ message: "terminated by signal", signal });
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  // Started by the local stack, which keeps an IPC channel open to it: a stack killed outright (SIGKILL, a
  // crash) cannot stop its job, whose group it is not in, so the job stops itself when the channel closes,
  // as it would on SIGTERM. Unreferenced, the channel never keeps the job alive. No channel on AWS.
  if (process.channel) {
    process.once("disconnect", () =>
      stop({ message: "terminated: the local stack that started it is gone" }),
    );
    process.channel.unref();
  }
  const code = await main(options);
  // Let stdout drain before exiting (a pipe to the log driver may be slower than the process).
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}

function isEntrypoint(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

if (isEntrypoint()) await runAsEntrypoint();
