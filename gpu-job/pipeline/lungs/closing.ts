/**
 * 3D morphological closing of each lung with a ball of radius r (mm): puts back what the air threshold
 * cut out of the lung's outline, above all consolidation against the pleura (+50 HU is not air-like,
 * and a subpleural lesion is not enclosed in-plane, so hole filling cannot restore it). The closing adds
 * only concavities narrower than about 2r, so the mediastinum, the heart and the diaphragm domes, which
 * a ball of radius r fits into, stay out.
 *
 * Closing = erosion of the dilation, both by exact distance transforms: dilation D = {p : dist(p, lung)
 * <= r}, closing = {p : dist(p, outside D) > r}. Beyond the volume's edges counts as outside D: what lies
 * there is unknown, so the closing adds nothing it would need it for (conservative; a slab cut through
 * an oblique diaphragm would otherwise fill the liver under the lung of the neighbouring slices).
 *
 * Cost. The transforms run on a grid of cells of about `cellMm` (whole numbers of voxels per axis: 3 x 3 x
 * 2 voxels for 0.7 mm pixels and 1.25 mm slices, 1 x 1 x 1 at 2.5 mm and coarser); a cell is lung when
 * most of its voxels are. Voxels are added only in cells the closing adds (cells that were not lung), so
 * the cell size never grows the lung along a flat surface; it only rounds the lid of a filled concavity
 * to a cell. Added voxels must be non-lung (never the other lung), inside the body, not excluded airway,
 * and below `maxHu` (ribs and other bone stay out).
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";
import { STATE } from "./air-mask.js";
import { squaredDistanceTransform } from "./distance-transform.js";
import type { LabelBox } from "./label-boxes.js";

export interface ClosingOptions {
  radiusMm: number;
  maxHu: number;
  /** Target cell size (mm) of the grid the closing is computed on. */
  cellMm: number;
}

/** Close lung `lung` in `labels` (a box holding it given); returns the number of voxels added. */
export function closeLung(
  labels: Uint8Array,
  state: Uint8Array,
  volume: Volume,
  lung: number,
  box: LabelBox,
  o: ClosingOptions,
): number {
  if (!(o.radiusMm > 0)) return 0;
  const [nx, ny] = volume.dims;
  const sp = volume.spacing;
  const f = sp.map((s) => Math.max(1, Math.floor(o.cellMm / s))) as Vec3;
  const cell = sp.map((s, a) => s * f[a]!) as Vec3;
  // The lung's box grown by r (plus a cell), clipped to the volume, in whole cells from its low corner.
  const lo = [0, 1, 2].map((a) => Math.max(0, box[2 * a]! - (Math.ceil(o.radiusMm / sp[a]!) + f[a]!)));
  const hi = [0, 1, 2].map((a) =>
    Math.min(volume.dims[a]! - 1, box[2 * a + 1]! + Math.ceil(o.radiusMm / sp[a]!) + f[a]!),
  );
  const cells = [0, 1, 2].map((a) => Math.ceil((hi[a]! - lo[a]! + 1) / f[a]!));
  // Cell grid plus a one-cell ring that counts as outside the dilation (the field-of-view rule above).
  const cx = cells[0]! + 2;
  const cy = cells[1]! + 2;
  const cz = cells[2]! + 2;
  const lungCount = new Int32Array(cx * cy * cz);
  const voxelCount = new Int32Array(cx * cy * cz);
  const [i0, j0, k0] = lo as Vec3;
  const [i1, j1, k1] = hi as Vec3;
  // Voxels per cell along each axis (the last cell of an axis may be cut by the box), so a cell's voxel
  // count is a product and the voxel loop only counts lung voxels, one cell-wide chunk of a row at a time.
  const perAxis = (a: number, n: number): Int32Array => {
    const out = new Int32Array(n + 2);
    for (let c = 0; c < n; c++) out[c + 1] = Math.min(f[a]!, hi[a]! - lo[a]! + 1 - c * f[a]!);
    return out;
  };
  const nI = perAxis(0, cells[0]!);
  const nJ = perAxis(1, cells[1]!);
  const nK = perAxis(2, cells[2]!);
  for (let ck = 0; ck < cz; ck++)
    for (let cj = 0; cj < cy; cj++)
      for (let ci = 0; ci < cx; ci++) voxelCount[ci + cx * (cj + cy * ck)] = nI[ci]! * nJ[cj]! * nK[ck]!;
  const fi = f[0];
  for (let k = k0; k <= k1; k++) {
    const ck = 1 + (((k - k0) / f[2]) | 0);
    for (let j = j0; j <= j1; j++) {
      const rowCell = cx * (1 + (((j - j0) / f[1]) | 0) + cy * ck);
      const row = nx * (j + ny * k);
      for (let i = i0, c = rowCell + 1; i <= i1; i += fi, c++) {
        const end = Math.min(i1 + 1, i + fi);
        let n = 0;
        for (let v = row + i; v < row + end; v++) if (labels[v] === lung) n++;
        lungCount[c]! += n;
      }
    }
  }
  const d = new Float32Array(cx * cy * cz);
  for (let c = 0; c < d.length; c++)
    d[c] = voxelCount[c]! > 0 && 2 * lungCount[c]! > voxelCount[c]! ? 0 : Infinity;
  const r2 = o.radiusMm * o.radiusMm;
  squaredDistanceTransform(d, [cx, cy, cz], cell);
  // The dilation's complement, and the ring, are the feature of the second transform.
  for (let c = 0; c < d.length; c++) d[c] = voxelCount[c]! > 0 && d[c]! <= r2 ? Infinity : 0;
  squaredDistanceTransform(d, [cx, cy, cz], cell);
  // Cells the closing adds: closed, and not lung cells already.
  const adds = new Uint8Array(d.length);
  let any = false;
  for (let c = 0; c < d.length; c++) {
    if (d[c]! > r2 && voxelCount[c]! > 0 && 2 * lungCount[c]! <= voxelCount[c]!) {
      adds[c] = 1;
      any = true;
    }
  }
  if (!any) return 0;
  const hu = volume.data;
  const { outside, airway } = STATE;
  let added = 0;
  for (let k = k0; k <= k1; k++) {
    const ck = 1 + (((k - k0) / f[2]) | 0);
    for (let j = j0; j <= j1; j++) {
      const rowCell = cx * (1 + (((j - j0) / f[1]) | 0) + cy * ck);
      const row = nx * (j + ny * k);
      for (let i = i0, c = rowCell + 1; i <= i1; i += fi, c++) {
        if (adds[c] === 0) continue;
        const end = Math.min(i1 + 1, i + fi);
        for (let v = row + i; v < row + end; v++) {
          if (labels[v] !== 0) continue;
          const s = state[v];
          if (s === outside || s === airway || !(hu[v]! < o.maxHu)) continue;
          labels[v] = lung;
          added++;
        }
      }
    }
  }
  return added;
}
