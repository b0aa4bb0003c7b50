/**
 * Download a study's results through their presigned URLs into a folder, each checked against the sha256
 * the API lists (written as `<name>.part`, renamed when it matches), manifest.json last, as the job
 * publishes them: a folder with a manifest.json holds every file it lists.
 */
import { createHash } from "node:crypto";
import { createWriteStream, rmSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type * as z from "zod";
import type { ResultFileSchema } from "../../core/contracts/study.js";
import { relativeKeyProblem } from "../../core/contracts/upload-manifest.js";
import { RESULTS_MANIFEST_NAME } from "../../core/studies/keys.js";
import { onInterrupt } from "../interrupt.js";

type ResultFile = z.infer<typeof ResultFileSchema>;

export class DownloadError extends Error {
  override readonly name = "DownloadError";
}

/**
 * Returns the paths written, manifest.json last. A folder that holds an earlier download (its manifest.json)
 * first loses that manifest and every file it lists, so no earlier study's file (a SEG with its patient's
 * name, say) stays beside this one's; anything else in the folder is left alone.
 */
export async function downloadResults(files: readonly ResultFile[], outDir: string): Promise<string[]> {
  for (const f of files) {
    const problem = relativeKeyProblem(f.path);
    if (problem !== undefined)
      throw new DownloadError(`the API listed a result path that ${problem}: ${f.path}`);
  }
  await removeEarlierDownload(outDir);
  const ordered = [
    ...files.filter((f) => f.path !== RESULTS_MANIFEST_NAME),
    ...files.filter((f) => f.path === RESULTS_MANIFEST_NAME),
  ];
  const written: string[] = [];
  for (const f of ordered) {
    const dest = join(outDir, ...f.path.split("/"));
    await mkdir(dirname(dest), { recursive: true });
    try {
      await downloadOne(f, dest);
    } catch (e) {
      await rm(`${dest}.part`, { force: true });
      if (e instanceof DownloadError) throw e;
      throw new DownloadError(
        `downloading ${f.path} failed (${(e as Error).message}): run the command again`,
        {
          cause: e,
        },
      );
    }
    written.push(dest);
  }
  return written;
}

async function downloadOne(f: ResultFile, dest: string): Promise<void> {
  const res = await fetch(f.url);
  if (!res.ok || res.body === null)
    throw new DownloadError(
      `downloading ${f.path} answered ${res.status}${res.status === 403 ? " (its URL may have expired: run the command again)" : ""}`,
    );
  const hash = createHash("sha256");
  const tap = new Transform({
    transform(chunk, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const part = `${dest}.part`;
  const release = onInterrupt(() => rmSync(part, { force: true }));
  try {
    await pipeline(
      Readable.fromWeb(res.body as import("node:stream/web").ReadableStream),
      tap,
      createWriteStream(part),
    );
    const got = hash.digest("hex");
    if (got !== f.sha256)
      throw new DownloadError(
        `${f.path} arrived with sha256 ${got}, not the ${f.sha256} listed: run the command again`,
      );
    await rename(part, dest);
  } finally {
    release();
  }
}

/** The manifest.json of an earlier download in `outDir` and the files it lists, removed (manifest first). */
async function removeEarlierDownload(outDir: string): Promise<void> {
  const manifestPath = join(outDir, RESULTS_MANIFEST_NAME);
  let listed: string[];
  try {
    // Only the paths are needed: an older manifest's other fields need not be today's.
    const json = JSON.parse(await readFile(manifestPath, "utf8")) as { files?: Array<{ path?: unknown }> };
    listed = (Array.isArray(json?.files) ? json.files : []).flatMap((f) =>
      typeof f?.path === "string" ? [f.path] : [],
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    listed = [];
  }
  await rm(manifestPath, { force: true });
  for (const p of listed)
    if (relativeKeyProblem(p) === undefined) await rm(join(outDir, ...p.split("/")), { force: true });
}
