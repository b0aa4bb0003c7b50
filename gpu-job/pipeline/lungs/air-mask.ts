/**
 * First step of the segmentation: which voxels are air-like, and which of those are outside the body.
 *
 * Outside air is found slice by slice (each k plane): air 4-connected in that plane to the plane's
 * border. Slice-wise rather than 3D because the airways open to the outside above the scan (or reach the
 * top slice): a 3D fill from the border would enter the trachea and run into the lungs. The price is that
 * a lung reaching the in-plane edge of the field of view (a reconstruction that cuts the chest wall) is
 * taken for outside air in those slices.
 */
import type { Vec3, Volume } from "../../../core/contracts/volume.js";

/** Values of the working state volume shared by the lung stages. */
export const STATE = {
  tissue: 0,
  /** Air-like and not (yet) known to be outside the body. */
  air: 1,
  outside: 2,
  /** Air that is not lung (too small, gas). */
  rejected: 3,
  /** Excluded as trachea or main bronchus. */
  airway: 5,
  /** Scratch markers. */
  scratch: 6,
  front: 7,
  /** Lung, final. */
  lung: 8,
} as const;

/**
 * The state volume the lung stages start from: air (HU < thresholdHu) is STATE.air, or STATE.outside when
 * it is reachable in-plane from its slice's border; everything else is STATE.tissue.
 *
 * Per slice, the runs of air along i are joined into 4-connected regions (a run meets the runs of the row
 * before that overlap it) by union-find, and every region with a run on the slice's border is outside.
 * One sequential read of the HU values plus work per run; no per-voxel fill.
 */
export function airState(volume: Volume, thresholdHu: number): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const data = volume.data;
  const plane = nx * ny;
  const state = new Uint8Array(data.length);
  // A row holds at most ceil(nx / 2) runs.
  const maxRuns = ny * Math.ceil(nx / 2);
  const runStart = new Int32Array(maxRuns);
  const runEnd = new Int32Array(maxRuns);
  const runRow = new Int32Array(maxRuns);
  const parent = new Int32Array(maxRuns);
  const border = new Uint8Array(maxRuns);
  const { air, outside } = STATE;
  const find = (r: number): number => {
    while (parent[r] !== r) {
      const up = parent[parent[r]!]!;
      parent[r] = up;
      r = up;
    }
    return r;
  };
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    let n = 0;
    let prevFirst = 0;
    let prevEnd = 0;
    for (let j = 0; j < ny; j++) {
      const row = base + nx * j;
      const first = n;
      const edgeRow = j === 0 || j === ny - 1;
      let p = prevFirst;
      let i = 0;
      while (i < nx) {
        if (!(data[row + i]! < thresholdHu)) {
          i++;
          continue;
        }
        const s = i;
        while (i < nx && data[row + i]! < thresholdHu) i++;
        runStart[n] = s;
        runEnd[n] = i;
        runRow[n] = j;
        parent[n] = n;
        border[n] = edgeRow || s === 0 || i === nx ? 1 : 0;
        // Union with the previous row's runs that overlap [s, i) (p: the first that may).
        while (p < prevEnd && runEnd[p]! <= s) p++;
        for (let q = p; q < prevEnd && runStart[q]! < i; q++) {
          const a = find(n);
          const b = find(q);
          if (a < b) parent[b] = a;
          else if (b < a) parent[a] = b;
        }
        n++;
      }
      prevFirst = first;
      prevEnd = n;
    }
    // Border flags onto the roots, then each run takes its region's value.
    for (let r = 0; r < n; r++) if (border[r]) border[find(r)] = 1;
    for (let r = 0; r < n; r++) {
      const row = base + nx * runRow[r]!;
      state.fill(border[find(r)] ? outside : air, row + runStart[r]!, row + runEnd[r]!);
    }
  }
  return state;
}

/**
 * Mean LPS x of the body (every voxel not outside): the midline for left/right decisions. Sampled on a
 * grid of about 2 mm in-plane, which is plenty for a mean over the whole body.
 */
export function bodyMidlineX(
  state: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  x: { xi: number; xj: number; xk: number; x0: number },
): number | undefined {
  const [nx, ny, nz] = dims;
  const si = Math.max(1, Math.floor(2 / spacing[0]));
  const sj = Math.max(1, Math.floor(2 / spacing[1]));
  let sum = 0;
  let count = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j += sj) {
      const row = x.xj * j + x.xk * k + x.x0;
      const base = nx * (j + ny * k);
      for (let i = 0; i < nx; i += si) {
        if (state[base + i] === STATE.outside) continue;
        sum += row + x.xi * i;
        count++;
      }
    }
  }
  return count > 0 ? sum / count : undefined;
}
