/**
 * UIDs never leave the system in clear text (DESIGN.md §3): they appear as salted hashes only.
 * The salt is per deployment (DEEPSC_UID_SALT); the default keeps hashes stable for local runs.
 */
import { createHash } from "node:crypto";
import { fileRef, fileRefPosition } from "./contracts/file-ref.js";

const DEFAULT_SALT = "deepsc-local";
/** Shortest deployment salt accepted (the job's and the ingest Lambda's): a short one makes hashes guessable. */
export const MIN_UID_SALT_CHARS = 16;

export function hashUid(
  uid: string | undefined,
  salt: string = process.env.DEEPSC_UID_SALT ?? DEFAULT_SALT,
): string {
  if (!uid) return "none";
  return createHash("sha256").update(salt).update("\0").update(uid).digest("hex").slice(0, 16);
}

/** Standard UIDs (transfer syntaxes, SOP classes) are not about anyone; they stay readable in messages. */
const DICOM_STANDARD_ROOT = "1.2.840.10008.";
/**
 * A UID-looking token: dotted numeric components, not continuing a number ("CT.<UID>", as DCMTK's storescp
 * names files, is matched after the dot); kept below if fewer than four components and under 12 chars.
 */
const UID_TOKEN = /(?<!\d)(?<!\d\.)\d+(?:\.\d+){2,}(?![\d.]*\d)/g;
/** "2.25.<UUID as integer>" has three components but is long; "1.25.3" is neither. */
const isUidLike = (token: string) => token.length >= 12 || token.split(".").length >= 4;

/**
 * Text that may carry instance UIDs (file names such as `<SOPInstanceUID>.dcm`, entry paths in messages)
 * with each such UID replaced by `uid-<salted hash>`; standard UIDs are kept. Everything a report says
 * about the input's files passes through here before it is stored, logged or returned.
 */
export function redactUids(text: string, salt?: string): string {
  return text.replace(UID_TOKEN, (uid) =>
    !isUidLike(uid) || uid.startsWith(DICOM_STANDARD_ROOT) ? uid : `uid-${hashUid(uid, salt).slice(0, 12)}`,
  );
}

/**
 * Reasons or warnings whose `file` (a path among `sortedPaths`, the input's entries) becomes its position
 * (core/contracts/file-ref.ts): reports never carry paths. A `file` that already is a reference stays; any
 * other value is dropped rather than reported, since it could be a name from outside the listing.
 */
export function pseudonymiseFiles<T extends { file?: string }>(
  items: T[],
  sortedPaths: readonly string[],
): T[] {
  const position = new Map(sortedPaths.map((p, i) => [p, i + 1]));
  return items.map((x) => {
    if (x.file === undefined) return x;
    const { file, ...rest } = x;
    // A listed path first: a file may itself be named like a reference ("#3").
    const n = position.get(file);
    if (n !== undefined) return { ...rest, file: fileRef(n) } as T;
    return (fileRefPosition(file) !== undefined ? x : rest) as T;
  });
}
