/**
 * A zip archive as an input, read by byte ranges through a RandomAccess (a local file descriptor or an
 * object in S3), never loaded whole.
 *
 * Safety model: every limit is checked from the central directory BEFORE a single byte is inflated —
 * entry count, declared uncompressed sizes, compression ratios, entry names (absolute, drive letters, '..',
 * backslash traversal), nested archives, symbolic links, overlapping entries (the "overlapping files" zip
 * bomb), duplicate names, encryption and compression methods. While inflating, the actual size must equal
 * the declared size (inflation stops the moment it exceeds it) and a full read must match the CRC-32.
 *
 * Cost model: yauzl parses the end-of-central-directory record and the central directory through a small
 * window cache (one read of the archive's tail usually covers both). Reading an entry costs its local header
 * plus the bytes the caller asks for: a stored entry is a direct range read, and a deflated entry is
 * inflated from its start until `end` is reached, so a 16 KiB header prefix of a 500 KB DICOM slice costs a
 * few compressed KiB; reads that walk forward continue from the previous one (zip-inflate.ts).
 */
import { Readable } from "node:stream";
import yauzl from "yauzl";
import type { ReasonCode } from "../contracts/reason-codes.js";
import { isInputRejected, reject } from "../errors.js";
import { clampRange } from "./file-source.js";
import { isIgnoredSegment } from "./folder-source.js";
import {
  type ContainerKind,
  DEFAULT_LIMITS,
  type InputEntry,
  type InputLimits,
  type InputSource,
} from "./source.js";
import { crc32, InflateCursor, nextStep } from "./zip-inflate.js";

/** Byte-range access to one stored blob (a local file, an S3 object). */
export interface RandomAccess {
  readonly size: number;
  /** Bytes [start, end), end clamped to size; shorter than asked only past the end. */
  read(start: number, end: number): Promise<Uint8Array>;
  /** Bytes fetched from the underlying storage so far. */
  bytesRead(): number;
  close(): Promise<void>;
}

/** Entries below this uncompressed size never trip the ratio check (tiny text files compress 1000:1). */
const RATIO_CHECK_MIN_BYTES = 1024 * 1024;
/** Read-ahead while yauzl walks the central directory: big sequential windows, few requests. */
const DIRECTORY_READ_AHEAD = 64 * 1024;
/** Read-ahead for local headers: the window also covers the first KiB of the entry's data. */
const LOCAL_HEADER_READ_AHEAD = 4 * 1024;
/**
 * A first read from an entry's start fetches its local header and the data that read needs in one request
 * (a header prefix of a deflated slice is ~10 KiB compressed: two requests per file otherwise), up to this.
 */
const MAX_FIRST_WINDOW = 64 * 1024;
/** Local extra fields may be longer than the central directory's copy; a little room for that. */
const LOCAL_EXTRA_SLACK = 64;
/** A central directory larger than this is hostile (names of 64 KiB, millions of records). */
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** Read size when yauzl streams a range (it does not here: entries are read through ZipEntry). */
const MAX_INFLATE_CHUNK = 1024 * 1024;
/**
 * Inflate cursors kept alive across entries (each holds a zlib state and the output inflated past its last
 * read). A reader walking one entry needs one; header passes leave one per entry, so the oldest are closed.
 */
const LIVE_CURSORS = 4;
/** Windows kept: more than the header reads in flight (16), so a fetched window is still there when used. */
const WINDOW_CACHE_SLOTS = 32;
const LOCAL_HEADER_SIZE = 30;
const NESTED_ARCHIVE_NAME = /\.(zip|zipx|gz|tgz|tar|7z|rar|bz2|tbz2?|xz|txz|zst|lz|lzma|cab|jar)$/i;

/**
 * Remembers a few recently fetched windows so yauzl's many small reads (46-byte directory records, 30-byte
 * local headers) and the entry read that follows a local header do not each become a storage request.
 */
class WindowCache {
  #windows: { start: number; bytes: Uint8Array }[] = [];
  readAhead = DIRECTORY_READ_AHEAD;

  constructor(readonly source: RandomAccess) {}

  /** Bytes [start, end); `remember` keeps the fetched window for later small reads. */
  async read(start: number, end: number, remember: boolean): Promise<Uint8Array> {
    const to = Math.min(end, this.source.size);
    if (to <= start) return new Uint8Array(0);
    const hit = this.#windows.find((w) => w.start <= start && start < w.start + w.bytes.length);
    if (hit === undefined) return this.#fetch(start, to, remember);
    const hitEnd = hit.start + hit.bytes.length;
    // Copies, never views: callers may modify what they get, the cache must not change under them.
    const head = hit.bytes.slice(start - hit.start, Math.min(to, hitEnd) - hit.start);
    if (to <= hitEnd) return head;
    const tail = await this.#fetch(hitEnd, to, remember);
    const out = new Uint8Array(head.length + tail.length);
    out.set(head, 0);
    out.set(tail, head.length);
    return out;
  }

  /** Fetch [start, end) as one remembered window, unless a window already holds its start. */
  async prefetch(start: number, end: number): Promise<void> {
    const to = Math.min(end, this.source.size);
    if (to <= start || this.#windows.some((w) => w.start <= start && start < w.start + w.bytes.length))
      return;
    this.#windows.push({ start, bytes: await this.source.read(start, to) });
    if (this.#windows.length > WINDOW_CACHE_SLOTS) this.#windows.shift();
  }

  async #fetch(start: number, end: number, remember: boolean): Promise<Uint8Array> {
    const fetchEnd = remember ? Math.min(this.source.size, Math.max(end, start + this.readAhead)) : end;
    const bytes = await this.source.read(start, fetchEnd);
    if (!remember) return bytes;
    this.#windows.push({ start, bytes });
    if (this.#windows.length > WINDOW_CACHE_SLOTS) this.#windows.shift();
    return bytes.slice(0, end - start);
  }
}

/** Errors of the storage itself (network, disk): they must surface as failures, never as rejections. */
class StorageError extends Error {
  override readonly name = "StorageError";
}
class DirectoryTooLarge extends Error {}

const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_RECORD_MIN_SIZE = 46;

/**
 * Where the end-of-central-directory record (or its zip64 successor) says the central directory lies, and
 * where it must end: right where that record begins. yauzl trusts only the record count and reads nothing
 * else, so a count that is too small silently hides entries (slices lost), while readers that go by the
 * size (Python's zipfile) see them all. These numbers let openZip insist the count, size and offset agree.
 */
interface DirectoryBounds {
  offset: number;
  size: number;
  entryCount: number;
  /** Offset of the record that follows the directory: the zip64 end record, else the end record. */
  end: number;
}

function u64le(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/**
 * Reads the end records the same way yauzl found them (the last end-record signature in the tail, a zip64
 * locator just before it). Only bytes yauzl has already fetched are read, through the window cache: on the
 * range-read path (S3) this costs no request.
 */
async function readDirectoryBounds(cache: WindowCache, size: number): Promise<DirectoryBounds> {
  const read = (start: number, end: number) =>
    cache.read(start, end, true).catch((e: unknown) => {
      throw new StorageError(`Reading the archive failed: ${String(e)}`, { cause: e });
    });
  const tailStart = Math.max(0, size - (ZIP64_LOCATOR_SIZE + EOCD_SIZE + 0xffff));
  const tail = await read(tailStart, size);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let i = tail.length - EOCD_SIZE;
  while (i >= 0 && view.getUint32(i, true) !== 0x06054b50) i--;
  // yauzl opened the zip, so the record is there; a miss would mean the two parsers disagree.
  if (i < 0) throw new Error("end of central directory record not found again");
  const locator = i - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && view.getUint32(locator, true) === 0x07064b50) {
    const at = u64le(view, locator + 8);
    const record = await read(at, at + ZIP64_EOCD_SIZE);
    const r = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (record.length < ZIP64_EOCD_SIZE) throw new Error("zip64 end of central directory record cut short");
    return { entryCount: u64le(r, 32), size: u64le(r, 40), offset: u64le(r, 48), end: at };
  }
  return {
    entryCount: view.getUint16(i + 10, true),
    size: view.getUint32(i + 12, true),
    offset: view.getUint32(i + 16, true),
    end: tailStart + i,
  };
}

/** Corrupt-directory rejection, worded like the ones classifyOpenError gives for yauzl's own findings. */
function corruptDirectory(problem: string): never {
  unsafe("ARCHIVE_UNSAFE", `The zip has a corrupt central directory: ${problem}.`);
}

/** What can be checked before reading a record: the declared size, offset and count must fit together. */
function checkDirectoryBounds(bounds: DirectoryBounds, yauzlCount: number): void {
  if (bounds.entryCount !== yauzlCount)
    corruptDirectory(`its end records disagree on the entry count (${bounds.entryCount}, ${yauzlCount})`);
  if (bounds.offset + bounds.size !== bounds.end)
    corruptDirectory(
      `it is declared at bytes ${bounds.offset}-${bounds.offset + bounds.size},` +
        ` but its end record is at byte ${bounds.end}`,
    );
  if (bounds.entryCount * CENTRAL_RECORD_MIN_SIZE > bounds.size)
    corruptDirectory(
      `${bounds.entryCount} entries are declared, more than its ${bounds.size} bytes can hold`,
    );
}

/** Adapts the window cache to yauzl's callback-style RandomAccessReader. */
class YauzlReader extends yauzl.RandomAccessReader {
  directoryBytes = 0;
  readingDirectory = true;

  constructor(private readonly cache: WindowCache) {
    super();
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    // yauzl's real callback takes (err, bytesRead) and reports "unexpected EOF" when bytesRead < length.
    const done = callback as (err: Error | null, bytesRead?: number) => void;
    if (this.readingDirectory) {
      this.directoryBytes += length;
      if (this.directoryBytes > MAX_DIRECTORY_BYTES) {
        done(new DirectoryTooLarge());
        return;
      }
    }
    this.cache.read(position, position + length, true).then(
      (bytes) => {
        buffer.set(bytes, offset);
        done(null, bytes.length);
      },
      (e: unknown) => done(new StorageError(`Reading the archive failed: ${String(e)}`, { cause: e })),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Part of yauzl's reader contract; this module reads entry data itself (see inflateRange).
    const cache = this.cache;
    return Readable.from(
      (async function* () {
        for (let pos = start; pos < end; pos += MAX_INFLATE_CHUNK)
          yield Buffer.from(await cache.read(pos, Math.min(end, pos + MAX_INFLATE_CHUNK), false));
      })(),
    );
  }

  override close(callback: (err: Error | null) => void): void {
    // The RandomAccess belongs to the InputSource, which closes it; yauzl only drops its reference.
    setImmediate(() => callback(null));
  }
}

function openZipFile(reader: YauzlReader, size: number): Promise<yauzl.ZipFile> {
  return new Promise((resolve, rejectPromise) => {
    yauzl.fromRandomAccessReader(
      reader,
      size,
      // decodeStrings false: names are decoded and validated here, so a bad name gets a clear message.
      {
        autoClose: false,
        lazyEntries: true,
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: false,
      },
      (err, zipfile) => (err ? rejectPromise(err) : resolve(zipfile)),
    );
  });
}

/**
 * Reject; `entryPath` is the entry at fault once the zip is open (reports turn it into its position,
 * core/contracts/file-ref.ts). Messages never quote entry names: a PACS export names folders after the patient.
 */
function unsafe(code: ReasonCode, message: string, entryPath?: string): never {
  reject(code, message, entryPath === undefined ? undefined : { file: entryPath });
}

/** An entry met while the directory is read, before the zip's file list exists: named by its directory line. */
const directoryEntry = (line: number) => `Zip entry ${line} (line ${line} of \`unzip -Z1\`)`;

/** Why an entry name could escape an extraction folder, or undefined when it is a plain relative name. */
export function unsafeEntryNameProblem(name: string): string | undefined {
  if (name.includes("\0")) return "contains a NUL character";
  // Backslashes were already turned into '/', so "..\..\x" is caught as traversal below.
  if (name.startsWith("/")) return "is an absolute path";
  if (/^[A-Za-z]:/.test(name)) return "starts with a drive letter";
  if (name.split("/").includes("..")) return "contains '..' (path traversal)";
  return undefined;
}

/** What the central directory says about one file entry, after all checks. */
interface CheckedEntry {
  path: string;
  raw: yauzl.Entry;
}

function isUnixSymlink(entry: yauzl.Entry): boolean {
  const madeOnUnix = entry.versionMadeBy >>> 8 === 3;
  return madeOnUnix && ((entry.externalFileAttributes >>> 16) & 0o170000) === 0o120000;
}

/** Checks every central-directory record as yauzl yields it; nothing is inflated here. */
class DirectoryCheck {
  readonly files: CheckedEntry[] = [];
  uncompressedTotal = 0;
  readonly #names = new Set<string>();
  readonly #spans: { start: number; end: number; line: number }[] = [];
  /** 1-based position of the record being checked in the central directory. */
  #line = 0;
  /** Bytes of the central directory the records read so far fill. */
  #recordBytes = 0;

  constructor(private readonly limits: InputLimits) {}

  add(entry: yauzl.Entry): void {
    const rawName = entry.fileName as unknown as Buffer;
    const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, rawName, entry.extraFields, false);
    const line = ++this.#line;
    this.#recordBytes +=
      CENTRAL_RECORD_MIN_SIZE + entry.fileNameLength + entry.extraFieldLength + entry.fileCommentLength;
    const entryAt = directoryEntry(line);
    const problem = unsafeEntryNameProblem(name);
    if (problem !== undefined) unsafe("ARCHIVE_UNSAFE", `${entryAt}: its name ${problem}.`);

    // A local header is at least 30 bytes followed by the compressed data; spans that overlap mean several
    // entries share data (the overlapping-files zip bomb) or the directory is corrupt.
    this.#spans.push({
      start: entry.relativeOffsetOfLocalHeader,
      end: entry.relativeOffsetOfLocalHeader + LOCAL_HEADER_SIZE + entry.compressedSize,
      line,
    });

    this.uncompressedTotal += entry.uncompressedSize;
    if (this.uncompressedTotal > this.limits.maxUncompressedBytes)
      unsafe(
        "TOO_LARGE",
        `The zip declares more than ${this.limits.maxUncompressedBytes} uncompressed bytes.`,
      );
    if (
      entry.uncompressedSize > RATIO_CHECK_MIN_BYTES &&
      entry.uncompressedSize > this.limits.maxCompressionRatio * Math.max(1, entry.compressedSize)
    )
      unsafe(
        "ARCHIVE_UNSAFE",
        `${entryAt} expands ${entry.compressedSize} bytes to ${entry.uncompressedSize}` +
          ` (ratio over ${this.limits.maxCompressionRatio}): a zip bomb.`,
      );

    const segments = name.split("/").filter((s) => s !== "" && s !== ".");
    const isDirectory = name.endsWith("/");
    if (isDirectory || segments.length === 0 || segments.some(isIgnoredSegment)) return;
    const normalised = segments.join("/");

    if (isUnixSymlink(entry)) unsafe("ARCHIVE_UNSAFE", `${entryAt} is a symbolic link.`);
    if (NESTED_ARCHIVE_NAME.test(normalised))
      unsafe(
        "ARCHIVE_UNSAFE",
        `${entryAt} is itself an archive; nested archives are not expanded` +
          " (upload a .nii.gz directly, or zip the DICOM files themselves).",
      );
    if (entry.isEncrypted())
      unsafe("UNSUPPORTED_FORMAT", `${entryAt} is encrypted; password-protected zips are not supported.`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
      unsafe(
        "UNSUPPORTED_FORMAT",
        `${entryAt} uses compression method ${entry.compressionMethod};` +
          " only stored (0) and deflate (8) are supported.",
      );
    if (this.#names.has(normalised))
      unsafe("ARCHIVE_UNSAFE", `${entryAt} repeats the path of an earlier entry.`);
    this.#names.add(normalised);
    this.files.push({ path: normalised, raw: entry });
  }

  finish(archiveSize: number, bounds: DirectoryBounds): void {
    // The records must fill the directory exactly: fewer bytes means the count hides entries (unzip and
    // Python's zipfile would list more files than we read), more means records run past the declared end.
    if (this.#recordBytes !== bounds.size)
      corruptDirectory(
        `its ${this.#line} records fill ${this.#recordBytes} bytes, but the directory is ${bounds.size}` +
          " bytes long (the entry count is wrong, or entries are hidden)",
      );
    const spans = [...this.#spans].sort((a, b) => a.start - b.start);
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      const next = spans[i + 1];
      if (span.end > archiveSize || (next !== undefined && span.end > next.start))
        unsafe(
          "ARCHIVE_UNSAFE",
          `${directoryEntry(span.line)} overlaps another entry or the end of the archive.`,
        );
    }
    if (
      this.uncompressedTotal > RATIO_CHECK_MIN_BYTES &&
      this.uncompressedTotal > this.limits.maxCompressionRatio * Math.max(1, archiveSize)
    )
      unsafe(
        "ARCHIVE_UNSAFE",
        `The zip expands ${archiveSize} bytes to ${this.uncompressedTotal}` +
          ` (ratio over ${this.limits.maxCompressionRatio}): a zip bomb.`,
      );
    if (this.files.length === 0) unsafe("EMPTY_INPUT", "The zip holds no files.");
  }
}

/** Map what yauzl or the storage threw while opening into a rejection, or rethrow a real failure. */
async function classifyOpenError(e: unknown, source: RandomAccess): Promise<never> {
  if (isInputRejected(e)) throw e;
  if (e instanceof StorageError) throw e.cause ?? e;
  if (e instanceof DirectoryTooLarge)
    unsafe("ARCHIVE_UNSAFE", `The zip has a central directory over ${MAX_DIRECTORY_BYTES} bytes.`);
  const message = e instanceof Error ? e.message : String(e);
  if (/end of central directory record signature not found/i.test(message)) {
    // A zip starts with a local header (or is an empty archive); without its directory at the end it was
    // cut short. Anything else simply is not a zip.
    const magic = await source.read(0, 4);
    const isZipStart = magic[0] === 0x50 && magic[1] === 0x4b && (magic[2] === 3 || magic[2] === 5);
    if (isZipStart)
      unsafe("TRUNCATED", "The zip ends before its central directory: the upload looks truncated.");
    unsafe("UNSUPPORTED_FORMAT", "The input is not a zip archive.");
  }
  if (/encryption|multi-disk/i.test(message))
    unsafe("UNSUPPORTED_FORMAT", `The zip cannot be read: ${message}.`);
  unsafe("ARCHIVE_UNSAFE", `The zip has a corrupt central directory: ${message}.`);
}

/** True when bytes start like an archive (zip, gzip, 7z, rar, bzip2, xz, zstd) or carry a tar header. */
export function looksLikeArchive(bytes: Uint8Array): boolean {
  const at = (i: number, sig: number[]) => sig.every((b, k) => bytes[i + k] === b);
  return (
    at(0, [0x50, 0x4b, 0x03, 0x04]) ||
    at(0, [0x50, 0x4b, 0x05, 0x06]) ||
    at(0, [0x1f, 0x8b]) ||
    at(0, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) ||
    at(0, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07]) ||
    (at(0, [0x42, 0x5a, 0x68]) && bytes[3] !== undefined && bytes[3] >= 0x31 && bytes[3] <= 0x39) ||
    at(0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ||
    at(0, [0x28, 0xb5, 0x2f, 0xfd]) ||
    at(257, [0x75, 0x73, 0x74, 0x61, 0x72])
  );
}

class ZipEntry implements InputEntry {
  readonly path: string;
  readonly size: number;
  #dataStart: Promise<number> | undefined;
  #cursor: InflateCursor | undefined;
  /** Reads of a deflated entry run one at a time: they share the cursor. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly checked: CheckedEntry,
    private readonly zipfile: yauzl.ZipFile,
    private readonly cache: WindowCache,
    private readonly liveCursors: InflateCursor[],
  ) {
    this.path = checked.path;
    this.size = checked.raw.uncompressedSize;
  }

  async read(start?: number, end?: number): Promise<Uint8Array> {
    const [s, e] = clampRange(start, end, this.size);
    if (e === s) return new Uint8Array(0);
    const raw = this.checked.raw;
    const stored = raw.compressionMethod === 0;
    if (s === 0 && this.#dataStart === undefined) await this.#prefetchFirstWindow(stored, e);
    const dataStart = await this.#localData();
    const bytes = stored
      ? await this.cache.read(dataStart + s, dataStart + e, false)
      : await this.#inflated(dataStart, s, e);
    if (bytes.length !== e - s) this.#fail(`ends after ${s + bytes.length} of ${this.size} bytes`);
    // Deflated entries are checked by their cursor once inflated to the end, whatever the reads were.
    if (stored && s === 0 && e === this.size && crc32(bytes) !== raw.crc32)
      this.#fail("fails its CRC-32 check");
    if (s === 0 && looksLikeArchive(bytes))
      unsafe(
        "ARCHIVE_UNSAFE",
        "This zip entry is itself an archive; nested archives are not expanded.",
        this.path,
      );
    return bytes;
  }

  #fail(problem: string): never {
    unsafe("ARCHIVE_UNSAFE", `This zip entry ${problem}.`, this.path);
  }

  /** Local header plus the data bytes a first read of [0, end) needs (compressed: the cursor's first step). */
  async #prefetchFirstWindow(stored: boolean, end: number): Promise<void> {
    const raw = this.checked.raw;
    const data = stored ? end : nextStep(raw, 0, 0, end);
    const header = LOCAL_HEADER_SIZE + raw.fileNameLength + raw.extraFieldLength + LOCAL_EXTRA_SLACK;
    const start = raw.relativeOffsetOfLocalHeader;
    await this.cache.prefetch(start, start + header + Math.min(data, MAX_FIRST_WINDOW));
  }

  /** Offset of the entry's data, from its local header (read once, checked against the directory). */
  #localData(): Promise<number> {
    this.#dataStart ??= this.#readLocalHeader();
    return this.#dataStart;
  }

  async #readLocalHeader(): Promise<number> {
    const raw = this.checked.raw;
    let header: yauzl.LocalFileHeader;
    try {
      header = await new Promise<yauzl.LocalFileHeader>((resolve, rejectPromise) =>
        this.zipfile.readLocalFileHeader(raw, {}, (err, h) => (err ? rejectPromise(err) : resolve(h))),
      );
    } catch (e) {
      if (e instanceof StorageError) throw e.cause ?? e;
      this.#fail(`has a bad local header: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (header.compressionMethod !== raw.compressionMethod)
      this.#fail("has a local header that disagrees with the central directory");
    return header.fileDataStart;
  }

  /** Uncompressed [start, end) of a deflated entry, continuing the entry's cursor when it can. */
  #inflated(dataStart: number, start: number, end: number): Promise<Uint8Array> {
    const run = this.#queue.then(async () => {
      let cursor = this.#cursor;
      if (!cursor?.canRead(start)) {
        if (cursor) this.#retire(cursor);
        cursor = this.#cursor = this.#newCursor(dataStart);
      }
      const bytes = await cursor.read(start, end);
      if (end === this.size) this.#retire(cursor);
      return bytes;
    });
    // The chain must not hold on to what the read returned (a whole slice per entry otherwise).
    this.#queue = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  #newCursor(dataStart: number): InflateCursor {
    const { compressedSize, uncompressedSize, crc32: crc } = this.checked.raw;
    const cursor = new InflateCursor({
      compressedSize,
      uncompressedSize,
      crc32: crc,
      readCompressed: (from, to) => this.cache.read(dataStart + from, dataStart + to, false),
      fail: (problem) => this.#fail(problem),
    });
    this.liveCursors.push(cursor);
    if (this.liveCursors.length > LIVE_CURSORS) this.liveCursors.shift()?.close();
    return cursor;
  }

  #retire(cursor: InflateCursor): void {
    cursor.close();
    const i = this.liveCursors.indexOf(cursor);
    if (i >= 0) this.liveCursors.splice(i, 1);
    if (this.#cursor === cursor) this.#cursor = undefined;
  }
}

/**
 * Open a zip over any RandomAccess. The source takes ownership of `reader`: it is closed when the source is
 * closed, or right away if opening fails.
 */
export async function openZip(
  reader: RandomAccess,
  name: string,
  container: ContainerKind,
  limits: Partial<InputLimits> = {},
): Promise<InputSource> {
  const lim: InputLimits = { ...DEFAULT_LIMITS, ...limits };
  const cache = new WindowCache(reader);
  const yreader = new YauzlReader(cache);
  let zipfile: yauzl.ZipFile | undefined;
  try {
    if (reader.size > lim.maxTotalBytes)
      unsafe("TOO_LARGE", `The zip is ${reader.size} bytes; the limit is ${lim.maxTotalBytes}.`);
    zipfile = await openZipFile(yreader, reader.size);
    // A count the directory cannot hold is a corrupt record, not a large archive: checked first.
    const bounds = await readDirectoryBounds(cache, reader.size);
    checkDirectoryBounds(bounds, zipfile.entryCount);
    // The record count comes from the end-of-central-directory record: refuse before reading the directory.
    if (zipfile.entryCount > lim.maxEntries)
      unsafe("TOO_LARGE", `The zip has ${zipfile.entryCount} entries; the limit is ${lim.maxEntries}.`);
    const check = new DirectoryCheck(lim);
    for await (const entry of zipfile.eachEntry()) check.add(entry);
    // From here on nothing listens to the iterator; an error yauzl might still emit must not crash the process.
    zipfile.on("error", () => {});
    check.finish(reader.size, bounds);
    yreader.readingDirectory = false;
    cache.readAhead = LOCAL_HEADER_READ_AHEAD;

    const openZipfile = zipfile;
    const liveCursors: InflateCursor[] = [];
    const entries = check.files
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map((f) => new ZipEntry(f, openZipfile, cache, liveCursors));
    let closed = false;
    return {
      container,
      name,
      entries,
      bytesRead: () => reader.bytesRead(),
      bytesTotal: reader.size,
      close: async () => {
        if (closed) return;
        closed = true;
        for (const cursor of liveCursors.splice(0)) cursor.close();
        openZipfile.close();
        await reader.close();
      },
    };
  } catch (e) {
    try {
      return await classifyOpenError(e, reader);
    } finally {
      zipfile?.close();
      await reader.close();
    }
  }
}
