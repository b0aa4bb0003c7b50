/**
 * The job's configuration, read once from the container environment: the per-job parameters the ingest
 * Lambda passes (core/contracts/study.ts JOB_PARAMETER_ENV) and the deployment's settings from the job
 * definition (infra/runtime-contract.ts JOB_ENV). One zod schema per source; the cross-checks below refuse a
 * job that would read another tenant's upload or write outside its own results folder, whatever SubmitJob
 * was given.
 */
import os from "node:os";
import * as z from "zod";
import { JOB_PARAMETER_ENV, type JobParameters, JobParametersSchema } from "../../core/contracts/study.js";
import { MIN_UID_SALT_CHARS } from "../../core/privacy.js";
import { parseIncomingKey, resultsPrefix } from "../../core/studies/keys.js";
import { isModelUri, JOB_ENV, MODEL_IN_IMAGE, MODEL_S3_URI } from "../../infra/runtime-contract.js";

/**
 * Optional endpoint of an S3-compatible server (the local stack, tests). Unset on AWS, where the SDK's
 * regional endpoint (through the VPC gateway endpoint) is right.
 */
export const S3_ENDPOINT_ENV = "DEEPSC_S3_ENDPOINT";

export type ModelLocation = { kind: "image" } | { kind: "s3"; bucket: string; key: string };

export interface JobConfig {
  params: JobParameters;
  model: ModelLocation;
  executionProvider: "cpu" | "cuda";
  uidSalt: string;
  /** Writable scratch directory (the root filesystem is read-only in Batch). */
  scratchDir: string;
  s3Endpoint: string | undefined;
  /**
   * This is the job's last attempt (AWS_BATCH_JOB_ATTEMPT has reached DEEPSC_JOB_ATTEMPTS): Batch retries
   * nothing after it. False when either is unknown.
   */
  lastAttempt: boolean;
}

/** Missing or invalid configuration: permanent (exit 78); `issues` name environment variables, never values. */
export class JobConfigError extends Error {
  override readonly name = "JobConfigError";
  constructor(
    readonly issues: string[],
    /** Set when the job parameters themselves parsed, so failure.json can still be written. */
    readonly params: JobParameters | undefined,
  ) {
    super(`invalid job configuration: ${issues.join("; ")}`);
  }
}

const DeploymentEnvSchema = z.object({
  [JOB_ENV.modelUri]: z
    .string()
    .default(MODEL_IN_IMAGE)
    .refine(isModelUri, {
      message: `must be "${MODEL_IN_IMAGE}" or s3://bucket/key/model.json`,
    }),
  [JOB_ENV.executionProvider]: z.enum(["cpu", "cuda"]).default("cuda"),
  [JOB_ENV.uidSalt]: z.string().min(MIN_UID_SALT_CHARS, `must be at least ${MIN_UID_SALT_CHARS} characters`),
  [JOB_ENV.scratchDir]: z.string().startsWith("/", "must be an absolute path").optional(),
  [JOB_ENV.ingestBucket]: z.string().min(1).optional(),
  [JOB_ENV.resultsBucket]: z.string().min(1).optional(),
  [S3_ENDPOINT_ENV]: z.url().optional(),
});

function issuesOf(
  error: z.ZodError,
  env: NodeJS.ProcessEnv,
  nameOf: (path: PropertyKey | undefined) => string,
): string[] {
  return error.issues.map((i) => {
    const name = nameOf(i.path[0]);
    const v = env[name];
    return `${name}: ${v === undefined || v === "" ? "is not set" : i.message}`;
  });
}

/** Empty strings count as unset (Batch sets a variable to "" when an override has no value). */
function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== "") out[n] = v;
  }
  return out;
}

/** The cross-checks between parameters and deployment settings; each line names the variables involved. */
function crossCheck(p: JobParameters, ingestBucket?: string, resultsBucket?: string): string[] {
  const issues: string[] = [];
  const E = JOB_PARAMETER_ENV;
  if (p.resultsPrefix !== resultsPrefix(p.tenant, p.studyId))
    issues.push(`${E.resultsPrefix}: must be results/{${E.tenant}}/{${E.studyId}}/`);
  const incoming = parseIncomingKey(p.inputKey);
  if (incoming === undefined || incoming.trigger === undefined)
    issues.push(
      `${E.inputKey}: not an upload key (incoming/{tenant}/{uploadId}/ then a .zip, .nii(.gz) or manifest.json at that root)`,
    );
  else if (incoming.tenant !== p.tenant)
    issues.push(`${E.inputKey}: belongs to another tenant than ${E.tenant}`);
  if (ingestBucket !== undefined && p.inputBucket !== ingestBucket)
    issues.push(`${E.inputBucket}: differs from ${JOB_ENV.ingestBucket}`);
  if (resultsBucket !== undefined && p.resultsBucket !== resultsBucket)
    issues.push(`${E.resultsBucket}: differs from ${JOB_ENV.resultsBucket}`);
  return issues;
}

/** Parse the container environment; throws JobConfigError listing every problem at once. */
export function parseJobEnv(env: NodeJS.ProcessEnv): JobConfig {
  const paramNames = Object.keys(JOB_PARAMETER_ENV) as (keyof JobParameters)[];
  const rawParams: Record<string, string | undefined> = {};
  for (const k of paramNames) {
    const v = env[JOB_PARAMETER_ENV[k]];
    if (v !== undefined && v !== "") rawParams[k] = v;
  }
  const params = JobParametersSchema.safeParse(rawParams);
  const deployment = DeploymentEnvSchema.safeParse(pick(env, Object.keys(DeploymentEnvSchema.shape)));

  const issues: string[] = [];
  if (!params.success)
    issues.push(
      ...issuesOf(params.error, env, (k) =>
        typeof k === "string" && k in JOB_PARAMETER_ENV
          ? JOB_PARAMETER_ENV[k as keyof JobParameters]
          : String(k),
      ),
    );
  if (!deployment.success) issues.push(...issuesOf(deployment.error, env, (k) => String(k)));
  // The bucket names come straight from the environment so the checks run even when another setting is bad.
  const buckets = pick(env, [JOB_ENV.ingestBucket, JOB_ENV.resultsBucket]);
  const crossIssues = params.success
    ? crossCheck(params.data, buckets[JOB_ENV.ingestBucket], buckets[JOB_ENV.resultsBucket])
    : [];
  issues.push(...crossIssues);
  if (issues.length > 0 || !params.success || !deployment.success)
    // Parameters that passed every cross-check still tell where failure.json goes.
    throw new JobConfigError(issues, params.success && crossIssues.length === 0 ? params.data : undefined);

  const d = deployment.data;
  const uri = d[JOB_ENV.modelUri];
  const m = MODEL_S3_URI.exec(uri);
  return {
    params: params.data,
    model: m === null ? { kind: "image" } : { kind: "s3", bucket: m[1]!, key: m[2]! },
    executionProvider: d[JOB_ENV.executionProvider],
    uidSalt: d[JOB_ENV.uidSalt],
    scratchDir: d[JOB_ENV.scratchDir] ?? os.tmpdir(),
    s3Endpoint: d[S3_ENDPOINT_ENV],
    lastAttempt: isLastAttempt(env),
  };
}

/** Batch's 1-based attempt number against the job definition's attempts; false when either is not a number. */
function isLastAttempt(env: NodeJS.ProcessEnv): boolean {
  const attempt = Number(env.AWS_BATCH_JOB_ATTEMPT);
  const attempts = Number(env[JOB_ENV.attempts]);
  return Number.isInteger(attempt) && Number.isInteger(attempts) && attempt >= 1 && attempt >= attempts;
}
