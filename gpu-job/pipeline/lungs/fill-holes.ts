/**
 * In-plane hole filling, per lung and per slice: vessels, bronchi and lesions that the air threshold left
 * out but that the lung surrounds are lung.
 *
 * A hole of lung L in slice k is a 4-connected region of voxels that are not L, cannot reach the border
 * of L's bounding box in that slice without crossing L, holds no voxel of the other lung (a region that
 * both lungs enclose together is mediastinum), and covers at most `maxHoleVoxels`. The size cap keeps the
 * top of a diaphragm dome out: in the slices just under the dome's peak the lung base rings it, and
 * filling that would add liver to the lung; vessels and bronchi inside the lung are far smaller.
 * 2D rather than 3D because vessels and bronchi run out of the lung at the hilum: in 3D they are not holes.
 */
import type { Vec3 } from "../../../core/contracts/volume.js";
import { type LabelBox, labelBoxes } from "./label-boxes.js";
import { floodFromBorder, spread } from "./plane-flood.js";
import { LUNG_LABEL } from "./types.js";
import { VoxelQueue } from "./voxel-queue.js";

/** Fill holes of both lungs in `labels` (their boxes from labelBoxes); returns the number of voxels filled. */
export function fillLungHoles(
  labels: Uint8Array,
  dims: Vec3,
  maxHoleVoxels: number,
  boxes: Array<LabelBox | undefined> = labelBoxes(labels, dims),
): number {
  let filled = 0;
  for (const lung of [LUNG_LABEL.right, LUNG_LABEL.left]) {
    const box = boxes[lung];
    if (box) filled += fillHolesOf(labels, dims, lung, box, maxHoleVoxels);
  }
  return filled;
}

function fillHolesOf(
  labels: Uint8Array,
  dims: Vec3,
  lung: number,
  box: LabelBox,
  maxHoleVoxels: number,
): number {
  const [nx, ny] = dims;
  const plane = nx * ny;
  const [i0, i1, j0, j1, k0, k1] = box;
  const bw = i1 - i0 + 1;
  const bh = j1 - j0 + 1;
  // Per slice: 0 not lung and not reached, 1 lung, 2 reached from the box border, 3 examined hole.
  const mark = new Uint8Array(bw * bh);
  const queue = new VoxelQueue(Math.min(bw * bh, 1 << 16));
  const hole = new VoxelQueue(256);
  let filled = 0;
  for (let k = k0; k <= k1; k++) {
    const base = k * plane;
    const at = (p: number): number => base + i0 + (p % bw) + nx * (j0 + ((p / bw) | 0));
    let any = false;
    for (let j = 0, p = 0; j < bh; j++) {
      const row = base + i0 + nx * (j0 + j);
      for (let i = 0; i < bw; i++, p++) {
        const isLung = labels[row + i] === lung;
        mark[p] = isLung ? 1 : 0;
        if (isLung) any = true;
      }
    }
    if (!any) continue;
    // Reach in from the box border through non-lung voxels.
    floodFromBorder(mark, bw, bh, queue, 0, 2);
    // What is left at 0 are holes.
    for (let p = 0; p < mark.length; p++) {
      if (mark[p] !== 0) continue;
      hole.clear();
      mark[p] = 3;
      hole.push(p);
      spread(mark, bw, bh, hole, 0, 3);
      if (hole.length > maxHoleVoxels) continue;
      let otherLung = false;
      for (let h = 0; h < hole.length && !otherLung; h++) if (labels[at(hole.at(h))] !== 0) otherLung = true;
      if (otherLung) continue;
      for (let h = 0; h < hole.length; h++) labels[at(hole.at(h))] = lung;
      filled += hole.length;
    }
  }
  return filled;
}
