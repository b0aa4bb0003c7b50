/**
 * Writing an HU volume as a classic single-frame CT Image Storage series: one Part 10 file per slice,
 * into a folder or a zip. dcmjs builds and serialises the datasets; this module adds what dcmjs cannot do
 * on its own:
 *   - explicit VR big endian: dcmjs swaps the header values but copies Pixel Data bytes as given, so the
 *     pixels are encoded big endian here;
 *   - deflated explicit little endian: dcmjs writes the dataset uncompressed, so it is deflated here
 *     (raw deflate, PS3.5 A.5) after the file meta information;
 *   - RLE Lossless: frames are encoded here (PS3.5 Annex G: two PackBits segments, high then low bytes,
 *     each row on its own) and dcmjs encapsulates them, one fragment per frame;
 *   - JPEG Lossless SV1 (process 14, first-order prediction): delegated to dcmtk's `dcmcjpeg`, run on the
 *     explicit little endian files; a clear error says so when dcmtk is not installed.
 *
 * Geometry comes from the volume: ImageOrientationPatient from the i and j axes, ImagePositionPatient of
 * slice k = origin + k * spacing_k * (k axis), PixelSpacing = [row spacing (j), column spacing (i)],
 * instance numbers in k order (a descending volume gives z falling with instance number). UIDs are
 * derived from a caller-given seed (2.25.<decimal of a 128-bit hash>), so the same call writes the same
 * bytes. Patient and study identification comes only from the caller's DicomIdentity.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { Zip, ZipDeflate, ZipPassThrough } from "fflate";
import * as z from "zod";
import type { Vec3, Volume } from "../contracts/volume.js";
import { column, cross, dot, norm, voxelCentre } from "../geometry/affine.js";
import { mapLimit } from "../util/map-limit.js";

export const TransferSyntaxNameSchema = z.enum([
  "explicit-le",
  "implicit-le",
  "explicit-be",
  "deflate",
  "rle",
  "jpeg-lossless",
]);
export type TransferSyntaxName = z.infer<typeof TransferSyntaxNameSchema>;

export const TRANSFER_SYNTAX_UIDS: Readonly<Record<TransferSyntaxName, string>> = {
  "explicit-le": "1.2.840.10008.1.2.1",
  "implicit-le": "1.2.840.10008.1.2",
  "explicit-be": "1.2.840.10008.1.2.2",
  deflate: "1.2.840.10008.1.2.1.99",
  rle: "1.2.840.10008.1.2.5",
  "jpeg-lossless": "1.2.840.10008.1.2.4.70",
};

export const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

/** Patient and study identification written verbatim (DICOM string rules are the caller's to respect). */
export interface DicomIdentity {
  patientName: string;
  patientId: string;
  patientBirthDate: string;
  patientSex: string;
  accessionNumber: string;
  institutionName: string;
  referringPhysicianName: string;
  studyDate: string;
  studyTime: string;
  studyId: string;
  studyDescription: string;
  seriesDescription: string;
}

/**
 * unsigned: stored = HU + 1024 (PixelRepresentation 0, 12 bits stored when the range allows, 16 for JPEG), intercept
 * -1024; signed: stored = HU (PixelRepresentation 1, 16 bits), intercept 0; none: signed stored values
 * and no RescaleSlope/Intercept/Type at all.
 */
export type RescaleMode = "unsigned" | "signed" | "none";

export interface CtSeriesOptions {
  identity: DicomIdentity;
  /** Every UID derives from this string: same seed, same UIDs. */
  uidSeed: string;
  transferSyntax?: TransferSyntaxName;
  rescale?: RescaleMode;
  seriesNumber?: number;
  /** Nominal slice thickness (mm); defaults to the slice spacing. */
  sliceThickness?: number;
  manufacturer?: string;
  manufacturerModelName?: string;
  softwareVersions?: string;
  convolutionKernel?: string;
  kvp?: number;
  /** Adds SyntheticData (0008,001C) = YES. */
  synthetic?: boolean;
  /**
   * HU of the pixels outside the reconstructed field of view: declared as Pixel Padding Value (0028,0120),
   * the stored value that means "not imaged", as scanners do for their reconstruction circle.
   */
  pixelPaddingHu?: number;
  /** File name of slice index (0-based); default IM000001.dcm, IM000002.dcm, ... */
  fileName?: (index: number) => string;
}

export interface SeriesUids {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  sopInstanceUid(index: number): string;
}

export interface WrittenSeries {
  /** Files written (folder output) or entry names (zip output), in instance order. */
  files: string[];
  transferSyntaxUid: string;
  uids: Omit<SeriesUids, "sopInstanceUid"> & { sopInstanceUids: string[] };
}

/** Thrown when an output needs an external encoder that is missing (JPEG Lossless without dcmtk). */
export class EncoderUnavailable extends Error {
  override readonly name = "EncoderUnavailable";
}

interface DcmjsData {
  DicomMetaDictionary: { denaturalizeDataset(natural: Record<string, unknown>): Record<string, unknown> };
  DicomDict: new (
    meta: Record<string, unknown>,
  ) => { dict: Record<string, unknown>; write(options?: Record<string, unknown>): ArrayBuffer };
}
// dcmjs ships no type declarations; it is loaded through require and used through this narrow interface.
const dcmjs = createRequire(import.meta.url)("dcmjs") as { data: DcmjsData };

const IMPLEMENTATION_VERSION_NAME = "DEEPSC_WRITER_1";

/** A UID under the 2.25 root: the decimal value of the first 128 bits of SHA-256 over the parts. */
export function uidFromHash(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\u0000");
  const value = BigInt(`0x${h.digest("hex").slice(0, 32)}`);
  return `2.25.${value.toString(10)}`;
}

const IMPLEMENTATION_CLASS_UID = uidFromHash("deepsc-covid", "dicom-writer", "implementation-class");

export function seriesUids(uidSeed: string): SeriesUids {
  return {
    studyInstanceUid: uidFromHash(uidSeed, "study"),
    seriesInstanceUid: uidFromHash(uidSeed, "series"),
    frameOfReferenceUid: uidFromHash(uidSeed, "frame-of-reference"),
    sopInstanceUid: (index) => uidFromHash(uidSeed, "sop", String(index)),
  };
}

/** A DS value of at most 16 characters (PS3.5 6.2), as exact as that allows. */
export function formatDS(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`DS value must be finite, got ${v}`);
  if (Math.abs(v) < 1e-12) return "0";
  for (let digits = 15; digits >= 1; digits--) {
    // Exponent notation is valid DS too (PS3.5 Table 6.2-1).
    const s = Number(v.toPrecision(digits)).toString();
    if (s.length <= 16) return s;
  }
  throw new RangeError(`cannot format ${v} as DS`);
}

interface PixelLayout {
  pixelRepresentation: 0 | 1;
  bitsStored: number;
  intercept: number;
  rescale: RescaleMode;
}

function pixelLayout(data: Int16Array, rescale: RescaleMode, syntax: TransferSyntaxName): PixelLayout {
  if (rescale !== "unsigned") return { pixelRepresentation: 1, bitsStored: 16, intercept: 0, rescale };
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min < -1024) {
    throw new RangeError(`unsigned storage with intercept -1024 cannot hold ${min} HU; use rescale "signed"`);
  }
  // dcmcjpeg's lossless codec always writes 16-bit sample precision: declare 16 stored bits so the header
  // and the codestream agree.
  const fits12 = max + 1024 <= 4095 && syntax !== "jpeg-lossless";
  return { pixelRepresentation: 0, bitsStored: fits12 ? 12 : 16, intercept: -1024, rescale };
}

function checkVolume(vol: Volume): asserts vol is Volume & { data: Int16Array } {
  if (!(vol.data instanceof Int16Array))
    throw new TypeError("the DICOM writer needs an Int16Array HU volume");
  const [nx, ny, nz] = vol.dims;
  if (vol.data.length !== nx * ny * nz) throw new RangeError("volume data length does not match its dims");
  if (nx > 65535 || ny > 65535) throw new RangeError("rows and columns must fit in 16 bits");
  const i = column(vol.direction, 0);
  const j = column(vol.direction, 1);
  if (Math.abs(norm(i) - 1) > 1e-6 || Math.abs(norm(j) - 1) > 1e-6 || Math.abs(dot(i, j)) > 1e-6) {
    throw new RangeError("the row and column axes must be orthonormal for ImageOrientationPatient");
  }
}

/** Stored pixel values of slice k as bytes in the requested byte order. */
function sliceBytes(
  vol: Volume & { data: Int16Array },
  k: number,
  layout: PixelLayout,
  bigEndian: boolean,
): Uint8Array {
  const plane = vol.dims[0] * vol.dims[1];
  const out = new Uint8Array(plane * 2);
  const offset = layout.pixelRepresentation === 0 ? -layout.intercept : 0;
  const [hi, lo] = bigEndian ? [0, 1] : [1, 0];
  for (let p = 0, s = k * plane; p < plane; p++, s++) {
    const v = (vol.data[s]! + offset) & 0xffff;
    out[2 * p + lo] = v & 0xff;
    out[2 * p + hi] = v >>> 8;
  }
  return out;
}

/**
 * One RLE Lossless frame of 16-bit samples (PS3.5 Annex G): a 64-byte header (segment count, offsets)
 * then the PackBits-encoded most significant bytes and least significant bytes, each row encoded on its
 * own and each segment padded to even length.
 */
export function encodeRleFrame(samplesLE: Uint8Array, rows: number, columns: number): Uint8Array {
  const plane = rows * columns;
  if (samplesLE.length !== plane * 2) throw new RangeError("RLE frame size mismatch");
  const worst = plane + rows * Math.ceil(columns / 128) + 2;
  const segments = [1, 0].map((byteIndex) => {
    const src = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) src[p] = samplesLE[2 * p + byteIndex]!;
    const out = new Uint8Array(worst);
    let n = 0;
    for (let r = 0; r < rows; r++) n = packBitsRow(src, r * columns, columns, out, n);
    if (n & 1) out[n++] = 0;
    return out.subarray(0, n);
  });
  const [high, low] = segments as [Uint8Array, Uint8Array];
  const frame = new Uint8Array(64 + high.length + low.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 2, true);
  view.setUint32(4, 64, true);
  view.setUint32(8, 64 + high.length, true);
  frame.set(high, 64);
  frame.set(low, 64 + high.length);
  return frame;
}

/**
 * PackBits one row: runs of 3..128 equal bytes as (1 - n, byte), everything else as literals of 1..128
 * bytes, (n - 1, bytes). Runs of two stay inside literals, which bounds the output at len + ceil(len/128)
 * bytes (encoding them as runs would let "aab aab ..." grow by a third).
 */
function packBitsRow(src: Uint8Array, start: number, len: number, out: Uint8Array, n: number): number {
  const end = start + len;
  const runOf3At = (j: number): boolean => j + 2 < end && src[j] === src[j + 1] && src[j] === src[j + 2];
  let i = start;
  while (i < end) {
    if (runOf3At(i)) {
      let run = 3;
      while (i + run < end && run < 128 && src[i + run] === src[i]) run++;
      out[n++] = (1 - run) & 0xff;
      out[n++] = src[i]!;
      i += run;
      continue;
    }
    const litStart = i;
    i++;
    while (i < end && i - litStart < 128 && !runOf3At(i)) i++;
    out[n++] = i - litStart - 1;
    out.set(src.subarray(litStart, i), n);
    n += i - litStart;
  }
  return n;
}

/** Date and time attributes, fixed by the identity so that output is reproducible. */
function slicetime(base: string, index: number): string {
  const hh = Number(base.slice(0, 2));
  const mm = Number(base.slice(2, 4));
  const ss = Number(base.slice(4, 6));
  // Half a second per slice, as a helical scan reconstructs them.
  const t = hh * 3600 + mm * 60 + ss + index * 0.5;
  const h = Math.floor(t / 3600) % 24;
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  return `${String(h).padStart(2, "0")}${String(m).padStart(2, "0")}${s.toFixed(6).padStart(9, "0")}`;
}

interface SeriesContext {
  vol: Volume & { data: Int16Array };
  opts: CtSeriesOptions;
  layout: PixelLayout;
  uids: SeriesUids;
  syntax: TransferSyntaxName;
}

function prepare(vol: Volume, opts: CtSeriesOptions): SeriesContext {
  checkVolume(vol);
  const syntax = opts.transferSyntax ?? "explicit-le";
  return {
    vol,
    opts,
    layout: pixelLayout(vol.data, opts.rescale ?? "unsigned", syntax),
    uids: seriesUids(opts.uidSeed),
    syntax,
  };
}

/** The natural (dcmjs) dataset of slice k, without Pixel Data. */
function sliceDataset(ctx: SeriesContext, k: number): Record<string, unknown> {
  const { vol, opts, layout, uids } = ctx;
  const id = opts.identity;
  const iAxis = column(vol.direction, 0);
  const jAxis = column(vol.direction, 1);
  const position = voxelCentre(vol, 0, 0, k);
  const normal: Vec3 = cross(iAxis, jAxis);
  const thickness = opts.sliceThickness ?? vol.spacing[2];
  const ds: Record<string, unknown> = {
    ImageType: ["ORIGINAL", "PRIMARY", "AXIAL"],
    SOPClassUID: CT_IMAGE_STORAGE,
    SOPInstanceUID: uids.sopInstanceUid(k),
    StudyDate: id.studyDate,
    SeriesDate: id.studyDate,
    AcquisitionDate: id.studyDate,
    ContentDate: id.studyDate,
    StudyTime: id.studyTime,
    SeriesTime: id.studyTime,
    AcquisitionTime: slicetime(id.studyTime, k),
    ContentTime: slicetime(id.studyTime, k),
    AccessionNumber: id.accessionNumber,
    Modality: "CT",
    Manufacturer: opts.manufacturer ?? "DeepSC Phantom",
    InstitutionName: id.institutionName,
    ReferringPhysicianName: id.referringPhysicianName,
    StudyDescription: id.studyDescription,
    SeriesDescription: id.seriesDescription,
    ManufacturerModelName: opts.manufacturerModelName ?? "deepsc-phantom",
    PatientName: id.patientName,
    PatientID: id.patientId,
    PatientBirthDate: id.patientBirthDate,
    PatientSex: id.patientSex,
    BodyPartExamined: "CHEST",
    SliceThickness: formatDS(thickness),
    KVP: formatDS(opts.kvp ?? 120),
    SpacingBetweenSlices: formatDS(vol.spacing[2]),
    SoftwareVersions: opts.softwareVersions ?? "deepsc-phantom",
    ReconstructionDiameter: formatDS(Math.max(vol.dims[0] * vol.spacing[0], vol.dims[1] * vol.spacing[1])),
    GantryDetectorTilt: "0",
    ConvolutionKernel: opts.convolutionKernel ?? "STANDARD",
    PatientPosition: "HFS",
    StudyInstanceUID: uids.studyInstanceUid,
    SeriesInstanceUID: uids.seriesInstanceUid,
    StudyID: id.studyId,
    SeriesNumber: String(opts.seriesNumber ?? 1),
    AcquisitionNumber: "1",
    InstanceNumber: String(k + 1),
    ImagePositionPatient: position.map(formatDS),
    ImageOrientationPatient: [...iAxis, ...jAxis].map(formatDS),
    FrameOfReferenceUID: uids.frameOfReferenceUid,
    PositionReferenceIndicator: "",
    SliceLocation: formatDS(dot(position, normal)),
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: vol.dims[1],
    Columns: vol.dims[0],
    PixelSpacing: [formatDS(vol.spacing[1]), formatDS(vol.spacing[0])],
    BitsAllocated: 16,
    BitsStored: layout.bitsStored,
    HighBit: layout.bitsStored - 1,
    PixelRepresentation: layout.pixelRepresentation,
    WindowCenter: ["-600", "40"],
    WindowWidth: ["1500", "400"],
    WindowCenterWidthExplanation: ["LUNG", "MEDIASTINUM"],
  };
  if (layout.rescale !== "none") {
    ds.RescaleIntercept = formatDS(layout.intercept);
    ds.RescaleSlope = "1";
    ds.RescaleType = "HU";
  }
  if (opts.synthetic) ds.SyntheticData = "YES";
  // Stored = HU - intercept (slope 1); its VR follows PixelRepresentation (US or SS).
  if (opts.pixelPaddingHu !== undefined) ds.PixelPaddingValue = opts.pixelPaddingHu - layout.intercept;
  return ds;
}

/** Serialise one slice as a Part 10 file in the series' transfer syntax (JPEG: explicit LE, see below). */
function encodeSlice(ctx: SeriesContext, k: number): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const syntax = ctx.syntax === "jpeg-lossless" ? "explicit-le" : ctx.syntax;
  const natural = sliceDataset(ctx, k);
  const bytes = sliceBytes(ctx.vol, k, ctx.layout, syntax === "explicit-be");
  const paddingVr =
    natural.PixelPaddingValue === undefined
      ? {}
      : { PixelPaddingValue: ctx.layout.pixelRepresentation === 0 ? "US" : "SS" };
  let writeOptions: Record<string, unknown> = { allowInvalidVRLength: false };
  if (syntax === "rle") {
    const frame = encodeRleFrame(bytes, ctx.vol.dims[1], ctx.vol.dims[0]);
    natural.PixelData = [frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength)];
    natural._vrMap = { PixelData: "OB", ...paddingVr };
    // RLE needs exactly one fragment per frame (PS3.5 A.4.2).
    writeOptions = { ...writeOptions, fragmentMultiframe: false };
  } else {
    natural.PixelData = [bytes.buffer];
    natural._vrMap = { PixelData: "OW", ...paddingVr };
  }
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: CT_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: natural.SOPInstanceUID,
    TransferSyntaxUID: TRANSFER_SYNTAX_UIDS[syntax],
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(natural);
  const file = new Uint8Array(dict.write(writeOptions));
  return syntax === "deflate" ? deflateDataset(file) : file;
}

/**
 * dcmjs writes the dataset of a deflate-syntax file uncompressed; deflate everything after the file meta
 * information (raw deflate, no zlib header), padded to even length.
 */
function deflateDataset(file: Uint8Array): Uint8Array {
  // 128-byte preamble, "DICM", then (0002,0000) UL: tag 4 + VR 2 + length 2 + value 4.
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint16(132, true) !== 0x0002 || view.getUint16(134, true) !== 0x0000) {
    throw new Error("unexpected file meta layout: no group length first");
  }
  const metaEnd = 144 + view.getUint32(140, true);
  const deflated = deflateRawSync(file.subarray(metaEnd), { level: 6 });
  const pad = deflated.length & 1;
  const out = new Uint8Array(metaEnd + deflated.length + pad);
  out.set(file.subarray(0, metaEnd), 0);
  out.set(deflated, metaEnd);
  return out;
}

function defaultFileName(index: number): string {
  return `IM${String(index + 1).padStart(6, "0")}.dcm`;
}

function summary(ctx: SeriesContext, files: string[]): WrittenSeries {
  const n = ctx.vol.dims[2];
  return {
    files,
    transferSyntaxUid: TRANSFER_SYNTAX_UIDS[ctx.syntax],
    uids: {
      studyInstanceUid: ctx.uids.studyInstanceUid,
      seriesInstanceUid: ctx.uids.seriesInstanceUid,
      frameOfReferenceUid: ctx.uids.frameOfReferenceUid,
      sopInstanceUids: Array.from({ length: n }, (_, k) => ctx.uids.sopInstanceUid(k)),
    },
  };
}

function runDcmcjpeg(input: string, output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // +e1: lossless process 14, selection value 1 (1.2.840.10008.1.2.4.70); +un: keep the SOP Instance UID.
    execFile("dcmcjpeg", ["+e1", "+un", input, output], (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(
          new EncoderUnavailable(
            "JPEG Lossless output needs dcmtk's dcmcjpeg on the PATH (Debian/Ubuntu: apt-get install dcmtk)",
            { cause: err },
          ),
        );
      }
      reject(new Error(`dcmcjpeg failed: ${String(stderr).trim() || err.message}`, { cause: err }));
    });
  });
}

/**
 * Encoded files of the series, one at a time, in instance order. For JPEG Lossless the slices go through
 * dcmcjpeg in a private temporary folder (removed afterwards).
 */
async function forEachEncoded(
  ctx: SeriesContext,
  sink: (index: number, name: string, bytes: Uint8Array) => Promise<void> | void,
): Promise<void> {
  const name = ctx.opts.fileName ?? defaultFileName;
  const n = ctx.vol.dims[2];
  if (ctx.syntax !== "jpeg-lossless") {
    for (let k = 0; k < n; k++) await sink(k, name(k), encodeSlice(ctx, k));
    return;
  }
  const work = await mkdtemp(join(tmpdir(), "deepsc-jpeg-"));
  try {
    // Batches of 8 with two dcmcjpeg processes at a time: bounded temporary space, both cores busy.
    const batch = 8;
    for (let start = 0; start < n; start += batch) {
      const ks = Array.from({ length: Math.min(batch, n - start) }, (_, i) => start + i);
      const encoded = await mapLimit(ks, 2, async (k) => {
        const src = join(work, `in${k}.dcm`);
        const dst = join(work, `out${k}.dcm`);
        await writeFile(src, encodeSlice(ctx, k));
        await runDcmcjpeg(src, dst);
        const bytes = new Uint8Array(await readFile(dst));
        await Promise.all([rm(src), rm(dst)]);
        return bytes;
      });
      for (const [i, k] of ks.entries()) await sink(k, name(k), encoded[i]!);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Write the series as one file per slice into `dir` (created). Returns the absolute file paths. */
export async function writeCtSeriesToDir(
  vol: Volume,
  dir: string,
  opts: CtSeriesOptions,
  onFile?: (done: number, total: number) => void,
): Promise<WrittenSeries> {
  const ctx = prepare(vol, opts);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  await forEachEncoded(ctx, async (k, name, bytes) => {
    const path = join(dir, name);
    // Write then rename: a reader never sees half a file under its final name.
    await writeFile(`${path}.part`, bytes);
    await rename(`${path}.part`, path);
    files.push(path);
    onFile?.(k + 1, ctx.vol.dims[2]);
  });
  return summary(ctx, files);
}

/**
 * Write the series into one zip (entries at its root, named like the folder files). `compression`
 * deflate (default) or stored. Entry timestamps are fixed (the study date) so the zip is reproducible.
 */
export async function writeCtSeriesToZip(
  vol: Volume,
  zipPath: string,
  opts: CtSeriesOptions & { compression?: "deflate" | "stored" },
  onFile?: (done: number, total: number) => void,
): Promise<WrittenSeries> {
  const ctx = prepare(vol, opts);
  await mkdir(dirname(zipPath), { recursive: true });
  const partPath = `${zipPath}.part`;
  const fd = openSync(partPath, "w");
  const mtime = studyDateAsDate(opts.identity.studyDate);
  let failure: unknown;
  const zip = new Zip((err, chunk) => {
    if (err) failure ??= err;
    else if (failure === undefined) {
      try {
        writeSync(fd, chunk);
      } catch (e) {
        failure = e;
      }
    }
  });
  const names: string[] = [];
  try {
    await forEachEncoded(ctx, (k, name, bytes) => {
      const entry =
        opts.compression === "stored" ? new ZipPassThrough(name) : new ZipDeflate(name, { level: 6 });
      entry.mtime = mtime;
      zip.add(entry);
      entry.push(bytes, true);
      if (failure !== undefined) throw failure;
      names.push(name);
      onFile?.(k + 1, ctx.vol.dims[2]);
    });
    zip.end();
    if (failure !== undefined) throw failure;
  } catch (e) {
    closeSync(fd);
    await rm(partPath, { force: true });
    throw e;
  }
  closeSync(fd);
  await rename(partPath, zipPath);
  return summary(ctx, names);
}

function studyDateAsDate(da: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da);
  // Zip timestamps cannot go before 1980.
  if (!m || Number(m[1]) < 1980) return new Date(1980, 0, 1, 12);
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12);
}
