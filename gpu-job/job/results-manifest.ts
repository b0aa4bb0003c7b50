/**
 * manifest.json of a results folder (core/contracts/results-manifest.ts): the pipeline writes every output,
 * then calls writeResultsManifest LAST. The manifest lists every other file under the folder with its size
 * and streaming sha256, and appears atomically (temp file + fsync + rename), so a reader — stage-out, a
 * person, a killed-and-restarted job — either sees a complete manifest or none.
 */
import { type Dirent, promises as fs } from "node:fs";
import path from "node:path";
import {
  RESULTS_MANIFEST_FILE,
  RESULTS_MANIFEST_SCHEMA_VERSION,
  type ResultFileEntry,
  type ResultsManifest,
  ResultsManifestSchema,
  type ResultsModelRef,
  type ResultsTimings,
} from "../../core/contracts/results-manifest.js";
import { relativeKeyProblem } from "../../core/contracts/upload-manifest.js";
import { mapLimit } from "../../core/util/map-limit.js";
import { isTempName } from "../../core/util/temp-path.js";
import { writeFileAtomic } from "../../core/util/write-file-atomic.js";
import { contentTypeOf } from "./content-type.js";
import { digestFile } from "./hash.js";

/** Temp names of an in-flight manifest write; never listed (a crashed writer may leave one behind). */
const TEMP_PREFIX = `.${RESULTS_MANIFEST_FILE}.`;
/** Files hashed at once: enough to overlap disk reads, few enough to keep file handles bounded. */
const HASH_CONCURRENCY = 4;

export interface ResultsManifestExtra {
  /** Identity of the model that produced the results. */
  model?: ResultsModelRef;
  /** What the reports cost (they are written after diagnosis.json and its timings). */
  timings?: ResultsTimings;
}

export class ResultsManifestError extends Error {
  override readonly name = "ResultsManifestError";
}

function isManifestOrTemp(rel: string): boolean {
  return (
    rel === RESULTS_MANIFEST_FILE || (!rel.includes("/") && rel.startsWith(TEMP_PREFIX) && isTempName(rel))
  );
}

/** Byte-order comparison, the order S3 lists keys in. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Every regular file under `root` as POSIX paths relative to it, sorted, without the manifest and its temp
 * files. Symlinks and other special files are refused: an output must be bytes the pipeline wrote, never a
 * pointer to something else on the machine that stage-out would then publish.
 */
export async function listOutputFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, relDir: string): Promise<void> => {
    const entries: Dirent[] = await fs.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const rel = relDir === "" ? e.name : `${relDir}/${e.name}`;
      if (e.isDirectory()) await walk(path.join(dir, e.name), rel);
      else if (e.isFile()) {
        if (!isManifestOrTemp(rel)) out.push(rel);
      } else throw notRegularFile(rel);
    }
  };
  await walk(root, "");
  for (const rel of out) checkOutputPath(rel);
  return out.sort(byUtf8);
}

/** An output's path becomes an S3 key under the study's prefix: it must be a plain relative key. */
function checkOutputPath(rel: string): void {
  const problem = relativeKeyProblem(rel);
  if (problem !== undefined) throw new ResultsManifestError(`output path ${rel} ${problem}`);
}

const notRegularFile = (rel: string) =>
  new ResultsManifestError(`${rel} in the results folder is not a regular file`);

/** `files` (relative to root) sorted, each checked to be a regular file under a safe relative path. */
async function checkedOutputFiles(root: string, files: readonly string[]): Promise<string[]> {
  for (const rel of files) {
    checkOutputPath(rel);
    if (!(await fs.lstat(path.join(root, ...rel.split("/")))).isFile()) throw notRegularFile(rel);
  }
  return [...new Set(files)].sort(byUtf8);
}

/**
 * Build the manifest of `outDir` without writing it: of `files` (paths relative to it) when given, which
 * must be regular files, else of every file in it (listOutputFiles).
 */
export async function buildResultsManifest(
  outDir: string,
  extra: ResultsManifestExtra = {},
  only?: readonly string[],
): Promise<ResultsManifest> {
  const files = only === undefined ? await listOutputFiles(outDir) : await checkedOutputFiles(outDir, only);
  const entries = await mapLimit(files, HASH_CONCURRENCY, async (rel): Promise<ResultFileEntry> => {
    const { sha256, size } = await digestFile(path.join(outDir, ...rel.split("/")));
    return { path: rel, sha256, size, contentType: contentTypeOf(rel) };
  });
  // Parse what we built: the writer and every reader share one schema, so a bad model ref fails here.
  return ResultsManifestSchema.parse({
    schemaVersion: RESULTS_MANIFEST_SCHEMA_VERSION,
    files: entries,
    ...(extra.model !== undefined ? { model: extra.model } : {}),
    ...(extra.timings !== undefined ? { timings: extra.timings } : {}),
  });
}

/**
 * Write `text` to `dir/name` atomically (core/util/write-file-atomic.ts) under the results folder's temp
 * names, which listOutputFiles skips.
 */
export function writeResultFile(dir: string, name: string, text: string): Promise<void> {
  return writeFileAtomic(dir, name, text, { tempPrefix: TEMP_PREFIX });
}

/**
 * Hash every file under `outDir` (streaming sha256) and write `outDir/manifest.json` atomically. Call it
 * after the last output is complete: anything written afterwards is not in the manifest and will not be
 * published.
 */
export async function writeResultsManifest(
  outDir: string,
  extra: ResultsManifestExtra = {},
  only?: readonly string[],
): Promise<ResultsManifest> {
  const manifest = await buildResultsManifest(outDir, extra, only);
  await writeResultFile(outDir, RESULTS_MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Parse manifest.json text; throws ResultsManifestError naming what is wrong. */
export function parseResultsManifest(text: string): ResultsManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ResultsManifestError(`${RESULTS_MANIFEST_FILE} is not JSON`, { cause: e });
  }
  const parsed = ResultsManifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ResultsManifestError(
      `${RESULTS_MANIFEST_FILE} does not follow the results manifest schema: ${first?.path.join(".") ?? ""} ${first?.message ?? ""}`.trim(),
    );
  }
  return parsed.data;
}

export interface ManifestVerification {
  ok: boolean;
  /** One line per problem (missing, wrong size, wrong sha256, unlisted file); empty when ok. */
  problems: string[];
  manifest: ResultsManifest | undefined;
}

/**
 * Check `outDir/manifest.json` against the files beside it: every listed file exists with the listed size
 * and sha256, and no file is unlisted. Stage-out publishes only a folder that passes.
 */
export async function verifyResultsManifest(outDir: string): Promise<ManifestVerification> {
  let manifest: ResultsManifest;
  try {
    manifest = parseResultsManifest(await fs.readFile(path.join(outDir, RESULTS_MANIFEST_FILE), "utf8"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "is missing" : (e as Error).message;
    return { ok: false, problems: [`${RESULTS_MANIFEST_FILE} ${why}`], manifest: undefined };
  }
  const problems: string[] = [];
  const listed = new Set(manifest.files.map((f) => f.path));
  const present = await listOutputFiles(outDir);
  for (const rel of present) if (!listed.has(rel)) problems.push(`${rel} is not in the manifest`);
  await mapLimit(manifest.files, HASH_CONCURRENCY, async (f) => {
    let digest: { sha256: string; size: number };
    try {
      digest = await digestFile(path.join(outDir, ...f.path.split("/")));
    } catch {
      problems.push(`${f.path} is missing`);
      return;
    }
    if (digest.size !== f.size)
      problems.push(`${f.path} is ${digest.size} bytes, the manifest says ${f.size}`);
    else if (digest.sha256 !== f.sha256) problems.push(`${f.path} does not match its sha256`);
  });
  return { ok: problems.length === 0, problems: problems.sort(), manifest };
}
