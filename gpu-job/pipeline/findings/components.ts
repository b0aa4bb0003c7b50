/**
 * 3D connected components of a binary mask, without a label volume: one raster pass keeps the provisional
 * labels of two slices only (union-find over them), and hands back one component index per foreground
 * voxel in raster order. A caller that walks the grid in the same order reads its voxel's component with
 * a running cursor. Memory: 4 bytes per foreground voxel and per provisional label, plus two slices —
 * never 4 bytes per voxel of the grid (a 512x512x300 label map would be 315 MB). Zero runs of the mask are
 * stepped over four voxels at a time.
 */
import type { Vec3 } from "../../../core/contracts/volume.js";
import { zeroWordView } from "./zero-words.js";

export type Connectivity = 6 | 26;

export interface Components {
  /** Number of components. */
  count: number;
  /** Component (0-based) of each foreground voxel, in raster order (i fastest, then j, then k). */
  componentOfVoxel: Int32Array;
  /** Foreground voxels per component. Components are numbered in the raster order of their first voxel. */
  voxels: Int32Array;
  /** Voxels of `mask` left out because `within` is 0 there. */
  excluded: number;
}

/**
 * Components of { mask != 0 and (within absent or within != 0) } on a grid of `dims`
 * (index = i + nx * (j + ny * k)). 26-connectivity joins voxels sharing a face, an edge or a corner;
 * 6-connectivity joins faces only.
 */
export function connectedComponents(
  mask: Uint8Array,
  dims: Vec3,
  connectivity: Connectivity,
  within?: Uint8Array,
): Components {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const n = plane * nz;
  if (mask.length !== n || (within !== undefined && within.length !== n)) {
    throw new RangeError(`mask length ${mask.length} does not match dims ${dims.join("x")}`);
  }
  let componentOfVoxel = new Int32Array(1 << 16);
  let excluded = 0;
  const words = zeroWordView(mask);

  // Provisional labels start at 1; 0 means background in the slice buffers.
  let parent = new Int32Array(1024);
  let size = new Int32Array(1024);
  let next = 1;
  const find = (a: number): number => {
    while (parent[a] !== a) {
      const up = parent[parent[a]!]!;
      parent[a] = up; // path halving
      a = up;
    }
    return a;
  };
  // The smaller root wins, so a root is always the set's smallest label: the raster order of first voxels.
  const join = (neighbour: number, label: number): number => {
    if (neighbour === 0 || neighbour === label) return label;
    if (label === 0) return neighbour;
    const ra = find(neighbour);
    const rb = find(label);
    if (ra < rb) parent[rb] = ra;
    else if (rb < ra) parent[ra] = rb;
    return label;
  };

  let prev = new Int32Array(plane);
  let cur = new Int32Array(plane);
  const full = connectivity === 26;
  let t = 0;
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    cur.fill(0);
    const hasPrev = k > 0;
    for (let j = 0; j < ny; j++) {
      const hasUp = j > 0;
      const hasDown = j < ny - 1;
      for (let i = 0; i < nx; i++, idx++) {
        if (words !== undefined && (idx & 3) === 0 && i + 3 < nx && words[idx >>> 2] === 0) {
          i += 3;
          idx += 3;
          continue;
        }
        if (mask[idx] === 0) continue;
        if (within !== undefined && within[idx] === 0) {
          excluded++;
          continue;
        }
        const p = i + nx * j;
        const hasRight = i < nx - 1;
        let label = i > 0 ? cur[p - 1]! : 0;
        if (!full) {
          if (hasUp) label = join(cur[p - nx]!, label);
          if (hasPrev) label = join(prev[p]!, label);
        } else if (label !== 0) {
          // The left voxel is foreground and already joined to every backward neighbour we share with it
          // (all but the column i + 1): only that column can bring anything new.
          if (hasRight) {
            if (hasUp) label = join(cur[p - nx + 1]!, label);
            if (hasPrev) {
              if (hasUp) label = join(prev[p - nx + 1]!, label);
              label = join(prev[p + 1]!, label);
              if (hasDown) label = join(prev[p + nx + 1]!, label);
            }
          }
        } else {
          const hasLeft = i > 0;
          if (hasUp) {
            const up = p - nx;
            label = join(cur[up]!, label);
            if (hasLeft) label = join(cur[up - 1]!, label);
            if (hasRight) label = join(cur[up + 1]!, label);
          }
          if (hasPrev) {
            for (let dj = -1; dj <= 1; dj++) {
              if ((dj < 0 && !hasUp) || (dj > 0 && !hasDown)) continue;
              const row = p + dj * nx;
              label = join(prev[row]!, label);
              if (hasLeft) label = join(prev[row - 1]!, label);
              if (hasRight) label = join(prev[row + 1]!, label);
            }
          }
        }
        if (label === 0) {
          if (next === parent.length) {
            parent = grow(parent);
            size = grow(size);
          }
          label = next++;
          parent[label] = label;
        }
        cur[p] = label;
        size[label]!++;
        if (t === componentOfVoxel.length) componentOfVoxel = grow(componentOfVoxel);
        componentOfVoxel[t++] = label;
      }
    }
    const swap = prev;
    prev = cur;
    cur = swap;
  }

  const indexOf = new Int32Array(next);
  let count = 0;
  for (let label = 1; label < next; label++) {
    const root = find(label);
    indexOf[label] = root === label ? count++ : indexOf[root]!;
  }
  const voxels = new Int32Array(count);
  for (let label = 1; label < next; label++) voxels[indexOf[label]!]! += size[label]!;
  const foreground = componentOfVoxel.subarray(0, t);
  for (let v = 0; v < t; v++) foreground[v] = indexOf[foreground[v]!]!;
  return { count, componentOfVoxel: foreground, voxels, excluded };
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
