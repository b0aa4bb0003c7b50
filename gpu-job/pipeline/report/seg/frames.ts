/**
 * Frames of a BINARY segmentation: which slices get a frame, and their 1-bit pixel data.
 *
 * Frame choice: one frame per slice k of the volume that holds at least one lesion voxel; slices without
 * lesion are left out (PS3.3 C.8.20.2 allows omitting empty frames: a viewer shows them as empty). With no
 * lesion at all, one empty frame at the middle slice keeps the object valid (NumberOfFrames >= 1) and says
 * "analysed, nothing found" explicitly.
 *
 * Pixel data (PS3.5 8.1.1, BitsAllocated 1): pixel (column i, row j) of frame f is bit
 * f * rows * columns + j * columns + i, least significant bit first, and frames follow one another without
 * padding to a byte boundary; only the whole value is padded to an even length. The volume stores i fastest
 * and its i axis is the source's row direction, so a frame is a slab of the mask in storage order.
 */
import type { Vec3 } from "../../../../core/contracts/volume.js";
import { anyNonZero, forEachNonZero } from "../nonzero.js";

/** Slices k (ascending) holding at least one non-zero voxel. */
export function slicesWithVoxels(mask: Uint8Array, dims: Vec3): number[] {
  const plane = dims[0] * dims[1];
  const out: number[] = [];
  for (let k = 0; k < dims[2]; k++) if (anyNonZero(mask, k * plane, (k + 1) * plane)) out.push(k);
  return out;
}

/** The slices that get a frame: those with lesion voxels, else the middle slice alone. */
export function segFrameSlices(mask: Uint8Array, dims: Vec3): { slices: number[]; empty: boolean } {
  const slices = slicesWithVoxels(mask, dims);
  return slices.length > 0 ? { slices, empty: false } : { slices: [Math.floor(dims[2] / 2)], empty: true };
}

/** Bit-pack the given slices of a mask (non-zero = 1) as consecutive BINARY frames. */
export function packBinaryFrames(mask: Uint8Array, dims: Vec3, slices: readonly number[]): Uint8Array {
  const plane = dims[0] * dims[1];
  const bits = plane * slices.length;
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes + (bytes % 2));
  slices.forEach((k, f) => {
    const shift = f * plane - k * plane;
    forEachNonZero(
      mask,
      (p) => {
        const bit = p + shift;
        out[bit >> 3]! |= 1 << (bit & 7);
      },
      k * plane,
      (k + 1) * plane,
    );
  });
  return out;
}

/** The inverse: frame f of BINARY pixel data as one byte (0/1) per pixel, row-major. */
export function unpackBinaryFrame(
  pixelData: Uint8Array,
  rows: number,
  columns: number,
  frame: number,
): Uint8Array {
  const plane = rows * columns;
  const out = new Uint8Array(plane);
  const base = frame * plane;
  for (let p = 0; p < plane; p++) {
    const bit = base + p;
    out[p] = ((pixelData[bit >> 3] ?? 0) >> (bit & 7)) & 1;
  }
  return out;
}
