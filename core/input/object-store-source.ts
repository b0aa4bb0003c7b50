/**
 * An upload in the object store as an input (DESIGN.md §3, upload protocol). The key the S3 event names
 * decides the shape:
 *   - `….zip`                a zip of a series, read by byte ranges (central directory + what entries need);
 *   - `….nii` / `….nii.gz`   one NIfTI volume, read by byte ranges;
 *   - `…/manifest.json`      the "series complete" signal: the files it lists, relative to its folder.
 * Every byte fetched goes through a counting decorator so the ingest Lambda can report bytesRead.
 */
import { posix } from "node:path";
import {
  RESEND_ADVICE,
  summariseZodIssues,
  UPLOAD_MANIFEST_NAME,
  type UploadManifest,
  UploadManifestSchema,
} from "../contracts/upload-manifest.js";
import { reject } from "../errors.js";
import { ObjectChangedError, type ObjectInfo, type ObjectStore } from "../ports/object-store.js";
import { CountingObjectStore } from "./counting-store.js";
import { clampRange } from "./file-source.js";
import { isIgnoredSegment } from "./folder-source.js";
import { DEFAULT_LIMITS, type InputEntry, type InputLimits, type InputSource } from "./source.js";
import { openZip, type RandomAccess } from "./zip-source.js";

/** A manifest is a few hundred bytes per file; anything bigger than this is not a manifest. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** Refuse an upload manifest of `size` bytes before reading it (TOO_LARGE). */
export function checkUploadManifestSize(size: number): void {
  if (size > MAX_MANIFEST_BYTES)
    reject("TOO_LARGE", `${UPLOAD_MANIFEST_NAME} is ${size} bytes; the limit is ${MAX_MANIFEST_BYTES}.`);
}

/**
 * An upload manifest's bytes -> the validated manifest, or UNSUPPORTED_FORMAT. Shared by the ingest
 * Lambda's validation (here) and the Batch job's stage-in, so both accept exactly the same manifests.
 */
export function parseUploadManifest(bytes: Uint8Array): UploadManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    reject("UNSUPPORTED_FORMAT", `${UPLOAD_MANIFEST_NAME} is not valid UTF-8 JSON.`);
  }
  const parsed = UploadManifestSchema.safeParse(json);
  if (!parsed.success)
    reject(
      "UNSUPPORTED_FORMAT",
      `${UPLOAD_MANIFEST_NAME} does not follow the upload manifest schema: ${summariseZodIssues(parsed.error)}.`,
    );
  return parsed.data;
}
/** How many offending files a reason message lists before "and N more". */
const NAMES_IN_MESSAGE = 5;

/**
 * Reads of the upload's own object (the zip or NIfTI) pinned to the version the event named: a replaced
 * upload is not validated as the study of an older event (whose ETag named the version); the newer version's
 * event starts its own study.
 */
async function readPinned<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof ObjectChangedError)) throw e;
    reject(
      "UPLOAD_CHANGED",
      "The upload was replaced while it was being validated; its new version is validated as a study of its own.",
    );
  }
}

/** RandomAccess over one object, every read a ranged GET of one version through the counting store. */
class ObjectRandomAccess implements RandomAccess {
  constructor(
    private readonly store: CountingObjectStore,
    private readonly key: string,
    readonly size: number,
    private readonly etag: string | undefined,
  ) {}

  read(start: number, end: number): Promise<Uint8Array> {
    const to = Math.min(end, this.size);
    if (to <= start) return Promise.resolve(new Uint8Array(0));
    return readPinned(() => this.store.getRange(this.key, start, to, pin(this.etag)));
  }

  bytesRead(): number {
    return this.store.bytesRead();
  }

  async close(): Promise<void> {}
}

const pin = (etag: string | undefined) => (etag !== undefined ? { ifMatch: etag } : {});

/**
 * An entry backed by one version of one object (`etag`, where the store keeps entity tags). `listed`: a
 * file a manifest lists; a newer version of it is the store's ObjectChangedError, left to the caller (the
 * ingest Lambda validates again from a fresh listing: a client's retried PUT of the same bytes gets a new
 * ETag too). Otherwise the upload's own object, replaced by a newer upload (readPinned). A short read
 * means the object changed as well.
 */
function objectEntry(
  store: CountingObjectStore,
  key: string,
  entryPath: string,
  size: number,
  etag: string | undefined,
  listed: boolean,
): InputEntry {
  const getRange = (s: number, e: number) =>
    listed ? store.getRange(key, s, e, pin(etag)) : readPinned(() => store.getRange(key, s, e, pin(etag)));
  return {
    path: entryPath,
    size,
    async read(start?: number, end?: number) {
      const [s, e] = clampRange(start, end, size);
      if (e === s) return new Uint8Array(0);
      const bytes = await getRange(s, e);
      if (bytes.length !== e - s)
        reject("TRUNCATED", `The file is shorter than the ${size} bytes it had when listed.`, {
          file: entryPath,
        });
      return bytes;
    },
  };
}

/** "files[3], files[8] and 2 more": manifest entries by their 0-based position in its `files` list. */
function listPositions(files: { index: number }[]): string {
  const shown = files
    .slice(0, NAMES_IN_MESSAGE)
    .map((f) => `files[${f.index}]`)
    .join(", ");
  return files.length > NAMES_IN_MESSAGE ? `${shown} and ${files.length - NAMES_IN_MESSAGE} more` : shown;
}

async function openSingleObject(
  store: CountingObjectStore,
  { key, size, etag }: ObjectInfo,
  limits: InputLimits,
): Promise<InputSource> {
  const name = posix.basename(key);
  // Messages never name the upload's file (core/contracts/file-ref.ts): the upload is the one object.
  if (size === 0) reject("EMPTY_INPUT", "The uploaded object is empty.");
  if (size > limits.maxTotalBytes)
    reject("TOO_LARGE", `The uploaded object is ${size} bytes; the limit is ${limits.maxTotalBytes}.`);
  return {
    container: "file",
    name,
    entries: [objectEntry(store, key, name, size, etag, false)],
    bytesRead: () => store.bytesRead(),
    bytesTotal: size,
    close: async () => {},
  };
}

async function openManifest(
  store: CountingObjectStore,
  { key, size, etag }: ObjectInfo,
  limits: InputLimits,
  prefetched: Uint8Array | undefined,
): Promise<InputSource> {
  checkUploadManifestSize(size);
  const manifest = parseUploadManifest(prefetched ?? (await readPinned(() => store.get(key, pin(etag)))));
  const folder = posix.dirname(key) === "." ? "" : posix.dirname(key);
  // Positions in the manifest's own `files` list name files in messages: keys can hold the patient's name.
  const files = manifest.files
    .map((f, index) => ({ ...f, index }))
    .filter((f) => !f.key.split("/").some(isIgnoredSegment));
  if (files.length === 0) reject("EMPTY_INPUT", `${UPLOAD_MANIFEST_NAME} lists no files.`);
  if (files.length > limits.maxEntries)
    reject(
      "TOO_LARGE",
      `${UPLOAD_MANIFEST_NAME} lists ${files.length} files; the limit is ${limits.maxEntries}.`,
    );
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > limits.maxTotalBytes)
    reject("TOO_LARGE", `The listed files hold ${total} bytes; the limit is ${limits.maxTotalBytes}.`);

  // One paginated listing instead of a HEAD per file: a 300-slice series is one or two requests.
  const prefix = folder === "" ? "" : `${folder}/`;
  const stored = new Map<string, ObjectInfo>((await store.list(prefix)).map((o) => [o.key, o]));
  const fullKey = (rel: string) => `${prefix}${rel}`;
  const missing = files.filter((f) => !stored.has(fullKey(f.key)));
  if (missing.length > 0)
    reject(
      "TRUNCATED",
      `${UPLOAD_MANIFEST_NAME} lists ${missing.length} file(s) that are not in the upload: ${listPositions(missing)}. ${RESEND_ADVICE}`,
    );
  const wrongSize = files.filter((f) => stored.get(fullKey(f.key))!.size !== f.size);
  if (wrongSize.length > 0) {
    const first = wrongSize[0]!;
    reject(
      "TRUNCATED",
      `${wrongSize.length} uploaded file(s) differ in size from ${UPLOAD_MANIFEST_NAME}: ${listPositions(
        wrongSize,
      )} (files[${first.index}] is ${stored.get(fullKey(first.key))!.size} bytes, the manifest says ${first.size}). ${RESEND_ADVICE}`,
    );
  }

  const entries = files
    .map((f) => objectEntry(store, fullKey(f.key), f.key, f.size, stored.get(fullKey(f.key))!.etag, true))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    container: "object-store",
    name: folder === "" ? UPLOAD_MANIFEST_NAME : posix.basename(folder),
    entries,
    bytesRead: () => store.bytesRead(),
    bytesTotal: total,
    close: async () => {},
  };
}

/** What the caller already knows of the upload's own object. */
export interface KnownUpload {
  /** Its HEAD (the ingest Lambda's, checked against its event): every read is pinned to this version. */
  version: ObjectInfo;
  /** A manifest's bytes, read (pinned) before: not read again, so they cannot change under the caller. */
  manifest?: Uint8Array;
}

/**
 * Open the upload that `key` names. Rejections (bad manifest, unsafe zip, missing files) are InputRejected;
 * a missing `key` itself is the store's ObjectNotFoundError, because the event that named it is stale.
 * With `known`, every read of the upload is pinned to its version (a zip or NIfTI replaced meanwhile is
 * UPLOAD_CHANGED, never validated as a mix of two versions) and every listed file to the version listed
 * (a newer one is ObjectChangedError).
 */
export async function openObjectStoreInput(
  store: ObjectStore,
  key: string,
  limits: Partial<InputLimits> = {},
  known?: KnownUpload,
): Promise<InputSource> {
  const lim: InputLimits = { ...DEFAULT_LIMITS, ...limits };
  const counting = new CountingObjectStore(store);
  const base = posix.basename(key);
  const lower = base.toLowerCase();
  const kind = lower.endsWith(".zip")
    ? "zip"
    : lower.endsWith(".nii") || lower.endsWith(".nii.gz")
      ? "nifti"
      : lower === UPLOAD_MANIFEST_NAME
        ? "manifest"
        : undefined;
  if (kind === undefined)
    reject(
      "UNSUPPORTED_FORMAT",
      `The object is not an upload: expected a .zip, a .nii/.nii.gz, or a ${UPLOAD_MANIFEST_NAME} listing DICOM files.`,
    );
  if (kind === "manifest" && base !== UPLOAD_MANIFEST_NAME)
    reject(
      "UNSUPPORTED_FORMAT",
      `The upload's manifest must be named ${UPLOAD_MANIFEST_NAME}, in lower case. ${RESEND_ADVICE}`,
    );
  const object = known?.version ?? (await counting.head(key));
  if (kind === "zip")
    return openZip(new ObjectRandomAccess(counting, key, object.size, object.etag), base, "zip", lim);
  if (kind === "nifti") return openSingleObject(counting, object, lim);
  return openManifest(counting, object, lim, known?.manifest);
}
