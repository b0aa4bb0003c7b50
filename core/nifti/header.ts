/**
 * NIfTI-1 / NIfTI-2 header decoding and the geometry it declares.
 *
 * Two layers:
 *  - decodeNiftiHeader: structural decoding only (size, byte order, magic, dims, datatype code, scaling,
 *    qform/sform). Garbage becomes NOT_NIFTI; it says nothing about whether the image is usable here.
 *  - parseNiftiHeader: decoding plus this pipeline's policy: the datatype must be able to hold Hounsfield
 *    units (UNSUPPORTED_DATATYPE) and the image must be a single 2-D/3-D volume (NOT_A_VOLUME).
 *
 * Geometry follows the NIfTI-1 standard (nifti1.h, "METHOD 1/2/3"): sform when sform_code > 0, else qform
 * when qform_code > 0, else voxel sizes from pixdim with an identity orientation (FALLBACK_GEOMETRY).
 * NIfTI world space is RAS; it is converted to this project's LPS only through core/geometry/affine.ts.
 *
 * Privacy: the free-text fields (descrip, aux_file, intent_name, db_name) are never copied out of the
 * header, because converters sometimes put patient or study details there.
 */

import type { Warning } from "../contracts/validation-report.js";
import type { Geometry, Mat4, Vec3 } from "../contracts/volume.js";
import { reject } from "../errors.js";
import { geometryFromRas } from "../geometry/affine.js";

/** Datatypes this reader decodes into Hounsfield units. */
export type NiftiScalarType =
  | "uint8"
  | "int8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "float32"
  | "float64";

interface DatatypeInfo {
  name: string;
  bytes: number;
  /** Undefined for datatypes that cannot hold one scalar intensity per voxel. */
  scalar?: NiftiScalarType;
  integer?: boolean;
  min?: number;
  max?: number;
}

/** Every datatype code nifti1.h defines; codes outside this table are not NIfTI. */
const DATATYPES: ReadonlyMap<number, DatatypeInfo> = new Map<number, DatatypeInfo>([
  [1, { name: "binary", bytes: 0 }],
  [2, { name: "uint8", bytes: 1, scalar: "uint8", integer: true, min: 0, max: 255 }],
  [4, { name: "int16", bytes: 2, scalar: "int16", integer: true, min: -32768, max: 32767 }],
  [8, { name: "int32", bytes: 4, scalar: "int32", integer: true, min: -(2 ** 31), max: 2 ** 31 - 1 }],
  [16, { name: "float32", bytes: 4, scalar: "float32", integer: false }],
  [32, { name: "complex64", bytes: 8 }],
  [64, { name: "float64", bytes: 8, scalar: "float64", integer: false }],
  [128, { name: "rgb24", bytes: 3 }],
  [256, { name: "int8", bytes: 1, scalar: "int8", integer: true, min: -128, max: 127 }],
  [512, { name: "uint16", bytes: 2, scalar: "uint16", integer: true, min: 0, max: 65535 }],
  [768, { name: "uint32", bytes: 4, scalar: "uint32", integer: true, min: 0, max: 2 ** 32 - 1 }],
  [1024, { name: "int64", bytes: 8, scalar: "int64", integer: true, min: -(2 ** 63), max: 2 ** 63 }],
  [1280, { name: "uint64", bytes: 8, scalar: "uint64", integer: true, min: 0, max: 2 ** 64 }],
  [1536, { name: "float128", bytes: 16 }],
  [1792, { name: "complex128", bytes: 16 }],
  [2048, { name: "complex256", bytes: 32 }],
  [2304, { name: "rgba32", bytes: 4 }],
]);

export type GeometrySource = "sform" | "qform" | "fallback";

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** 348 (NIfTI-1) or 540 (NIfTI-2). */
  sizeofHdr: number;
  /** "n+1"/"n+2": header and data in one file; "ni1"/"ni2": header of a .hdr/.img pair. */
  magic: "n+1" | "ni1" | "n+2" | "ni2";
  singleFile: boolean;
  /** dim[0..7] as stored (NIfTI-2's int64 values converted to numbers). */
  dim: number[];
  /** Spatial grid nx, ny, nz (nz = 1 for a 2-D image). */
  dims: Vec3;
  /** pixdim[0..7] as stored (pixdim[0] is qfac). */
  pixdim: number[];
  datatype: number;
  datatypeName: string;
  /** Set when the datatype holds one real scalar per voxel. */
  scalarType?: NiftiScalarType;
  bytesPerVoxel: number;
  /** Byte offset of the voxel data in a single-file NIfTI (0 in a stored pair header means "unknown"). */
  voxOffset: number;
  /** Scaling applied to stored values: value = stored * sclSlope + sclInter (1 and 0 when unscaled). */
  sclSlope: number;
  sclInter: number;
  /** False when scl_slope was 0 or NaN (NIfTI: no scaling) or the scaling is the identity. */
  scaled: boolean;
  qformCode: number;
  sformCode: number;
  /** xyzt_units & 7: 0 unknown (taken as mm), 1 metre, 2 mm, 3 micron. */
  spatialUnits: number;
  /** Voxels of the volume nx*ny*nz*(higher dims), as declared. */
  voxels: number;
  /** Bytes of voxel data the header declares. */
  dataBytes: number;
  /** Voxel -> RAS mm affine (row-major 4x4) chosen by the sform > qform > fallback rule, in mm. */
  rasAffine: Mat4;
  geometrySource: GeometrySource;
  /** Why the fallback was taken (or the sform/qform skipped), for warnings. */
  geometryNotes: string[];
}

/** Bytes a reader must have to decode either header version. */
export const NIFTI_MAX_HEADER_BYTES = 544;

/** True when this machine stores multi-byte numbers little-endian (every platform Node ships on today). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the byte order of every `size`-byte element of `bytes`, in place. */
export function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  if (size <= 1) return;
  const n = bytes.length - (bytes.length % size);
  for (let o = 0; o < n; o += size) {
    for (let a = o, b = o + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Look up a datatype code (undefined when nifti1.h does not define it). */
export function niftiDatatype(code: number): Readonly<DatatypeInfo> | undefined {
  return DATATYPES.get(code);
}

/**
 * Decode a NIfTI-1 or NIfTI-2 header from the first bytes of a file (at least 348 / 540 bytes).
 * Rejects with NOT_NIFTI when the bytes are not a NIfTI header, TRUNCATED when a recognisable header is cut.
 */
export function decodeNiftiHeader(bytes: Uint8Array, name: string): NiftiHeader {
  const where = { file: name };
  if (bytes.length < 4) reject("NOT_NIFTI", "The file is too short to hold a NIfTI header.", where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Byte order is detected from sizeof_hdr, which must read 348 or 540 in the file's own order.
  const le = dv.getInt32(0, true);
  const be = dv.getInt32(0, false);
  let littleEndian: boolean;
  let sizeofHdr: number;
  if (le === 348 || le === 540) {
    littleEndian = true;
    sizeofHdr = le;
  } else if (be === 348 || be === 540) {
    littleEndian = false;
    sizeofHdr = be;
  } else {
    return reject("NOT_NIFTI", "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2).", where);
  }
  if (bytes.length < sizeofHdr)
    reject("TRUNCATED", `The file ends inside its ${sizeofHdr}-byte NIfTI header.`, where);
  return sizeofHdr === 348 ? decodeV1(dv, littleEndian, name) : decodeV2(dv, littleEndian, name);
}

function ascii(dv: DataView, offset: number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += String.fromCharCode(dv.getUint8(offset + i));
  return s;
}

interface RawFields {
  version: 1 | 2;
  littleEndian: boolean;
  sizeofHdr: number;
  magic: NiftiHeader["magic"];
  dim: number[];
  pixdim: number[];
  datatype: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: Vec3;
  qoffset: Vec3;
  srow: number[];
  xyztUnits: number;
}

function decodeV1(dv: DataView, le: boolean, name: string): NiftiHeader {
  const magic = ascii(dv, 344, 4);
  if (magic !== "n+1\0" && magic !== "ni1\0")
    reject("NOT_NIFTI", "The NIfTI-1 magic ('n+1' or 'ni1') is missing (Analyze 7.5 is not supported).", {
      file: name,
    });
  const f32 = (o: number) => dv.getFloat32(o, le);
  const raw: RawFields = {
    version: 1,
    littleEndian: le,
    sizeofHdr: 348,
    magic: magic.slice(0, 3) as "n+1" | "ni1",
    dim: Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le)),
    pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
    datatype: dv.getInt16(70, le),
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    qformCode: dv.getInt16(252, le),
    sformCode: dv.getInt16(254, le),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: Array.from({ length: 12 }, (_, i) => f32(280 + 4 * i)),
    xyztUnits: dv.getUint8(123),
  };
  return finish(raw, name);
}

function decodeV2(dv: DataView, le: boolean, name: string): NiftiHeader {
  const magic = ascii(dv, 4, 8);
  if (magic !== "n+2\0\r\n\x1a\n" && magic !== "ni2\0\r\n\x1a\n")
    reject("NOT_NIFTI", "The NIfTI-2 magic ('n+2' followed by \\0\\r\\n\\x1a\\n) is missing.", {
      file: name,
    });
  const f64 = (o: number) => dv.getFloat64(o, le);
  // int64 fields: values beyond 2^53 are absurd for dims/offsets and are caught by the range checks.
  const i64 = (o: number) => Number(dv.getBigInt64(o, le));
  const raw: RawFields = {
    version: 2,
    littleEndian: le,
    sizeofHdr: 540,
    magic: magic.slice(0, 3) as "n+2" | "ni2",
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    datatype: dv.getInt16(12, le),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    qformCode: dv.getInt32(344, le),
    sformCode: dv.getInt32(348, le),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: Array.from({ length: 12 }, (_, i) => f64(400 + 8 * i)),
    xyztUnits: dv.getInt32(500, le),
  };
  return finish(raw, name);
}

function finish(raw: RawFields, name: string): NiftiHeader {
  const where = { file: name };
  const dim0 = raw.dim[0]!;
  if (!(dim0 >= 1 && dim0 <= 7)) reject("NOT_NIFTI", `dim[0] is ${dim0}; NIfTI allows 1 to 7.`, where);
  const type = DATATYPES.get(raw.datatype);
  if (type === undefined)
    reject("NOT_NIFTI", `datatype ${raw.datatype} is not a NIfTI datatype code.`, where);

  // Scaling (nifti1.h): scl_slope 0 means "no scaling"; NaN is treated the same (as nibabel does).
  let sclSlope = 1;
  let sclInter = 0;
  if (raw.sclSlope !== 0 && !Number.isNaN(raw.sclSlope)) {
    if (!Number.isFinite(raw.sclSlope))
      reject("NOT_NIFTI", "scl_slope is infinite; the header is corrupt.", where);
    const inter = Number.isNaN(raw.sclInter) ? 0 : raw.sclInter;
    if (!Number.isFinite(inter)) reject("NOT_NIFTI", "scl_inter is infinite; the header is corrupt.", where);
    sclSlope = raw.sclSlope;
    sclInter = inter;
  }

  // Spatial dims; the policy checks (zero, negative, extra dims) are in parseNiftiHeader. Dims beyond
  // dim[0] are unused by definition and count as 1 whatever they hold.
  const used = (i: number) => (i <= dim0 ? raw.dim[i]! : 1);
  const dims: Vec3 = [used(1), used(2), used(3)];
  let voxels = 1;
  for (let i = 1; i <= dim0; i++) voxels *= Math.max(0, raw.dim[i]!);

  // vox_offset: 0 in a single-file header is tolerated as "right after the header" (old writers did this);
  // anything else inside the header, negative or fractional-nonsense is corruption.
  let voxOffset = raw.voxOffset;
  if (!Number.isFinite(voxOffset) || voxOffset < 0)
    reject("NOT_NIFTI", `vox_offset ${voxOffset} is not a valid byte offset.`, where);
  voxOffset = Math.floor(voxOffset);
  const singleFile = raw.magic === "n+1" || raw.magic === "n+2";
  if (singleFile) {
    if (voxOffset === 0) voxOffset = raw.sizeofHdr + 4;
    else if (voxOffset < raw.sizeofHdr)
      reject("NOT_NIFTI", `vox_offset ${voxOffset} points inside the ${raw.sizeofHdr}-byte header.`, where);
  }

  const spatialUnits = raw.xyztUnits & 7;
  const { rasAffine, source, notes } = chooseAffine(raw, spatialUnits);
  return {
    version: raw.version,
    littleEndian: raw.littleEndian,
    sizeofHdr: raw.sizeofHdr,
    magic: raw.magic,
    singleFile,
    dim: raw.dim,
    dims,
    pixdim: raw.pixdim,
    datatype: raw.datatype,
    datatypeName: type.name,
    ...(type.scalar === undefined ? {} : { scalarType: type.scalar }),
    bytesPerVoxel: type.bytes,
    voxOffset,
    sclSlope,
    sclInter,
    scaled: sclSlope !== 1 || sclInter !== 0,
    qformCode: raw.qformCode,
    sformCode: raw.sformCode,
    spatialUnits,
    voxels,
    dataBytes: voxels * type.bytes,
    rasAffine,
    geometrySource: source,
    geometryNotes: notes,
  };
}

/**
 * Without an sform the voxel sizes are pixdim[1..3]. One that is 0 or not a number along an axis with more
 * than one voxel is no voxel size: nifti1_io and nibabel read 0 as 1 mm (nibabel's NaN spoils its affine),
 * and the volume was accepted at a guessed 1 mm spacing without a word. An axis of one voxel needs none.
 */
function rejectUnusableVoxelSizes(h: NiftiHeader, name: string): void {
  if (h.geometrySource === "sform") return;
  const bad = [1, 2, 3].filter((i) => {
    const v = h.pixdim[i];
    return h.dims[i - 1]! > 1 && !(v !== undefined && Number.isFinite(v) && v !== 0);
  });
  if (bad.length === 0) return;
  const from = h.geometrySource === "qform" ? "qform" : "fallback geometry (no sform or qform)";
  reject(
    "MISSING_GEOMETRY",
    `The ${from} takes its voxel sizes from pixdim, and ${bad.map((i) => `pixdim[${i}] is ${h.pixdim[i]}`).join(", ")}: the voxel spacing is unknown.`,
    { file: name },
  );
}

/** A pixdim usable as a voxel size: |v| when non-zero and finite, else 1 (as nifti1_io does). */
const voxelSize = (v: number | undefined): number =>
  v !== undefined && Number.isFinite(v) && v !== 0 ? Math.abs(v) : 1;

/** Metres and microns are converted to mm; 0 ("unknown") is read as mm, the de-facto convention. */
function unitsToMm(spatialUnits: number): number {
  if (spatialUnits === 1) return 1000;
  if (spatialUnits === 3) return 0.001;
  return 1;
}

function chooseAffine(
  raw: RawFields,
  spatialUnits: number,
): { rasAffine: Mat4; source: GeometrySource; notes: string[] } {
  const notes: string[] = [];
  const mm = unitsToMm(spatialUnits);
  const toMm = (a: Mat4) => a.map((v, i) => (i < 12 ? v * mm : v));
  if (raw.sformCode > 0) {
    const s = raw.srow;
    const a = toMm([...s.slice(0, 12), 0, 0, 0, 1]);
    if (isUsableAffine(a)) return { rasAffine: a, source: "sform", notes };
    notes.push(`sform_code is ${raw.sformCode} but the sform matrix is singular or not finite`);
  }
  if (raw.qformCode > 0) {
    const q = qformAffine(raw.quatern, raw.qoffset, raw.pixdim);
    const a = q === undefined ? undefined : toMm(q);
    if (a !== undefined && isUsableAffine(a)) return { rasAffine: a, source: "qform", notes };
    notes.push(`qform_code is ${raw.qformCode} but the quaternion or offsets are not finite`);
  }
  if (raw.sformCode <= 0 && raw.qformCode <= 0) notes.push("sform_code and qform_code are both 0");
  // NIfTI "METHOD 1": x = pixdim[1]*i, y = pixdim[2]*j, z = pixdim[3]*k, RAS, origin 0. (nibabel instead
  // uses Analyze's centred, x-flipped base affine here; the standard is followed.)
  const a: Mat4 = [
    voxelSize(raw.pixdim[1]),
    0,
    0,
    0,
    0,
    voxelSize(raw.pixdim[2]),
    0,
    0,
    0,
    0,
    voxelSize(raw.pixdim[3]),
    0,
    0,
    0,
    0,
    1,
  ];
  return { rasAffine: toMm(a), source: "fallback", notes };
}

function isUsableAffine(a: Mat4): boolean {
  if (!a.every(Number.isFinite)) return false;
  const det =
    a[0]! * (a[5]! * a[10]! - a[6]! * a[9]!) -
    a[1]! * (a[4]! * a[10]! - a[6]! * a[8]!) +
    a[2]! * (a[4]! * a[9]! - a[5]! * a[8]!);
  // A voxel of less than 1e-9 mm^3 (in mm, after unit conversion) is not a voxel of a real image.
  return Math.abs(det) > 1e-9;
}

/**
 * The qform affine ("METHOD 2"), as nifti1_io's nifti_quatern_to_mat44: a = sqrt(1 - b^2 - c^2 - d^2), with
 * a renormalised quaternion when rounding pushed b^2+c^2+d^2 just past 1; qfac = pixdim[0] (0 taken as 1).
 */
export function qformAffine(quatern: Vec3, qoffset: Vec3, pixdim: number[]): Mat4 | undefined {
  let [b, c, d] = quatern;
  if (![b, c, d, ...qoffset].every(Number.isFinite)) return undefined;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const n = Math.hypot(b, c, d);
    if (n > 1.001) return undefined; // far outside the unit ball: not a rotation quaternion
    b /= n;
    c /= n;
    d /= n;
    a = 0;
  } else a = Math.sqrt(a);
  const qfac = (pixdim[0] ?? 1) < 0 ? -1 : 1;
  const dx = voxelSize(pixdim[1]);
  const dy = voxelSize(pixdim[2]);
  const dz = voxelSize(pixdim[3]) * qfac;
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const out: Mat4 = [];
  for (let row = 0; row < 3; row++) {
    const rr = r[row]!;
    out.push(rr[0]! * dx, rr[1]! * dy, rr[2]! * dz, qoffset[row]!);
  }
  out.push(0, 0, 0, 1);
  return out;
}

/**
 * parseNiftiHeader: decode, then apply this pipeline's policy.
 *  - complex, RGB(A), binary and float128 data -> UNSUPPORTED_DATATYPE (no single real intensity per voxel);
 *  - dim[0] > 3 with any of dim[4..dim[0]] > 1 -> NOT_A_VOLUME (a singleton 4th dim is fine);
 *  - fewer than 2 spatial dims, or any used dim <= 0 -> NOT_A_VOLUME.
 * A header-only pair (.hdr, magic ni1/ni2) parses; the readers reject it because its voxels are elsewhere.
 */
export function parseNiftiHeader(bytes: Uint8Array, name: string): NiftiHeader {
  const h = decodeNiftiHeader(bytes, name);
  const where = { file: name };
  if (h.scalarType === undefined)
    reject(
      "UNSUPPORTED_DATATYPE",
      `NIfTI datatype ${h.datatypeName} (${h.datatype}) cannot hold Hounsfield units.`,
      where,
    );
  const dim0 = h.dim[0]!;
  if (dim0 < 2)
    reject("NOT_A_VOLUME", `dim[0] is ${dim0}: fewer than 2 spatial dimensions, not an image volume.`, where);
  for (let i = 1; i <= dim0; i++) {
    if (h.dim[i]! <= 0)
      reject("NOT_A_VOLUME", `dim[${i}] is ${h.dim[i]}: every used dim must be >= 1.`, where);
  }
  for (let i = 4; i <= dim0; i++) {
    if (h.dim[i]! > 1)
      reject(
        "NOT_A_VOLUME",
        `dim[${i}] is ${h.dim[i]}: the file holds ${h.dim[i]} volumes or components, not one 3-D volume.`,
        where,
      );
  }
  return h;
}

/**
 * The header's geometry in this project's LPS convention, with FALLBACK_GEOMETRY when it was assumed.
 * @throws InputRejected MISSING_GEOMETRY when the qform or fallback takes a voxel size from a pixdim that is
 *   0 or not a number.
 */
export function niftiGeometry(h: NiftiHeader, name: string): { geometry: Geometry; warnings: Warning[] } {
  rejectUnusableVoxelSizes(h, name);
  const geometry = geometryFromRas(h.rasAffine, h.dims);
  const warnings: Warning[] = [];
  if (h.geometrySource === "fallback") {
    warnings.push({
      code: "FALLBACK_GEOMETRY",
      message:
        `No usable sform or qform (${h.geometryNotes.join("; ")}); voxel sizes ` +
        `${geometry.spacing.map((s) => +s.toFixed(4)).join(" x ")} mm from pixdim and an identity orientation were assumed.`,
      file: name,
    });
  }
  return { geometry, warnings };
}
