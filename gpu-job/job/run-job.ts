/**
 * One Batch attempt of one study: check for complete earlier results -> (model from S3) -> stage-in ->
 * analyze -> stage-out, in a private scratch folder that is removed afterwards. Every dependency is injected
 * (stores, the pipeline, the logger), so tests run the same code with s3rver and a fake pipeline.
 *
 * Restart safety: Batch may run an attempt twice or kill it anywhere. A study whose manifest and files are
 * all published is not analysed again; otherwise the attempt starts over and overwrites what an earlier one
 * left, and manifest.json is published last (stage-out.ts), so there is never a manifest without its files.
 *
 * Logs carry tenant, studyId, phases, counts, byte sizes, durations and reason codes — no file names from
 * the upload, no messages derived from its content, nothing about the patient.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { JOB_FAILURE_REASONS, RESULTS_MANIFEST_FILE } from "../../core/contracts/results-manifest.js";
import { describeErrorForLog } from "../../core/util/describe-error.js";
import type { AnalyzeOptions } from "../pipeline/analyze.js";
import { ModelOutputError } from "../pipeline/infer/sliding-window.js";
import { ModelManifestError } from "../pipeline/model/model-manifest.js";
import { classifyFailure, JobFailure, storageStep } from "./failure.js";
import type { JobConfig, JobConfigError } from "./params.js";
import { stageIn } from "./stage-in.js";
import { stageModel } from "./stage-model.js";
import { inspectRemoteResults, stageOut, writeFailureReport } from "./stage-out.js";
import type { StoreFactory } from "./store.js";

/** The pipeline's entry (gpu-job/pipeline/analyze.ts); the result is typed loosely so tests can fake it. */
export type { AnalyzeOptions };
export interface AnalyzeResultLike {
  outDir: string;
  files: string[];
  diagnosis: unknown;
}
export type AnalyzeFn = (
  input: string,
  outDir: string,
  options?: AnalyzeOptions,
) => Promise<AnalyzeResultLike>;

/** Structured logging (Powertools Logger fits): a message plus flat fields, one JSON line each. */
export interface JobLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface JobDeps {
  storeFor: StoreFactory;
  analyze: AnalyzeFn;
  logger: JobLogger;
  /** Milliseconds clock for phase durations. @default performance.now */
  clock?: () => number;
}

export type JobOutcome =
  | { status: "succeeded"; exitCode: 0; files: number; bytes: number; phasesMs: Record<string, number> }
  | { status: "already-complete"; exitCode: 0; files: number }
  | { status: "failed"; exitCode: number; retryable: boolean; codes: string[] };

/** Progress lines: one per pipeline stage, plus one at most this often within a long stage. */
const PROGRESS_LOG_INTERVAL_MS = 15_000;

function progressLogger(logger: JobLogger, clock: () => number): AnalyzeOptions["onProgress"] {
  let lastStage = "";
  let lastAt = Number.NEGATIVE_INFINITY;
  return (stage, done, total) => {
    const now = clock();
    if (stage === lastStage && done < total && now - lastAt < PROGRESS_LOG_INTERVAL_MS) return;
    lastStage = stage;
    lastAt = now;
    logger.info("pipeline progress", { phase: "analyze", stage, done, total });
  };
}

export async function runJob(config: JobConfig, deps: JobDeps): Promise<JobOutcome> {
  const { params } = config;
  const { logger } = deps;
  const clock = deps.clock ?? (() => performance.now());
  const results = deps.storeFor(params.resultsBucket);
  const prefix = params.resultsPrefix;
  const phasesMs: Record<string, number> = {};
  const timed = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    const t = clock();
    try {
      return await fn();
    } finally {
      phasesMs[phase] = Math.round(clock() - t);
    }
  };

  try {
    const earlier = await storageStep("checking earlier results", () =>
      inspectRemoteResults(results, prefix),
    );
    if (earlier.state === "complete") {
      logger.info("results already complete; nothing to do", { files: earlier.manifest.files.length });
      return { status: "already-complete", exitCode: 0, files: earlier.manifest.files.length };
    }
    if (earlier.state === "incomplete") {
      // A manifest whose files are not all there must not stay visible while this attempt runs.
      logger.warn("withdrawing an incomplete earlier manifest", { problems: earlier.problems.length });
      await storageStep("withdrawing an incomplete manifest", () =>
        results.delete(`${prefix}${RESULTS_MANIFEST_FILE}`),
      );
    }

    await mkdir(config.scratchDir, { recursive: true });
    const work = await mkdtemp(path.join(config.scratchDir, "deepsc-job-"));
    try {
      const inputDir = path.join(work, "input");
      const outDir = path.join(work, "out");
      await mkdir(inputDir);
      await mkdir(outDir);

      let modelPath: string | undefined;
      if (config.model.kind === "s3") {
        const { bucket, key } = config.model;
        const modelDir = path.join(work, "model");
        await mkdir(modelDir);
        const staged = await timed("model", () =>
          storageStep("fetching the model", () => stageModel(deps.storeFor(bucket), key, modelDir)),
        );
        modelPath = staged.manifestPath;
        logger.info("model fetched and verified", {
          model: staged.manifest.name,
          version: staged.manifest.version,
          sha256: staged.manifest.sha256,
        });
      }

      const input = await timed("stageIn", () =>
        storageStep("stage-in", () =>
          stageIn(deps.storeFor(params.inputBucket), params.inputKey, inputDir, {
            ...(params.inputEtag !== undefined ? { expectedEtag: params.inputEtag } : {}),
            ...(params.inputManifestDigest !== undefined
              ? { expectedManifestDigest: params.inputManifestDigest }
              : {}),
          }),
        ),
      );
      logger.info("input staged", { shape: input.shape, files: input.files, bytes: input.bytes });

      await timed("analyze", async () => {
        try {
          await deps.analyze(input.path, outDir, {
            ...(modelPath !== undefined ? { model: modelPath } : {}),
            device: config.executionProvider,
            uidSalt: config.uidSalt,
            onProgress: progressLogger(logger, clock),
          });
        } catch (e) {
          if (e instanceof ModelManifestError)
            throw new JobFailure(
              "CONFIGURATION",
              "MODEL_INVALID",
              "The model failed its schema or checksum check when the pipeline loaded it.",
              { cause: e },
            );
          // The same model on the same scan would do it again: not retried.
          if (e instanceof ModelOutputError)
            throw new JobFailure(
              "CONFIGURATION",
              "MODEL_OUTPUT_INVALID",
              JOB_FAILURE_REASONS.MODEL_OUTPUT_INVALID,
              {
                cause: e,
              },
            );
          throw e;
        }
      });

      const out = await timed("stageOut", () =>
        storageStep("stage-out", () => stageOut(results, outDir, prefix)),
      );
      logger.info("results published", {
        files: out.manifest.files.length,
        bytes: out.bytes,
        staleRemoved: out.removed,
        phasesMs,
      });
      return {
        status: "succeeded",
        exitCode: 0,
        files: out.manifest.files.length,
        bytes: out.bytes,
        phasesMs,
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } catch (e) {
    const failure = classifyFailure(e);
    if (failure.retryable && !config.lastAttempt) {
      logger.warn("transient failure; Batch will retry the attempt", {
        exitCode: failure.exitCode,
        phasesMs,
        ...describeErrorForLog(e),
      });
      return { status: "failed", exitCode: failure.exitCode, retryable: true, codes: failure.codes };
    }
    if (failure.retryable) {
      // The last attempt: Batch retries nothing after it, so the study gets the reason (if S3 takes it now).
      logger.error("transient failure on the last attempt; the job fails", {
        exitCode: failure.exitCode,
        phasesMs,
        ...describeErrorForLog(e),
      });
      const code = "STORAGE_UNAVAILABLE";
      await publishFailure(
        results,
        prefix,
        {
          schemaVersion: 1,
          kind: "TRANSIENT",
          exitCode: failure.exitCode,
          reasons: [{ code, message: JOB_FAILURE_REASONS[code] }],
        },
        logger,
      );
      return { status: "failed", exitCode: failure.exitCode, retryable: true, codes: [code] };
    }
    logger.error("job failed permanently", {
      exitCode: failure.exitCode,
      kind: failure.report.kind,
      codes: failure.codes,
      phasesMs,
      ...(failure.report.kind === "INTERNAL" ? describeErrorForLog(e) : {}),
    });
    await publishFailure(results, prefix, failure.report, logger);
    return { status: "failed", exitCode: failure.exitCode, retryable: false, codes: failure.codes };
  }
}

/** Best effort: the exit code already tells Batch; failure.json only adds the reason for the status API. */
async function publishFailure(
  store: ReturnType<StoreFactory>,
  prefix: string,
  report: Parameters<typeof writeFailureReport>[2],
  logger: JobLogger,
): Promise<void> {
  try {
    await writeFailureReport(store, prefix, report);
  } catch (e) {
    logger.warn("could not write failure.json", describeErrorForLog(e));
  }
}

/**
 * A configuration that did not parse: permanent. When the job parameters themselves were sound, the reason
 * also goes to failure.json so the study shows it; the issues name variables, never their values.
 */
export async function reportConfigError(
  error: JobConfigError,
  deps: Pick<JobDeps, "storeFor" | "logger">,
): Promise<JobOutcome> {
  const failure = classifyFailure(
    new JobFailure(
      "CONFIGURATION",
      "INVALID_JOB_PARAMETERS",
      `Invalid job configuration: ${error.issues.join("; ")}`,
    ),
  );
  deps.logger.error("invalid job configuration", { exitCode: failure.exitCode, issues: error.issues });
  if (!failure.retryable && error.params !== undefined)
    await publishFailure(
      deps.storeFor(error.params.resultsBucket),
      error.params.resultsPrefix,
      failure.report,
      deps.logger,
    );
  return { status: "failed", exitCode: failure.exitCode, retryable: false, codes: failure.codes };
}
