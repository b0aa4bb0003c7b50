/**
 * Test fixtures for the input sources: a zip writer that can lie (declared sizes, names, methods, flags,
 * overlapping records, zip64), CT-like payloads, an in-memory RandomAccess that records what was fetched,
 * and a rejection matcher.
 */
import { crc32 as nodeCrc32 } from "node:zlib";
import { deflateSync } from "fflate";
import { expect } from "vitest";
import type { ReasonCode } from "../../core/contracts/reason-codes.js";
import { InputRejected } from "../../core/errors.js";
import type { RandomAccess } from "../../core/input/zip-source.js";

export interface CraftEntry {
  name: string;
  /** Uncompressed content (default empty). */
  content?: Uint8Array;
  /** 0 stored, 8 deflate (default), or any other number to test unsupported methods. */
  method?: number;
  /** Bytes stored as the entry's data instead of the (compressed) content. */
  data?: Uint8Array;
  /** Uncompressed size declared in both headers instead of content.length. */
  declaredSize?: number;
  /** Compressed size declared in both headers instead of data.length. */
  declaredCompressedSize?: number;
  crc?: number;
  flags?: number;
  versionMadeBy?: number;
  externalAttributes?: number;
  /** Write sizes through the zip64 extra field. */
  zip64?: boolean;
  /** No local header or data of its own: a second central record pointing at entry `aliasOf`'s data. */
  aliasOf?: number;
}

const u16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const u64 = (v: number) => [...u32(v % 2 ** 32), ...u32(Math.floor(v / 2 ** 32))];

export interface CraftOptions {
  /** Write zip64 end records (the classic one then holds 0xffff/0xffffffff). */
  zip64?: boolean;
  /** Entry count the end record(s) declare instead of the number of records written. */
  declaredCount?: number;
  /** Central directory size the end record(s) declare instead of the bytes written. */
  declaredDirectorySize?: number;
  /** Central directory offset the end record(s) declare instead of where it starts. */
  declaredDirectoryOffset?: number;
}

/** Build a zip byte by byte, so tests can produce archives no well-behaved writer would. */
export function craftZip(entries: CraftEntry[], opts: CraftOptions = {}): Uint8Array {
  const out: number[] = [];
  const push = (bytes: ArrayLike<number>) => {
    for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
  };
  const records: {
    e: CraftEntry;
    name: Uint8Array;
    offset: number;
    crc: number;
    csize: number;
    usize: number;
    method: number;
  }[] = [];
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    if (e.aliasOf !== undefined) {
      const target = records[e.aliasOf]!;
      records.push({ ...target, e, name });
      continue;
    }
    const content = e.content ?? new Uint8Array(0);
    const method = e.method ?? 8;
    const data = e.data ?? (method === 8 ? deflateSync(content) : content);
    const rec = {
      e,
      name,
      offset: out.length,
      crc: e.crc ?? nodeCrc32(content),
      csize: e.declaredCompressedSize ?? data.length,
      usize: e.declaredSize ?? content.length,
      method,
    };
    records.push(rec);
    const extra = e.zip64 ? [...u16(1), ...u16(16), ...u64(rec.usize), ...u64(rec.csize)] : [];
    push([...u32(0x04034b50), ...u16(e.zip64 ? 45 : 20), ...u16(e.flags ?? 0x800), ...u16(method)]);
    push([...u16(0), ...u16(0x21), ...u32(rec.crc)]);
    push(e.zip64 ? [...u32(0xffffffff), ...u32(0xffffffff)] : [...u32(rec.csize), ...u32(rec.usize)]);
    push([...u16(name.length), ...u16(extra.length)]);
    push(name);
    push(extra);
    push(data);
  }
  const cdStart = out.length;
  for (const r of records) {
    const e = r.e;
    const extra = e.zip64 ? [...u16(1), ...u16(16), ...u64(r.usize), ...u64(r.csize)] : [];
    push([...u32(0x02014b50), ...u16(e.versionMadeBy ?? 0x031e), ...u16(e.zip64 ? 45 : 20)]);
    push([...u16(e.flags ?? 0x800), ...u16(r.method), ...u16(0), ...u16(0x21), ...u32(r.crc)]);
    push(e.zip64 ? [...u32(0xffffffff), ...u32(0xffffffff)] : [...u32(r.csize), ...u32(r.usize)]);
    push([...u16(r.name.length), ...u16(extra.length), ...u16(0), ...u16(0), ...u16(0)]);
    push([...u32(e.externalAttributes ?? (0o100644 << 16) >>> 0), ...u32(r.offset)]);
    push(r.name);
    push(extra);
  }
  const cdSize = opts.declaredDirectorySize ?? out.length - cdStart;
  const cdOffset = opts.declaredDirectoryOffset ?? cdStart;
  const count = opts.declaredCount ?? records.length;
  if (opts.zip64) {
    const eocd64 = out.length;
    push([...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0)]);
    push([...u64(count), ...u64(count), ...u64(cdSize), ...u64(cdOffset)]);
    push([...u32(0x07064b50), ...u32(0), ...u64(eocd64), ...u32(1)]);
    push([...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(0xffff), ...u16(0xffff)]);
    push([...u32(0xffffffff), ...u32(0xffffffff), ...u16(0)]);
  } else {
    push([...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count)]);
    push([...u32(cdSize), ...u32(cdOffset), ...u16(0)]);
  }
  return Uint8Array.from(out);
}

/** Deterministic CT-like bytes: little-endian int16 around -1000 HU with 8 bits of noise (deflates ~1.5-2x). */
export function ctLikeBytes(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i + 1 < size; i += 2) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const v = -1000 + (state >>> 24);
    bytes[i] = v & 0xff;
    bytes[i + 1] = (v >> 8) & 0xff;
  }
  return bytes;
}

/** An in-memory RandomAccess that counts bytes and records each fetched range. */
export class MemoryRandomAccess implements RandomAccess {
  readonly fetches: [number, number][] = [];
  closed = false;
  #bytesRead = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly failWith?: Error,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  async read(start: number, end: number): Promise<Uint8Array> {
    if (this.failWith) throw this.failWith;
    if (this.closed) throw new Error("read after close");
    const to = Math.min(end, this.bytes.length);
    this.fetches.push([start, to]);
    const out = this.bytes.slice(start, Math.max(start, to));
    this.#bytesRead += out.length;
    return out;
  }

  bytesRead(): number {
    return this.#bytesRead;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Await a promise that must reject with an InputRejected carrying `code`; returns the first reason. */
export async function expectRejected(promise: Promise<unknown>, code: ReasonCode, message?: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(InputRejected);
  const reasons = (error as InputRejected).reasons;
  expect(reasons[0]?.code).toBe(code);
  if (message) expect(reasons[0]?.message).toMatch(message);
  return reasons[0]!;
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
