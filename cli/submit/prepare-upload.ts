/**
 * What `deepsc submit` uploads for an input: a .zip as it is (series.zip), a NIfTI volume as it is
 * (scan.nii / scan.nii.gz), and a DICOM folder or single DICOM file zipped on the way (fflate, streamed to a
 * temporary file with the disk's back-pressure, so a series of any size goes through constant memory).
 * Nothing is validated here: the ingest validates every upload and answers with reason codes.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative, sep } from "node:path";
import { Zip, ZipDeflate } from "fflate";
import type { UPLOAD_FILE_NAMES } from "../../core/contracts/study.js";
import { UPLOAD_ZIP_NAME } from "../../core/studies/keys.js";
import { onInterrupt } from "../interrupt.js";

export interface PreparedUpload {
  /** The name POST /v1/uploads presigns. */
  file: (typeof UPLOAD_FILE_NAMES)[number];
  path: string;
  size: number;
  /** Files zipped (0 when the input went as it was). */
  zippedFiles: number;
  /** Removes the temporary zip, if one was made. */
  cleanup(): Promise<void>;
}

export async function prepareUpload(input: string): Promise<PreparedUpload> {
  const st = await stat(input);
  const lower = basename(input).toLowerCase();
  if (st.isFile() && (lower.endsWith(".zip") || lower.endsWith(".nii") || lower.endsWith(".nii.gz"))) {
    const file = lower.endsWith(".zip")
      ? UPLOAD_ZIP_NAME
      : lower.endsWith(".nii")
        ? "scan.nii"
        : "scan.nii.gz";
    return { file, path: input, size: st.size, zippedFiles: 0, cleanup: async () => {} };
  }
  const files = st.isDirectory() ? await regularFiles(input) : [input];
  if (files.length === 0) throw new EmptyInputError(`${input} holds no files to upload`);
  const dir = await mkdtemp(join(tmpdir(), "deepsc-submit-"));
  // The zip is a copy of the scan, headers and all: interrupted while it is made or sent, it goes too.
  const release = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const cleanup = async () => {
    await rm(dir, { recursive: true, force: true });
    release();
  };
  const path = join(dir, UPLOAD_ZIP_NAME);
  try {
    await zipFiles(files, st.isDirectory() ? input : undefined, path);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return {
    file: UPLOAD_ZIP_NAME,
    path,
    size: (await stat(path)).size,
    zippedFiles: files.length,
    cleanup,
  };
}

export class EmptyInputError extends Error {
  override readonly name = "EmptyInputError";
}

/** Every regular file under dir, in a stable order (symbolic links are not followed). */
async function regularFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Zip `files` (named relative to `root`, or by their base name) into `out`, level 1 deflate. */
async function zipFiles(files: string[], root: string | undefined, out: string): Promise<void> {
  const sink = createWriteStream(out);
  let failure: Error | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    sink.once("finish", resolve);
    sink.once("error", reject);
  });
  const zip = new Zip((err, chunk, final) => {
    if (err) failure = err;
    else sink.write(chunk);
    if (final || err) sink.end();
  });
  for (const f of files) {
    const name = root === undefined ? basename(f) : relative(root, f).split(sep).join("/");
    // DICOM pixel data compresses a little at level 1, at disk speed.
    const entry = new ZipDeflate(name, { level: 1 });
    zip.add(entry);
    for await (const chunk of createReadStream(f)) {
      entry.push(chunk as Uint8Array);
      if (sink.writableNeedDrain) await once(sink, "drain");
    }
    entry.push(new Uint8Array(0), true);
    if (failure) break;
  }
  zip.end();
  await finished;
  if (failure) throw failure;
}
