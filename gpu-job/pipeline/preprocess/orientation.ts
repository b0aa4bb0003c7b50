/**
 * The model sees every scan in one orientation: LPS, as a [z][y][x] array (x fastest; x towards the
 * patient's left, y posterior, z superior), reached by permuting and flipping the voxel axes only — the
 * "closest canonical" orientation, as nibabel's io_orientation gives the training code. No resampling, so
 * the mapping is exact in both directions: an oriented voxel is one native voxel.
 *
 * An `OrientedView` describes that mapping as strides: native index of oriented (x, y, z) =
 * offset + x * stride[0] + y * stride[1] + z * stride[2].
 */
import type { Geometry, Vec3 } from "../../../core/contracts/volume.js";

export interface OrientedView {
  /** Oriented sizes along x (L), y (P), z (S). */
  dims: Vec3;
  /** Voxel size in mm along x, y, z. */
  spacing: Vec3;
  /** Native index step per oriented step along x, y, z (negative when the axis is flipped). */
  stride: Vec3;
  /** Native index of oriented voxel (0, 0, 0). */
  offset: number;
  /** For each oriented axis, the native axis (0 i, 1 j, 2 k) it comes from, and whether it is flipped. */
  axes: [
    { native: number; flipped: boolean },
    { native: number; flipped: boolean },
    { native: number; flipped: boolean },
  ];
}

/**
 * Assign each voxel axis to the patient axis it is most aligned with, greedily by the largest |cosine|
 * (so an oblique stack still gets a permutation). Ties at exactly 45° resolve to the lower axis.
 */
export function orientedView(g: Geometry): OrientedView {
  const d = g.direction;
  const cos = (voxelAxis: number, patientAxis: number) => d[patientAxis * 3 + voxelAxis] ?? 0;
  const pairs: { v: number; p: number; c: number }[] = [];
  for (let v = 0; v < 3; v++) for (let p = 0; p < 3; p++) pairs.push({ v, p, c: Math.abs(cos(v, p)) });
  pairs.sort((a, b) => b.c - a.c || a.p - b.p || a.v - b.v);
  const nativeOf = [-1, -1, -1];
  const usedVoxel = new Set<number>();
  for (const { v, p } of pairs) {
    if (nativeOf[p] !== -1 || usedVoxel.has(v)) continue;
    nativeOf[p] = v;
    usedVoxel.add(v);
  }
  const nativeStride = [1, g.dims[0], g.dims[0] * g.dims[1]];
  const axes = [0, 1, 2].map((p) => {
    const native = nativeOf[p] as number;
    return { native, flipped: cos(native, p) < 0 };
  }) as OrientedView["axes"];
  let offset = 0;
  const stride = [0, 0, 0] as Vec3;
  const dims = [0, 0, 0] as Vec3;
  const spacing = [0, 0, 0] as Vec3;
  for (let p = 0; p < 3; p++) {
    const { native, flipped } = axes[p] as { native: number; flipped: boolean };
    const n = g.dims[native] as number;
    dims[p] = n;
    spacing[p] = g.spacing[native] as number;
    const s = nativeStride[native] as number;
    stride[p] = flipped ? -s : s;
    if (flipped) offset += (n - 1) * s;
  }
  return { dims, spacing, stride, offset, axes };
}

/** Native index of oriented voxel (x, y, z). */
export function nativeIndex(view: OrientedView, x: number, y: number, z: number): number {
  return view.offset + x * view.stride[0] + y * view.stride[1] + z * view.stride[2];
}

/**
 * The narrower side of the axial field of view, mm: the extent along the patient's left-right and
 * front-back axes, whichever voxel axes carry them (a coronal stack's rows run head to feet).
 */
export function inPlaneFieldOfViewMm(g: Geometry): number {
  const { dims, spacing } = orientedView(g);
  return Math.min(dims[0] * spacing[0], dims[1] * spacing[1]);
}

/** The coarser pixel side of the axial plane, mm (a coronal stack's slice spacing is one of them). */
export function axialPixelMm(g: Geometry): number {
  const { spacing } = orientedView(g);
  return Math.max(spacing[0], spacing[1]);
}
