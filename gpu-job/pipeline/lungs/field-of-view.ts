/**
 * The reconstruction circle. A CT scanner reconstructs a disc; the square image's pixels outside it hold
 * one padding value in every slice (Pixel Padding Value, or raw -2000 / -3024 HU; the DICOM decoder maps
 * declared padding to -1024 HU). Those pixels were never seen, and where a field of view narrower than the
 * chest cuts the lungs, the circle, not the image's border, is what cuts them: the lung stage must take the
 * circle's edge for the edge of the field of view, or the cut lung's air joins the padding and is thrown
 * away as outside air (a 250 mm round field of view: lung Dice 0.14).
 *
 * Out of view here: a pixel whose value is the same in every slice and at most MAX_PADDING_HU, connected
 * in-plane (4-neighbours) through such pixels to the image's border. Nothing is assumed about the disc's
 * size or centre. A pixel inside the view never qualifies, as its value changes from slice to slice (air is
 * about -1000 HU with noise); where air outside the body happens to be clipped to the same value in every
 * slice it is taken as out of view, which changes nothing (it is outside either way). A single slice gives
 * no evidence of constancy, so only values below MAX_PADDING_HU count there.
 */
import type { Volume } from "../../../core/contracts/volume.js";
import { PADDING_HU } from "../../../core/dicom/decode-pixels.js";
import { floodFromBorder } from "./plane-flood.js";
import { VoxelQueue } from "./voxel-queue.js";

/** Padding is at most this: the decoder's value for declared padding, or the raw -2000 / -3024 HU. */
export const MAX_PADDING_HU = PADDING_HU;

/**
 * The in-plane mask (nx * ny, 1 = out of view) of the pixels outside the reconstructed field of view, or
 * undefined when there are none. Reads the first slice whole, then only the pixels still in question.
 */
export function outOfViewMask(volume: Volume): Uint8Array | undefined {
  const [nx, ny, nz] = volume.dims;
  const plane = nx * ny;
  const data = volume.data;
  // Candidates: at most MAX_PADDING_HU in the first slice (below it, for a single slice), then the same in
  // every other. A list, so that a scan without padding, whose few candidates (clipped air) drop out within
  // a slice or two, costs next to nothing.
  const candidates = new Int32Array(plane);
  let n = 0;
  for (let p = 0; p < plane; p++) {
    const v = data[p]!;
    if (nz === 1 ? v < MAX_PADDING_HU : v <= MAX_PADDING_HU) candidates[n++] = p;
  }
  for (let k = 1; k < nz && n > 0; k++) {
    const base = k * plane;
    let kept = 0;
    for (let c = 0; c < n; c++) {
      const p = candidates[c]!;
      if (data[base + p] === data[p]) candidates[kept++] = p;
    }
    n = kept;
  }
  if (n === 0) return undefined;
  const constant = new Uint8Array(plane);
  for (let c = 0; c < n; c++) constant[candidates[c]!] = 1;
  // Keep those connected to the border.
  const queue = new VoxelQueue(4 * (nx + ny));
  floodFromBorder(constant, nx, ny, queue, 1, 2);
  if (queue.length === 0) return undefined;
  for (let p = 0; p < plane; p++) constant[p] = constant[p] === 2 ? 1 : 0;
  return constant;
}

/**
 * Row-wise counts of the out-of-view mask, to ask in O(1) whether a span of a row touches it: rows
 * outside the image count as out of view (the border).
 */
export class ViewEdge {
  private readonly prefix: Int32Array;

  constructor(
    private readonly nx: number,
    private readonly ny: number,
    mask: Uint8Array | undefined,
  ) {
    this.prefix = new Int32Array((nx + 1) * ny);
    if (mask)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          this.prefix[(nx + 1) * j + i + 1] = this.prefix[(nx + 1) * j + i]! + mask[nx * j + i]!;
  }

  /** Out-of-view pixels of row j in [s, e) (clipped to the row); a row beyond the image counts them all. */
  private count(j: number, s: number, e: number): number {
    if (j < 0 || j >= this.ny) return 1;
    const a = Math.max(0, s);
    const b = Math.min(this.nx, e);
    if (b <= a) return 0;
    const row = (this.nx + 1) * j;
    return this.prefix[row + b]! - this.prefix[row + a]!;
  }

  /**
   * Whether the run [s, e) of row j (in view) touches the edge of the field of view: the image's border,
   * or an out-of-view pixel beside it, above it or below it (4-neighbours).
   */
  touches(j: number, s: number, e: number): boolean {
    if (s === 0 || e === this.nx) return true;
    return (
      this.count(j, s - 1, s) > 0 ||
      this.count(j, e, e + 1) > 0 ||
      this.count(j - 1, s, e) > 0 ||
      this.count(j + 1, s, e) > 0
    );
  }
}
