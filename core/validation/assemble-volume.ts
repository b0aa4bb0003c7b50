/**
 * Decode the chosen, sorted stack into one HU volume. Each file is read once and released before the next,
 * so peak memory is the volume plus one file (a multi-frame file's frames are decoded from one read).
 *
 * Storage: int16 HU when exact (the common case, half the memory of float32). When the header cannot
 * promise that (signed 16-bit stored values with an intercept could in principle overflow int16), slices are
 * decoded through a float32 scratch slice and copied into int16 as long as every value is an integer that
 * fits; the first slice that does not fit upgrades the whole volume to float32.
 */
import type { Warning } from "../contracts/validation-report.js";
import type { Volume } from "../contracts/volume.js";
import { decodeFrameHu, huFitsInt16 } from "../dicom/decode-pixels.js";
import type { DicomHeader } from "../dicom/header.js";
import { reject } from "../errors.js";
import type { InputEntry } from "../input/source.js";
import type { Stack } from "./stack-geometry.js";

export interface AssembleOptions {
  maxVoxels: number;
  onProgress?: (done: number, total: number) => void;
}

const integralRescale = (h: DicomHeader) =>
  h.frames.every((f) => Number.isInteger(f.rescaleSlope) && Number.isInteger(f.rescaleIntercept));

/** Copy a float slice into int16 if every value is an integer within range; false (nothing copied) otherwise. */
function copyIfInt16(src: Float32Array, dst: Int16Array, offset: number): boolean {
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < -32768 || v > 32767 || !Number.isInteger(v)) return false;
  }
  dst.set(src, offset);
  return true;
}

export async function assembleVolume(
  stack: Stack,
  entries: ReadonlyMap<string, InputEntry>,
  opts: AssembleOptions,
): Promise<{ volume: Volume; warnings: Warning[] }> {
  const [nx, ny, nz] = stack.geometry.dims;
  const voxels = nx * ny * nz;
  if (voxels > opts.maxVoxels)
    reject("TOO_LARGE", `The volume has ${voxels} voxels; the limit is ${opts.maxVoxels}.`);
  const headers = [...new Set(stack.slices.map((s) => s.header))];
  const sliceSize = nx * ny;
  const exactInt16 = headers.every(huFitsInt16);
  let data: Int16Array | Float32Array =
    exactInt16 || headers.every(integralRescale) ? new Int16Array(voxels) : new Float32Array(voxels);
  const scratch = exactInt16 || data instanceof Float32Array ? undefined : new Float32Array(sliceSize);

  // Slices of one file (multi-frame) are decoded from a single read.
  const byFile = new Map<DicomHeader, { frame: number; k: number }[]>();
  stack.slices.forEach((s, k) => {
    const list = byFile.get(s.header) ?? [];
    list.push({ frame: s.frame, k });
    byFile.set(s.header, list);
  });

  const warnings = new Map<string, Warning>();
  let done = 0;
  const files = [...byFile];
  const readFile = (index: number) => {
    const header = files[index]?.[0];
    if (!header) return undefined;
    const entry = entries.get(header.file);
    if (!entry) throw new Error(`internal: no entry for ${header.file}`);
    const pending = entry.read();
    // If decoding the current file rejects, this read is never awaited: keep its failure from becoming an
    // unhandled rejection (which would abort the process instead of producing a report).
    pending.catch(() => {});
    return pending;
  };
  // One read ahead: the next file arrives from disk or S3 while this one decodes (memory: one extra file).
  let next = readFile(0);
  for (let f = 0; f < files.length; f++) {
    const [header, frames] = files[f]!;
    const bytes = (await next)!;
    next = readFile(f + 1);
    for (const { frame, k } of frames) {
      const offset = k * sliceSize;
      let result: { warnings: Warning[] };
      if (scratch && data instanceof Int16Array) {
        result = await decodeFrameHu(bytes, header, frame, scratch, 0);
        if (!copyIfInt16(scratch, data, offset)) {
          data = Float32Array.from(data);
          data.set(scratch, offset);
        }
      } else {
        result = await decodeFrameHu(bytes, header, frame, data, offset);
      }
      for (const w of result.warnings) if (!warnings.has(w.code)) warnings.set(w.code, w);
      done++;
      opts.onProgress?.(done, nz);
    }
  }
  return { volume: { ...stack.geometry, data }, warnings: [...warnings.values()] };
}
