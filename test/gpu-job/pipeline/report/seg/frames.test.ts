/**
 * BINARY frame packing, checked against a SEG made by a trusted tool: the corpus' 38 x 23 SEG (874 pixels
 * a frame, not a multiple of 8) packs its frames without byte padding between them.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Vec3 } from "../../../../../core/contracts/volume.js";
import {
  packBinaryFrames,
  segFrameSlices,
  slicesWithVoxels,
  unpackBinaryFrame,
} from "../../../../../gpu-job/pipeline/report/seg/frames.js";
import { CORPUS } from "../../../../helpers/corpus.js";

const dcmjs = createRequire(import.meta.url)("dcmjs") as {
  data: {
    DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(d: Record<string, unknown>): Record<string, unknown> };
  };
};

function readDicom(path: string): Record<string, unknown> {
  const b = readFileSync(path);
  const msg = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
}

describe("BINARY SEG frames", () => {
  it("re-packs the frames of a reference SEG with odd frame size bit for bit", () => {
    const ds = readDicom(join(CORPUS, "seg/23x38x3/label.seg.dcm"));
    const rows = ds.Rows as number;
    const columns = ds.Columns as number;
    const frames = Number(ds.NumberOfFrames);
    expect((rows * columns) % 8).not.toBe(0);
    const pixelData = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]!);
    // Unpack every frame into a volume, pack it again: the same bytes (ours are padded to even length).
    const dims: Vec3 = [columns, rows, frames];
    const volume = new Uint8Array(rows * columns * frames);
    for (let f = 0; f < frames; f++)
      volume.set(unpackBinaryFrame(pixelData, rows, columns, f), f * rows * columns);
    expect(volume.some((v) => v === 1)).toBe(true);
    const packed = packBinaryFrames(volume, dims, [0, 1, 2]);
    const used = Math.ceil((rows * columns * frames) / 8);
    expect(packed.length % 2).toBe(0);
    expect(Buffer.from(packed.subarray(0, used))).toEqual(Buffer.from(pixelData.subarray(0, used)));
  });

  it("keeps only slices with voxels, in k order, and packs them consecutively", () => {
    const dims: Vec3 = [5, 3, 6];
    const plane = 15;
    const mask = new Uint8Array(plane * 6);
    mask[1 * plane + 0] = 1;
    mask[1 * plane + 14] = 3;
    mask[4 * plane + 7] = 1;
    expect(slicesWithVoxels(mask, dims)).toEqual([1, 4]);
    const packed = packBinaryFrames(mask, dims, [1, 4]);
    // Frame 0 bits 0 and 14, frame 1 bit 15 + 7 = 22; no other bit set.
    expect([...packed]).toEqual([0b00000001, 0b01000000, 0b01000000, 0]);
    expect([...unpackBinaryFrame(packed, 3, 5, 1)]).toEqual([...mask.subarray(4 * plane, 5 * plane)]);
  });

  it("gives an empty mask one empty frame at the middle slice", () => {
    const dims: Vec3 = [4, 4, 7];
    expect(segFrameSlices(new Uint8Array(112), dims)).toEqual({ slices: [3], empty: true });
    const mask = new Uint8Array(112);
    mask[6 * 16] = 1;
    expect(segFrameSlices(mask, dims)).toEqual({ slices: [6], empty: false });
  });
});
