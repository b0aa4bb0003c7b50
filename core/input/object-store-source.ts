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
  summariseZodIssues,
  UPLOAD_MANIFEST_NAME,
  type UploadManifest,
  UploadManifestSchema,
} from "../contracts/upload-manifest.js";
import { reject } from "../errors.js";
import type { ObjectInfo, ObjectStore } from "../ports/object-store.js";
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

/** RandomAccess over one object, every read a ranged GET through the counting store. */
class ObjectRandomAccess implements RandomAccess {
  constructor(
    private readonly store: CountingObjectStore,
    private readonly key: string,
    readonly size: number,
  ) {}

  read(start: number, end: number): Promise<Uint8Array> {
    const to = Math.min(end, this.size);
    if (to <= start) return Promise.resolve(new Uint8Array(0));
    return this.store.getRange(this.key, start, to);
  }

  bytesRead(): number {
    return this.store.bytesRead();
  }

  async close(): Promise<void> {}
}

/** An entry backed by one object; a short read means the object changed since it was checked. */
function objectEntry(store: CountingObjectStore, key: string, entryPath: string, size: number): InputEntry {
  return {
    path: entryPath,
    size,
    async read(start?: number, end?: number) {
      const [s, e] = clampRange(start, end, size);
      if (e === s) return new Uint8Array(0);
      const bytes = await store.getRange(key, s, e);
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
  key: string,
  limits: InputLimits,
): Promise<InputSource> {
  const name = posix.basename(key);
  const { size } = await store.head(key);
  // Messages never name the upload's file (core/privacy.ts fileRef): the upload is the one object.
  if (size === 0) reject("EMPTY_INPUT", "The uploaded object is empty.");
  if (size > limits.maxTotalBytes)
    reject("TOO_LARGE", `The uploaded object is ${size} bytes; the limit is ${limits.maxTotalBytes}.`);
  return {
    container: "file",
    name,
    entries: [objectEntry(store, key, name, size)],
    bytesRead: () => store.bytesRead(),
    bytesTotal: size,
    close: async () => {},
  };
}

async function readManifest(store: CountingObjectStore, key: string): Promise<UploadManifest> {
  const { size } = await store.head(key);
  checkUploadManifestSize(size);
  return parseUploadManifest(await store.get(key));
}

async function openManifest(
  store: CountingObjectStore,
  key: string,
  limits: InputLimits,
): Promise<InputSource> {
  const manifest = await readManifest(store, key);
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
      `${UPLOAD_MANIFEST_NAME} lists ${missing.length} file(s) that are not in the upload: ${listPositions(missing)}.`,
    );
  const wrongSize = files.filter((f) => stored.get(fullKey(f.key))!.size !== f.size);
  if (wrongSize.length > 0) {
    const first = wrongSize[0]!;
    reject(
      "TRUNCATED",
      `${wrongSize.length} uploaded file(s) differ in size from ${UPLOAD_MANIFEST_NAME}: ${listPositions(
        wrongSize,
      )} (files[${first.index}] is ${stored.get(fullKey(first.key))!.size} bytes, the manifest says ${first.size}).`,
    );
  }

  const entries = files
    .map((f) => objectEntry(store, fullKey(f.key), f.key, f.size))
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

/**
 * Open the upload that `key` names. Rejections (bad manifest, unsafe zip, missing files) are InputRejected;
 * a missing `key` itself is the store's ObjectNotFoundError, because the event that named it is stale.
 */
export async function openObjectStoreInput(
  store: ObjectStore,
  key: string,
  limits: Partial<InputLimits> = {},
): Promise<InputSource> {
  const lim: InputLimits = { ...DEFAULT_LIMITS, ...limits };
  const counting = new CountingObjectStore(store);
  const base = posix.basename(key);
  const lower = base.toLowerCase();
  if (lower.endsWith(".zip")) {
    const { size } = await counting.head(key);
    return openZip(new ObjectRandomAccess(counting, key, size), base, "zip", lim);
  }
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) return openSingleObject(counting, key, lim);
  if (base === UPLOAD_MANIFEST_NAME) return openManifest(counting, key, lim);
  reject(
    "UNSUPPORTED_FORMAT",
    `${base} is not an upload: expected a .zip, a .nii/.nii.gz, or a ${UPLOAD_MANIFEST_NAME} listing DICOM files.`,
  );
}
