/**
 * The S3 key layout of the upload protocol (DESIGN.md §3): `incoming/{tenant}/{uploadId}/...` in the ingest
 * bucket, `results/{tenant}/{studyId}/...` in the results bucket.
 */
import { TenantIdSchema, UploadIdSchema } from "../contracts/study.js";
import { UPLOAD_MANIFEST_NAME } from "../contracts/upload-manifest.js";

/** What the ingest rule lets through (infra/runtime-contract.ts): every key that triggerOf takes must end so. */
export { TRIGGER_KEY_SUFFIXES } from "../../infra/runtime-contract.js";

export const INCOMING_PREFIX = "incoming/";
export const RESULTS_PREFIX = "results/";
export const RESULTS_MANIFEST_NAME = "manifest.json";
/** The name POST /v1/uploads presigns: one zip of the series. */
export const UPLOAD_ZIP_NAME = "series.zip";

/** Which objects say "the series is complete": a zip, a NIfTI volume, or the manifest written last. */
export type UploadTrigger = "zip" | "nifti" | "manifest";

export interface IncomingKey {
  tenant: string;
  uploadId: string;
  /** The key below the upload folder. */
  rest: string;
  /** Undefined for objects that start nothing (DICOM files before the manifest, stray files). */
  trigger: UploadTrigger | undefined;
}

/** Parse an ingest-bucket key; undefined when it is not under `incoming/{tenant}/{uploadId}/`. */
export function parseIncomingKey(key: string): IncomingKey | undefined {
  if (!key.startsWith(INCOMING_PREFIX)) return undefined;
  const parts = key.slice(INCOMING_PREFIX.length).split("/");
  if (parts.length < 3) return undefined;
  const [tenant, uploadId, ...restParts] = parts as [string, string, ...string[]];
  if (!TenantIdSchema.safeParse(tenant).success || !UploadIdSchema.safeParse(uploadId).success)
    return undefined;
  const rest = restParts.join("/");
  if (rest === "" || restParts.some((p) => p === "" || p === "." || p === "..")) return undefined;
  return { tenant, uploadId, rest, trigger: triggerOf(rest) };
}

function triggerOf(rest: string): UploadTrigger | undefined {
  // Every trigger sits at the upload's root (the presigned series.zip / scan.nii.gz, or the manifest, whose
  // keys are relative to its folder): a zip or NIfTI inside a DICOM upload's folders is one of its files, and
  // started a study and a job of its own.
  if (rest.includes("/")) return undefined;
  const lower = rest.toLowerCase();
  if (lower.endsWith(".zip")) return "zip";
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) return "nifti";
  // Any spelling of manifest.json: a "Manifest.json" is refused with a reason (core/input/object-store-source.ts)
  // rather than ignored, which left the client waiting for a study that never came.
  if (lower === UPLOAD_MANIFEST_NAME) return "manifest";
  return undefined;
}

export function uploadKey(tenant: string, uploadId: string, name = UPLOAD_ZIP_NAME): string {
  return `${INCOMING_PREFIX}${tenant}/${uploadId}/${name}`;
}

export function resultsPrefix(tenant: string, studyId: string): string {
  return `${RESULTS_PREFIX}${tenant}/${studyId}/`;
}
