/**
 * Writing volumes as NIfTI-1 single files (.nii, or .nii.gz streamed through gzip).
 *
 * The header is little-endian, vox_offset 352 (no extensions), xyzt_units mm, and both codes are 1
 * (NIFTI_XFORM_SCANNER_ANAT): the sform is the exact voxel -> RAS affine (voxelToRas of the geometry, stored
 * as float32), and the qform is the same rotation as a quaternion when the grid's axes are orthonormal.
 * A sheared grid (gantry tilt) has no quaternion form: the qform is then left out (qform_code 0) and
 * descrip says so, so readers fall back to the sform, which keeps the shear exactly.
 *
 * descrip holds only the caller's description (printable ASCII, never patient data: callers pass a fixed
 * product string) and that note; no other free-text field is written.
 */
import { createWriteStream } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Geometry, LabelVolume, Mat3, Volume } from "../contracts/volume.js";
import { voxelToRas } from "../geometry/affine.js";
import { tempPathBeside } from "../util/temp-path.js";
import { HOST_LITTLE_ENDIAN, swapBytesInPlace } from "./header.js";

export type NiftiOutputType = "int16" | "uint8" | "float32";

export interface NiftiEncodeOptions {
  /** Stored datatype; default from the data: Int16Array -> int16, Uint8Array -> uint8, Float32Array -> float32. */
  datatype?: NiftiOutputType;
  /** Goes to descrip (printable ASCII, cut to fit 80 bytes). Never pass patient data. Default "DeepSC-COVID". */
  description?: string;
  /**
   * scl_slope/scl_inter: real value = stored * slope + inter (e.g. an 8-bit evidence map in [0, 1] with
   * slope 1/255). Default 1/0: stored values are the values (HU or labels).
   */
  scaling?: { slope: number; inter: number };
}

export interface NiftiWriteOptions extends NiftiEncodeOptions {
  /** gzip level for .nii.gz (default 6). */
  gzipLevel?: number;
}

const HEADER_BYTES = 352;
const CHUNK_VOXELS = 1 << 20;
/** Off-diagonal dot products (and unit-length errors) above this mean the axes are not orthonormal. */
const ORTHONORMAL_TOLERANCE = 1e-4;

const TYPES: Record<NiftiOutputType, { code: number; bytes: number; min: number; max: number }> = {
  uint8: { code: 2, bytes: 1, min: 0, max: 255 },
  int16: { code: 4, bytes: 2, min: -32768, max: 32767 },
  float32: { code: 16, bytes: 4, min: -Infinity, max: Infinity },
};

type AnyVolume = Volume | LabelVolume;

/** The whole .nii file in memory. Prefer writeNifti for large volumes: it streams. */
export function encodeNifti(vol: AnyVolume, opts?: NiftiEncodeOptions): Uint8Array {
  const type = outputType(vol, opts);
  const header = encodeNiftiHeader(vol, type, opts?.description, opts?.scaling);
  const out = new Uint8Array(HEADER_BYTES + vol.data.length * TYPES[type].bytes);
  out.set(header, 0);
  let offset = HEADER_BYTES;
  for (const chunk of voxelChunks(vol, type)) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Write a .nii or .nii.gz (chosen by the path's extension) atomically: the bytes stream into a temporary
 * file beside the target, which is renamed over it only once complete, so readers never see half a file.
 */
export async function writeNifti(vol: AnyVolume, path: string, opts?: NiftiWriteOptions): Promise<void> {
  const lower = path.toLowerCase();
  const gz = lower.endsWith(".nii.gz");
  if (!gz && !lower.endsWith(".nii"))
    throw new Error(`writeNifti: ${basename(path)} must end in .nii or .nii.gz`);
  const type = outputType(vol, opts);
  const header = encodeNiftiHeader(vol, type, opts?.description, opts?.scaling);
  const tmp = tempPathBeside(path);
  const chunks = function* () {
    yield header;
    yield* sameTypeViews(vol, type) ?? voxelChunks(vol, type);
  };
  try {
    if (gz) {
      const sink = createWriteStream(tmp, { flags: "wx" });
      await pipeline(Readable.from(chunks()), createGzip({ level: opts?.gzipLevel ?? 6 }), sink);
    } else {
      // Plain .nii: straight writes of the volume's own memory, no stream machinery or copies.
      const fh = await open(tmp, "wx");
      try {
        let at = 0;
        for (const chunk of chunks()) {
          await writeAll(fh, chunk, at);
          at += chunk.length;
        }
      } finally {
        await fh.close();
      }
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes every byte at `position`: a short write (a full disk) continues or fails, never leaves a hole. */
async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0)
      throw new Error(`NIfTI write stalled at byte ${position + done}: nothing was written`);
    done += bytesWritten;
  }
}

/** A plain .nii of int16 voxels written slice by slice, in any order; see openNiftiSliceWriter. */
export interface NiftiSliceWriter {
  /** Slice k (dims[0] x dims[1] voxels, x fastest), written at its place in the file; `slice` is free again once this settles. */
  write(k: number, slice: Int16Array): Promise<void>;
  /** Writes the header for `geometry` and renames the file into place; every slice must have been written. */
  commit(geometry: Geometry, description?: string): Promise<void>;
  /** Removes the temporary file (a rejected or failed conversion leaves nothing behind). */
  abort(): Promise<void>;
}

/**
 * A .nii written while the volume is decoded, without ever holding the volume (deepsc convert): slices go to
 * their offsets in a temporary file beside `path`, and commit() adds the header and renames it into place,
 * as writeNifti does. Faster than assembling the volume first, not only smaller: a fresh buffer of a whole
 * volume costs the kernel a page fault per 4 KiB (bench/README.md, ingestion).
 */
export async function openNiftiSliceWriter(path: string): Promise<NiftiSliceWriter> {
  if (!path.toLowerCase().endsWith(".nii"))
    throw new Error(`openNiftiSliceWriter: ${basename(path)} must end in .nii (plain, not gzipped)`);
  const tmp = tempPathBeside(path);
  const fh = await open(tmp, "wx");
  const written = new Set<number>();
  let sliceVoxels: number | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    async write(k, slice) {
      sliceVoxels ??= slice.length;
      if (slice.length !== sliceVoxels || !Number.isInteger(k) || k < 0)
        throw new Error(`NiftiSliceWriter: slice ${k} of ${slice.length} voxels does not fit this volume`);
      let bytes = new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength);
      if (!HOST_LITTLE_ENDIAN) {
        bytes = bytes.slice();
        swapBytesInPlace(bytes, 2);
      }
      await writeAll(fh, bytes, HEADER_BYTES + k * bytes.length);
      written.add(k);
    },
    async commit(geometry, description) {
      const [nx, ny, nz] = geometry.dims;
      if (written.size !== nz || (nz > 0 && sliceVoxels !== nx * ny) || [...written].some((k) => k >= nz))
        throw new Error(`NiftiSliceWriter: ${written.size} slices written for a volume of ${nz}`);
      await writeAll(fh, encodeNiftiHeader(geometry, "int16", description), 0);
      await close();
      await rename(tmp, path);
    },
    async abort() {
      await close();
      await rm(tmp, { force: true });
    },
  };
}

function outputType(vol: AnyVolume, opts: NiftiEncodeOptions | undefined): NiftiOutputType {
  if (opts?.datatype !== undefined) return opts.datatype;
  if (vol.data instanceof Uint8Array) return "uint8";
  if (vol.data instanceof Int16Array) return "int16";
  return "float32";
}

/** The 352-byte NIfTI-1 header (348 + an empty extension flag). Throws RangeError on unwritable geometry. */
export function encodeNiftiHeader(
  g: Geometry,
  type: NiftiOutputType,
  description?: string,
  scaling?: { slope: number; inter: number },
): Uint8Array {
  checkWritable(g);
  if (scaling && !(Number.isFinite(scaling.slope) && scaling.slope !== 0 && Number.isFinite(scaling.inter)))
    throw new RangeError(
      `scl_slope must be finite and non-zero and scl_inter finite, got ${scaling.slope}, ${scaling.inter}`,
    );
  const buf = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(buf.buffer);
  const le = true;
  const ras = voxelToRas(g);
  const q = qformOf(g.direction);

  dv.setInt32(0, 348, le);
  const dim = [3, g.dims[0], g.dims[1], g.dims[2], 1, 1, 1, 1];
  dim.forEach((d, i) => {
    dv.setInt16(40 + 2 * i, d, le);
  });
  dv.setInt16(70, TYPES[type].code, le);
  dv.setInt16(72, TYPES[type].bytes * 8, le);
  const pixdim = ["quatern" in q ? q.qfac : 1, g.spacing[0], g.spacing[1], g.spacing[2], 1, 1, 1, 1];
  pixdim.forEach((p, i) => {
    dv.setFloat32(76 + 4 * i, p, le);
  });
  dv.setFloat32(108, HEADER_BYTES, le); // vox_offset
  dv.setFloat32(112, scaling?.slope ?? 1, le); // scl_slope: by default stored values are already HU (or labels)
  dv.setFloat32(116, scaling?.inter ?? 0, le); // scl_inter
  buf[123] = 2; // xyzt_units: NIFTI_UNITS_MM, time unknown
  writeAscii(buf, 148, 80, descrip(description, "quatern" in q ? undefined : q.why));
  dv.setInt16(252, "quatern" in q ? 1 : 0, le); // qform_code: NIFTI_XFORM_SCANNER_ANAT or unset
  dv.setInt16(254, 1, le); // sform_code: NIFTI_XFORM_SCANNER_ANAT
  if ("quatern" in q)
    q.quatern.forEach((v, i) => {
      dv.setFloat32(256 + 4 * i, v, le);
    });
  [ras[3]!, ras[7]!, ras[11]!].forEach((v, i) => {
    dv.setFloat32(268 + 4 * i, v, le);
  }); // qoffset
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 4; c++) dv.setFloat32(280 + 16 * r + 4 * c, ras[4 * r + c]!, le);
  writeAscii(buf, 344, 4, "n+1");
  return buf;
}

function checkWritable(g: Geometry): void {
  if (!g.dims.every((d) => Number.isInteger(d) && d >= 1 && d <= 32767))
    throw new RangeError(`NIfTI-1 dims must be integers in 1..32767, got ${g.dims.join("x")}`);
  if (!g.spacing.every((s) => Number.isFinite(s) && s > 0))
    throw new RangeError(`spacing must be finite and positive, got ${g.spacing.join(", ")}`);
  if (![...g.origin, ...g.direction].every(Number.isFinite))
    throw new RangeError("origin and direction must be finite");
}

function descrip(description: string | undefined, qformNote: string | undefined): string {
  const note = qformNote === undefined ? "" : `; ${qformNote}`;
  // Printable ASCII only: descrip is a C string in a fixed 80-byte field.
  const base = (description ?? "DeepSC-COVID").replace(/[^\x20-\x7e]/g, "?");
  return (base.slice(0, Math.max(0, 79 - note.length)) + note).slice(0, 79);
}

function writeAscii(buf: Uint8Array, offset: number, length: number, s: string): void {
  for (let i = 0; i < Math.min(s.length, length); i++) buf[offset + i] = s.charCodeAt(i) & 0x7f;
}

type QformResult = { quatern: [number, number, number]; qfac: 1 | -1 } | { why: string };

/**
 * The qform rotation of an LPS direction matrix, as nifti1_io's nifti_mat44_to_quatern: RAS = diag(-1,-1,1)
 * x LPS; a left-handed grid gets qfac = -1 with its third column flipped; the quaternion is returned with a >= 0
 * (NIfTI stores only b, c, d).
 */
export function qformOf(dirLps: Mat3): QformResult {
  const r = dirLps.slice() as number[];
  for (let c = 0; c < 3; c++) {
    r[c] = -r[c]!;
    r[3 + c] = -r[3 + c]!;
  }
  const col = (c: number) => [r[c]!, r[3 + c]!, r[6 + c]!];
  for (let a = 0; a < 3; a++) {
    for (let b = a; b < 3; b++) {
      const ca = col(a);
      const cb = col(b);
      const d = ca[0]! * cb[0]! + ca[1]! * cb[1]! + ca[2]! * cb[2]!;
      if (Math.abs(d - (a === b ? 1 : 0)) > ORTHONORMAL_TOLERANCE)
        return { why: "qform 0: grid axes not orthogonal (sheared), use sform" };
    }
  }
  const det =
    r[0]! * (r[4]! * r[8]! - r[5]! * r[7]!) -
    r[1]! * (r[3]! * r[8]! - r[5]! * r[6]!) +
    r[2]! * (r[3]! * r[7]! - r[4]! * r[6]!);
  const qfac: 1 | -1 = det < 0 ? -1 : 1;
  if (qfac < 0) for (let row = 0; row < 3; row++) r[3 * row + 2] = -r[3 * row + 2]!;
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = r as Mat3;
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], qfac };
}

/**
 * When the volume already holds the output type in little-endian memory, its bytes are written as they are:
 * views of the volume in large chunks, with no conversion or copy (the volume is not modified while written).
 */
function sameTypeViews(vol: AnyVolume, type: NiftiOutputType): Generator<Uint8Array> | undefined {
  const data = vol.data;
  const same =
    (type === "int16" && data instanceof Int16Array) ||
    (type === "uint8" && data instanceof Uint8Array) ||
    (type === "float32" && data instanceof Float32Array);
  if (!same || !HOST_LITTLE_ENDIAN) return undefined;
  return (function* () {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const step = 16 * 1024 * 1024;
    for (let start = 0; start < bytes.length; start += step) yield bytes.subarray(start, start + step);
  })();
}

/**
 * Voxels as little-endian bytes of the output type, a fresh buffer per chunk (streams may hold chunks).
 * Integer outputs round to the nearest integer and throw RangeError when a value does not fit, rather than
 * silently wrapping or clamping HU.
 */
function* voxelChunks(vol: AnyVolume, type: NiftiOutputType): Generator<Uint8Array> {
  const data = vol.data;
  const { min, max } = TYPES[type];
  for (let start = 0; start < data.length; start += CHUNK_VOXELS) {
    const end = Math.min(data.length, start + CHUNK_VOXELS);
    const n = end - start;
    let typed: Int16Array | Uint8Array | Float32Array;
    if (type === "float32") {
      typed = new Float32Array(n);
      typed.set(data.subarray(start, end));
    } else if (type === "int16" && data instanceof Int16Array) {
      typed = data.slice(start, end);
    } else if (type === "uint8" && data instanceof Uint8Array) {
      typed = data.slice(start, end);
    } else {
      typed = type === "int16" ? new Int16Array(n) : new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = Math.round(data[start + i]!);
        if (!(v >= min && v <= max))
          throw new RangeError(`voxel ${start + i} value ${data[start + i]} does not fit NIfTI ${type}`);
        typed[i] = v;
      }
    }
    const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(bytes, typed.BYTES_PER_ELEMENT);
    yield bytes;
  }
}
