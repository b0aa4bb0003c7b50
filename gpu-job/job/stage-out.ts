/**
 * Stage-out: publish a finished results folder under `results/{tenant}/{studyId}/` so that no reader ever
 * sees a manifest without its files. The order is the whole point:
 *   1. the local folder must match its manifest (every file, size and sha256; nothing unlisted);
 *   2. every listed file is uploaded (S3 checks each body against its sha256) and then found in a listing
 *      with its size;
 *   3. objects an earlier, interrupted attempt left that the new manifest does not list are deleted;
 *   4. manifest.json goes up LAST; then a stale failure.json from an earlier failed run is removed.
 * An attempt killed anywhere before 4 leaves no manifest (or the previous complete one), and a rerun
 * overwrites the partial outputs. inspectRemoteResults lets a rerun skip a study whose results are complete.
 */
import path from "node:path";
import {
  FAILURE_REPORT_NAME,
  type FailureReport,
  FailureReportSchema,
  RESULTS_MANIFEST_FILE,
  type ResultsManifest,
} from "../../core/contracts/results-manifest.js";
import { ObjectNotFoundError } from "../../core/ports/object-store.js";
import { mapLimit } from "../../core/util/map-limit.js";
import { TransientStorageError } from "./failure.js";
import { digestFile } from "./hash.js";
import { parseResultsManifest, verifyResultsManifest } from "./results-manifest.js";
import type { JobStore } from "./store.js";

export type RemoteResults =
  | { state: "complete"; manifest: ResultsManifest }
  | { state: "absent" }
  | { state: "incomplete"; problems: string[] };

/** Is there a complete, published result under `prefix`: a valid manifest whose every file is present at its size? */
export async function inspectRemoteResults(store: JobStore, prefix: string): Promise<RemoteResults> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(`${prefix}${RESULTS_MANIFEST_FILE}`);
  } catch (e) {
    if (e instanceof ObjectNotFoundError) return { state: "absent" };
    throw e;
  }
  let manifest: ResultsManifest;
  try {
    manifest = parseResultsManifest(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    return { state: "incomplete", problems: [(e as Error).message] };
  }
  const stored = new Map((await store.list(prefix)).map((o) => [o.key, o.size]));
  const problems: string[] = [];
  for (const f of manifest.files) {
    const size = stored.get(`${prefix}${f.path}`);
    if (size === undefined) problems.push(`${f.path} is missing`);
    else if (size !== f.size) problems.push(`${f.path} is ${size} bytes, the manifest says ${f.size}`);
  }
  return problems.length === 0 ? { state: "complete", manifest } : { state: "incomplete", problems };
}

export class StageOutError extends Error {
  override readonly name = "StageOutError";
}

export interface StageOutOptions {
  /** Parallel uploads. @default 4 */
  concurrency?: number;
}

export interface StageOutResult {
  manifest: ResultsManifest;
  /** Bytes uploaded, manifest included. */
  bytes: number;
  /** Stale objects of an earlier attempt that were deleted. */
  removed: number;
}

export async function stageOut(
  store: JobStore,
  outDir: string,
  prefix: string,
  options: StageOutOptions = {},
): Promise<StageOutResult> {
  const local = await verifyResultsManifest(outDir);
  if (!local.ok || local.manifest === undefined)
    throw new StageOutError(
      `the results folder does not match its manifest: ${local.problems.slice(0, 3).join("; ")}`,
    );
  const manifest = local.manifest;

  await mapLimit(manifest.files, options.concurrency ?? 4, (f) =>
    store.putFile(`${prefix}${f.path}`, path.join(outDir, ...f.path.split("/")), {
      sha256: f.sha256,
      ...(f.contentType !== undefined ? { contentType: f.contentType } : {}),
    }),
  );

  const stored = new Map((await store.list(prefix)).map((o) => [o.key, o.size]));
  const wrong = manifest.files.filter((f) => stored.get(`${prefix}${f.path}`) !== f.size);
  if (wrong.length > 0)
    // Another writer (a duplicate attempt) or a lost write: let Batch retry the attempt rather than publish.
    throw new TransientStorageError(`verifying ${wrong.length} uploaded result file(s)`);

  const keep = new Set(manifest.files.map((f) => `${prefix}${f.path}`));
  keep.add(`${prefix}${RESULTS_MANIFEST_FILE}`);
  keep.add(`${prefix}${FAILURE_REPORT_NAME}`);
  const stale = [...stored.keys()].filter((k) => !keep.has(k));
  await mapLimit(stale, options.concurrency ?? 4, (k) => store.delete(k));

  const manifestPath = path.join(outDir, RESULTS_MANIFEST_FILE);
  const digest = await digestFile(manifestPath);
  await store.putFile(`${prefix}${RESULTS_MANIFEST_FILE}`, manifestPath, {
    contentType: "application/json",
    sha256: digest.sha256,
  });
  if (stored.has(`${prefix}${FAILURE_REPORT_NAME}`)) await store.delete(`${prefix}${FAILURE_REPORT_NAME}`);

  const bytes = manifest.files.reduce((s, f) => s + f.size, 0) + digest.size;
  return { manifest, bytes, removed: stale.length };
}

/** Publish failure.json under `prefix` (validated against its schema first). */
export async function writeFailureReport(
  store: JobStore,
  prefix: string,
  report: FailureReport,
): Promise<void> {
  const body = `${JSON.stringify(FailureReportSchema.parse(report), null, 2)}\n`;
  await store.put(`${prefix}${FAILURE_REPORT_NAME}`, body, "application/json");
}
