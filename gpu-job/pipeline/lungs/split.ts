/**
 * Separating two lungs that touch (anterior or posterior junction, or joined through airways that were
 * not removed) and so form one air component.
 *
 * Erosion by distance: the exact distance transform d (mm) of the component gives every erosion at once
 * ({d > t} is the component eroded by a ball of radius t). Thresholds t grow geometrically from the
 * smallest voxel step; the first erosion that leaves two pieces, each holding at least `minSplitFraction`
 * of what survives and lying on opposite sides of the body midline, gives the two lung cores. Then every
 * voxel of the component is handed to a core by flooding outwards in order of decreasing d (a watershed
 * on -d with two markers), so the border between the lungs falls on the thinnest neck between the cores:
 * the junction line. The piece with the lower mean LPS x is the right lung.
 */
import type { Geometry, Vec3 } from "../../../core/contracts/volume.js";
import { findComponents, flood } from "./components.js";
import { squaredDistanceTransform } from "./distance-transform.js";
import { lpsX } from "./grid.js";
import { LUNG_LABEL } from "./types.js";
import { VoxelQueue } from "./voxel-queue.js";

const EROSION_GROWTH = 1.3;
const RIGHT = LUNG_LABEL.right;
const LEFT = LUNG_LABEL.left;

/**
 * Split the component whose voxels hold `mark` in `mask` (inside index box `box`) and write right/left
 * labels for its voxels into `labels`. Returns false (writing nothing) when no erosion separates it.
 */
export function splitMergedLungs(
  mask: Uint8Array,
  mark: number,
  box: [number, number, number, number, number, number],
  geometry: Geometry,
  midlineX: number,
  minSplitFraction: number,
  labels: Uint8Array,
): boolean {
  const [nx, ny, nz] = geometry.dims;
  // Grown by one voxel so the component's outer faces see their background neighbours.
  const i0 = Math.max(0, box[0] - 1);
  const j0 = Math.max(0, box[2] - 1);
  const k0 = Math.max(0, box[4] - 1);
  const bx = Math.min(nx - 1, box[1] + 1) - i0 + 1;
  const by = Math.min(ny - 1, box[3] + 1) - j0 + 1;
  const bz = Math.min(nz - 1, box[5] + 1) - k0 + 1;
  const local: Vec3 = [bx, by, bz];
  const n = bx * by * bz;
  const globalOf = (l: number): number => {
    const lk = (l / (bx * by)) | 0;
    const rem = l - lk * bx * by;
    const lj = (rem / bx) | 0;
    return i0 + (rem - lj * bx) + nx * (j0 + lj + ny * (k0 + lk));
  };

  const d = new Float32Array(n);
  const member = new Uint8Array(n);
  let l = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      let v = i0 + nx * (j0 + j + ny * (k0 + k));
      for (let i = 0; i < bx; i++, v++, l++) {
        if (mask[v] === mark) {
          member[l] = 1;
          d[l] = Infinity;
        }
      }
    }
  }
  squaredDistanceTransform(d, local, geometry.spacing);
  let maxD = 0;
  for (let q = 0; q < n; q++) {
    if (!member[q]) continue;
    d[q] = Math.sqrt(d[q]!);
    if (d[q]! > maxD && d[q]! !== Infinity) maxD = d[q]!;
  }

  const x = lpsX(geometry);
  const xOfLocal = (c: Vec3): number => x.xi * (i0 + c[0]) + x.xj * (j0 + c[1]) + x.xk * (k0 + c[2]) + x.x0;
  const work = new Uint8Array(n);
  const queue = new VoxelQueue(1 << 16);
  const tStart = Math.min(...geometry.spacing);
  let cores: [number, number] | undefined;
  for (let t = tStart; t < maxD && !cores; t *= EROSION_GROWTH) {
    for (let q = 0; q < n; q++) work[q] = member[q] && d[q]! > t ? 1 : 0;
    const pieces = findComponents(work, local, 1, 2).sort((a, b) => b.voxels - a.voxels);
    const total = pieces.reduce((s, p) => s + p.voxels, 0);
    const [a, b] = pieces;
    if (!a || !b || b.voxels < minSplitFraction * total) continue;
    const xa = xOfLocal(a.centroid);
    const xb = xOfLocal(b.centroid);
    if ((xa - midlineX) * (xb - midlineX) >= 0) continue;
    cores = [a.seed, b.seed];
  }
  if (!cores) return false;

  // Markers: part A = 3, part B = 4 in `work`; member voxels not yet assigned = 1 in `member`, assigned
  // ones take 3 or 4 there too.
  flood(work, local, cores[0], 2, 3, queue);
  flood(work, local, cores[1], 2, 4, queue);
  const step = 0.5 * tStart;
  const levels = Math.ceil(maxD / step) + 2;
  const levelOf = (q: number): number => {
    const v = d[q]!;
    return v === Infinity ? levels - 1 : Math.min(levels - 1, Math.floor(v / step));
  };
  const buckets: VoxelQueue[] = [];
  const bucket = (lv: number): VoxelQueue => {
    let b = buckets[lv];
    if (!b) {
      b = new VoxelQueue(256);
      buckets[lv] = b;
    }
    return b;
  };
  for (let q = 0; q < n; q++) {
    if (work[q] === 3 || work[q] === 4) {
      member[q] = work[q]!;
      bucket(levelOf(q)).push(q);
    }
  }
  const plane = bx * by;
  let part = 0;
  let lv = levels - 1;
  const visit = (r: number): void => {
    if (member[r] !== 1) return;
    member[r] = part;
    bucket(Math.min(levelOf(r), lv)).push(r);
  };
  while (lv >= 0) {
    const b = buckets[lv];
    if (!b || b.length === 0) {
      lv--;
      continue;
    }
    const q = b.at(--b.length);
    part = member[q]!;
    const k = (q / plane) | 0;
    const rem = q - k * plane;
    const j = (rem / bx) | 0;
    const i = rem - j * bx;
    if (i > 0) visit(q - 1);
    if (i < bx - 1) visit(q + 1);
    if (j > 0) visit(q - bx);
    if (j < by - 1) visit(q + bx);
    if (k > 0) visit(q - plane);
    if (k < bz - 1) visit(q + plane);
  }

  // Side by mean LPS x of each part.
  let sumA = 0;
  let nA = 0;
  let sumB = 0;
  let nB = 0;
  l = 0;
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = x.xj * (j0 + j) + x.xk * (k0 + k) + x.x0;
      for (let i = 0; i < bx; i++, l++) {
        const p = member[l];
        if (p !== 3 && p !== 4) continue;
        const xv = row + x.xi * (i0 + i);
        if (p === 3) {
          sumA += xv;
          nA++;
        } else {
          sumB += xv;
          nB++;
        }
      }
    }
  }
  const aIsRight = sumA / Math.max(1, nA) < sumB / Math.max(1, nB);
  for (let q = 0; q < n; q++) {
    const p = member[q];
    if (p !== 3 && p !== 4) continue;
    labels[globalOf(q)] = (p === 3) === aIsRight ? RIGHT : LEFT;
  }
  return true;
}
