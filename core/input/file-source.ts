/**
 * Local-file plumbing shared by the file, folder and zip sources: bounded range reads, a RandomAccess over
 * a file descriptor (what a local zip is read through, so it is never loaded whole), and the single-file
 * source itself (a lone DICOM file or a .nii/.nii.gz).
 */
import { closeSync, openSync, read, readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import path from "node:path";
import { reject } from "../errors.js";
import type { InputEntry, InputLimits, InputSource } from "./source.js";
import type { RandomAccess } from "./zip-source.js";

/** Normalise an InputEntry.read range: end defaults to and is clamped to size, start to [0, end]. */
export function clampRange(
  start: number | undefined,
  end: number | undefined,
  size: number,
): [number, number] {
  const s = start ?? 0;
  const e = end ?? size;
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < 0)
    throw new RangeError(`Invalid byte range [${start}, ${end})`);
  const to = Math.min(e, size);
  return [Math.min(s, to), to];
}

/** Read up to end - start bytes at start from an open handle; shorter only at end of file. */
async function readHandle(handle: FileHandle, start: number, end: number): Promise<Uint8Array> {
  const buf = Buffer.alloc(Math.max(0, end - start));
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await handle.read(buf, filled, buf.length - filled, start + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, filled);
}

/**
 * Bytes [start, end) of a file, opened for this read only (a folder may hold thousands of files, so
 * handles are not kept open). A file that shrank since it was listed is TRUNCATED, not silently short.
 *
 * Synchronous on purpose: a series is hundreds of small files mostly in the page cache, where each async
 * open/read/close round trip through libuv's thread pool costs more than the read itself (it doubled
 * `deepsc convert`'s time). The buffer is not zero-filled because every byte of it is overwritten.
 */
export async function readFileRange(absPath: string, start: number, end: number, display: string) {
  const fd = openSync(absPath, "r");
  try {
    const buf = Buffer.allocUnsafeSlow(Math.max(0, end - start));
    let filled = 0;
    while (filled < buf.length) {
      const n = readSync(fd, buf, filled, buf.length - filled, start + filled);
      if (n === 0) break;
      filled += n;
    }
    if (filled < end - start)
      reject("TRUNCATED", "The file became shorter while it was being read.", { file: display });
    return new Uint8Array(buf.buffer, buf.byteOffset, filled);
  } finally {
    closeSync(fd);
  }
}

/**
 * An entry that can also read straight into memory the caller owns: local files, where a slice's pixels
 * then go from the page cache into their place in the volume with no buffer of their own in between.
 */
export interface DirectReadEntry extends InputEntry {
  /** Fill `target` with the bytes at [start, start + target.length); TRUNCATED if the file is shorter. */
  readInto(start: number, target: Uint8Array): Promise<void>;
}

export function canReadInto(entry: InputEntry): entry is DirectReadEntry {
  return typeof (entry as Partial<DirectReadEntry>).readInto === "function";
}

/**
 * readFileRange's twin for readInto: the bytes at `start` of a file into `target`, all of it or TRUNCATED.
 * The read itself runs on libuv's thread pool, so the caller can decode the previous slice meanwhile; the
 * open and close stay synchronous (each is a cheap syscall, cheaper than a thread-pool round trip).
 */
export async function readFileInto(
  absPath: string,
  start: number,
  target: Uint8Array,
  display: string,
): Promise<void> {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`Invalid read position ${start}`);
  const fd = openSync(absPath, "r");
  try {
    let filled = 0;
    while (filled < target.length) {
      const n = await readAt(fd, target, filled, start + filled);
      if (n === 0) break;
      filled += n;
    }
    if (filled < target.length)
      reject("TRUNCATED", "The file became shorter while it was being read.", { file: display });
  } finally {
    closeSync(fd);
  }
}

const readAt = (fd: number, target: Uint8Array, offset: number, position: number) =>
  new Promise<number>((resolve, fail) => {
    read(fd, target, offset, target.length - offset, position, (err, n) => (err ? fail(err) : resolve(n)));
  });

/** RandomAccess over one open local file; the handle lives until close(). */
export class FileRandomAccess implements RandomAccess {
  #bytesRead = 0;
  #closed = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  static async open(absPath: string): Promise<FileRandomAccess> {
    const handle = await open(absPath, "r");
    try {
      const st = await handle.stat();
      return new FileRandomAccess(handle, st.size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(start: number, end: number): Promise<Uint8Array> {
    if (this.#closed) throw new Error("Read after the input was closed");
    const to = Math.min(end, this.size);
    if (to <= start) return new Uint8Array(0);
    const bytes = await readHandle(this.handle, start, to);
    this.#bytesRead += bytes.length;
    return bytes;
  }

  bytesRead(): number {
    return this.#bytesRead;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.handle.close();
  }
}

/**
 * A single local file as an input with one entry named by its base name. What it holds (DICOM, NIfTI,
 * gzip) is decided later from its content, not here.
 */
export async function openFileSource(
  absPath: string,
  size: number,
  limits: InputLimits,
): Promise<InputSource> {
  const name = path.basename(absPath);
  // Messages never name the file (core/contracts/file-ref.ts): the input is the one file.
  if (size === 0) reject("EMPTY_INPUT", "The input file is empty.");
  if (size > limits.maxTotalBytes)
    reject("TOO_LARGE", `The input file is ${size} bytes; the limit is ${limits.maxTotalBytes}.`);
  let bytesRead = 0;
  const entry: DirectReadEntry = {
    path: name,
    size,
    async read(start?: number, end?: number) {
      const [s, e] = clampRange(start, end, size);
      if (e === s) return new Uint8Array(0);
      const bytes = await readFileRange(absPath, s, e, name);
      bytesRead += bytes.length;
      return bytes;
    },
    async readInto(start: number, target: Uint8Array) {
      await readFileInto(absPath, start, target, name);
      bytesRead += target.length;
    },
  };
  return {
    container: "file",
    name,
    entries: [entry],
    bytesRead: () => bytesRead,
    bytesTotal: size,
    close: async () => {},
  };
}
