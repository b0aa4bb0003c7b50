/**
 * Reading NIfTI volumes from an InputEntry (a local file, a zip entry or an object-store key), either
 * header-only (inspectNifti: a few kilobytes, for the ingest Lambda) or in full (readNifti: voxels in HU).
 *
 * Memory is bounded by the header, never by the stream: the output is allocated once from the declared
 * dims (after the maxVoxels check), stored bytes are fetched in 1 MiB ranges, and a gzip stream is inflated
 * incrementally (native zlib, 64 KiB output chunks) and abandoned as soon as the declared bytes have
 * arrived, so a stream that would inflate to more than the header declares costs at most one extra output
 * chunk. gzip is recognised by its magic bytes (1f 8b), never by the file name.
 */

import { stat } from "node:fs/promises";
import { createInflateRaw } from "node:zlib";
import type { Warning } from "../contracts/validation-report.js";
import type { Geometry, Volume } from "../contracts/volume.js";
import { InputRejected, reject } from "../errors.js";
import { openFileSource } from "../input/file-source.js";
import { DEFAULT_LIMITS, type InputEntry } from "../input/source.js";
import {
  HOST_LITTLE_ENDIAN,
  NIFTI_MAX_HEADER_BYTES,
  type NiftiHeader,
  type NiftiScalarType,
  niftiDatatype,
  niftiGeometry,
  parseNiftiHeader,
  swapBytesInPlace,
} from "./header.js";

export interface NiftiReadOptions {
  /** Largest volume accepted, in voxels (default DEFAULT_LIMITS.maxVoxels). */
  maxVoxels?: number;
  /**
   * Largest ratio of the bytes a gzipped file's header declares to the file's own size (default
   * DEFAULT_LIMITS.maxCompressionRatio, the limit a zip entry has), checked above GZIP_RATIO_CHECK_MIN_BYTES.
   * readNiftiFile, which reads this pipeline's own masks, has none by default.
   */
  maxCompressionRatio?: number;
  /**
   * inspectNifti: a full read follows (validation in full mode). A gzip trailer recording less than the
   * header declares is then left to that read, which sizes every member: the trailer only records the last
   * member's size, and several members (`cat a.gz b.gz`) are valid gzip. A trailer recording more (a cut
   * file's last bytes) is still refused at once.
   */
  fullReadFollows?: boolean;
}

/** Stored bytes per range read while streaming voxels. */
const READ_CHUNK = 1 << 20;
/** Compressed bytes per range read while looking for a gzipped header (a header deflates to ~200 bytes). */
const HEADER_READ_CHUNK = 16 * 1024;
/** Bytes decoded per conversion step (the scratch buffer used to align and byte-swap). */
const SCRATCH_BYTES = 1 << 20;
/** zlib output chunk: the most a stream can inflate past the point where the reader stops it. */
const INFLATE_CHUNK = 64 * 1024;
/**
 * Deflate cannot expand data by more than about 1032:1 (a 258-byte match per ~2 bits); a file that would
 * have to exceed that to hold what its header declares is certainly cut short.
 */
const DEFLATE_MAX_RATIO = 1032;
/**
 * Below this many declared bytes the compression ratio is not checked: such a volume costs the job little
 * memory whatever its ratio, and small mostly-zero volumes compress far beyond any CT (the corpus' uint8
 * MR with an extension, 4.6 MB, at 79:1). Real CT .nii.gz compress 1.5-6:1 (corpus); air inside the field
 * of view carries noise, so even a small body in a large padded grid stays far under 100:1, while
 * 1024x1024x600 float32 zeros in 2.4 MB (1029:1) would make the job allocate 2.5 GB.
 */
const GZIP_RATIO_CHECK_MIN_BYTES = 64 * 1024 * 1024;

const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Header-only inspection: parse the header from a prefix of the entry and check, cheaply, that the file can
 * hold the voxels it declares. Uncompressed: exact size check. gzip: the trailer's ISIZE (uncompressed size
 * mod 2^32 of the last member) must reach the declared size, and the compressed size must be able to
 * inflate to it. Pixel values are not decoded (the caller adds HEADER_ONLY where it reports a mode).
 */
export async function inspectNifti(
  entry: InputEntry,
  opts?: NiftiReadOptions,
): Promise<{ header: NiftiHeader; geometry: Geometry; warnings: Warning[] }> {
  const prefix = await entry.read(0, Math.min(entry.size, NIFTI_MAX_HEADER_BYTES));
  const gz = isGzip(prefix);
  const headerBytes = gz ? await inflateHeader(entry, prefix) : prefix;
  const header = parseNiftiHeader(headerBytes, entry.path);
  checkBeforeAllocation(header, entry, opts, gz);
  if (gz) await checkGzipTrailer(entry, header, prefix, opts?.fullReadFollows === true);
  const { geometry, warnings } = niftiGeometry(header, entry.path);
  return { header, geometry, warnings };
}

/** readNifti on a local .nii or .nii.gz file (masks, truth files, results); rejections as InputRejected. */
export async function readNiftiFile(
  path: string,
  opts?: NiftiReadOptions,
): Promise<{ volume: Volume; warnings: Warning[] }> {
  const source = await openFileSource(path, (await stat(path)).size, DEFAULT_LIMITS);
  try {
    // Masks of a normal scan are almost all zeros and compress over 1000:1: no ratio limit unless asked.
    const options = { maxCompressionRatio: Number.POSITIVE_INFINITY, ...opts };
    return await readNifti(source.entries[0] as InputEntry, options);
  } finally {
    await source.close();
  }
}

/**
 * Read the whole volume into Hounsfield units (stored value * scl_slope + scl_inter).
 * The result is an Int16Array when the datatype is an integer type, the scaling is integral and every value
 * fits int16; otherwise a Float32Array.
 */
export async function readNifti(
  entry: InputEntry,
  opts?: NiftiReadOptions,
): Promise<{ volume: Volume; warnings: Warning[] }> {
  const prefix = await entry.read(0, Math.min(entry.size, NIFTI_MAX_HEADER_BYTES));
  if (isGzip(prefix)) return readGzipped(entry, prefix, opts);
  const header = parseNiftiHeader(prefix, entry.path);
  checkBeforeAllocation(header, entry, opts, false);
  const sink = new VoxelSink(header, entry.path);
  const end = header.voxOffset + header.dataBytes;
  for (let pos = header.voxOffset; pos < end; ) {
    const bytes = await entry.read(pos, Math.min(end, pos + READ_CHUNK));
    if (bytes.length === 0) break;
    sink.push(bytes.subarray(0, Math.min(bytes.length, end - pos)));
    pos += bytes.length;
  }
  return finishVolume(header, sink, entry.path);
}

async function readGzipped(
  entry: InputEntry,
  prefix: Uint8Array,
  opts: NiftiReadOptions | undefined,
): Promise<{ volume: Volume; warnings: Warning[] }> {
  const stream = new NiftiStream(entry.path, (header) => {
    checkBeforeAllocation(header, entry, opts, true);
    return new VoxelSink(header, entry.path);
  });
  try {
    await inflateGzip(entry, prefix, READ_CHUNK, (chunk) => stream.push(chunk));
  } catch (e) {
    throw gzipFailure(e, entry.path);
  }
  if (stream.header === undefined || stream.sink === undefined) {
    // The stream ended inside the header: let the header parser say whether it was a cut NIfTI or garbage.
    parseNiftiHeader(stream.headerBytes(), entry.path);
    return reject("TRUNCATED", "The gzip stream ends before the NIfTI voxel data.", { file: entry.path });
  }
  return finishVolume(stream.header, stream.sink, entry.path);
}

function finishVolume(
  header: NiftiHeader,
  sink: VoxelSink,
  name: string,
): { volume: Volume; warnings: Warning[] } {
  if (!sink.complete)
    reject(
      "TRUNCATED",
      `The file ends after ${sink.voxelsWritten} of the ${header.voxels} voxels its header declares.`,
      { file: name },
    );
  const { geometry, warnings } = niftiGeometry(header, name);
  const data = sink.result();
  const replaced = replaceNonFinite(data);
  // Integer voxels are always numbers, so any that is not after scaling overflowed, as do float voxels the
  // sink saw turn infinite: a scaling error (scl_slope 1e38), not padding. Read as -1024 HU, they passed as
  // air and the volume as a CT.
  const overflowed = niftiDatatype(header.datatype)!.integer ? replaced : sink.overflowed;
  if (overflowed > 0)
    reject(
      "HU_IMPLAUSIBLE",
      `${overflowed} voxel(s) overflow to infinity when scaled by scl_slope ${header.sclSlope} and scl_inter ${header.sclInter}: the scaling is wrong, and the values are not Hounsfield units.`,
      { file: name },
    );
  if (replaced > 0)
    warnings.push({
      code: "NON_FINITE_VOXELS",
      message: `${replaced} voxel(s) held no number (NaN or infinity, as resampling tools write outside the scanned field) and were read as ${NON_FINITE_HU} HU, like padding.`,
      file: name,
    });
  return { volume: { ...geometry, data }, warnings };
}

/** What a voxel without a number becomes: the padding floor, read as outside the body by every stage. */
export const NON_FINITE_HU = -1024;

/**
 * Replace NaN and infinities of float data by NON_FINITE_HU; returns how many. Left in, they passed the HU
 * check (which skips them), made the lung stage's thresholds false everywhere, and reached the model's
 * input as NaN.
 */
function replaceNonFinite(data: Int16Array | Float32Array): number {
  if (data instanceof Int16Array) return 0;
  let n = 0;
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i]!)) {
      data[i] = NON_FINITE_HU;
      n++;
    }
  return n;
}

/** Rejections that do not need the voxels: pair headers, the voxel limit, and data the file cannot hold. */
function checkBeforeAllocation(
  h: NiftiHeader,
  entry: InputEntry,
  opts: NiftiReadOptions | undefined,
  gz: boolean,
): void {
  const where = { file: entry.path };
  if (!h.singleFile)
    reject(
      "UNSUPPORTED_FORMAT",
      `This is the header of a .hdr/.img pair (magic '${h.magic}'); its voxels are in a separate .img file. ` +
        "Upload a single-file .nii or .nii.gz.",
      where,
    );
  const maxVoxels = opts?.maxVoxels ?? DEFAULT_LIMITS.maxVoxels;
  if (h.voxels > maxVoxels)
    reject("TOO_LARGE", `The header declares ${h.voxels} voxels; the limit is ${maxVoxels}.`, where);
  const declared = h.voxOffset + h.dataBytes;
  if (!gz && entry.size < declared)
    reject(
      "TRUNCATED",
      `The file has ${entry.size} bytes; its header declares ${declared} (data at offset ${h.voxOffset}).`,
      where,
    );
  if (gz && declared > entry.size * DEFLATE_MAX_RATIO)
    reject(
      "TRUNCATED",
      `The ${entry.size}-byte gzip file cannot inflate to the ${declared} bytes its header declares.`,
      where,
    );
  // A deflate bomb: memory follows the header, so a small upload must not declare gigabytes. The zip
  // entries' ratio limit, from the header alone, so header-only validation (the ingest Lambda) applies it.
  const maxRatio = opts?.maxCompressionRatio ?? DEFAULT_LIMITS.maxCompressionRatio;
  if (gz && declared > GZIP_RATIO_CHECK_MIN_BYTES && declared > entry.size * maxRatio)
    reject(
      "ARCHIVE_UNSAFE",
      `The ${entry.size}-byte gzip file declares ${declared} bytes of voxels` +
        ` (ratio over ${maxRatio}): a decompression bomb, or a volume padded far beyond any scan.`,
      where,
    );
}

/** The gzip trailer check of header-only mode (see inspectNifti). */
async function checkGzipTrailer(
  entry: InputEntry,
  h: NiftiHeader,
  prefix: Uint8Array,
  fullReadFollows: boolean,
): Promise<void> {
  const where = { file: entry.path };
  if (entry.size < 18) reject("TRUNCATED", "The gzip file is too short to hold its trailer.", where);
  const declared = h.voxOffset + h.dataBytes;
  // ISIZE covers only the last member, mod 2^32: it is only compared below 4 GiB, and not when the first
  // member carries an extra field, the mark of blocked multi-member formats (BGZF 'BC', pgzip 'IG').
  // Plain gzip, pigz, nibabel and dcm2niix write one member without one. Concatenated plain members
  // (`cat a.gz b.gz`, rare) look cut here: a full read that follows sizes them, else the message says so.
  const blocked = prefix.length >= 4 && (prefix[3]! & 4) !== 0;
  if (declared >= 2 ** 32 || blocked) return;
  const tail = await entry.read(entry.size - 4, entry.size);
  if (tail.length < 4) reject("TRUNCATED", "The gzip trailer could not be read.", where);
  const isize = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  // 0 is what zero padding after the member reads as (a NIfTI is never empty): inconclusive, not truncated.
  // Writers put nothing after the voxels (nibabel, dcm2niix, ITK) or little; a cut stream's last 4 bytes are
  // arbitrary and land in that narrow window about once in 4000 cuts, so anything else is a cut file (a
  // check of fewer bytes only caught a cut when those bytes happened to read less than the header's size).
  if (isize < declared && fullReadFollows) return;
  if (isize !== 0 && (isize < declared || isize > declared + GZIP_TRAILING_SLACK_BYTES))
    reject(
      "TRUNCATED",
      `The gzip trailer records ${isize} uncompressed bytes; the header declares ${declared}` +
        (isize > declared
          ? " (the file is cut: its last bytes are not a gzip trailer)."
          : ": the file is cut short, or it is several gzip streams joined (`cat a.gz b.gz`), whose sizes" +
            " header-only validation cannot add up; recompress it as one (`gzip -dc in.nii.gz | gzip > out.nii.gz`)."),
      where,
    );
}

/** Bytes after the voxels a .nii.gz may hold and still pass the header-only trailer check. */
const GZIP_TRAILING_SLACK_BYTES = 1 << 20;

/** Inflate just enough of a gzip entry for the NIfTI header. */
async function inflateHeader(entry: InputEntry, prefix: Uint8Array): Promise<Uint8Array> {
  const out = new Uint8Array(NIFTI_MAX_HEADER_BYTES);
  let have = 0;
  try {
    await inflateGzip(entry, prefix, HEADER_READ_CHUNK, (chunk) => {
      const take = Math.min(chunk.length, out.length - have);
      out.set(chunk.subarray(0, take), have);
      have += take;
      return have < out.length;
    });
  } catch (e) {
    // A stream cut or corrupt after the header still yields the header; parse what arrived (the parser
    // rejects NOT_NIFTI or TRUNCATED itself when it is not enough). Storage errors are not swallowed.
    if (!isZlibError(e) || have < 4) throw gzipFailure(e, entry.path);
  }
  return out.subarray(0, have);
}

const isZlibError = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("Z_");
};

/** zlib errors as reasons: a cut stream is TRUNCATED, a corrupt one NOT_NIFTI; anything else passes through. */
function gzipFailure(e: unknown, name: string): unknown {
  if (e instanceof InputRejected || !isZlibError(e)) return e;
  const code = (e as { code?: unknown }).code;
  if (code === "Z_BUF_ERROR")
    return new InputRejected(
      [
        {
          code: "TRUNCATED",
          message: "The gzip stream ends before the data its header declares.",
          file: name,
        },
      ],
      { cause: e },
    );
  return new InputRejected(
    [
      {
        code: "NOT_NIFTI",
        message: `The gzip stream is corrupt (${(e as Error).message}).`,
        file: name,
      },
    ],
    { cause: e },
  );
}

/**
 * Inflate a gzip entry from its start, handing each inflated chunk to `sink`. The sink returns false once it
 * has what it needs; reading and inflating then stop. Resolves true when the data ran out by itself.
 *
 * Members are walked here rather than by zlib's Gunzip, so that what follows the last member (zero padding,
 * or other trailing bytes that gzip(1) warns about and nibabel ignores) cannot cost the final output chunk:
 * Node's Gunzip fails inside the same native call that produced it. Each member's deflate data goes through
 * an InflateRaw, one range at a time; its bytesWritten says where the member ended. CRCs are not checked:
 * the reader usually stops before a member's end, and NIfTI sizes are checked against the header instead.
 * Cut or corrupt data rejects with a zlib-style error (code Z_BUF_ERROR / Z_DATA_ERROR) for gzipFailure.
 */
async function inflateGzip(
  entry: InputEntry,
  first: Uint8Array,
  readChunk: number,
  sink: (chunk: Uint8Array) => boolean,
): Promise<boolean> {
  const cursor = new RangeCursor(entry, first, readChunk);
  let pos = 0;
  for (let member = 0; pos < entry.size; member++) {
    const magic = await cursor.exact(pos, 2);
    if (magic[0] !== 0x1f || magic[1] !== 0x8b) {
      if (member === 0) throw zlibError("Z_DATA_ERROR", "not a gzip stream");
      return true; // bytes after the last member: padding or trailing data, ignored
    }
    const headerLength = await gzipHeaderLength(cursor, pos);
    const r = await inflateMember(cursor, pos + headerLength, readChunk, sink);
    if (r.stopped) return false;
    pos += headerLength + r.consumed + 8; // + CRC32 and ISIZE
  }
  return true;
}

function zlibError(code: "Z_BUF_ERROR" | "Z_DATA_ERROR", message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Length of the gzip member header at pos (RFC 1952: fixed 10 bytes + optional extra, name, comment, CRC16). */
async function gzipHeaderLength(cursor: RangeCursor, pos: number): Promise<number> {
  const window = 70 * 1024;
  // First from the bytes already fetched (a header is usually a few bytes), then with a fresh read.
  for (const fresh of [false, true]) {
    const h = fresh ? await cursor.exact(pos, window) : await cursor.bytes(pos, window);
    if (h.length < 10) {
      if (fresh) throw zlibError("Z_BUF_ERROR", "unexpected end of file in a gzip header");
      continue;
    }
    if (h[2] !== 8) throw zlibError("Z_DATA_ERROR", "unknown gzip compression method");
    const flags = h[3]!;
    let o = 10;
    if (flags & 4) o = h.length >= 12 ? o + 2 + (h[10]! | (h[11]! << 8)) : Number.POSITIVE_INFINITY;
    for (const bit of [8, 16]) {
      if (!(flags & bit)) continue;
      const nul = o < h.length ? h.indexOf(0, o) : -1;
      o = nul < 0 ? Number.POSITIVE_INFINITY : nul + 1;
    }
    if (flags & 2) o += 2;
    if (o <= h.length) return o;
    if (fresh && h.length < window) throw zlibError("Z_BUF_ERROR", "unexpected end of file in a gzip header");
  }
  throw zlibError("Z_DATA_ERROR", "gzip header longer than 70 KiB");
}

/** Inflate one member's raw deflate data starting at `start`; consumed = deflate bytes used by the member. */
function inflateMember(
  cursor: RangeCursor,
  start: number,
  readChunk: number,
  sink: (chunk: Uint8Array) => boolean,
): Promise<{ stopped: boolean; consumed: number }> {
  return new Promise((resolve, rejectPromise) => {
    const inflater = createInflateRaw({ chunkSize: INFLATE_CHUNK });
    let done = false;
    const finish = (error: unknown, result?: { stopped: boolean; consumed: number }) => {
      if (done) return;
      done = true;
      inflater.destroy();
      if (result === undefined) rejectPromise(error);
      else resolve(result);
    };
    inflater.on("data", (chunk: Buffer) => {
      if (done) return;
      try {
        if (!sink(chunk)) finish(undefined, { stopped: true, consumed: 0 });
      } catch (e) {
        finish(e);
      }
    });
    inflater.on("end", () => finish(undefined, { stopped: false, consumed: inflater.bytesWritten }));
    inflater.on("error", (e) => finish(e));
    const pump = async () => {
      let pos = start;
      let written = 0;
      while (!done) {
        const bytes = pos < cursor.size ? await cursor.bytes(pos, readChunk) : new Uint8Array(0);
        if (done) return;
        if (bytes.length === 0) {
          // Out of input: a complete deflate stream ends cleanly, a cut one fails with Z_BUF_ERROR.
          inflater.end();
          return;
        }
        pos += bytes.length;
        written += bytes.length;
        // One range at a time, so nothing is queued behind the end of the member.
        await new Promise<void>((resolveWrite) => {
          const settle = () => {
            inflater.off("close", settle);
            resolveWrite();
          };
          inflater.once("close", settle);
          inflater.write(bytes, settle);
        });
        // zlib stopped consuming input: the member's deflate data ended inside this range; "end" follows.
        if (inflater.bytesWritten < written) return;
      }
    };
    pump().catch((e) => finish(e));
  });
}

/** Stored bytes of an entry, fetched in ranges of at least `chunk` bytes; the latest range is kept. */
class RangeCursor {
  private buf: Uint8Array;
  private start = 0;

  constructor(
    private readonly entry: InputEntry,
    first: Uint8Array,
    private readonly chunk: number,
  ) {
    this.buf = first;
  }

  get size(): number {
    return this.entry.size;
  }

  /** Up to n bytes at pos: what the cached range holds from pos, else a fresh range. Empty only at the end. */
  async bytes(pos: number, n: number): Promise<Uint8Array> {
    if (pos >= this.start && pos < this.start + this.buf.length)
      return this.buf.subarray(pos - this.start, Math.min(this.buf.length, pos - this.start + n));
    if (pos >= this.entry.size) return new Uint8Array(0);
    this.buf = await this.entry.read(pos, Math.min(this.entry.size, pos + Math.max(n, this.chunk)));
    this.start = pos;
    return this.buf.subarray(0, Math.min(this.buf.length, n));
  }

  /** Exactly n bytes at pos, or fewer only where the entry ends. */
  async exact(pos: number, n: number): Promise<Uint8Array> {
    const first = await this.bytes(pos, n);
    if (first.length >= n || first.length === 0) return first;
    const out = new Uint8Array(Math.min(n, this.entry.size - pos));
    let got = 0;
    for (let part = first; got < out.length && part.length > 0; part = await this.bytes(pos + got, n - got)) {
      out.set(part, got);
      got += part.length;
    }
    return out.subarray(0, got);
  }
}

/**
 * Splits an uncompressed NIfTI byte stream into header, extensions (skipped) and voxel data, creating the
 * voxel sink once the header is known.
 */
class NiftiStream {
  header: NiftiHeader | undefined;
  sink: VoxelSink | undefined;
  private readonly head = new Uint8Array(NIFTI_MAX_HEADER_BYTES);
  private headLength = 0;
  /** Bytes of the file consumed so far. */
  private pos = 0;

  constructor(
    private readonly name: string,
    private readonly open: (header: NiftiHeader) => VoxelSink,
  ) {}

  headerBytes(): Uint8Array {
    return this.head.subarray(0, this.headLength);
  }

  /** Consume one chunk; false once every declared voxel byte has arrived. */
  push(chunk: Uint8Array): boolean {
    let c = chunk;
    if (this.header === undefined) {
      const take = Math.min(c.length, this.head.length - this.headLength);
      this.head.set(c.subarray(0, take), this.headLength);
      this.headLength += take;
      // The buffer is larger than either header, so nothing is dropped before the header is complete.
      if (!this.headerComplete()) return true;
      this.header = parseNiftiHeader(this.headerBytes(), this.name);
      this.sink = this.open(this.header);
      // Bytes buffered beyond the header are replayed as if they arrived now.
      const replay = this.headerBytes();
      const rest = c.subarray(take);
      this.pos = 0;
      if (!this.feed(replay)) return false;
      c = rest;
    }
    return this.feed(c);
  }

  private headerComplete(): boolean {
    if (this.headLength < 4) return false;
    const dv = new DataView(this.head.buffer, 0, 4);
    const le = dv.getInt32(0, true);
    const be = dv.getInt32(0, false);
    const size = le === 348 || le === 540 ? le : be === 348 || be === 540 ? be : 0;
    // Not a NIfTI size: stop buffering and let the parser reject it.
    return size === 0 || this.headLength >= size;
  }

  private feed(c: Uint8Array): boolean {
    const h = this.header!;
    const sink = this.sink!;
    const start = h.voxOffset;
    const end = h.voxOffset + h.dataBytes;
    const from = Math.max(0, start - this.pos);
    const to = Math.min(c.length, end - this.pos);
    if (to > from) sink.push(c.subarray(from, to));
    this.pos += c.length;
    return this.pos < end;
  }
}

type Scalar = number | bigint;
type ScalarView = ArrayLike<Scalar>;

const VIEWS: Record<NiftiScalarType, (b: ArrayBuffer, offset: number, n: number) => ScalarView> = {
  uint8: (b, o, n) => new Uint8Array(b, o, n),
  int8: (b, o, n) => new Int8Array(b, o, n),
  int16: (b, o, n) => new Int16Array(b, o, n),
  uint16: (b, o, n) => new Uint16Array(b, o, n),
  int32: (b, o, n) => new Int32Array(b, o, n),
  uint32: (b, o, n) => new Uint32Array(b, o, n),
  int64: (b, o, n) => new BigInt64Array(b, o, n),
  uint64: (b, o, n) => new BigUint64Array(b, o, n),
  float32: (b, o, n) => new Float32Array(b, o, n),
  float64: (b, o, n) => new Float64Array(b, o, n),
};

/**
 * How the output is stored:
 *  - "int16": integer datatype, integral scaling, and the datatype's whole range maps into int16 — decoded
 *    straight into an Int16Array;
 *  - "float-maybe-int16": integer datatype and integral scaling, but only the actual values can tell whether
 *    they fit int16 (int32 CT, for instance) — decoded into Float32Array, converted at the end if they fit;
 *  - "float": everything else (float data, fractional scaling).
 */
type OutputPlan = "int16" | "float-maybe-int16" | "float";

function outputPlan(h: NiftiHeader): OutputPlan {
  const type = niftiDatatype(h.datatype)!;
  if (!type.integer || !Number.isInteger(h.sclSlope) || !Number.isInteger(h.sclInter)) return "float";
  const a = type.min! * h.sclSlope + h.sclInter;
  const b = type.max! * h.sclSlope + h.sclInter;
  return Math.min(a, b) >= -32768 && Math.max(a, b) <= 32767 ? "int16" : "float-maybe-int16";
}

/** Converts stored voxel bytes (any alignment, file byte order) into scaled values in the output array. */
class VoxelSink {
  private readonly plan: OutputPlan;
  private readonly out: Int16Array | Float32Array;
  private readonly bpv: number;
  private readonly swap: boolean;
  private readonly view: (b: ArrayBuffer, offset: number, n: number) => ScalarView;
  private readonly bigint: boolean;
  private readonly slope: number;
  private readonly inter: number;
  private readonly scaled: boolean;
  private readonly pending: Uint8Array;
  private pendingLength = 0;
  private scratch: Uint8Array | undefined;
  private written = 0;
  /** Float voxels that were numbers when stored and infinite once scaled. */
  overflowed = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = Number.NEGATIVE_INFINITY;

  constructor(h: NiftiHeader, name: string) {
    this.plan = outputPlan(h);
    try {
      this.out = this.plan === "int16" ? new Int16Array(h.voxels) : new Float32Array(h.voxels);
    } catch (e) {
      // The allocation can still fail below maxVoxels on a small machine: that is a size limit, not a bug.
      throw new InputRejected(
        [{ code: "TOO_LARGE", message: `Cannot allocate ${h.voxels} voxels on this machine.`, file: name }],
        { cause: e },
      );
    }
    this.bpv = h.bytesPerVoxel;
    this.swap = h.littleEndian !== HOST_LITTLE_ENDIAN && h.bytesPerVoxel > 1;
    this.view = VIEWS[h.scalarType!];
    this.bigint = h.scalarType === "int64" || h.scalarType === "uint64";
    this.slope = h.sclSlope;
    this.inter = h.sclInter;
    this.scaled = h.scaled;
    this.pending = new Uint8Array(this.bpv);
  }

  get voxelsWritten(): number {
    return this.written;
  }

  get complete(): boolean {
    return this.written === this.out.length;
  }

  push(src: Uint8Array): void {
    let off = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(this.bpv - this.pendingLength, src.length);
      this.pending.set(src.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      off = take;
      if (this.pendingLength < this.bpv) return;
      this.convert(this.pending);
      this.pendingLength = 0;
    }
    const whole = Math.floor((src.length - off) / this.bpv) * this.bpv;
    const step = Math.max(this.bpv, SCRATCH_BYTES - (SCRATCH_BYTES % this.bpv));
    for (let p = off; p < off + whole; p += step)
      this.convert(src.subarray(p, Math.min(off + whole, p + step)));
    const tail = src.subarray(off + whole);
    if (tail.length > 0) {
      this.pending.set(tail, 0);
      this.pendingLength = tail.length;
    }
  }

  /** Decode whole voxels (bytes.length is a multiple of bpv, at most SCRATCH_BYTES). */
  private convert(bytes: Uint8Array): void {
    let n = bytes.length / this.bpv;
    n = Math.min(n, this.out.length - this.written); // defensive: callers never push past the declared size
    if (n <= 0) return;
    let aligned = bytes;
    if (this.swap || bytes.byteOffset % this.bpv !== 0) {
      // Typed-array views need aligned, host-order bytes: copy (and swap) into a private scratch buffer.
      this.scratch ??= new Uint8Array(SCRATCH_BYTES);
      aligned = this.scratch.subarray(0, n * this.bpv);
      aligned.set(bytes.subarray(0, n * this.bpv));
      if (this.swap) swapBytesInPlace(aligned, this.bpv);
    }
    const v = this.view(aligned.buffer as ArrayBuffer, aligned.byteOffset, n);
    const out = this.out;
    const w = this.written;
    if (this.bigint) {
      for (let i = 0; i < n; i++) this.store(w + i, Number(v[i]!) * this.slope + this.inter);
    } else if (this.plan === "float-maybe-int16") {
      const nv = v as ArrayLike<number>;
      for (let i = 0; i < n; i++) this.store(w + i, nv[i]! * this.slope + this.inter);
    } else if (this.scaled) {
      const nv = v as ArrayLike<number>;
      for (let i = 0; i < n; i++) out[w + i] = nv[i]! * this.slope + this.inter;
      for (let i = 0; i < n; i++)
        if (!Number.isFinite(out[w + i]!) && Number.isFinite(nv[i]!)) this.overflowed++;
    } else {
      // Unscaled: a typed-array copy converts exactly (the plan guarantees int16 output only when it fits).
      out.set(v as ArrayLike<number>, w);
    }
    this.written += n;
  }

  private store(i: number, value: number): void {
    this.out[i] = value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The decoded voxels; int32-like data whose values all fit int16 is narrowed to Int16Array here. */
  result(): Int16Array | Float32Array {
    if (this.plan === "float-maybe-int16" && this.min >= -32768 && this.max <= 32767) {
      const narrow = new Int16Array(this.out.length);
      narrow.set(this.out);
      return narrow;
    }
    return this.out;
  }
}
