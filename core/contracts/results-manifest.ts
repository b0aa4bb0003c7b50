/**
 * The files a finished or failed study leaves in `results/{tenant}/{studyId}/` (DESIGN.md §3, "Outputs"):
 *
 *   - `manifest.json` — written LAST by the job: every other output with its size and sha256. No manifest,
 *     no result: job-events believes SUCCEEDED only when it exists, and the status API presigns exactly the
 *     files it lists.
 *   - `failure.json`  — written by the job when it stops for good (rejected input, bad parameters, a model
 *     that fails its checksum, an internal error), so the study's status can say why. Never retried.
 *
 * Both carry no patient data: relative paths, checksums, sizes, model identity, reason codes and messages
 * built from validation rules (the same messages ingest rejections carry).
 *
 * core/contracts/study.ts keeps a deliberately loose reader of the manifest for the status API; every
 * manifest this schema accepts also passes that reader.
 */
import * as z from "zod";
import { relativeKeyProblem } from "./upload-manifest.js";

export const RESULTS_MANIFEST_SCHEMA_VERSION = 1;
/** Same name as core/studies/keys.ts RESULTS_MANIFEST_NAME (kept there for the key layout). */
export const RESULTS_MANIFEST_FILE = "manifest.json";
export const FAILURE_REPORT_NAME = "failure.json";

const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex characters");

/** A path relative to the results folder, checked like upload keys so a manifest cannot point elsewhere. */
const ResultPathSchema = z.string().superRefine((p, ctx) => {
  const problem = relativeKeyProblem(p);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `path ${problem}` });
});

export const ResultFileEntrySchema = z.object({
  /** POSIX path relative to the results folder (`diagnosis.json`, `images/axial-012.png`). */
  path: ResultPathSchema,
  sha256: Sha256HexSchema,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** MIME type the object is stored with (so presigned downloads open in the right viewer). */
  contentType: z.string().min(1).optional(),
});
export type ResultFileEntry = z.infer<typeof ResultFileEntrySchema>;

/** Which weights produced the results (model.json's identity, not a path). */
export const ResultsModelRefSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  sha256: Sha256HexSchema,
  /** `cpu` or `cuda`: the ONNX Runtime execution provider that ran it. */
  executionProvider: z.string().min(1).optional(),
});
export type ResultsModelRef = z.infer<typeof ResultsModelRefSchema>;

/**
 * Stage times diagnosis.json cannot hold: the reports show diagnosis.json (its timings included), so they
 * are written after it, and only the manifest, written last, can say what they cost.
 */
export const ResultsTimingsSchema = z.object({
  /** Key images, report.html, report.pdf and lesions.seg.dcm, in milliseconds. */
  reportsMs: z.number().nonnegative(),
  /** The whole analysis up to this manifest (diagnosis.json's totalMs plus the reports). */
  totalMs: z.number().nonnegative(),
});
export type ResultsTimings = z.infer<typeof ResultsTimingsSchema>;

export const ResultsManifestSchema = z
  .object({
    schemaVersion: z.literal(RESULTS_MANIFEST_SCHEMA_VERSION),
    /** Every output except manifest.json itself, sorted by path (UTF-8 byte order). */
    files: z.array(ResultFileEntrySchema),
    model: ResultsModelRefSchema.optional(),
    timings: ResultsTimingsSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.files.forEach((f, i) => {
      if (f.path === RESULTS_MANIFEST_FILE)
        ctx.addIssue({
          code: "custom",
          path: ["files", i, "path"],
          message: "the manifest cannot list itself",
        });
      if (seen.has(f.path))
        ctx.addIssue({ code: "custom", path: ["files", i, "path"], message: `duplicate path ${f.path}` });
      seen.add(f.path);
    });
  });
export type ResultsManifest = z.infer<typeof ResultsManifestSchema>;

// ---------------------------------------------------------------------------------------------------------
// failure.json

/**
 * Codes of the job's own permanent failures (input rejections use core/contracts/reason-codes.ts). Stable:
 * never rename, add at the end. job-events puts them on the study as they are (StudyReasonSchema).
 */
export const JOB_FAILURE_REASONS = {
  INVALID_JOB_PARAMETERS:
    "The job's parameters or environment are missing or invalid (a deployment problem).",
  INPUT_MISSING: "The upload the job was started for no longer exists in the ingest bucket.",
  INPUT_CHANGED: "An uploaded file no longer matches the size or sha256 its upload manifest declared.",
  MODEL_INVALID: "The model could not be fetched, or model.json is invalid.",
  MODEL_CHECKSUM_MISMATCH: "The model weights do not match the sha256 in model.json; nothing was analysed.",
  MODEL_OUTPUT_INVALID:
    "The model produced unusable outputs (NaN or infinity, or the wrong shape); nothing was published.",
  INTERNAL_ERROR: "The analysis failed unexpectedly; the job log has the details.",
  STORAGE_UNAVAILABLE:
    "S3 or the network failed on the job's last attempt (throttling, a service or network outage), which Batch does not retry; nothing was analysed. Ask the operator to check the deployment, then send the series again under a new upload id.",
} as const;
export type JobFailureReason = keyof typeof JOB_FAILURE_REASONS;
export const JobFailureReasonSchema = z.enum(
  Object.keys(JOB_FAILURE_REASONS) as [JobFailureReason, ...JobFailureReason[]],
);

/** Why the job stopped, in the exit-code classes of gpu-job/job/exit-codes.ts. */
export const FAILURE_KINDS = ["INPUT_REJECTED", "CONFIGURATION", "INTERNAL", "TRANSIENT"] as const;

/** Messages are short by construction; the cap keeps a hostile input from inflating the status item. */
const MAX_MESSAGE_CHARS = 1000;

export const FailureReasonSchema = z.object({
  /** A ReasonCode (input rejected) or a JobFailureReason. */
  code: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/),
  message: z.string().max(MAX_MESSAGE_CHARS),
  /** A position reference (file-ref.ts); a job of an older version wrote paths (job-events drops them). */
  file: z.string().optional(),
  slice: z.number().int().nonnegative().optional(),
});
export type FailureReason = z.infer<typeof FailureReasonSchema>;

export const FailureReportSchema = z.object({
  schemaVersion: z.literal(1),
  kind: z.enum(FAILURE_KINDS),
  /** The container's exit code (gpu-job/job/exit-codes.ts). */
  exitCode: z.number().int().min(0).max(255),
  reasons: z.array(FailureReasonSchema).min(1).max(20),
});
export type FailureReport = z.infer<typeof FailureReportSchema>;
