/**
 * DICOM header parsing: from the first bytes of a file (possibly only a prefix) to a DicomHeader.
 *
 * dicom-parser reads the elements; this module decides what the bytes are (Part 10 file, raw dataset or not
 * DICOM), which transfer syntax applies, whether the prefix was long enough, and turns the elements into the
 * fields series selection, geometry and decoding need. Parsing stops at the top-level Pixel Data element
 * header, so the pixel values themselves are never read here.
 *
 * Prefix contract: when the bytes end before Pixel Data is reached and they are not the whole file,
 * NeedMoreBytes says how many bytes to read next; with the whole file the same situation is TRUNCATED.
 *
 * Deflated Explicit VR Little Endian: pixelData.offset is an offset into the file's meta group followed by
 * the inflated dataset (the only place Pixel Data exists); decode-pixels re-inflates to reach it.
 * Only top-level Pixel Data (7FE0,0010) counts: Float/Double Float Pixel Data are not CT and read as none.
 *
 * Privacy: patient name, IDs, birth date, accession number, institution and all dates are never read.
 */
import dicomParser, { type ByteArrayParser, type DataSet, type Element } from "dicom-parser";
import type { Vec3 } from "../contracts/volume.js";
import { isInputRejected, reject } from "../errors.js";
import { InflateError, inflateRawBounded } from "./codecs/deflate.js";
import type { DicomHeader, FrameInfo, PixelDataLocation } from "./header.js";
import {
  EXPLICIT_VR_BIG_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN,
  isSupportedTransferSyntax,
  type TransferSyntaxInfo,
  transferSyntaxInfo,
} from "./transfer-syntax.js";

/** Thrown when `bytes` is a prefix that ends before Pixel Data; read at least `minBytes` and parse again. */
export class NeedMoreBytes extends Error {
  override readonly name = "NeedMoreBytes";
  constructor(readonly minBytes: number) {
    super(`The DICOM header continues past the bytes read; read at least ${minBytes} bytes.`);
  }
}

const PIXEL_DATA = "x7fe00010";
const PREAMBLE_BYTES = 128;
const META_START = 132;
/** Extra bytes asked for past a long element, so the following element headers arrive in the same read. */
const LOOKAHEAD = 4096;
/** A deflated dataset whose header (everything before Pixel Data) inflates beyond this is refused. */
const MAX_INFLATED_HEADER = 64 * 1024 * 1024;
/** More frames than this in one object is not an image series this pipeline can hold; refuse early. */
const MAX_FRAMES = 65_536;

type Elements = Record<string, Element>;
type Where = { file: string };

/** Explicit VRs of PS3.5 6.2; used to tell explicit from implicit encoding in raw datasets. */
const VRS = new Set(
  "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split(
    " ",
  ),
);

// ---------------------------------------------------------------------------------------------------------
// Element value readers. Defensive: a value that is missing, short or malformed reads as undefined.

function valueBytes(bytes: Uint8Array, el: Element | undefined): Uint8Array | undefined {
  if (!el || el.hadUndefinedLength || el.length <= 0) return undefined;
  if (el.dataOffset < 0 || el.dataOffset + el.length > bytes.length) return undefined;
  return bytes.subarray(el.dataOffset, el.dataOffset + el.length);
}

/** The text of a string-VR value: latin-1, cut at NUL, trimmed of DICOM space padding. */
function text(bytes: Uint8Array, el: Element | undefined): string | undefined {
  const v = valueBytes(bytes, el);
  if (!v) return undefined;
  let s = "";
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  const t = s.trim();
  return t === "" ? undefined : t;
}

function texts(bytes: Uint8Array, el: Element | undefined): string[] {
  const s = text(bytes, el);
  return s === undefined ? [] : s.split("\\").map((v) => v.trim());
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** DS: a decimal string; anything else ('1A', empty, NaN) is undefined rather than a crash or a NaN. */
export function parseDecimalString(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** IS: an integer string; anything else is undefined. */
export function parseIntegerString(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!INTEGER.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Exactly n decimal values, or undefined when any is missing or malformed. */
function decimals(bytes: Uint8Array, el: Element | undefined, n: number): number[] | undefined {
  const parts = texts(bytes, el);
  if (parts.length < n) return undefined;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = parseDecimalString(parts[i]);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

/**
 * TM (HHMMSS.FFFFFF, also the ACR-NEMA HH:MM:SS form) to seconds since midnight. Only the time of day is
 * kept: it orders acquisitions and is never reported.
 */
export function parseTimeSeconds(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d{2})(?::?(\d{2})(?::?(\d{2})(\.\d{1,6})?)?)?$/.exec(s.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = m[2] === undefined ? 0 : Number(m[2]);
  const sec = m[3] === undefined ? 0 : Number(m[3]);
  const frac = m[4] === undefined ? 0 : Number(m[4]);
  if (h > 23 || min > 59 || sec > 60) return undefined;
  return h * 3600 + min * 60 + sec + frac;
}

class Reader {
  constructor(
    readonly bytes: Uint8Array,
    readonly parser: ByteArrayParser,
  ) {}

  text(els: Elements, tag: string): string | undefined {
    return text(this.bytes, els[tag]);
  }

  texts(els: Elements, tag: string): string[] {
    return texts(this.bytes, els[tag]);
  }

  decimal(els: Elements, tag: string): number | undefined {
    return parseDecimalString(this.texts(els, tag)[0]);
  }

  integer(els: Elements, tag: string): number | undefined {
    return parseIntegerString(this.texts(els, tag)[0]);
  }

  decimals(els: Elements, tag: string, n: number): number[] | undefined {
    return decimals(this.bytes, els[tag], n);
  }

  /** A US (or, with signed, SS) value; the VR of explicit files wins over the caller's guess. */
  uint16(els: Elements, tag: string, signed = false): number | undefined {
    const el = els[tag];
    const v = valueBytes(this.bytes, el);
    if (!v || v.length < 2) return undefined;
    const isSigned = el?.vr === "SS" ? true : el?.vr === "US" ? false : signed;
    const at = el!.dataOffset;
    return isSigned ? this.parser.readInt16(this.bytes, at) : this.parser.readUint16(this.bytes, at);
  }

  /** The items' element maps of a sequence (empty when absent or not parsed as a sequence). */
  items(els: Elements, tag: string): Elements[] {
    const items = els[tag]?.items ?? [];
    return items.map((item) => item.dataSet?.elements ?? {});
  }
}

// ---------------------------------------------------------------------------------------------------------
// Where the dataset is: Part 10 file, raw dataset, or not DICOM.

interface Located {
  ts: TransferSyntaxInfo;
  hasMeta: boolean;
  meta: Elements;
  /** Bytes the dataset is parsed from: the input, or for deflate the meta bytes followed by the inflated dataset. */
  bytes: Uint8Array;
  datasetStart: number;
  /** `bytes` hold the whole (logical) file, so running out of bytes means the file itself is short. */
  whole: boolean;
  /** Offsets in `bytes` are file offsets (false for deflate, whose offsets are into the inflated stream). */
  fileOffsets: boolean;
  raw: boolean;
  /** A deflated header inflated past MAX_INFLATED_HEADER without reaching Pixel Data. */
  capped: boolean;
  /** How the dataset's elements are encoded; normally the syntax's, see encodingOf. */
  explicitVr: boolean;
}

function isDicmAt128(b: Uint8Array): boolean {
  return b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/**
 * A dataset without preamble and meta: accepted, as pydicom does, only when it opens with a group 0008 (or a
 * meta group 0002) element, which tells the byte order; bytes 4-5 being a VR tell explicit from implicit.
 */
function detectRawDataset(b: Uint8Array): "meta" | string | undefined {
  if (b.length < 8) return undefined;
  const explicit = VRS.has(String.fromCharCode(b[4]!, b[5]!));
  const leGroup = b[0]! | (b[1]! << 8);
  const beGroup = (b[0]! << 8) | b[1]!;
  if (leGroup === 0x0002 && explicit) return "meta";
  if (leGroup === 0x0008) {
    if (explicit) return EXPLICIT_VR_LITTLE_ENDIAN;
    // Implicit: the 32-bit length must fit the data that follows a plausible first element.
    const len = (b[4]! | (b[5]! << 8) | (b[6]! << 16)) + b[7]! * 0x1000000;
    return len < 0x10000 ? IMPLICIT_VR_LITTLE_ENDIAN : undefined;
  }
  if (beGroup === 0x0008 && explicit) return EXPLICIT_VR_BIG_ENDIAN;
  return undefined;
}

function needMore(bytes: Uint8Array, fileSize: number, reached = 0): never {
  throw new NeedMoreBytes(Math.min(fileSize, Math.max(bytes.length * 2, reached + LOOKAHEAD)));
}

function isOverrun(e: unknown): boolean {
  return /past end|overread|overrun|maxP\s*osition|eof/i.test(String(e));
}

/** Read the File Meta Information group (always explicit VR little endian) starting at `start`. */
function readMeta(bytes: Uint8Array, start: number, whole: boolean, fileSize: number, where: Where) {
  const meta: Elements = {};
  let pos = start;
  for (;;) {
    if (pos + 2 > bytes.length) {
      if (whole) break;
      needMore(bytes, fileSize);
    }
    if ((bytes[pos]! | (bytes[pos + 1]! << 8)) !== 0x0002) break;
    let el: Element;
    try {
      const stream = new dicomParser.ByteStream(dicomParser.littleEndianByteArrayParser, bytes, pos);
      el = dicomParser.readDicomElementExplicit(stream, []);
    } catch (e) {
      if (!whole) needMore(bytes, fileSize);
      if (isOverrun(e)) reject("TRUNCATED", "The file ends inside its File Meta Information.", where, e);
      reject("NOT_DICOM", "The File Meta Information cannot be parsed.", where, e);
    }
    if (el.hadUndefinedLength)
      reject("NOT_DICOM", "A File Meta Information element has an undefined length.", where);
    const end = el.dataOffset + el.length;
    if (end > bytes.length) {
      if (!whole) needMore(bytes, fileSize, end);
      reject("TRUNCATED", "The file ends inside its File Meta Information.", where);
    }
    meta[el.tag] = el;
    pos = end;
  }
  return { meta, metaEnd: pos };
}

/**
 * Whether the little-endian dataset at `start` is explicit VR. Some writers declare Explicit VR Little Endian
 * but write implicit VR (or the reverse); like pydicom and dcmtk, trust what the first element shows: an
 * explicit element has a VR in bytes 4-5, an implicit one the low bytes of a 32-bit length there.
 */
function encodingOf(bytes: Uint8Array, start: number, declared: boolean): boolean {
  if (start + 8 > bytes.length) return declared;
  const vr = String.fromCharCode(bytes[start + 4]!, bytes[start + 5]!);
  if (declared && !VRS.has(vr) && bytes[start + 6] === 0 && bytes[start + 7] === 0) return false;
  if (!declared && VRS.has(vr)) return true;
  return declared;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

/**
 * How to read the dataset of a syntax this pipeline does not decode (HTJ2K, JPEG XL, MPEG, a private one):
 * as Explicit VR Little Endian, which every such standard syntax uses (encodingOf still checks the first
 * element). Its header is then known, so a file of a series that is not chosen (a secondary capture, a
 * video) no longer rejects the whole upload; its pixels are refused (UNSUPPORTED_TRANSFER_SYNTAX, by
 * checkPixelFormat) only if its series is the one chosen. A dataset that does not parse this way is
 * refused as UNSUPPORTED_TRANSFER_SYNTAX at once (parseDicomHeader).
 */
function unsupportedSyntax(uid: string): TransferSyntaxInfo {
  return { ...transferSyntaxInfo(EXPLICIT_VR_LITTLE_ENDIAN)!, uid, name: `unsupported (${uid})` };
}

function locate(bytes: Uint8Array, fileSize: number, where: Where): Located {
  const whole = bytes.length >= fileSize;
  let metaStart: number | undefined;
  let hasMeta = false;
  let rawTs: string | undefined;
  if (bytes.length >= META_START && isDicmAt128(bytes)) {
    metaStart = META_START;
    hasMeta = true;
  } else {
    if (!whole && bytes.length < Math.min(META_START, fileSize)) needMore(bytes, fileSize);
    const raw = detectRawDataset(bytes);
    if (raw === undefined)
      reject(
        "NOT_DICOM",
        `No DICM prefix after the ${PREAMBLE_BYTES}-byte preamble and no recognisable dataset at the start.`,
        where,
      );
    if (raw === "meta") metaStart = 0;
    else rawTs = raw;
  }

  let meta: Elements = {};
  let datasetStart = 0;
  let tsUid = rawTs;
  if (metaStart !== undefined) {
    const m = readMeta(bytes, metaStart, whole, fileSize, where);
    meta = m.meta;
    datasetStart = m.metaEnd;
    tsUid = text(bytes, meta.x00020010);
    if (tsUid === undefined)
      reject(
        "NOT_DICOM",
        "The File Meta Information has no TransferSyntaxUID (0002,0010); the dataset encoding is unknown.",
        where,
      );
  }
  const known = transferSyntaxInfo(tsUid);
  if (!known && !(metaStart !== undefined && tsUid !== undefined && UID.test(tsUid)))
    reject(
      "UNSUPPORTED_TRANSFER_SYNTAX",
      `Transfer syntax ${tsUid} is not one this pipeline decodes.`,
      where,
    );
  const ts = known ?? unsupportedSyntax(tsUid!);

  const located: Located = {
    ts,
    hasMeta,
    meta,
    bytes,
    datasetStart,
    whole,
    fileOffsets: true,
    raw: metaStart === undefined,
    capped: false,
    explicitVr: ts.explicitVr,
  };
  if (!ts.deflated)
    return {
      ...located,
      explicitVr: ts.littleEndian ? encodingOf(bytes, datasetStart, ts.explicitVr) : true,
    };

  let inflated: ReturnType<typeof inflateRawBounded>;
  try {
    inflated = inflateRawBounded(bytes.subarray(datasetStart), MAX_INFLATED_HEADER, whole);
  } catch (e) {
    if (!whole) needMore(bytes, fileSize);
    if (e instanceof InflateError && e.truncated)
      reject("TRUNCATED", "The deflated dataset ends before its last block.", where, e);
    reject("NOT_DICOM", "The deflated dataset is not a valid deflate stream.", where, e);
  }
  const logical = new Uint8Array(datasetStart + inflated.data.length);
  logical.set(bytes.subarray(0, datasetStart), 0);
  logical.set(inflated.data, datasetStart);
  return {
    ...located,
    bytes: logical,
    whole: inflated.complete,
    fileOffsets: false,
    capped: inflated.capped,
  };
}

/**
 * The bytes a deflated file's header offsets refer to: its meta group followed by the inflated dataset.
 * `maxBytes` bounds the output (the decoder passes the end of Pixel Data), so a deflate bomb cannot
 * allocate without limit. Used by the pixel decoder; other syntaxes use the file bytes as they are.
 */
export function inflateDeflatedFile(fileBytes: Uint8Array, maxBytes: number, file: string): Uint8Array {
  const where = { file };
  // Deflate is only ever declared in a meta group: after the preamble, or at the start of a preamble-less file.
  const metaStart = fileBytes.length >= META_START && isDicmAt128(fileBytes) ? META_START : 0;
  const { metaEnd } = readMeta(fileBytes, metaStart, true, fileBytes.length, where);
  let inflated: ReturnType<typeof inflateRawBounded>;
  try {
    inflated = inflateRawBounded(fileBytes.subarray(metaEnd), Math.max(0, maxBytes - metaEnd), false);
  } catch (e) {
    reject("TRUNCATED", "The deflated dataset cannot be inflated.", where, e);
  }
  const out = new Uint8Array(metaEnd + inflated.data.length);
  out.set(fileBytes.subarray(0, metaEnd), 0);
  out.set(inflated.data, metaEnd);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing the dataset up to Pixel Data.

interface Parsed {
  elements: Elements;
  pixelData?: Element;
}

function parseDataset(loc: Located, fileSize: number, inputLength: number, where: Where): Parsed {
  const { bytes, ts } = loc;
  const parser = ts.littleEndian
    ? dicomParser.littleEndianByteArrayParser
    : dicomParser.bigEndianByteArrayParser;
  const elements: Elements = {};
  if (loc.datasetStart >= bytes.length) {
    // Nothing after the meta group (yet).
    if (!loc.whole) throw new NeedMoreBytes(Math.min(fileSize, Math.max(inputLength * 2, LOOKAHEAD)));
    return { elements };
  }
  // parseDicomDataSet* only use `elements` and `warnings` of the dataset they fill.
  const dataSet = { byteArray: bytes, byteArrayParser: parser, elements, warnings: [] as string[] };
  const stream = new dicomParser.ByteStream(parser, bytes, loc.datasetStart);
  let error: unknown;
  try {
    const options = { untilTag: PIXEL_DATA };
    if (loc.explicitVr)
      dicomParser.parseDicomDataSetExplicit(dataSet as unknown as DataSet, stream, bytes.length, options);
    else dicomParser.parseDicomDataSetImplicit(dataSet as unknown as DataSet, stream, bytes.length, options);
  } catch (e) {
    error = e;
  }
  const pixelData = elements[PIXEL_DATA];
  if (pixelData) return { elements, pixelData };

  // dicom-parser reports a nested sequence cut by the end of the bytes as a warning, not an error.
  const eofWarning = [...dataSet.warnings, ...stream.warnings].some((w) => /eof/i.test(w));
  const ranOut = error !== undefined || stream.position > bytes.length || eofWarning;
  if (loc.capped)
    reject(
      "TOO_LARGE",
      `The deflated header inflates beyond ${MAX_INFLATED_HEADER} bytes before Pixel Data.`,
      where,
    );
  if (!loc.whole) {
    // Offsets of an inflated stream say nothing about file offsets: just grow the prefix.
    const reached = loc.fileOffsets ? stream.position : 0;
    throw new NeedMoreBytes(Math.min(fileSize, Math.max(inputLength * 2, reached + LOOKAHEAD)));
  }
  if (ranOut) {
    if (loc.raw)
      reject("NOT_DICOM", "The data looks like a raw DICOM dataset but cannot be parsed.", where, error);
    if (error === undefined || isOverrun(error))
      reject("TRUNCATED", "The file ends inside an element before its declared end.", where, error);
    reject("NOT_DICOM", "The DICOM dataset cannot be parsed.", where, error);
  }
  return { elements };
}

// ---------------------------------------------------------------------------------------------------------
// From elements to the header.

function vec3(v: number[] | undefined): Vec3 | undefined {
  return v ? [v[0]!, v[1]!, v[2]!] : undefined;
}

/** Overlay the geometry and rescale found in one element map (top level or a functional group item). */
function applyFrameAttributes(r: Reader, els: Elements, into: FrameInfo): void {
  const position = vec3(r.decimals(els, "x00200032", 3));
  if (position) into.position = position;
  const o = r.decimals(els, "x00200037", 6);
  if (o) into.orientation = [o[0]!, o[1]!, o[2]!, o[3]!, o[4]!, o[5]!];
  const ps = r.decimals(els, "x00280030", 2);
  if (ps) into.pixelSpacing = [ps[0]!, ps[1]!];
  const thickness = r.decimal(els, "x00180050");
  if (thickness !== undefined) into.sliceThickness = thickness;
  const intercept = rescaleValue(r, els, "x00281052");
  if (intercept !== undefined) into.rescaleIntercept = intercept;
  const slope = rescaleValue(r, els, "x00281053");
  if (slope !== undefined) into.rescaleSlope = slope;
}

/**
 * RescaleIntercept / RescaleSlope: undefined when absent (the identity rescale applies), NaN when present
 * but not a finite decimal ('NaN', 'inf', '1e400'). Reading those as absent turned a broken rescale into
 * slope 1 or intercept 0 without a word; checkPixelFormat rejects the NaN instead.
 */
function rescaleValue(r: Reader, els: Elements, tag: string): number | undefined {
  const s = r.texts(els, tag)[0];
  if (s === undefined || s === "") return undefined;
  return parseDecimalString(s) ?? Number.NaN;
}

/**
 * Overlay one functional group item (PS3.3 C.7.6.16): plane position, plane orientation, pixel measures and
 * pixel value transformation each live in their own single-item sequence.
 */
function applyFunctionalGroup(r: Reader, group: Elements, into: FrameInfo): void {
  for (const tag of ["x00209113", "x00209116", "x00289110", "x00289145"]) {
    const item = r.items(group, tag)[0];
    if (item) applyFrameAttributes(r, item, into);
  }
}

function frameInfos(r: Reader, els: Elements, numberOfFrames: number): FrameInfo[] {
  const base: FrameInfo = { rescaleSlope: 1, rescaleIntercept: 0 };
  applyFrameAttributes(r, els, base);
  const shared = r.items(els, "x52009229")[0];
  const perFrame = r.items(els, "x52009230");
  if (!shared && perFrame.length === 0) {
    if (numberOfFrames === 1) return [base];
    // A multi-frame object without functional groups tells the first frame's position only; the others
    // get none rather than a duplicate, so geometry checks reject instead of stacking frames in one place.
    const { position: _position, ...rest } = base;
    return Array.from({ length: numberOfFrames }, (_, i) => (i === 0 ? { ...base } : { ...rest }));
  }
  const common: FrameInfo = { ...base };
  if (shared) applyFunctionalGroup(r, shared, common);
  return Array.from({ length: numberOfFrames }, (_, i) => {
    const frame: FrameInfo = { ...common };
    const own = perFrame[i];
    if (own) applyFunctionalGroup(r, own, frame);
    return frame;
  });
}

function acquisitionSeconds(r: Reader, els: Elements): number | undefined {
  const t = parseTimeSeconds(r.text(els, "x00080032")) ?? parseTimeSeconds(r.text(els, "x00080033"));
  if (t !== undefined) return t;
  // Enhanced objects may carry only AcquisitionDateTime (DT): keep its time of day, drop the date.
  const dt = r.text(els, "x0008002a");
  return dt && dt.length > 8 ? parseTimeSeconds(dt.slice(8).split(/[+-]/)[0]) : undefined;
}

/**
 * Pixel Padding Value / Range Limit in the pixels' own signedness. Their VR is US or SS as PixelRepresentation
 * says (PS3.3 C.7.5.1.1.2); writers that use the other one still mean the same 16-bit pattern, so the
 * pattern is reinterpreted rather than the padding silently never matching.
 */
function paddingValue(r: Reader, els: Elements, tag: string, pixelRepresentation: 0 | 1): number | undefined {
  const v = r.uint16(els, tag, pixelRepresentation === 1);
  if (v === undefined) return undefined;
  if (pixelRepresentation === 1 && v > 0x7fff) return v - 0x10000;
  if (pixelRepresentation === 0 && v < 0) return v + 0x10000;
  return v;
}

function buildHeader(loc: Located, parsed: Parsed, file: string, fileSize: number): DicomHeader {
  const where = { file };
  const parser = loc.ts.littleEndian
    ? dicomParser.littleEndianByteArrayParser
    : dicomParser.bigEndianByteArrayParser;
  const r = new Reader(loc.bytes, parser);
  const metaReader = new Reader(loc.bytes, dicomParser.littleEndianByteArrayParser);
  const els = parsed.elements;

  const bitsAllocated = r.uint16(els, "x00280100") ?? 0;
  const bitsStored = r.uint16(els, "x00280101") ?? bitsAllocated;
  const highBit = r.uint16(els, "x00280102") ?? Math.max(0, bitsStored - 1);
  const pixelRepresentation: 0 | 1 = r.uint16(els, "x00280103") === 1 ? 1 : 0;
  const declaredFrames = r.integer(els, "x00280008");
  const numberOfFrames = declaredFrames !== undefined && declaredFrames >= 1 ? declaredFrames : 1;
  if (numberOfFrames > MAX_FRAMES)
    reject("TOO_LARGE", `NumberOfFrames ${numberOfFrames} exceeds the limit of ${MAX_FRAMES}.`, where);

  const header: DicomHeader = {
    file,
    fileSize,
    transferSyntax: loc.ts.uid,
    hasMeta: loc.hasMeta,
    imageType: r.texts(els, "x00080008"),
    rows: r.uint16(els, "x00280010") ?? 0,
    columns: r.uint16(els, "x00280011") ?? 0,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    samplesPerPixel: r.uint16(els, "x00280002") ?? 1,
    photometric: (r.text(els, "x00280004") ?? "").toUpperCase(),
    lossy: loc.ts.lossy || r.text(els, "x00282110") === "01",
    numberOfFrames,
    frames: frameInfos(r, els, numberOfFrames),
  };
  const optional: Partial<DicomHeader> = {
    sopClassUid: r.text(els, "x00080016") ?? metaReader.text(loc.meta, "x00020002"),
    sopInstanceUid: r.text(els, "x00080018") ?? metaReader.text(loc.meta, "x00020003"),
    modality: r.text(els, "x00080060")?.toUpperCase(),
    seriesInstanceUid: r.text(els, "x0020000e"),
    studyInstanceUid: r.text(els, "x0020000d"),
    frameOfReferenceUid: r.text(els, "x00200052"),
    seriesNumber: r.integer(els, "x00200011"),
    seriesDescription: r.text(els, "x0008103e"),
    convolutionKernel: r.text(els, "x00181210"),
    acquisitionNumber: r.integer(els, "x00200012"),
    instanceNumber: r.integer(els, "x00200013"),
    acquisitionSeconds: acquisitionSeconds(r, els),
    manufacturer: r.text(els, "x00080070"),
    pixelPaddingValue: paddingValue(r, els, "x00280120", pixelRepresentation),
    pixelPaddingRangeLimit: paddingValue(r, els, "x00280121", pixelRepresentation),
    gantryTilt: r.decimal(els, "x00181120"),
    pixelData: pixelDataLocation(loc, parsed, fileSize, where),
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) (header as unknown as Record<string, unknown>)[k] = v;
  return header;
}

function pixelDataLocation(
  loc: Located,
  parsed: Parsed,
  fileSize: number,
  where: Where,
): PixelDataLocation | undefined {
  const el = parsed.pixelData;
  if (!el) return undefined;
  const encapsulated = el.hadUndefinedLength === true;
  const location: PixelDataLocation = {
    offset: el.dataOffset,
    length: encapsulated ? -1 : el.length,
    encapsulated,
  };
  if (!encapsulated) {
    // Decidable only where offsets are file offsets, or once the whole deflated stream was inflated.
    const available = loc.fileOffsets ? fileSize : loc.whole ? loc.bytes.length : Number.POSITIVE_INFINITY;
    if (location.offset + location.length > available)
      reject(
        "TRUNCATED",
        `Pixel Data declares ${location.length} bytes but the file ends ${available - location.offset} bytes after its start.`,
        where,
      );
  }
  return location;
}

/**
 * Parse the header of one DICOM file from its first bytes (or all of them).
 * @param bytes the file's first bytes; a prefix is enough when it reaches the Pixel Data element header
 * @param file the entry path, copied into the header and rejection reasons
 * @param fileSize the whole file's size, to tell a short prefix (NeedMoreBytes) from a short file (TRUNCATED)
 * @throws NeedMoreBytes when a longer prefix is needed; InputRejected (NOT_DICOM, TRUNCATED,
 *   UNSUPPORTED_TRANSFER_SYNTAX, TOO_LARGE) when the file cannot be read as DICOM.
 */
export function parseDicomHeader(bytes: Uint8Array, file: string, fileSize: number): DicomHeader {
  const where = { file };
  if (bytes.length > fileSize) bytes = bytes.subarray(0, fileSize);
  if (fileSize === 0) reject("NOT_DICOM", "The file is empty.", where);
  const loc = locate(bytes, fileSize, where);
  try {
    const parsed = parseDataset(loc, fileSize, bytes.length, where);
    return buildHeader(loc, parsed, file, fileSize);
  } catch (e) {
    if (isSupportedTransferSyntax(loc.ts.uid) || !isInputRejected(e)) throw e;
    reject(
      "UNSUPPORTED_TRANSFER_SYNTAX",
      `Transfer syntax ${loc.ts.uid} is not one this pipeline decodes, and its header cannot be read.`,
      where,
      e,
    );
  }
}
