/**
 * Pixel decoding: one frame of a DICOM file to Hounsfield units.
 *
 * Every path (native little/big endian, deflated, RLE, the JPEG family, JPEG 2000) first yields the frame's
 * raw samples; one kernel then applies the header exactly as PS3.3 C.7.6.3.1 and C.11.1 say:
 *   stored = the BitsStored bits ending at HighBit, sign-extended when PixelRepresentation = 1
 *   HU     = stored * RescaleSlope + RescaleIntercept   (that frame's values for enhanced multi-frame)
 * Stored values inside the Pixel Padding range become PADDING_HU. A codestream whose own precision or
 * signedness disagrees with the header is still read as the header says (what pydicom does), with a
 * PIXEL_REPRESENTATION_MISMATCH warning when that reading changes a value (a 16-bit codestream of 12-bit
 * values, as dcmtk writes, does not).
 *
 * Speed: native frames are read through typed-array views of the file bytes and converted in one tight
 * loop per frame (no per-pixel calls); only big-endian data is byte-swapped first.
 */
import type { Warning } from "../contracts/validation-report.js";
import { reject } from "../errors.js";
import { CodecError, type DecodedFrame } from "./codecs/frame.js";
import type { DicomHeader, FrameInfo } from "./header.js";
import { inflateDeflatedFile } from "./parse-header.js";
import { isSupportedTransferSyntax, type TransferSyntaxInfo, transferSyntaxInfo } from "./transfer-syntax.js";

/**
 * HU written for padding voxels (PixelPaddingValue / PixelPaddingRangeLimit): air. Padding marks pixels
 * outside the reconstructed field of view; air keeps them out of lung and lesion masks and out of the HU
 * histogram's tissue range, where the raw padding value (often -2000 or -3024 HU) would not.
 */
export const PADDING_HU = -1024;

const INT16_MIN = -32768;
const INT16_MAX = 32767;

type Samples = Uint8Array | Uint16Array | Uint32Array;

/** How raw sample bits become stored values: (raw << lsh) >> rsh (>>> when unsigned). */
interface BitLayout {
  lsh: number;
  rsh: number;
  signed: boolean;
}

/** The stored-value layout the header declares, with out-of-range HighBit/BitsStored repaired as readers do. */
function bitLayout(header: DicomHeader): BitLayout {
  const allocated = header.bitsAllocated;
  const stored = header.bitsStored >= 1 && header.bitsStored <= allocated ? header.bitsStored : allocated;
  // HighBit is BitsStored - 1 in practice; an impossible value is ignored rather than trusted.
  const high = header.highBit >= stored - 1 && header.highBit < allocated ? header.highBit : stored - 1;
  return { lsh: 31 - high, rsh: 32 - stored, signed: header.pixelRepresentation === 1 };
}

/**
 * Whether reading some sample as the header says (the BitsStored bits ending at HighBit, sign-extended when
 * PixelRepresentation = 1) gives another value than the codestream codes (its precision and signedness; the
 * header's signedness where the codestream records none). A wider unsigned codestream whose values all fit is
 * read the same; a signed one narrower than BitsStored is not (-5 as 8 bits is 251 as 16).
 */
export function headerReadsOtherwise(frame: DecodedFrame, header: DicomHeader): boolean {
  const { lsh, rsh, signed: headerSigned } = bitLayout(header);
  const bits = frame.precision ?? frame.samples.BYTES_PER_ELEMENT * 8;
  const signed = frame.signed ?? headerSigned;
  const span = 2 ** bits;
  const samples = frame.samples;
  // dcmtk's 12-bit CT (unsigned, coded 16-bit, HighBit = BitsStored - 1): a value changes exactly when it
  // exceeds BitsStored. This runs over every frame of such a series, so it gets the one comparison it needs.
  const stored = 32 - rsh;
  if (!signed && !headerSigned && lsh === rsh && bits >= stored) {
    const hi = 2 ** stored - 1;
    for (let i = 0; i < samples.length; i++) if (samples[i]! > hi) return true;
    return false;
  }
  for (const raw of samples) {
    const pattern = raw % span;
    const coded = signed && pattern >= span / 2 ? pattern - span : pattern;
    const read = headerSigned ? (raw << lsh) >> rsh : (raw << lsh) >>> rsh;
    if (read !== coded) return true;
  }
  return false;
}

/** The smallest and largest stored value the header allows. */
function storedRange(header: DicomHeader): [number, number] {
  const { rsh, signed } = bitLayout(header);
  const bits = 32 - rsh;
  return signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

/**
 * True when every frame's rescale is integral and the whole stored range maps into int16, so HU fit an
 * Int16Array exactly. Note: 16-bit signed storage with intercept -1024 does not qualify (stored -32768 maps
 * to -33792 HU) even though real CT never uses that end of the range.
 */
export function huFitsInt16(header: DicomHeader): boolean {
  const [lo, hi] = storedRange(header);
  return header.frames.every((f) => frameFitsInt16(f, lo, hi));
}

function frameFitsInt16(f: FrameInfo, lo: number, hi: number): boolean {
  if (!Number.isInteger(f.rescaleSlope) || !Number.isInteger(f.rescaleIntercept)) return false;
  const a = lo * f.rescaleSlope + f.rescaleIntercept;
  const b = hi * f.rescaleSlope + f.rescaleIntercept;
  return Math.min(a, b) >= INT16_MIN && Math.max(a, b) <= INT16_MAX;
}

// ---------------------------------------------------------------------------------------------------------
// Header checks shared by every path.

/**
 * Everything the header alone decides about the pixels. Validation calls it for every chosen file in both
 * modes (so the ingest Lambda refuses what decoding would); decoding calls it again per frame.
 */
export function checkPixelFormat(header: DicomHeader, where: { file: string } = { file: header.file }): void {
  // Headers of unsupported syntaxes are parsed (so their series can be ignored); their pixels are not read.
  if (!isSupportedTransferSyntax(header.transferSyntax))
    reject(
      "UNSUPPORTED_TRANSFER_SYNTAX",
      `Transfer syntax ${header.transferSyntax} is not one this pipeline decodes.`,
      where,
    );
  const pd = header.pixelData;
  if (!pd || pd.length === 0) reject("MISSING_PIXEL_DATA", undefined, where);
  // Compressed fragments under a native syntax (a file relabelled by a broken anonymiser): the decoder
  // refuses them, so the header-only check must too, or the ingest would start a job bound to fail.
  if (pd.encapsulated && transferSyntaxInfo(header.transferSyntax)?.codec === "native")
    reject(
      "UNSUPPORTED_TRANSFER_SYNTAX",
      `Pixel Data is encapsulated but transfer syntax ${header.transferSyntax} is not a compressed one.`,
      where,
    );
  if (header.rows <= 0 || header.columns <= 0)
    reject("MISSING_PIXEL_DATA", "Rows or Columns is missing or zero.", where);
  // MONOCHROME1 differs from MONOCHROME2 only in how values are displayed (minimum is white): the modality
  // LUT, and therefore HU, is the same, so both decode identically and no inversion is applied.
  if (
    header.samplesPerPixel !== 1 ||
    (header.photometric !== "MONOCHROME1" && header.photometric !== "MONOCHROME2")
  )
    reject(
      "UNSUPPORTED_PHOTOMETRIC",
      `PhotometricInterpretation ${header.photometric || "(none)"} with ${header.samplesPerPixel} samples per pixel cannot hold Hounsfield units.`,
      where,
    );
  if (header.bitsAllocated !== 8 && header.bitsAllocated !== 16 && header.bitsAllocated !== 32)
    reject(
      "UNSUPPORTED_DATATYPE",
      `BitsAllocated ${header.bitsAllocated} is not 8, 16 or 32; such pixels cannot hold Hounsfield units.`,
      where,
    );
  // More stored bits than allocated ones is no layout at all; bitLayout would quietly read BitsAllocated.
  if (header.bitsStored > header.bitsAllocated)
    reject(
      "UNSUPPORTED_DATATYPE",
      `BitsStored ${header.bitsStored} exceeds BitsAllocated ${header.bitsAllocated}; the pixels' layout is unknown.`,
      where,
    );
  const frameBytes = header.rows * header.columns * (header.bitsAllocated / 8);
  const needed = frameBytes * header.numberOfFrames;
  // Native Pixel Data holds the frames the header describes. Bytes after them are padding that PS3.5 8.1.1
  // tells receivers to accept (older writers add it; pydicom trims it), but a whole frame more is another
  // image than the header says (a slice relabelled 8-bit, a frame count or matrix edited), whose first bytes
  // read as the declared frames gave garbage.
  if (!pd.encapsulated && pd.length >= 0 && (pd.length < needed || pd.length >= needed + frameBytes))
    reject(
      "TRUNCATED",
      `Pixel Data holds ${pd.length} bytes; ${header.numberOfFrames} frame(s) of ${header.columns}x${header.rows} at ${header.bitsAllocated} bits need ${needed}.`,
      where,
    );
  checkRescale(header, where);
}

/**
 * The rescale (modality LUT, PS3.3 C.11.1.1.2) is what makes stored values Hounsfield units: a slope or
 * intercept that is not a number (NaN in the header, see FrameInfo) leaves the frame without any, and a
 * slope of 0 maps every pixel to the intercept (one such slice in a series read as a slab of air).
 */
function checkRescale(header: DicomHeader, where: { file: string }): void {
  header.frames.forEach((f, i) => {
    const frame = header.numberOfFrames > 1 ? ` of frame ${i + 1} of ${header.numberOfFrames}` : "";
    for (const [name, value] of [
      ["RescaleSlope", f.rescaleSlope],
      ["RescaleIntercept", f.rescaleIntercept],
    ] as const)
      if (!Number.isFinite(value))
        reject(
          "HU_IMPLAUSIBLE",
          `${name}${frame} is not a finite number; the stored values cannot be turned into Hounsfield units.`,
          where,
        );
    if (f.rescaleSlope === 0)
      reject(
        "HU_IMPLAUSIBLE",
        `RescaleSlope${frame} is 0: every pixel would have the same value, ${f.rescaleIntercept} HU.`,
        where,
      );
  });
}

// ---------------------------------------------------------------------------------------------------------
// Raw samples of one frame.

/** Where a native frame's samples lie in a file of `fileLength` bytes; TRUNCATED when the file or the
 * Pixel Data element is too short to hold them. */
function nativeFrameRange(
  header: DicomHeader,
  frameIndex: number,
  fileLength: number,
  where: { file: string },
): { start: number; end: number; pixels: number; bytesPerSample: number } {
  const pd = header.pixelData!;
  const pixels = header.rows * header.columns;
  const bytesPerSample = header.bitsAllocated / 8;
  const frameBytes = pixels * bytesPerSample;
  const start = pd.offset + frameIndex * frameBytes;
  const end = start + frameBytes;
  const declaredEnd = pd.length >= 0 ? pd.offset + pd.length : fileLength;
  if (end > declaredEnd || end > fileLength)
    reject(
      "TRUNCATED",
      `Pixel Data holds ${Math.max(0, Math.min(declaredEnd, fileLength) - pd.offset)} bytes; frame ${frameIndex + 1} of ${header.numberOfFrames} needs it to reach ${end - pd.offset}.`,
      where,
    );
  return { start, end, pixels, bytesPerSample };
}

function nativeSamples(
  bytes: Uint8Array,
  header: DicomHeader,
  frameIndex: number,
  where: { file: string },
): Samples {
  const pd = header.pixelData!;
  const ts = transferSyntaxInfo(header.transferSyntax);
  const { start, end, pixels, bytesPerSample } = nativeFrameRange(header, frameIndex, bytes.length, where);
  const littleEndian = ts?.littleEndian ?? true;
  if (bytesPerSample === 1)
    return !littleEndian && isOwAt(bytes, pd.offset)
      ? swapPairs(bytes.subarray(start, end))
      : bytes.subarray(start, end);
  if (!littleEndian) return byteSwapped(bytes, start, pixels, bytesPerSample);
  const absolute = bytes.byteOffset + start;
  if (absolute % bytesPerSample === 0)
    return bytesPerSample === 2
      ? new Uint16Array(bytes.buffer, absolute, pixels)
      : new Uint32Array(bytes.buffer, absolute, pixels);
  // A typed-array view needs an aligned offset: an odd one costs one copy of the frame.
  const copy = new Uint8Array(bytes.subarray(start, end));
  return bytesPerSample === 2
    ? new Uint16Array(copy.buffer, 0, pixels)
    : new Uint32Array(copy.buffer, 0, pixels);
}

/**
 * In Explicit VR Big Endian, OW values are byte-swapped per 16-bit word, so 8-bit pixels stored as OW arrive
 * pairwise swapped (OB ones do not). The VR sits 8 bytes before the value of an explicit OB/OW element.
 */
function isOwAt(bytes: Uint8Array, valueOffset: number): boolean {
  return valueOffset >= 8 && bytes[valueOffset - 8] === 0x4f && bytes[valueOffset - 7] === 0x57;
}

function swapPairs(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i + 1 < src.length; i += 2) {
    out[i] = src[i + 1]!;
    out[i + 1] = src[i]!;
  }
  if (src.length % 2) out[src.length - 1] = src[src.length - 1]!;
  return out;
}

/** Big endian (retired 1.2.840.10008.1.2.2): assemble the words explicitly. */
function byteSwapped(bytes: Uint8Array, start: number, pixels: number, bytesPerSample: number): Samples {
  if (bytesPerSample === 2) {
    const out = new Uint16Array(pixels);
    for (let i = 0, p = start; i < pixels; i++, p += 2) out[i] = (bytes[p]! << 8) | bytes[p + 1]!;
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, pixels * 4);
  const out = new Uint32Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = view.getUint32(i * 4, false);
  return out;
}

async function encapsulatedSamples(
  bytes: Uint8Array,
  header: DicomHeader,
  frameIndex: number,
  where: { file: string },
  warnings: Warning[],
): Promise<Samples> {
  const ts = transferSyntaxInfo(header.transferSyntax);
  if (!ts || ts.codec === "native")
    reject(
      "UNSUPPORTED_TRANSFER_SYNTAX",
      `Pixel Data is encapsulated but transfer syntax ${header.transferSyntax} is not a compressed one.`,
      where,
    );
  // Loaded on first use: uncompressed series (most CT) never pay for the codecs' start-up.
  const [{ frameCodestream, scanFragments }, { decodeCodestream }] = await Promise.all([
    import("./codecs/encapsulation.js"),
    import("./codecs/index.js"),
  ]);
  const scan = scanFragments(bytes, header.pixelData!.offset);
  if (!scan.ok) reject(scan.problem === "empty" ? "MISSING_PIXEL_DATA" : "TRUNCATED", scan.message, where);
  const codestream = frameCodestream(
    bytes,
    header.pixelData!.offset,
    scan,
    frameIndex,
    header.numberOfFrames,
    ts.codec,
  );
  if (!codestream)
    reject(
      "TRUNCATED",
      `${scan.fragments.length} Pixel Data fragments cannot be assigned to ${header.numberOfFrames} frames.`,
      where,
    );
  let frame: DecodedFrame;
  try {
    frame = await decodeCodestream(ts.codec, codestream, header);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    if (e.unsupported) reject("UNSUPPORTED_TRANSFER_SYNTAX", e.message, where, e);
    reject("TRUNCATED", `Frame ${frameIndex + 1} cannot be decoded: ${e.message}`, where, e);
  }
  if (frame.components !== 1)
    reject(
      "UNSUPPORTED_PHOTOMETRIC",
      `The codestream has ${frame.components} components; CT has one.`,
      where,
    );
  if (frame.width !== header.columns || frame.height !== header.rows)
    reject(
      "TRUNCATED",
      `The codestream is ${frame.width}x${frame.height}; the header says ${header.columns}x${header.rows}.`,
      where,
    );
  // Samples wider than the header allocates cannot be what it describes: a 16-bit codestream under an 8-bit
  // header read as values cut to 8 bits (a CT slice came out -1152 to -897 HU instead of -1024 to 1254).
  if (frame.precision !== undefined && frame.precision > header.bitsAllocated)
    reject(
      "UNSUPPORTED_DATATYPE",
      `The codestream is ${frame.precision}-bit; the header allocates ${header.bitsAllocated} bits per pixel (BitsAllocated), so its values would be cut.`,
      where,
    );
  const precisionDiffers = frame.precision !== undefined && frame.precision !== header.bitsStored;
  const signDiffers = frame.signed !== undefined && frame.signed !== (header.pixelRepresentation === 1);
  // dcmtk and others code 12-bit CT as 16-bit codestreams: only a sample the header's layout reads otherwise
  // than the codestream means it makes the header's reading matter.
  if ((precisionDiffers || signDiffers) && headerReadsOtherwise(frame, header))
    warnings.push({
      code: "PIXEL_REPRESENTATION_MISMATCH",
      message:
        `The codestream is ${frame.precision ?? "?"}-bit ${frame.signed === undefined ? "" : frame.signed ? "signed " : "unsigned "}` +
        `but the header says BitsStored ${header.bitsStored}, PixelRepresentation ${header.pixelRepresentation}; the header was honoured.`,
      file: where.file,
    });
  // dcmtk's +pt writes a point transform under the lossless transfer syntax and leaves
  // LossyImageCompression unset, so the header's lossy flag (validate.ts) cannot say it.
  if (frame.lossy && !header.lossy)
    warnings.push({
      code: "LOSSY_COMPRESSION",
      message:
        "Pixels were JPEG-coded with a point transform (their low bits dropped) under a lossless transfer syntax; HU values are approximate.",
    });
  return frame.samples;
}

/** What every decode checks first: the frame exists, the pixel format is one we read, and so is the syntax. */
function decodableSyntax(
  header: DicomHeader,
  frameIndex: number,
  where: { file: string },
): TransferSyntaxInfo {
  if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= header.numberOfFrames)
    throw new RangeError(`frame ${frameIndex} out of range 0..${header.numberOfFrames - 1}`);
  checkPixelFormat(header, where); // refuses syntaxes we do not decode, so the lookup below always succeeds
  return transferSyntaxInfo(header.transferSyntax)!;
}

/**
 * Inflated datasets of deflated files, by the file's bytes: the frames of one multi-frame file share one
 * inflation (inflating the whole dataset again for every frame was quadratic in the frame count). Entries
 * go when the file's bytes do.
 */
const inflatedFiles = new WeakMap<Uint8Array, Uint8Array>();

function inflatedOnce(fileBytes: Uint8Array, header: DicomHeader): Uint8Array {
  let bytes = inflatedFiles.get(fileBytes);
  if (bytes === undefined) {
    // Header offsets of a deflated file point into the inflated stream; inflate just far enough.
    const pd = header.pixelData!;
    bytes = inflateDeflatedFile(fileBytes, pd.offset + Math.max(pd.length, 0), header.file);
    inflatedFiles.set(fileBytes, bytes);
  }
  return bytes;
}

async function frameSamples(
  fileBytes: Uint8Array,
  header: DicomHeader,
  frameIndex: number,
  warnings: Warning[],
): Promise<Samples> {
  const where = { file: header.file };
  const ts = decodableSyntax(header, frameIndex, where);
  const bytes = ts.deflated ? inflatedOnce(fileBytes, header) : fileBytes;
  return header.pixelData!.encapsulated
    ? encapsulatedSamples(bytes, header, frameIndex, where, warnings)
    : nativeSamples(bytes, header, frameIndex, where);
}

// ---------------------------------------------------------------------------------------------------------
// Samples to stored values and HU.

/** HU of air; padding below it is what CT writers use (-2000, -3024, -32768 stored). */
const AIR_HU = -1000;

/**
 * The stored values taken as padding. Losslessly coded pixels hold the Pixel Padding Value (or range)
 * exactly. Lossy coding (a lossy transfer syntax, or LossyImageCompression 01 from an earlier step) moves
 * those values and rings around the field-of-view edge, so for such images padding below air is widened
 * to every value nearer the padding than air (HU below the midpoint), keeping the out-of-view region air
 * instead of leaving a band of -2000..-3000 HU around it.
 */
function paddingRange(header: DicomHeader, info: FrameInfo): [number, number] {
  const v = header.pixelPaddingValue;
  if (v === undefined) return [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  const limit = header.pixelPaddingRangeLimit ?? v;
  const lo = Math.min(v, limit);
  const hi = Math.max(v, limit);
  const { rescaleSlope: slope, rescaleIntercept: intercept } = info;
  const padTopHu = hi * slope + intercept;
  if (!header.lossy || !(slope > 0) || padTopHu >= AIR_HU) return [lo, hi];
  const midpointHu = (padTopHu + AIR_HU) / 2;
  // Strictly below the midpoint: the largest stored value whose HU is less than it.
  return [Number.NEGATIVE_INFINITY, Math.ceil((midpointHu - intercept) / slope) - 1];
}

interface Rescale {
  lsh: number;
  rsh: number;
  signed: boolean;
  slope: number;
  intercept: number;
  padLo: number;
  padHi: number;
}

/*
 * The conversion kernels. Each loop body is a few arithmetic operations with no calls, and each function only
 * ever sees one source and one output array type, so V8 keeps its element accesses monomorphic: 16-bit
 * sources (nearly all CT) get their own functions, 8- and 32-bit ones share a generic loop.
 */

function u16ToFloat(src: Uint16Array, out: Float32Array, o: number, r: Rescale): void {
  const { lsh, rsh, slope, intercept, padLo, padHi } = r;
  const n = src.length;
  if (r.signed)
    for (let i = 0; i < n; i++) {
      const s = (src[i]! << lsh) >> rsh;
      out[o + i] = s >= padLo && s <= padHi ? PADDING_HU : s * slope + intercept;
    }
  else
    for (let i = 0; i < n; i++) {
      const s = (src[i]! << lsh) >>> rsh;
      out[o + i] = s >= padLo && s <= padHi ? PADDING_HU : s * slope + intercept;
    }
}

/**
 * The common CT case, kept as tight as a copy: int16 output that cannot overflow, no padding value, integer
 * rescale. Unsigned samples use shift-and-mask (small integers throughout, unlike `>>>`, whose uint32 result
 * V8 may box), and writing through a subarray drops the offset addition from every store.
 */
function u16ToInt16Exact(src: Uint16Array, d: Int16Array, r: Rescale): void {
  const slope = r.slope | 0;
  const intercept = r.intercept | 0;
  if (r.signed) {
    const { lsh, rsh } = r;
    if (lsh === 16 && rsh === 16 && slope === 1 && intercept === 0) {
      // Signed 16-bit stored values are the HU: the bits are copied as they are (nothing to do in place).
      if (src.buffer !== d.buffer || src.byteOffset !== d.byteOffset)
        d.set(new Int16Array(src.buffer, src.byteOffset, d.length));
      return;
    }
    for (let i = 0; i < d.length; i++) d[i] = ((src[i]! << lsh) >> rsh) * slope + intercept;
    return;
  }
  const shift = r.rsh - r.lsh;
  const mask = 2 ** (32 - r.rsh) - 1;
  if (slope === 1) {
    if (!unsignedPlusInterceptSimd(src, d, shift, mask, intercept))
      for (let i = 0; i < d.length; i++) d[i] = ((src[i]! >> shift) & mask) + intercept;
  } else for (let i = 0; i < d.length; i++) d[i] = ((src[i]! >> shift) & mask) * slope + intercept;
}

/*
 * d[i] = ((src[i] >> shift) & mask) + intercept (the commonest CT layout: unsigned 12-bit stored values,
 * slope 1, intercept -1024) with WebAssembly SIMD, eight samples per instruction: a scalar V8 loop over a
 * 512x300 series spends ~0.1-0.3 s here, the vector one ~0.03 s including copying each slice in and out of
 * the module's memory. The module is this function, hand-assembled (the bytes below, one instruction a line):
 *
 *   (module (memory (export "memory") 1)
 *     (func (export "convert") (param $p i32) (param $n i32) (param $shift i32) (param $mask i32) (param $c i32)
 *       (local $end i32) (local $m v128) (local $cv v128)
 *       (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 1))))
 *       (local.set $m (i16x8.splat (local.get $mask)))
 *       (local.set $cv (i16x8.splat (local.get $c)))
 *       (block (br_if 0 (i32.ge_u (local.get $p) (local.get $end)))
 *         (loop
 *           (v128.store (local.get $p) (i16x8.add (v128.and (i16x8.shr_u (v128.load (local.get $p))
 *             (local.get $shift)) (local.get $m)) (local.get $cv)))
 *           (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *           (br_if 0 (i32.lt_u (local.get $p) (local.get $end)))))))
 *
 * n must be a multiple of 8 (the caller does the tail). The lanes add modulo 2^16, which is the int16 result
 * because the caller has checked that every value fits. Where WebAssembly SIMD is unavailable (--jitless),
 * the scalar loop runs instead; test/core/dicom/decode-pixels.test.ts holds both to the same results.
 */
// biome-ignore format: one instruction per line
const SIMD_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x09, 0x01, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32 x5) -> ()
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page, no max
  0x07, 0x14, 0x02, // exports:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, // "memory" = memory 0
  0x07, 0x63, 0x6f, 0x6e, 0x76, 0x65, 0x72, 0x74, 0x00, 0x00, // "convert" = function 0
  0x0a, 0x53, 0x01, 0x51, // code: one body of 0x51 bytes
  0x02, 0x01, 0x7f, 0x02, 0x7b, // locals: $end i32, $m $cv v128
  0x20, 0x00, 0x20, 0x01, 0x41, 0x01, 0x74, 0x6a, 0x21, 0x05, // $end = $p + ($n << 1)
  0x20, 0x03, 0xfd, 0x10, 0x21, 0x06, // $m = i16x8.splat($mask)
  0x20, 0x04, 0xfd, 0x10, 0x21, 0x07, // $cv = i16x8.splat($c)
  0x02, 0x40, // block
  0x20, 0x00, 0x20, 0x05, 0x4f, 0x0d, 0x00, // br_if 0 ($p >= $end, unsigned)
  0x03, 0x40, // loop
  0x20, 0x00, // store address $p
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load [$p]
  0x20, 0x02, 0xfd, 0x8d, 0x01, // i16x8.shr_u $shift
  0x20, 0x06, 0xfd, 0x4e, // v128.and $m
  0x20, 0x07, 0xfd, 0x8e, 0x01, // i16x8.add $cv
  0xfd, 0x0b, 0x04, 0x00, // v128.store
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // $p += 16
  0x20, 0x00, 0x20, 0x05, 0x49, 0x0d, 0x00, // br_if 0 ($p < $end, unsigned): next iteration
  0x0b, // end loop
  0x0b, // end block
  0x0b, // end function
]);

interface SimdKernel {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  convert: (p: number, n: number, shift: number, mask: number, intercept: number) => void;
}

/** The part of the WebAssembly global used here (the project's lib settings do not declare it). */
interface WasmGlobal {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}

/** Compiled on first use; null where WebAssembly SIMD is unavailable. Tests may turn it off. */
let simdKernel: SimdKernel | null | undefined;

/**
 * For tests: run the scalar loops (false) or the SIMD kernel where available (true, the default).
 * Returns whether the SIMD kernel is now in use.
 */
export function useSimdKernel(on: boolean): boolean {
  simdKernel = on ? undefined : null;
  return on && loadSimdKernel() !== null;
}

function loadSimdKernel(): SimdKernel | null {
  if (simdKernel === undefined) {
    try {
      const wasm = (globalThis as { WebAssembly?: WasmGlobal }).WebAssembly;
      if (!wasm) throw new Error("no WebAssembly");
      const { exports } = new wasm.Instance(new wasm.Module(SIMD_MODULE));
      simdKernel = exports as unknown as SimdKernel;
    } catch {
      simdKernel = null;
    }
  }
  return simdKernel;
}

/** The SIMD form of the unsigned slope-1 loop; false (nothing written) where it is unavailable. */
function unsignedPlusInterceptSimd(
  src: Uint16Array,
  d: Int16Array,
  shift: number,
  mask: number,
  intercept: number,
): boolean {
  const kernel = loadSimdKernel();
  const n = d.length;
  const vectorised = n & ~7;
  if (!kernel || vectorised === 0) return false;
  const bytes = vectorised * 2;
  const have = kernel.memory.buffer.byteLength;
  // The module keeps one slice's worth of memory for the life of the process (512 KiB for 512x512).
  if (have < bytes) kernel.memory.grow(Math.ceil((bytes - have) / 65536));
  new Uint16Array(kernel.memory.buffer, 0, vectorised).set(src.subarray(0, vectorised));
  kernel.convert(0, vectorised, shift, mask, intercept);
  d.set(new Int16Array(kernel.memory.buffer, 0, vectorised));
  for (let i = vectorised; i < n; i++) d[i] = ((src[i]! >> shift) & mask) + intercept;
  return true;
}

/** int16 output: `exact` when the rescale is integral and cannot leave int16; otherwise round and clamp. */
function u16ToInt16(src: Uint16Array, out: Int16Array, o: number, r: Rescale, exact: boolean): void {
  const { lsh, rsh, slope, intercept, padLo, padHi } = r;
  const n = src.length;
  if (exact && padLo > padHi && 32 - rsh <= 16) {
    u16ToInt16Exact(src, out.subarray(o, o + n), r);
    return;
  }
  if (exact) {
    if (r.signed)
      for (let i = 0; i < n; i++) {
        const s = (src[i]! << lsh) >> rsh;
        out[o + i] = s >= padLo && s <= padHi ? PADDING_HU : s * slope + intercept;
      }
    else
      for (let i = 0; i < n; i++) {
        const s = (src[i]! << lsh) >>> rsh;
        out[o + i] = s >= padLo && s <= padHi ? PADDING_HU : s * slope + intercept;
      }
    return;
  }
  // A plain store would wrap out-of-range values, so clamp; round half up where the rescale is fractional.
  if (!Number.isInteger(slope) || !Number.isInteger(intercept)) {
    for (let i = 0; i < n; i++) {
      const s = r.signed ? (src[i]! << lsh) >> rsh : (src[i]! << lsh) >>> rsh;
      out[o + i] = s >= padLo && s <= padHi ? PADDING_HU : clampInt16(Math.round(s * slope + intercept));
    }
    return;
  }
  if (r.signed)
    for (let i = 0; i < n; i++) {
      const s = (src[i]! << lsh) >> rsh;
      let v = s * slope + intercept;
      if (s >= padLo && s <= padHi) v = PADDING_HU;
      else if (v < INT16_MIN) v = INT16_MIN;
      else if (v > INT16_MAX) v = INT16_MAX;
      out[o + i] = v;
    }
  else
    for (let i = 0; i < n; i++) {
      const s = (src[i]! << lsh) >>> rsh;
      let v = s * slope + intercept;
      if (s >= padLo && s <= padHi) v = PADDING_HU;
      else if (v < INT16_MIN) v = INT16_MIN;
      else if (v > INT16_MAX) v = INT16_MAX;
      out[o + i] = v;
    }
}

function clampInt16(v: number): number {
  return Math.max(INT16_MIN, Math.min(INT16_MAX, v));
}

function genericToHu(
  src: Uint8Array | Uint32Array,
  out: Int16Array | Float32Array,
  o: number,
  r: Rescale,
): void {
  const { lsh, rsh, slope, intercept, padLo, padHi } = r;
  const toInt16 = out instanceof Int16Array;
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const s = r.signed ? (src[i]! << lsh) >> rsh : (src[i]! << lsh) >>> rsh;
    let hu = s >= padLo && s <= padHi ? PADDING_HU : s * slope + intercept;
    if (toInt16) hu = clampInt16(Math.round(hu));
    out[o + i] = hu;
  }
}

function writeHu(
  src: Samples,
  r: Rescale,
  exactInt16: boolean,
  out: Int16Array | Float32Array,
  o: number,
): void {
  if (!(src instanceof Uint16Array)) genericToHu(src, out, o, r);
  else if (out instanceof Float32Array) u16ToFloat(src, out, o, r);
  else u16ToInt16(src, out, o, r, exactInt16);
}

function frameInfoOf(header: DicomHeader, frameIndex: number): FrameInfo {
  return header.frames[frameIndex] ?? header.frames[0] ?? { rescaleSlope: 1, rescaleIntercept: 0 };
}

/**
 * Decode frame `frameIndex` of a whole DICOM file and write rows*columns Hounsfield units at
 * out[outOffset...], row-major with the column index fastest. Int16Array output is rounded and clamped.
 * @throws InputRejected MISSING_PIXEL_DATA, TRUNCATED, UNSUPPORTED_PHOTOMETRIC, UNSUPPORTED_DATATYPE,
 *   UNSUPPORTED_TRANSFER_SYNTAX, HU_IMPLAUSIBLE (a rescale slope of 0 or not a number); RangeError for a frame index or output range that the caller got wrong.
 */
export async function decodeFrameHu(
  fileBytes: Uint8Array,
  header: DicomHeader,
  frameIndex: number,
  out: Int16Array | Float32Array,
  outOffset: number,
): Promise<{ warnings: Warning[] }> {
  const pixels = header.rows * header.columns;
  checkOutputRange(header, out, outOffset);
  const warnings: Warning[] = [];
  const samples = await frameSamples(fileBytes, header, frameIndex, warnings);
  samplesToHu(samples.subarray(0, pixels), header, frameIndex, out, outOffset);
  return { warnings };
}

function checkOutputRange(header: DicomHeader, out: Int16Array | Float32Array, outOffset: number): void {
  const pixels = header.rows * header.columns;
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + pixels > out.length)
    throw new RangeError(`output range ${outOffset}+${pixels} exceeds the buffer of ${out.length}`);
}

/** Apply the header's bit layout, rescale and padding to one frame's samples (the one shared kernel). */
function samplesToHu(
  samples: Samples,
  header: DicomHeader,
  frameIndex: number,
  out: Int16Array | Float32Array,
  outOffset: number,
): void {
  const info = frameInfoOf(header, frameIndex);
  const [lo, hi] = storedRange(header);
  const exactInt16 = out instanceof Int16Array && frameFitsInt16(info, lo, hi);
  const [padLo, padHi] = paddingRange(header, info);
  const rescale: Rescale = {
    ...bitLayout(header),
    slope: info.rescaleSlope,
    intercept: info.rescaleIntercept,
    padLo,
    padHi,
  };
  writeHu(samples, rescale, exactInt16, out, outOffset);
}

// ---------------------------------------------------------------------------------------------------------
// In place: for readers that can put a frame's raw bytes straight into the volume (local files), so the
// pixels are copied once, from the page cache into their slot, and converted where they land.

/**
 * The byte range [start, end) of frame `frameIndex`'s samples in a file of `fileSize` bytes when they can
 * be decoded in place into `out` (native little-endian 16-bit samples, Int16Array output); undefined when
 * the frame needs decodeFrameHu (compressed, deflated, big-endian, 8- or 32-bit, float output). Runs the
 * same header checks as decodeFrameHu, in the same order, and throws the same rejections.
 * @throws InputRejected as decodeFrameHu; RangeError for a frame index or output range the caller got wrong.
 */
export function inPlaceFrameRange(
  header: DicomHeader,
  frameIndex: number,
  fileSize: number,
  out: Int16Array | Float32Array,
  outOffset: number,
): { start: number; end: number } | undefined {
  checkOutputRange(header, out, outOffset);
  const where = { file: header.file };
  const ts = decodableSyntax(header, frameIndex, where);
  if (
    !(out instanceof Int16Array) ||
    ts.deflated ||
    header.pixelData!.encapsulated ||
    !ts.littleEndian ||
    header.bitsAllocated !== 16
  )
    return undefined;
  const { start, end } = nativeFrameRange(header, frameIndex, fileSize, where);
  return { start, end };
}

/**
 * Decode frame `frameIndex` whose raw samples (the bytes inPlaceFrameRange named) were read into
 * out[outOffset...]: each sample is replaced by its HU, with the same kernel and results as decodeFrameHu.
 */
export function decodeFrameHuInPlace(
  header: DicomHeader,
  frameIndex: number,
  out: Int16Array,
  outOffset: number,
): { warnings: Warning[] } {
  checkOutputRange(header, out, outOffset);
  const pixels = header.rows * header.columns;
  // Every kernel reads sample i before it writes voxel i, so source and output may share memory.
  const raw = new Uint16Array(out.buffer, out.byteOffset + outOffset * 2, pixels);
  samplesToHu(raw, header, frameIndex, out, outOffset);
  return { warnings: [] };
}

/**
 * The stored pixel values of one frame (after BitsStored/HighBit masking and sign extension, before
 * rescale and padding), as pydicom's pixel_array gives them. For tests and cross-checks.
 */
export async function decodeFrameStored(
  fileBytes: Uint8Array,
  header: DicomHeader,
  frameIndex: number,
): Promise<{ stored: Float64Array; warnings: Warning[] }> {
  const warnings: Warning[] = [];
  const samples = await frameSamples(fileBytes, header, frameIndex, warnings);
  const pixels = header.rows * header.columns;
  const { lsh, rsh, signed } = bitLayout(header);
  const stored = new Float64Array(pixels);
  for (let i = 0; i < pixels; i++)
    stored[i] = signed ? (samples[i]! << lsh) >> rsh : (samples[i]! << lsh) >>> rsh;
  return { stored, warnings };
}
