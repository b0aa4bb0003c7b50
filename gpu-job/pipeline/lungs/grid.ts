/**
 * Geometry facts the lung stages need from a volume's affine: voxel volume, where "up" (patient
 * superior) lies along k, and LPS x of voxel centres (for the left/right decision).
 */
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";

/** Volume of one voxel in mL: |det(direction * diag(spacing))| / 1000 (exact for sheared stacks too). */
export function voxelVolumeMl(g: Geometry): number {
  const a = voxelToLps(g);
  const det =
    a[0]! * (a[5]! * a[10]! - a[6]! * a[9]!) -
    a[1]! * (a[4]! * a[10]! - a[6]! * a[8]!) +
    a[2]! * (a[4]! * a[9]! - a[5]! * a[8]!);
  return Math.abs(det) / 1000;
}

/** In-plane pixel area in mm^2 (i and j steps; their directions are orthogonal in every stack we accept). */
export function pixelAreaMm2(g: Geometry): number {
  return g.spacing[0] * g.spacing[1];
}

/**
 * How the k axis runs relative to patient z. `axial` when the slice normal is within 45 degrees of the
 * body axis; `superiorK` is the slice index at the patient's head end (0 for a descending stack).
 */
export function sliceOrder(g: Geometry): { axial: boolean; superiorK: number; step: -1 | 1 } {
  const d = g.direction;
  // Slice-plane normal = i x j; its z component tells how axial the slices are.
  const nz = d[0] * d[4] - d[3] * d[1];
  // Within 45 degrees, a hair of rounding included: cos(45 deg) computed from a header lands either side of it.
  const axial = Math.abs(nz) >= Math.SQRT1_2 - 1e-9;
  const kz = d[8];
  const up = kz >= 0;
  return { axial, superiorK: up ? g.dims[2] - 1 : 0, step: up ? -1 : 1 };
}

/** LPS x of voxel (i, j, k) as a linear function: x = xi * i + xj * j + xk * k + x0. */
export function lpsX(g: Geometry): { xi: number; xj: number; xk: number; x0: number } {
  const a = voxelToLps(g);
  return { xi: a[0]!, xj: a[1]!, xk: a[2]!, x0: a[3]! };
}
