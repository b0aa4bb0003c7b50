/**
 * The study: one validated upload and the job that analyses it (DESIGN.md §3, "Status"). This module is the
 * single source of truth for the studies-table record, the Batch job parameters the ingest Lambda hands to
 * the GPU job, and every payload of the status API (the OpenAPI document is generated from these schemas).
 *
 * Statuses move forward only: RECEIVED -> VALIDATING -> REJECTED | QUEUED -> RUNNING -> SUCCEEDED | FAILED.
 * Because S3 and Batch events arrive at least once and out of order, every write is conditional on a
 * `progress` number that combines the Batch attempt and the status rank (core/studies/transitions.ts).
 */
import * as z from "zod";
import { FileRefSchema, fileRefPosition } from "./file-ref.js";
import { REASON_CODES, ReasonCodeSchema } from "./reason-codes.js";
import { JOB_FAILURE_REASONS, JobFailureReasonSchema } from "./results-manifest.js";
import { relativeKeyProblem } from "./upload-manifest.js";

// ---------------------------------------------------------------------------------------------------------
// Identifiers

/** Tenant ids, as infra/config.ts accepts them (they become IAM role names and S3 prefixes). */
export const TenantIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "tenant id must match [a-z0-9][a-z0-9-]{0,31}");
export type TenantId = z.infer<typeof TenantIdSchema>;

/** Upload ids: chosen by POST /v1/uploads (a UUID) or by the client; safe in S3 keys, URLs and job names. */
export const UploadIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "upload id must match [A-Za-z0-9_-]{1,64}");

/** 128 bits of SHA-256 in hex (core/studies/study-id.ts): deterministic, unguessable across tenants. */
export const StudyIdSchema = z.string().regex(/^[0-9a-f]{32}$/, "study id is 32 lowercase hex characters");
export type StudyId = z.infer<typeof StudyIdSchema>;

// ---------------------------------------------------------------------------------------------------------
// Status

export const STUDY_STATUSES = [
  "RECEIVED",
  "VALIDATING",
  "REJECTED",
  "QUEUED",
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
] as const;
export const StudyStatusSchema = z.enum(STUDY_STATUSES);
export type StudyStatus = z.infer<typeof StudyStatusSchema>;

/**
 * Rank of each status within one attempt. Terminal statuses share the top rank, so none of them can
 * replace another (a late FAILED never overwrites SUCCEEDED, nor the reverse).
 */
export const STATUS_RANK: Readonly<Record<StudyStatus, number>> = {
  RECEIVED: 0,
  VALIDATING: 1,
  QUEUED: 2,
  RUNNING: 3,
  REJECTED: 4,
  SUCCEEDED: 4,
  FAILED: 4,
};
export const TERMINAL_STATUSES: readonly StudyStatus[] = ["REJECTED", "SUCCEEDED", "FAILED"];

/**
 * Codes the pipeline gives a failure after validation when the job left no code of its own (its codes,
 * JOB_FAILURE_REASONS in results-manifest.ts, and input rejections, ReasonCode, are shown as they are).
 */
export const JOB_FAILURE_CODES = {
  JOB_FAILED:
    "The analysis job failed; the message carries Batch's status reason (or an unknown code of the job's).",
  RESULTS_MISSING: "Batch reported success but the results manifest (manifest.json) is missing.",
} as const;
export type JobFailureCode = keyof typeof JOB_FAILURE_CODES;
export const JobFailureCodeSchema = z.enum(
  Object.keys(JOB_FAILURE_CODES) as [JobFailureCode, ...JobFailureCode[]],
);

/** Why a study is REJECTED or FAILED: a stable code and a human message (never patient data). */
export const StudyReasonSchema = z.object({
  code: z.union([ReasonCodeSchema, JobFailureReasonSchema, JobFailureCodeSchema]),
  message: z.string(),
  /** The input's file at fault, by position (file-ref.ts), never by path. */
  file: FileRefSchema.optional(),
  slice: z.number().int().nonnegative().optional(),
});
export type StudyReason = z.infer<typeof StudyReasonSchema>;

/**
 * A reason as a record holds it. Before files were named by position (2026-11-29) `file` held the upload's
 * path and the message often quoted it: currentReason turns such a record into what may be shown.
 */
export const StoredStudyReasonSchema = StudyReasonSchema.extend({ file: z.string().optional() });
export type StoredStudyReason = z.infer<typeof StoredStudyReasonSchema>;

/**
 * A stored reason as it may leave the system: a `file` that is not a position reference marks an older
 * record, whose message may name the file too, so both give way to the code's documented meaning.
 */
export function currentReason(r: StoredStudyReason): StudyReason {
  const { file, ...rest } = r;
  if (file === undefined) return rest;
  if (fileRefPosition(file) !== undefined) return { ...rest, file };
  return { ...rest, message: documentedMeaning(r.code) };
}

function documentedMeaning(code: StudyReason["code"]): string {
  const texts: Record<string, string> = { ...REASON_CODES, ...JOB_FAILURE_REASONS, ...JOB_FAILURE_CODES };
  return texts[code] ?? code;
}

// ---------------------------------------------------------------------------------------------------------
// The studies table (key names: infra/runtime-contract.ts STUDIES_TABLE_SCHEMA; pk = studyId, sk = STUDY_SORT_KEY)

/** The sort key of the study item; the partition may later hold other items (audit events) of the study. */
export const STUDY_SORT_KEY = "STUDY";

export const StudyRecordSchema = z.object({
  studyId: StudyIdSchema,
  tenant: TenantIdSchema,
  uploadId: UploadIdSchema,
  /** The object whose event started the study (zip, NIfTI or manifest.json), in the ingest bucket. */
  inputKey: z.string(),
  status: StudyStatusSchema,
  /** Batch attempt the status belongs to (0 until Batch reports a retried attempt). */
  attempt: z.number().int().nonnegative(),
  /** attempt * 10 + rank: the number every conditional write compares (core/studies/transitions.ts). */
  progress: z.number().int().nonnegative(),
  /** ISO-8601; the tenant index sorts by it. */
  createdAt: z.string(),
  updatedAt: z.string(),
  reasons: z.array(StoredStudyReasonSchema).default([]),
  /** Bytes validation read from S3 (header-only: a small fraction of the upload). */
  bytesRead: z.number().int().nonnegative().optional(),
  bytesTotal: z.number().int().nonnegative().optional(),
  /** Ingest claim: who validates/submits now, until when, and whether SubmitJob already succeeded. */
  claimToken: z.string().optional(),
  leaseUntil: z.number().int().nonnegative().optional(),
  submitted: z.boolean().default(false),
  jobName: z.string().optional(),
  jobId: z.string().optional(),
  modelUri: z.string().optional(),
});
export type StudyRecord = z.infer<typeof StudyRecordSchema>;

// ---------------------------------------------------------------------------------------------------------
// Batch job parameters (ingest Lambda -> GPU job)

/**
 * What the GPU job needs to find its input and write its results. Passed both as Batch `parameters`
 * (for `Ref::` substitution in the command) and as container environment (JOB_PARAMETER_ENV).
 */
export const JobParametersSchema = z.object({
  tenant: TenantIdSchema,
  studyId: StudyIdSchema,
  inputBucket: z.string().min(1),
  inputKey: z.string().min(1),
  resultsBucket: z.string().min(1),
  /** `results/{tenant}/{studyId}/`, ending with "/". */
  resultsPrefix: z.string().regex(/^results\/[a-z0-9-]+\/[0-9a-f]{32}\/$/),
  /**
   * The ETag (without quotes) of the zip or NIfTI the ingest validated: the job refuses anything else under
   * the key (INPUT_CHANGED), as an upload overwritten in place would be.
   */
  inputEtag: z.string().min(1).optional(),
  /**
   * For a DICOM upload, uploadManifestDigest of the manifest the ingest validated, in place of its ETag: the
   * job refuses a manifest that lists other files, and accepts the same list sent again.
   */
  inputManifestDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type JobParameters = z.infer<typeof JobParametersSchema>;

/** Container environment names of the job parameters (set per job through containerOverrides). */
export const JOB_PARAMETER_ENV: Readonly<Record<keyof JobParameters, string>> = {
  tenant: "DEEPSC_TENANT",
  studyId: "DEEPSC_STUDY_ID",
  inputBucket: "DEEPSC_INPUT_BUCKET",
  inputKey: "DEEPSC_INPUT_KEY",
  resultsBucket: "DEEPSC_RESULTS_BUCKET",
  resultsPrefix: "DEEPSC_RESULTS_PREFIX",
  inputEtag: "DEEPSC_INPUT_ETAG",
  inputManifestDigest: "DEEPSC_INPUT_MANIFEST_DIGEST",
};

/**
 * The results manifest the job writes last (`results/{tenant}/{studyId}/manifest.json`). Only the part
 * the status API needs is checked: the listed files (relative paths) with their checksums.
 */
export const ResultsManifestSchema = z.looseObject({
  files: z.array(
    z.looseObject({
      // Relative to the results folder; checked like upload keys so a manifest cannot point elsewhere.
      path: z.string().superRefine((key, ctx) => {
        const problem = relativeKeyProblem(key);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: `path ${problem}` });
      }),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().nonnegative().optional(),
    }),
  ),
});
export type ResultsManifest = z.infer<typeof ResultsManifestSchema>;

// ---------------------------------------------------------------------------------------------------------
// Status API payloads (named in the OpenAPI document by lambdas/status-api/openapi.ts)

/** Presigned URLs live at most 15 minutes (DESIGN.md §3). */
export const MAX_PRESIGN_SECONDS = 900;

export const ResultFileSchema = z.object({
  path: z.string().meta({ description: "Path relative to the study's results folder" }),
  sha256: z.string(),
  size: z.number().int().nonnegative().optional(),
  url: z.string().meta({ description: "Presigned GET URL" }),
  expiresAt: z.string().meta({ description: "ISO-8601 time after which the URL stops working" }),
});

export const StudySchema = z.object({
  studyId: StudyIdSchema,
  uploadId: UploadIdSchema,
  status: StudyStatusSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  reasons: z.array(StudyReasonSchema),
  /** Present for SUCCEEDED studies only. */
  results: z.array(ResultFileSchema).optional(),
});
export type StudyView = z.infer<typeof StudySchema>;

export const StudyListSchema = z.object({
  items: z.array(StudySchema.omit({ results: true })),
  /** Opaque; pass back as `nextToken` for the next page. Absent on the last page. */
  nextToken: z.string().optional(),
});
export type StudyList = z.infer<typeof StudyListSchema>;

export const ListStudiesQuerySchema = z.object({
  status: StudyStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  nextToken: z.string().max(2048).optional(),
});
export type ListStudiesQuery = z.infer<typeof ListStudiesQuerySchema>;

/**
 * The objects POST /v1/uploads presigns: each is a whole study by itself (DESIGN.md §3). A DICOM upload is
 * many files and its manifest.json, put with the tenant role's own credentials under the same folder.
 */
export const UPLOAD_FILE_NAMES = ["series.zip", "scan.nii", "scan.nii.gz"] as const;
/** S3 takes at most 5 GiB in one PUT, which is what a presigned URL is. */
export const MAX_PRESIGNED_PUT_BYTES = 5 * 1024 ** 3;
export const CreateUploadRequestSchema = z.strictObject({
  /** The object the presigned URL writes: a zipped DICOM series or a NIfTI volume. Default series.zip. */
  file: z
    .enum(UPLOAD_FILE_NAMES)
    .optional()
    .describe("The object to upload: a zipped DICOM series or a NIfTI volume (default series.zip)"),
  /** The object's size: signed into the URL, so S3 refuses a body of any other length. */
  bytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_PRESIGNED_PUT_BYTES)
    .optional()
    .describe(
      "The object's size in bytes; the URL then takes a body of exactly this length (S3 answers 403 otherwise)",
    ),
  /** The object's SHA-256 (hex): signed into the URL, so S3 refuses any other bytes. */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional()
    .describe(
      "The object's SHA-256 (64 lower-case hex digits); the URL then takes these bytes only (S3 answers 400 BadDigest otherwise)",
    ),
});
export type CreateUploadRequest = z.infer<typeof CreateUploadRequestSchema>;

export const CreateUploadResponseSchema = z.object({
  uploadId: UploadIdSchema,
  /** The object key the URL writes; the upload protocol's other shapes go under the same folder. */
  key: z.string(),
  method: z.literal("PUT"),
  url: z.string(),
  /** Headers the PUT must carry as given: those the URL signs (Content-Length, x-amz-checksum-sha256). */
  // Default {}: an API from before the field signed only the host.
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe("Headers to send with the PUT exactly as given: the URL's signature covers them"),
  expiresAt: z.string(),
});
export type CreateUploadResponse = z.infer<typeof CreateUploadResponseSchema>;

/**
 * RFC 9457 problem details; served as application/problem+json. `status` repeats the HTTP status: always
 * there in the API's own answers and API Gateway's documented errors, absent only from API Gateway's
 * fallback for an error type it adds later (RFC 9457: the member is advisory).
 */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599).optional(),
  detail: z.string(),
  instance: z.string().optional(),
  /** API Gateway's response type (ACCESS_DENIED, THROTTLED, …) on errors API Gateway raises itself. */
  code: z.string().optional(),
  requestId: z.string().optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;
