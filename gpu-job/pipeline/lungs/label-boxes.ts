/** Bounding boxes of the label values of a label volume, in one pass. */
import type { Vec3 } from "../../../core/contracts/volume.js";

/** Inclusive index box [i0, i1, j0, j1, k0, k1]. */
export type LabelBox = [number, number, number, number, number, number];

/** The smallest box holding both. */
export function unionBox(a: Readonly<LabelBox>, b: Readonly<LabelBox>): LabelBox {
  return [
    Math.min(a[0], b[0]),
    Math.max(a[1], b[1]),
    Math.min(a[2], b[2]),
    Math.max(a[3], b[3]),
    Math.min(a[4], b[4]),
    Math.max(a[5], b[5]),
  ];
}

/** boxes[label] for every non-zero label present; undefined for absent ones. */
export function labelBoxes(labels: Uint8Array, dims: Vec3): Array<LabelBox | undefined> {
  const [nx, ny, nz] = dims;
  const boxes: Array<LabelBox | undefined> = [];
  let v = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, v++) {
        const l = labels[v]!;
        if (l === 0) continue;
        const b = boxes[l];
        if (!b) {
          boxes[l] = [i, i, j, j, k, k];
          continue;
        }
        if (i < b[0]) b[0] = i;
        if (i > b[1]) b[1] = i;
        if (j < b[2]) b[2] = j;
        if (j > b[3]) b[3] = j;
        b[5] = k;
      }
  return boxes;
}
