/**
 * Decode the chosen, sorted stack into one HU volume. Each file is read once and released before the next,
 * so peak memory is the volume plus one file (a multi-frame file's frames are decoded from one read).
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
  const data = headers.every(huFitsInt16) ? new Int16Array(voxels) : new Float32Array(voxels);
  const sliceSize = nx * ny;

  // Slices of one file (multi-frame) are decoded from a single read.
  const byFile = new Map<DicomHeader, { frame: number; k: number }[]>();
  stack.slices.forEach((s, k) => {
    const list = byFile.get(s.header) ?? [];
    list.push({ frame: s.frame, k });
    byFile.set(s.header, list);
  });

  const warnings = new Map<string, Warning>();
  let done = 0;
  for (const [header, frames] of byFile) {
    const entry = entries.get(header.file);
    if (!entry) throw new Error(`internal: no entry for ${header.file}`);
    const bytes = await entry.read();
    for (const { frame, k } of frames) {
      const result = await decodeFrameHu(bytes, header, frame, data, k * sliceSize);
      for (const w of result.warnings) if (!warnings.has(w.code)) warnings.set(w.code, w);
      done++;
      opts.onProgress?.(done, nz);
    }
  }
  return { volume: { ...stack.geometry, data }, warnings: [...warnings.values()] };
}
