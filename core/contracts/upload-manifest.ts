/**
 * The upload manifest: the "series complete" signal of the S3 upload protocol (DESIGN.md §3). A client
 * uploads DICOM files under `incoming/{tenant}/{uploadId}/` and writes `manifest.json` last; the ingest
 * Lambda validates exactly the files it lists. Keys are relative to the manifest's own folder, so a manifest
 * can never point at another upload or another tenant's objects.
 */
import { createHash } from "node:crypto";
import * as z from "zod";

export const UPLOAD_MANIFEST_SCHEMA_VERSION = "1.0";
/** The manifest's file name; an object with this base name is read as a manifest. */
export const UPLOAD_MANIFEST_NAME = "manifest.json";
/**
 * What a client does after its manifest upload was rejected for the bucket's state (files missing, of
 * another size, or changing): an upload's study is decided once (the same files re-sent are the same,
 * rejected, study), so the series goes again under a new upload id.
 */
export const RESEND_ADVICE = `Upload every file, then ${UPLOAD_MANIFEST_NAME} last, under a new upload id (POST /v1/uploads): a study is not validated twice.`;

/** S3 keys are at most 1024 bytes; a relative key can only be shorter. */
const MAX_KEY_BYTES = 1024;
/** Hard ceiling independent of InputLimits, so a hostile manifest cannot make the parser allocate unboundedly. */
export const MAX_MANIFEST_FILES = 100_000;

/** Why a relative key is unacceptable, or undefined when it is fine. Shared with the object-store input. */
export function relativeKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "is empty";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes("\0")) return "contains a NUL character";
  if (key.includes("\\")) return "contains a backslash";
  if (key.startsWith("/") || /^[A-Za-z]:/.test(key)) return "is absolute";
  const segments = key.split("/");
  if (segments.includes("..")) return "contains a '..' segment";
  if (segments.some((s) => s === "" || s === ".")) return "contains an empty or '.' segment";
  // The job keeps the upload as files named by these segments; no file system names one longer.
  if (segments.some((s) => Buffer.byteLength(s, "utf8") > MAX_SEGMENT_BYTES))
    return `has a path segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  return undefined;
}

/** A file name's limit on the file systems the job runs on (ext4, xfs). */
const MAX_SEGMENT_BYTES = 255;

const RelativeKeySchema = z.string().superRefine((key, ctx) => {
  const problem = relativeKeyProblem(key);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `key ${problem}` });
});

export const UploadManifestFileSchema = z.object({
  /** Object key relative to the folder that holds manifest.json, POSIX separators. */
  key: RelativeKeySchema,
  /** Size in bytes; the ingest Lambda checks it against the stored object. */
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Hex SHA-256 of the object's bytes (feeds the deterministic studyId). */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "sha256 must be 64 hexadecimal characters")
    .transform((s) => s.toLowerCase()),
});
export type UploadManifestFile = z.infer<typeof UploadManifestFileSchema>;

export const UploadManifestSchema = z
  .object({
    schemaVersion: z.literal(UPLOAD_MANIFEST_SCHEMA_VERSION),
    files: z.array(UploadManifestFileSchema).max(MAX_MANIFEST_FILES),
  })
  .superRefine((m, ctx) => {
    // A key listed twice would make the series ambiguous (two sizes or checksums for one object).
    const seen = new Set<string>();
    m.files.forEach((f, i) => {
      if (seen.has(f.key))
        ctx.addIssue({ code: "custom", path: ["files", i, "key"], message: "duplicate key" });
      seen.add(f.key);
    });
    // "a" and "a/b" are two objects to S3, but a file and a folder of one name to the job's local copy.
    m.files.forEach((f, i) => {
      const segments = f.key.split("/");
      for (let n = 1; n < segments.length; n++)
        if (seen.has(segments.slice(0, n).join("/"))) {
          ctx.addIssue({
            code: "custom",
            path: ["files", i, "key"],
            message: "lies in a folder that is also listed as a file",
          });
          break;
        }
    });
  });
export type UploadManifest = z.infer<typeof UploadManifestSchema>;

/**
 * What a manifest lists, as one sha256: over its files' "key size sha256" lines in key order. The same files
 * sent again in another manifest (a client's retry, other formatting) have another ETag but this digest; the
 * ingest gives it to the job, which refuses a manifest listing anything else (INPUT_CHANGED).
 */
export function uploadManifestDigest(m: UploadManifest): string {
  const lines = m.files.map((f) => `${f.key} ${f.size} ${f.sha256.toLowerCase()}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/** One line per issue (at most `max`), for reason messages that must stay short. */
export function summariseZodIssues(error: z.ZodError, max = 3): string {
  const lines = error.issues
    .slice(0, max)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`);
  const more = error.issues.length - max;
  return more > 0 ? `${lines.join("; ")}; and ${more} more` : lines.join("; ");
}
