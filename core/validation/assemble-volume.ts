/**
 * Decode the chosen, sorted stack into one HU volume. Each file is read once and released before the next,
 * so peak memory is the volume plus one file (a multi-frame file's frames are decoded from one read). Local
 * native 16-bit files are read straight into the volume instead, so they need no buffer at all.
 *
 * Storage: int16 HU when exact (the common case, half the memory of float32). When the header cannot
 * promise that (signed 16-bit stored values with an intercept could in principle overflow int16), slices are
 * decoded through a float32 scratch slice and copied into int16 as long as every value is an integer that
 * fits; the first slice that does not fit upgrades the whole volume to float32.
 *
 * Streaming (opts.sink, deepsc convert): when the headers guarantee int16 HU, each file's slices are decoded
 * into a small pooled buffer and handed to the sink instead, so no volume is ever held.
 */
import type { Warning } from "../contracts/validation-report.js";
import type { Volume } from "../contracts/volume.js";
import {
  decodeFrameHu,
  decodeFrameHuInPlace,
  huFitsInt16,
  inPlaceFrameRange,
} from "../dicom/decode-pixels.js";
import type { DicomHeader } from "../dicom/header.js";
import { reject } from "../errors.js";
import { canReadInto } from "../input/file-source.js";
import type { InputEntry } from "../input/source.js";
import type { Stack } from "./stack-geometry.js";

/** Direct reads in flight: the page-cache copies overlap each other and the conversion (2 cores here). */
const DIRECT_READS_IN_FLIGHT = 2;

interface DirectRead {
  out: Int16Array;
  offsets: number[];
  reading: Promise<unknown>;
}

/** Where a streamed volume's slices go instead of memory (deepsc convert: straight into the .nii). */
export interface SliceSink {
  /** Slice k of the volume, int16 HU (x fastest); the buffer is reused once the promise settles. */
  write(k: number, slice: Int16Array): Promise<void>;
}

export interface AssembleOptions {
  maxVoxels: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * Stream the slices here instead of returning a volume, when the headers guarantee int16 HU (the common
   * case); otherwise the volume is assembled in memory as usual and returned.
   */
  sink?: SliceSink;
}

/** Reusable slice buffers for a streamed volume: as many as are in flight at once (a few). */
class BufferPool {
  private free: Int16Array[] = [];
  take(length: number): Int16Array {
    const i = this.free.findIndex((b) => b.length === length);
    return i >= 0 ? this.free.splice(i, 1)[0]! : new Int16Array(length);
  }
  give(buffer: Int16Array): void {
    this.free.push(buffer);
  }
}

const integralRescale = (h: DicomHeader) =>
  h.frames.every((f) => Number.isInteger(f.rescaleSlope) && Number.isInteger(f.rescaleIntercept));

/** Copy a float slice into int16 if every value is an integer within range; false (nothing copied) otherwise. */
function copyIfInt16(src: Float32Array, dst: Int16Array, offset: number): boolean {
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v < -32768 || v > 32767 || !Number.isInteger(v)) return false;
  }
  dst.set(src, offset);
  return true;
}

/**
 * The volume's buffer, or TOO_LARGE when this machine cannot allocate it: below maxVoxels, memory is the
 * limit, and an upload that needs more than there is gets a reason, not an internal error.
 */
function allocate<T>(voxels: number, bytesPerVoxel: number, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const gib = (voxels * bytesPerVoxel) / 2 ** 30;
    reject(
      "TOO_LARGE",
      `The volume's ${voxels} voxels need ${gib.toFixed(1)} GiB, more than this machine can allocate; send a smaller series or run the analysis with more memory.`,
      undefined,
      e,
    );
  }
}

/**
 * The volume, or (opts.sink, int16 HU guaranteed) no volume: every slice went to the sink. Streamed or not,
 * the files are read and decoded the same way and the same rejections come back.
 */
export async function assembleVolume(
  stack: Stack,
  entries: ReadonlyMap<string, InputEntry>,
  opts: AssembleOptions & { sink?: undefined },
): Promise<{ volume: Volume; warnings: Warning[] }>;
export async function assembleVolume(
  stack: Stack,
  entries: ReadonlyMap<string, InputEntry>,
  opts: AssembleOptions,
): Promise<{ volume?: Volume; warnings: Warning[] }>;
export async function assembleVolume(
  stack: Stack,
  entries: ReadonlyMap<string, InputEntry>,
  opts: AssembleOptions,
): Promise<{ volume?: Volume; warnings: Warning[] }> {
  const [nx, ny, nz] = stack.geometry.dims;
  const voxels = nx * ny * nz;
  if (voxels > opts.maxVoxels)
    reject("TOO_LARGE", `The volume has ${voxels} voxels; the limit is ${opts.maxVoxels}.`);
  const headers = [...new Set(stack.slices.map((s) => s.header))];
  const sliceSize = nx * ny;
  const exactInt16 = headers.every(huFitsInt16);
  const sink = exactInt16 ? opts.sink : undefined;
  const pool = new BufferPool();
  // Streaming holds no volume: `data` is then an empty int16 placeholder that selects the int16 paths.
  let data: Int16Array | Float32Array = sink
    ? new Int16Array(0)
    : exactInt16 || headers.every(integralRescale)
      ? allocate(voxels, 2, () => new Int16Array(voxels))
      : allocate(voxels, 4, () => new Float32Array(voxels));
  const scratch = exactInt16 || data instanceof Float32Array ? undefined : new Float32Array(sliceSize);
  // Where a file's frames are decoded: their slots in the volume, or (streaming) a pooled buffer, frame i
  // of the file at i * sliceSize, which flush() hands to the sink and back to the pool.
  const slots = (frames: { k: number }[]) => {
    const out = sink ? pool.take(frames.length * sliceSize) : (data as Int16Array);
    return { out, offsets: frames.map(({ k }, i) => (sink ? i : k) * sliceSize) };
  };
  const flush = async (frames: { k: number }[], out: Int16Array, offsets: number[]) => {
    if (!sink) return;
    await Promise.all(
      frames.map(({ k }, i) => sink.write(k, out.subarray(offsets[i]!, offsets[i]! + sliceSize))),
    );
    pool.give(out);
  };

  // Slices of one file (multi-frame) are decoded from a single read.
  const byFile = new Map<DicomHeader, { frame: number; k: number }[]>();
  stack.slices.forEach((s, k) => {
    const list = byFile.get(s.header) ?? [];
    list.push({ frame: s.frame, k });
    byFile.set(s.header, list);
  });

  const warnings = new Map<string, Warning>();
  const keep = (ws: Warning[]) => {
    for (const w of ws) if (!warnings.has(w.code)) warnings.set(w.code, w);
  };
  let done = 0;
  const files = [...byFile];
  const entryOf = (header: DicomHeader) => {
    const entry = entries.get(header.file);
    if (!entry) throw new Error(`internal: no entry for ${header.file}`);
    return entry;
  };
  // One read ahead for remote and zip entries: the next file arrives while this one decodes (memory: one
  // extra file). Local files are read synchronously when needed, so there is nothing to overlap.
  const readAhead = (index: number) => {
    const header = files[index]?.[0];
    if (!header) return undefined;
    const entry = entryOf(header);
    if (canReadInto(entry)) return undefined;
    const pending = entry.read();
    // If decoding the current file rejects, this read is never awaited: keep its failure from becoming an
    // unhandled rejection (which would abort the process instead of producing a report).
    pending.catch(() => {});
    return pending;
  };
  // Local native 16-bit pixels go from the page cache straight into their slot and are converted there:
  // one copy, no per-file buffer (the uncompressed case `deepsc convert` spends most of its time on).
  const startDirectRead = (index: number): DirectRead | undefined => {
    const [header, frames] = files[index]!;
    if (scratch || !(data instanceof Int16Array)) return undefined;
    const entry = entryOf(header);
    if (!canReadInto(entry)) return undefined;
    const { out, offsets } = slots(frames);
    const ranges = frames.map(({ frame }, i) =>
      inPlaceFrameRange(header, frame, entry.size, out, offsets[i]!),
    );
    if (!ranges.every((r) => r !== undefined)) {
      if (sink) pool.give(out);
      return undefined;
    }
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const reading = Promise.all(
      frames.map((_, i) => {
        const { start, end } = ranges[i]!;
        const at = offsets[i]! * 2;
        return entry.readInto(start, bytes.subarray(at, at + (end - start)));
      }),
    );
    reading.catch(() => {}); // awaited in file order; never an unhandled rejection if an earlier file fails
    return { out, offsets, reading };
  };
  // Direct reads run on the thread pool, a few files ahead of the file being converted. Files are still
  // settled strictly in order: a planning error (a later file's header check) is kept and thrown only when
  // its turn comes, and planning stops at the first file that needs the general path, so the rejection
  // reported is the one a file-by-file decode would report.
  const planned = new Map<number, DirectRead | { error: unknown }>();
  let plannedTo = -1;
  const planAhead = (from: number) => {
    while (plannedTo < Math.min(files.length - 1, from + DIRECT_READS_IN_FLIGHT - 1)) {
      const index = ++plannedTo;
      let plan: DirectRead | { error: unknown } | undefined;
      try {
        plan = startDirectRead(index);
      } catch (error) {
        plan = { error };
      }
      if (!plan) return; // the general path, in its turn
      planned.set(index, plan);
      if ("error" in plan) return;
    }
  };

  let ahead = readAhead(0);
  for (let f = 0; f < files.length; f++) {
    const [header, frames] = files[f]!;
    planAhead(f);
    const plan = planned.get(f);
    planned.delete(f);
    if (plan && "error" in plan) throw plan.error;
    if (plan) {
      await plan.reading;
      planAhead(f + 1);
      frames.forEach(({ frame }, i) => {
        keep(decodeFrameHuInPlace(header, frame, plan.out, plan.offsets[i]!).warnings);
      });
      await flush(frames, plan.out, plan.offsets);
      for (const _ of frames) opts.onProgress?.(++done, nz);
      continue;
    }
    const bytes = ahead ? await ahead : await entryOf(header).read();
    ahead = readAhead(f + 1);
    const slot = sink ? slots(frames) : undefined;
    for (const [i, { frame, k }] of frames.entries()) {
      if (slot) {
        keep((await decodeFrameHu(bytes, header, frame, slot.out, slot.offsets[i]!)).warnings);
        continue;
      }
      const offset = k * sliceSize;
      let result: { warnings: Warning[] };
      if (scratch && data instanceof Int16Array) {
        result = await decodeFrameHu(bytes, header, frame, scratch, 0);
        if (!copyIfInt16(scratch, data, offset)) {
          const int16 = data;
          data = allocate(voxels, 4, () => Float32Array.from(int16));
          data.set(scratch, offset);
        }
      } else {
        result = await decodeFrameHu(bytes, header, frame, data, offset);
      }
      keep(result.warnings);
      opts.onProgress?.(++done, nz);
    }
    if (slot) {
      await flush(frames, slot.out, slot.offsets);
      for (const _ of frames) opts.onProgress?.(++done, nz);
    }
  }
  const found = [...warnings.values()];
  return sink ? { warnings: found } : { volume: { ...stack.geometry, data }, warnings: found };
}
