/**
 * Stage-in: the upload the ingest Lambda validated, copied from the ingest bucket to local scratch in the
 * shape `analyze` reads (DESIGN.md §3, upload protocol):
 *   - `….zip`            -> `<dir>/input.zip`
 *   - `….nii(.gz)`       -> `<dir>/input.nii(.gz)`
 *   - `…/manifest.json`  -> `<dir>/series/<key>` for every listed file, each checked against the size and
 *                           sha256 the manifest declares (the studyId was derived from those checksums).
 * Local names are generic so nothing the uploader chose for a zip or NIfTI name reaches paths or logs.
 * Everything streams (download.ts); memory stays bounded whatever the series size.
 */
import path from "node:path";
import {
  UPLOAD_MANIFEST_NAME,
  type UploadManifest,
  uploadManifestDigest,
} from "../../core/contracts/upload-manifest.js";
import { reject } from "../../core/errors.js";
import { isIgnoredSegment } from "../../core/input/folder-source.js";
import { checkUploadManifestSize, parseUploadManifest } from "../../core/input/object-store-source.js";
import { DEFAULT_LIMITS, type InputLimits } from "../../core/input/source.js";
import { ObjectNotFoundError } from "../../core/ports/object-store.js";
import { mapLimit } from "../../core/util/map-limit.js";
import { downloadToFile } from "./download.js";
import { JobFailure } from "./failure.js";
import type { JobStore } from "./store.js";

export type InputShape = "zip" | "nifti" | "dicom";

export interface StagedInput {
  /** What to hand to analyze: a file (zip, NIfTI) or the folder of DICOM files. */
  path: string;
  shape: InputShape;
  files: number;
  bytes: number;
}

export interface StageInOptions {
  /** Parallel downloads of a DICOM series. @default 8 */
  concurrency?: number;
  limits?: Partial<InputLimits>;
  /**
   * The ETag of the object the ingest validated (JobParameters.inputEtag): any other content under the key
   * is INPUT_CHANGED. Checked before and after the download (S3 serves one version per request, so equal
   * tags on both sides mean the bytes are that version's).
   */
  expectedEtag?: string;
  /**
   * For a DICOM upload, what its manifest listed when the ingest validated it (JobParameters
   * .inputManifestDigest): a manifest listing anything else is INPUT_CHANGED; the same list sent again passes.
   */
  expectedManifestDigest?: string;
}

export function inputShapeOf(key: string): InputShape | undefined {
  const base = path.posix.basename(key);
  const lower = base.toLowerCase();
  if (lower.endsWith(".zip")) return "zip";
  if (lower.endsWith(".nii") || lower.endsWith(".nii.gz")) return "nifti";
  if (base === UPLOAD_MANIFEST_NAME) return "dicom";
  return undefined;
}

function missing(what: string, cause: unknown): JobFailure {
  return new JobFailure(
    "INPUT_REJECTED",
    "INPUT_MISSING",
    `${what} no longer exists in the ingest bucket (deleted or expired after validation).`,
    { cause },
  );
}

async function headOrMissing(
  store: JobStore,
  key: string,
  what: string,
  expectedEtag?: string,
): Promise<number> {
  try {
    const info = await store.head(key);
    if (expectedEtag !== undefined && info.etag !== undefined && info.etag !== expectedEtag)
      throw new JobFailure(
        "INPUT_REJECTED",
        "INPUT_CHANGED",
        `${what} was replaced after it was validated (its ETag differs); the replacement is a study of its own.`,
      );
    return info.size;
  } catch (e) {
    if (e instanceof ObjectNotFoundError) throw missing(what, e);
    throw e;
  }
}

async function stageSingleObject(
  store: JobStore,
  key: string,
  dir: string,
  shape: "zip" | "nifti",
  limits: InputLimits,
  expectedEtag: string | undefined,
): Promise<StagedInput> {
  const lower = key.toLowerCase();
  const local = shape === "zip" ? "input.zip" : lower.endsWith(".nii.gz") ? "input.nii.gz" : "input.nii";
  const what = `The uploaded ${shape === "zip" ? "zip" : "NIfTI file"}`;
  const size = await headOrMissing(store, key, what, expectedEtag);
  if (size === 0) reject("EMPTY_INPUT", `${what} is empty.`);
  if (size > limits.maxTotalBytes)
    reject("TOO_LARGE", `${what} is ${size} bytes; the limit is ${limits.maxTotalBytes}.`);
  const target = path.join(dir, local);
  let got: { size: number };
  try {
    got = await downloadToFile(store, key, target);
  } catch (e) {
    if (e instanceof ObjectNotFoundError) throw missing(what, e);
    throw e;
  }
  if (got.size !== size)
    throw new JobFailure("INPUT_REJECTED", "INPUT_CHANGED", `${what} changed size while it was being read.`);
  if (expectedEtag !== undefined) await headOrMissing(store, key, what, expectedEtag);
  return { path: target, shape, files: 1, bytes: got.size };
}

async function readUploadManifest(
  store: JobStore,
  key: string,
  expectedEtag: string | undefined,
  expectedDigest: string | undefined,
): Promise<UploadManifest> {
  const what = `The upload's ${UPLOAD_MANIFEST_NAME}`;
  const size = await headOrMissing(store, key, what, expectedEtag);
  checkUploadManifestSize(size);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (e) {
    if (e instanceof ObjectNotFoundError) throw missing(what, e);
    throw e;
  }
  if (expectedEtag !== undefined) await headOrMissing(store, key, what, expectedEtag);
  const manifest = parseUploadManifest(bytes);
  if (expectedDigest !== undefined && uploadManifestDigest(manifest) !== expectedDigest)
    throw new JobFailure(
      "INPUT_REJECTED",
      "INPUT_CHANGED",
      `${what} was replaced after it was validated and lists other files; the new list is a study of its own.`,
    );
  return manifest;
}

async function stageDicomSeries(
  store: JobStore,
  manifestKey: string,
  dir: string,
  limits: InputLimits,
  concurrency: number,
  expectedEtag: string | undefined,
  expectedDigest: string | undefined,
): Promise<StagedInput> {
  const manifest = await readUploadManifest(store, manifestKey, expectedEtag, expectedDigest);
  // The same selection the ingest Lambda validated (core/input/object-store-source.ts).
  const files = manifest.files.filter((f) => !f.key.split("/").some(isIgnoredSegment));
  if (files.length === 0) reject("EMPTY_INPUT", `${UPLOAD_MANIFEST_NAME} lists no files.`);
  if (files.length > limits.maxEntries)
    reject(
      "TOO_LARGE",
      `${UPLOAD_MANIFEST_NAME} lists ${files.length} files; the limit is ${limits.maxEntries}.`,
    );
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > limits.maxTotalBytes)
    reject("TOO_LARGE", `The listed files hold ${total} bytes; the limit is ${limits.maxTotalBytes}.`);

  const folder = path.posix.dirname(manifestKey);
  const seriesDir = path.join(dir, "series");
  const gone: string[] = [];
  const changed: string[] = [];
  await mapLimit(files, concurrency, async (f) => {
    // Keys are relative and free of '.'/'..' segments (UploadManifestSchema), so this stays inside seriesDir.
    const target = path.join(seriesDir, ...f.key.split("/"));
    try {
      const got = await downloadToFile(store, `${folder}/${f.key}`, target);
      if (got.size !== f.size || got.sha256 !== f.sha256) changed.push(f.key);
    } catch (e) {
      if (e instanceof ObjectNotFoundError) gone.push(f.key);
      else throw e;
    }
  });
  if (gone.length > 0)
    throw new JobFailure(
      "INPUT_REJECTED",
      "INPUT_MISSING",
      `${gone.length} of the ${files.length} files ${UPLOAD_MANIFEST_NAME} lists no longer exist in the ingest bucket.`,
    );
  if (changed.length > 0)
    throw new JobFailure(
      "INPUT_REJECTED",
      "INPUT_CHANGED",
      `${changed.length} of the ${files.length} files do not match the size or sha256 in ${UPLOAD_MANIFEST_NAME}.`,
    );
  return { path: seriesDir, shape: "dicom", files: files.length, bytes: total };
}

/** Copy the upload `inputKey` names into `dir` (which must exist and be empty). */
export async function stageIn(
  store: JobStore,
  inputKey: string,
  dir: string,
  options: StageInOptions = {},
): Promise<StagedInput> {
  const limits: InputLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const shape = inputShapeOf(inputKey);
  if (shape === undefined)
    reject(
      "UNSUPPORTED_FORMAT",
      `The input is not an upload: expected a .zip, a .nii/.nii.gz, or a ${UPLOAD_MANIFEST_NAME} listing DICOM files.`,
    );
  if (shape === "dicom")
    return stageDicomSeries(
      store,
      inputKey,
      dir,
      limits,
      options.concurrency ?? 8,
      options.expectedEtag,
      options.expectedManifestDigest,
    );
  return stageSingleObject(store, inputKey, dir, shape, limits, options.expectedEtag);
}
