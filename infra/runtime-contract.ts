/**
 * The names the infrastructure hands to running code: Lambda and Batch environment variables, the studies
 * table's key schema, the S3 prefixes and the metric namespace. Handlers and the gpu-job read these names;
 * the CDK constructs set them. This module imports nothing (no aws-cdk-lib), so a Lambda bundle or the
 * container can import it without pulling CDK in.
 */

/** S3 key prefixes of the upload protocol (DESIGN.md §3). Both end with "/" so they can be used as-is in IAM patterns. */
export const INCOMING_PREFIX = "incoming/";
export const RESULTS_PREFIX = "results/";

/**
 * The key endings (any case) of every object that can start a study (core/studies/keys.ts triggerOf, whose
 * test holds the two together): the ingest rule lets only these through to the Lambda, so the slices of a
 * DICOM upload, hundreds at once, do not each invoke it (and throttle it against its reserved concurrency)
 * only to be ignored.
 */
export const TRIGGER_KEY_SUFFIXES: readonly string[] = [".zip", ".nii", ".nii.gz", "/manifest.json"];

/** The studies table: one item per study (pk = studyId) plus a tenant index for listing. */
export const STUDIES_TABLE_SCHEMA = {
  partitionKey: "pk",
  sortKey: "sk",
  /** GSI for `GET /v1/studies`: all studies of one tenant, newest first by `createdAt` (ISO-8601 string). */
  tenantIndexName: "byTenant",
  tenantIndexPartitionKey: "tenant",
  tenantIndexSortKey: "createdAt",
  /** Optional epoch-seconds attribute; DynamoDB deletes expired items (idempotency records, stale claims). */
  timeToLiveAttribute: "expiresAt",
} as const;

/** Environment variables set on every pipeline Lambda. */
export const LAMBDA_ENV = {
  studiesTable: "STUDIES_TABLE_NAME",
  ingestBucket: "INGEST_BUCKET_NAME",
  resultsBucket: "RESULTS_BUCKET_NAME",
  modelUri: "DEEPSC_MODEL_URI",
} as const;

/** Extra environment of the ingest Lambda: where SubmitJob goes. */
export const INGEST_ENV = {
  jobQueueArn: "JOB_QUEUE_ARN",
  jobDefinitionArn: "JOB_DEFINITION_ARN",
  /** The UidSalt secret (the job's DEEPSC_UID_SALT), read once per execution environment. */
  uidSaltSecretArn: "UID_SALT_SECRET_ARN",
  /** Seconds a study's claim stays exclusive (ingestLeaseSeconds). */
  leaseSeconds: "INGEST_LEASE_SECONDS",
} as const;

/**
 * Lambda retries a failed asynchronous invocation twice, about 1 and then 2 minutes apart
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), so the last retry
 * comes at least 180 s after the failed attempt began.
 */
export const LAMBDA_ASYNC_LAST_RETRY_AFTER_S = 180;
/**
 * The margin on both sides of a claim's lease: it outlasts the ingest function's timeout by this much (a
 * live holder never loses its claim) and ends at least this long before Lambda's last retry.
 */
export const INGEST_LEASE_MARGIN_S = 30;
/** The ingest function's timeout (header-only validation of a large upload plus SubmitJob). */
export const INGEST_TIMEOUT_S = 120;
/** The longest lease that still ends a margin before Lambda's last retry. */
export const MAX_INGEST_LEASE_S = LAMBDA_ASYNC_LAST_RETRY_AFTER_S - INGEST_LEASE_MARGIN_S;

/**
 * The ingest claim's lease for a function timeout. It must outlast the timeout (a live holder keeps its
 * claim) and end before Lambda's last retry of an invocation that crashed or timed out while holding it
 * (that retry takes the claim over and finishes the study; with a longer lease the study would stay
 * VALIDATING for good), with a margin each side. Hence the timeout may be at most 120 s.
 */
export function ingestLeaseSeconds(timeoutSeconds: number): number {
  const lease = timeoutSeconds + INGEST_LEASE_MARGIN_S;
  if (lease > MAX_INGEST_LEASE_S)
    throw new RangeError(
      `ingest timeout ${timeoutSeconds} s is too long: its claim lease (${lease} s) would end less than ${INGEST_LEASE_MARGIN_S} s before Lambda's last retry (${LAMBDA_ASYNC_LAST_RETRY_AFTER_S} s after a failure), and a crashed invocation could leave its study VALIDATING; keep the timeout at or below ${MAX_INGEST_LEASE_S - INGEST_LEASE_MARGIN_S} s`,
    );
  return lease;
}

/** Extra environment of the status API Lambda. */
export const STATUS_API_ENV = {
  /**
   * Tenant roles are named `${prefix}${tenantId}`; the handler resolves the tenant from the caller's
   * `assumed-role/<name>/<session>` ARN by stripping this prefix (and checks the account is its own).
   */
  tenantRolePrefix: "TENANT_ROLE_PREFIX",
} as const;

/** Environment of the Batch container, set by the job definition (per-job values come from SubmitJob overrides). */
export const JOB_ENV = {
  ingestBucket: "INGEST_BUCKET_NAME",
  resultsBucket: "RESULTS_BUCKET_NAME",
  modelUri: "DEEPSC_MODEL_URI",
  /** `cuda` in the Batch job; the same code runs `cpu` locally. */
  executionProvider: "DEEPSC_EXECUTION_PROVIDER",
  /** Per-deployment salt for hashed DICOM UIDs (core/privacy.ts), injected from Secrets Manager. */
  uidSalt: "DEEPSC_UID_SALT",
  /** Writable scratch directory (the root filesystem is read-only). */
  scratchDir: "TMPDIR",
  /**
   * Attempts the job definition gives a job in all: with Batch's AWS_BATCH_JOB_ATTEMPT the job knows its last
   * one, whose transient failure Batch will not retry and so gets a failure.json.
   */
  attempts: "DEEPSC_JOB_ATTEMPTS",
} as const;

/** `DEEPSC_MODEL_URI` value meaning "the model baked into the container image". */
export const MODEL_IN_IMAGE = "image";

/** A model's manifest in S3: bucket (group 1) and key (group 2) of an s3://bucket/…/model.json. */
export const MODEL_S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+\.json)$/;

/** What DEEPSC_MODEL_URI may hold, for the job and for the CDK config alike. */
export function isModelUri(u: string): boolean {
  return u === MODEL_IN_IMAGE || MODEL_S3_URI.test(u);
}

/** CloudWatch namespace of the Powertools metrics the handlers emit (POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = "DeepSC";
/** The ingest Lambda's Powertools service name (the `service` dimension of its metrics). */
export const INGEST_SERVICE_NAME = "deepsc-ingest";
/** Its count of events thrown back to be retried because another invocation holds the study's claim. */
export const INGEST_CLAIM_BUSY_METRIC = "ClaimBusy";
