/**
 * A CT volume in Hounsfield units with its exact geometry.
 *
 * Coordinate convention: DICOM patient coordinates, LPS (x to the patient's Left, y Posterior, z Superior),
 * in millimetres. Readers of other conventions convert at the edge: NIfTI (RAS) in core/nifti, and back on
 * write. A voxel index (i, j, k) maps to the centre of that voxel at
 *   p = origin + direction * diag(spacing) * [i, j, k]
 * where i runs along a row (DICOM columns), j down the rows, k across slices.
 * `direction` is a 3x3 matrix stored row-major whose COLUMNS are the unit vectors of the i, j and k axes
 * (the ITK convention): direction = [ix, jx, kx, iy, jy, ky, iz, jz, kz]. The k column follows the real
 * slice step, so a gantry-tilted stack keeps its shear rather than being silently squared up.
 * Voxels are stored with i fastest: index = i + nx * (j + ny * k).
 */
import * as z from "zod";
import { Mat3Schema, Vec3Schema } from "./validation-report.js";

export type Vec3 = [number, number, number];
/** Row-major 3x3; columns are axis unit vectors. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
/** Row-major 4x4 homogeneous affine (last row 0 0 0 1). */
export type Mat4 = number[];

export const GeometrySchema = z.object({
  dims: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  spacing: Vec3Schema.refine((s) => s.every((v) => v > 0 && Number.isFinite(v)), "spacing must be positive"),
  origin: Vec3Schema,
  direction: Mat3Schema,
});
export type Geometry = {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
};

export const VolumeSchema = GeometrySchema.extend({
  data: z.union([z.instanceof(Int16Array), z.instanceof(Float32Array)]),
}).refine((v) => v.data.length === v.dims[0] * v.dims[1] * v.dims[2], "data length must equal nx*ny*nz");

/** HU voxels: Int16Array when every HU value is an integer in int16 range (the common CT case), else Float32Array. */
export interface Volume extends Geometry {
  data: Int16Array | Float32Array;
}

/** A label volume on a reference grid (lesion, lung masks): same geometry, one byte per voxel. */
export interface LabelVolume extends Geometry {
  data: Uint8Array;
}
