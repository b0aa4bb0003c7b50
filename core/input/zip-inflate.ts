/**
 * Inflating one deflated zip entry by byte ranges, with the inflater kept between reads.
 *
 * A range read of a deflated entry must inflate everything before it. Readers that walk an entry front to
 * back (the NIfTI reader reads a .nii in 1 MiB steps) would pay that again for every step, quadratic in the
 * entry's size: a 157 MB .nii in a zip read 6.4 GB and took 80 s. The cursor instead continues from where
 * the previous read stopped; a read that starts before the cursor starts a new one from the entry's start.
 *
 * Checks, wherever the inflation is: the output never exceeds the declared size (zlib is stopped the moment
 * it does, so a size lie cannot hide gigabytes), corrupt deflate data fails, and once the compressed data is
 * exhausted the output must have exactly the declared size and CRC-32. Memory: the output inflated past the
 * last read's end, at most one compressed step's worth (MAX_STEP; typically about the read's own size).
 */
import type { Writable } from "node:stream";
import zlib from "node:zlib";

/** Compressed bytes fed to zlib per step: sized from the entry's average ratio, within these bounds. */
const MIN_STEP = 4 * 1024;
const MAX_STEP = 256 * 1024;

/**
 * Compressed bytes to feed next, having produced `produced` of the `end` bytes wanted: the remainder at the
 * entry's average ratio plus slack, within [MIN_STEP, MAX_STEP] and what is left of the compressed data.
 * zip-source prefetches exactly a first step's bytes with an entry's local header.
 */
export function nextStep(
  sizes: { compressedSize: number; uncompressedSize: number },
  consumed: number,
  produced: number,
  end: number,
  previous = 0,
): number {
  const ratio = sizes.compressedSize / Math.max(1, sizes.uncompressedSize);
  // A step that fell short (this part compresses worse than the average) is doubled, so a read never
  // takes many small storage requests.
  const want = Math.max(Math.ceil((end - produced) * ratio) + 1024, previous * 2);
  return Math.min(sizes.compressedSize - consumed, Math.min(MAX_STEP, Math.max(MIN_STEP, want)));
}

export interface DeflatedEntry {
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Compressed bytes [start, end) of the entry's data. */
  readCompressed(start: number, end: number): Promise<Uint8Array>;
  /** Rejects the entry (ARCHIVE_UNSAFE with the entry's name); `problem` completes "Zip entry X ...". */
  fail(problem: string): never;
}

export class InflateCursor {
  readonly #entry: DeflatedEntry;
  readonly #inflater = zlib.createInflateRaw();
  /** Compressed bytes consumed so far. */
  #pos = 0;
  /** Uncompressed bytes produced so far. */
  #produced = 0;
  /** Produced output not yet handed out, starting at uncompressed offset #queueStart. */
  #queue: Buffer[] = [];
  #queueStart = 0;
  #crc = 0;
  #overflow = false;
  #ended = false;
  #broken = false;
  #busy = false;
  /** Start of the read in progress: output before it is dropped as it is produced. */
  #keepFrom = 0;

  constructor(entry: DeflatedEntry) {
    this.#entry = entry;
    this.#inflater.on("data", (chunk: Buffer) => {
      this.#produced += chunk.length;
      if (this.#produced > entry.uncompressedSize) {
        // Stop zlib at once: a size lie may hide gigabytes behind a few compressed KiB.
        this.#overflow = true;
        this.#inflater.destroy();
        return;
      }
      this.#crc = crc32(chunk, this.#crc);
      this.#queue.push(chunk);
      // Output before the read in progress is never needed: a read far ahead must not hold what it skips.
      this.#dropBefore(this.#keepFrom);
    });
    // Errors are observed through writeChunk/endStream; this listener keeps them from going unhandled.
    this.#inflater.on("error", () => {});
  }

  /** Whether a read from `start` can continue from this cursor (otherwise open a new one). */
  canRead(start: number): boolean {
    return !this.#broken && start >= this.#queueStart;
  }

  /** Uncompressed bytes [start, end), end <= uncompressedSize; only after canRead(start). */
  async read(start: number, end: number): Promise<Uint8Array> {
    this.#busy = true;
    this.#keepFrom = start;
    this.#dropBefore(start);
    try {
      await this.#inflateUntil(end);
      return this.#take(start, end);
    } catch (e) {
      this.#broken = true;
      throw e;
    } finally {
      this.#busy = false;
      if (this.#broken) this.#release();
    }
  }

  /** No further reads; the zlib state and queued output go now, or when a read in progress ends. */
  close(): void {
    this.#broken = true;
    if (!this.#busy) this.#release();
  }

  /** Drop queued output before `offset`; the queue stays the contiguous output from #queueStart on. */
  #dropBefore(offset: number): void {
    while (this.#queue.length > 0 && this.#queueStart < offset) {
      const head = this.#queue[0]!;
      const headEnd = this.#queueStart + head.length;
      if (headEnd <= offset) {
        this.#queue.shift();
        this.#queueStart = headEnd;
      } else {
        this.#queue[0] = head.subarray(offset - this.#queueStart);
        this.#queueStart = offset;
      }
    }
    if (this.#queue.length === 0)
      this.#queueStart = Math.max(this.#queueStart, Math.min(offset, this.#produced));
  }

  #release(): void {
    this.#queue = [];
    this.#inflater.destroy();
  }

  async #inflateUntil(end: number): Promise<void> {
    const { compressedSize, uncompressedSize } = this.#entry;
    // A read to the end also drains the compressed data, so the stream's end, size and CRC get checked.
    const toTheEnd = end === uncompressedSize;
    const overflowed = () => this.#entry.fail(`inflates to more than its declared ${uncompressedSize} bytes`);
    try {
      let n = 0;
      while (this.#pos < compressedSize && !this.#overflow && (toTheEnd || this.#produced < end)) {
        n = nextStep(this.#entry, this.#pos, this.#produced, end, n);
        const compressed = await this.#entry.readCompressed(this.#pos, this.#pos + n);
        if (compressed.length !== n) this.#entry.fail("is cut short in the archive");
        this.#pos += n;
        await writeChunk(this.#inflater, compressed);
      }
      if (this.#overflow) overflowed();
      if (this.#pos >= compressedSize && !this.#ended) {
        await endStream(this.#inflater);
        this.#ended = true;
        if (this.#overflow) overflowed();
        if (this.#produced !== uncompressedSize)
          this.#entry.fail(`inflates to ${this.#produced} bytes but declares ${uncompressedSize}`);
        if (this.#crc !== this.#entry.crc32) this.#entry.fail("fails its CRC-32 check");
      }
    } catch (e) {
      if (this.#overflow) overflowed();
      // Corrupt data is the entry's fault; anything else (a storage failure) is rethrown as it is.
      const code = e instanceof Error && "code" in e ? String((e as { code?: unknown }).code) : "";
      if (code.startsWith("Z_"))
        this.#entry.fail(`holds corrupt deflate data (${e instanceof Error ? e.message : String(e)})`);
      throw e;
    }
  }

  /** Copy [start, end) out of the queue (short if the stream ended early), then drop what lies before `end`. */
  #take(start: number, end: number): Uint8Array {
    const to = Math.min(end, this.#produced);
    // A fresh Uint8Array, not a (possibly pooled) Buffer: callers may build DataViews over `.buffer`.
    const out = new Uint8Array(Math.max(0, to - start));
    let at = this.#queueStart;
    for (const chunk of this.#queue) {
      if (at >= to) break;
      const from = Math.max(start, at);
      const upTo = Math.min(to, at + chunk.length);
      if (upTo > from) out.set(chunk.subarray(from - at, upTo - at), from - start);
      at += chunk.length;
    }
    this.#dropBefore(to);
    return out;
  }
}

/** CRC-32 (zip's), continued from `previous`; zlib's where Node has it (20.15+), else a table. */
export const crc32: (data: Uint8Array, previous?: number) => number =
  typeof zlib.crc32 === "function" ? (data, previous = 0) => zlib.crc32(data, previous) : crc32Portable;

let crcTable: Uint32Array | undefined;
function crc32Portable(data: Uint8Array, previous = 0): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Write one chunk and wait until zlib consumed it; rejects (never hangs) if the stream errors or closes. */
function writeChunk(stream: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, rejectPromise) => {
    const onError = (e: Error) => settle(e);
    const onClose = () => settle(new Error("inflater closed"));
    const settle = (e?: Error | null) => {
      stream.off("error", onError);
      stream.off("close", onClose);
      if (e) rejectPromise(e);
      else resolve();
    };
    stream.once("error", onError);
    stream.once("close", onClose);
    stream.write(chunk, (e) => settle(e));
  });
}

function endStream(stream: zlib.InflateRaw): Promise<void> {
  return new Promise((resolve, rejectPromise) => {
    stream.once("end", () => resolve());
    stream.once("error", (e) => rejectPromise(e));
    stream.end();
  });
}
