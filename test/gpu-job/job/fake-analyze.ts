/**
 * A stand-in for gpu-job/pipeline/analyze.ts with the same signature and contract: it reads the input,
 * writes outputs derived from the input's bytes (so reruns produce identical files), and calls
 * writeResultsManifest last. Modes make it reject, crash or hang after writing part of its outputs.
 */
import { createHash } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { reject } from "../../../core/errors.js";
import { writeResultsManifest } from "../../../gpu-job/job/results-manifest.js";
import type { AnalyzeFn, AnalyzeOptions } from "../../../gpu-job/job/run-job.js";

export type FakeMode = "ok" | "reject" | "crash" | "hang";

export interface FakeCall {
  input: string;
  outDir: string;
  options: AnalyzeOptions | undefined;
  /** Files of the staged input, relative to it. */
  inputFiles: string[];
}

export interface FakeAnalyzeOptions {
  mode?: FakeMode;
  /** Number of images/*.png files (many small files make stage-out long enough to interrupt). @default 3 */
  images?: number;
  /** Bytes per image. @default 2048 */
  imageBytes?: number;
  /** Append one line per call to this file (counts calls across processes). */
  callLog?: string;
  /** Every call, in-process. */
  calls?: FakeCall[];
}

async function filesUnder(p: string): Promise<string[]> {
  const s = await stat(p);
  if (s.isFile()) return [path.basename(p)];
  const out: string[] = [];
  for (const e of await readdir(p, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.relative(p, path.join(e.parentPath, e.name)).split(path.sep).join("/"));
  return out.sort();
}

async function inputDigest(p: string): Promise<string> {
  const h = createHash("sha256");
  const s = await stat(p);
  if (s.isFile()) h.update(await readFile(p));
  else for (const rel of await filesUnder(p)) h.update(rel).update(await readFile(path.join(p, rel)));
  return h.digest("hex");
}

/** Deterministic pseudo-random bytes from a seed string. */
function bytesFrom(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < n; i += 32) {
    block.copy(out, i, 0, Math.min(32, n - i));
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

export function fakeAnalyze(opts: FakeAnalyzeOptions = {}): AnalyzeFn {
  const mode = opts.mode ?? "ok";
  return async (input, outDir, options) => {
    const inputFiles = await filesUnder(input);
    opts.calls?.push({ input, outDir, options, inputFiles });
    if (opts.callLog !== undefined) await appendFile(opts.callLog, `${mode}\n`);
    if (mode === "reject") reject("TOO_FEW_SLICES", "The series has 3 slices; at least 16 are needed.");
    if (mode === "crash") throw new Error(`decoder exploded on ${input}`);
    const seed = await inputDigest(input);
    options?.onProgress?.("decode", 1, 1);
    await writeFile(
      path.join(outDir, "diagnosis.json"),
      `${JSON.stringify({ schemaVersion: 1, diagnosis: { predictedClass: "covid19" }, input: seed.slice(0, 16) })}\n`,
    );
    await writeFile(path.join(outDir, "lesions.nii.gz"), bytesFrom(`${seed}/lesions`, 5000));
    await mkdir(path.join(outDir, "images"));
    const n = opts.images ?? 3;
    for (let i = 0; i < n; i++) {
      const name = `images/axial-${String(i).padStart(3, "0")}.png`;
      await writeFile(path.join(outDir, name), bytesFrom(`${seed}/${name}`, opts.imageBytes ?? 2048));
      options?.onProgress?.("images", i + 1, n);
    }
    // A timer keeps the process alive, as a real stuck pipeline (native threads, open files) would.
    if (mode === "hang") await new Promise(() => setInterval(() => {}, 1000));
    await writeFile(path.join(outDir, "report.html"), "<!doctype html><title>report</title>\n");
    const manifest = await writeResultsManifest(outDir, {
      model: {
        name: "fake",
        version: "0",
        sha256: "0".repeat(64),
        executionProvider: options?.device ?? "cpu",
      },
    });
    return {
      outDir,
      files: [...manifest.files.map((f) => f.path), "manifest.json"],
      diagnosis: { predictedClass: "covid19" },
    };
  };
}
