/**
 * Test helper: writes small DICOM files byte by byte (Part 10 or raw, explicit/implicit VR, little/big
 * endian, native or encapsulated Pixel Data), so parser and decoder edge cases can be built exactly.
 * Deliberately independent of the code under test.
 */
import { deflateRawSync } from "node:zlib";

export const TS = {
  implicitLE: "1.2.840.10008.1.2",
  explicitLE: "1.2.840.10008.1.2.1",
  deflated: "1.2.840.10008.1.2.1.99",
  explicitBE: "1.2.840.10008.1.2.2",
  rle: "1.2.840.10008.1.2.5",
  jpegLossless: "1.2.840.10008.1.2.4.70",
} as const;

export type Value =
  | { vr: string; str: string }
  | { vr: "US" | "SS"; nums: number[] }
  | { vr: "UL" | "SL"; nums: number[] }
  | { vr: "FD"; nums: number[] }
  | { vr: string; bytes: Uint8Array; undefinedLength?: boolean }
  | { vr: "SQ"; items: Element[][]; undefinedLength?: boolean };

export type Element = { tag: number } & Value;

const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OW", "SQ", "UC", "UR", "UT", "UN", "OV"]);

export class Writer {
  private chunks: number[] = [];
  constructor(readonly littleEndian = true) {}
  u8(...b: number[]) {
    this.chunks.push(...b);
  }
  u16(v: number) {
    const lo = v & 0xff;
    const hi = (v >> 8) & 0xff;
    this.littleEndian ? this.u8(lo, hi) : this.u8(hi, lo);
  }
  u32(v: number) {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.littleEndian ? this.u8(...b) : this.u8(...b.reverse());
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.chunks.push(x);
  }
  get length() {
    return this.chunks.length;
  }
  result(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

function valueBytes(v: Value, le: boolean, explicit: boolean): Uint8Array {
  if ("str" in v) {
    const pad = v.vr === "UI" ? 0 : 0x20;
    const s = Array.from(v.str, (c) => c.charCodeAt(0));
    if (s.length % 2) s.push(pad);
    return Uint8Array.from(s);
  }
  if ("nums" in v) {
    const size = v.vr === "FD" ? 8 : v.vr === "UL" || v.vr === "SL" ? 4 : 2;
    const out = new Uint8Array(v.nums.length * size);
    const dv = new DataView(out.buffer);
    v.nums.forEach((n, i) => {
      if (v.vr === "US") dv.setUint16(i * 2, n, le);
      else if (v.vr === "SS") dv.setInt16(i * 2, n, le);
      else if (v.vr === "UL") dv.setUint32(i * 4, n, le);
      else if (v.vr === "SL") dv.setInt32(i * 4, n, le);
      else dv.setFloat64(i * 8, n, le);
    });
    return out;
  }
  if ("items" in v) {
    const w = new Writer(le);
    for (const item of v.items) {
      const body = encodeElements(item, le, explicit);
      w.u16(0xfffe);
      w.u16(0xe000);
      if (v.undefinedLength) {
        w.u32(0xffffffff);
        w.bytes(body);
        w.u16(0xfffe);
        w.u16(0xe00d);
        w.u32(0);
      } else {
        w.u32(body.length);
        w.bytes(body);
      }
    }
    return w.result();
  }
  return v.bytes;
}

export function encodeElement(e: Element, le: boolean, explicit: boolean): Uint8Array {
  const w = new Writer(le);
  const undefinedLength = "undefinedLength" in e && e.undefinedLength === true;
  const value = valueBytes(e, le, explicit);
  w.u16(e.tag >>> 16);
  w.u16(e.tag & 0xffff);
  const length = undefinedLength ? 0xffffffff : value.length;
  if (explicit) {
    w.u8(e.vr.charCodeAt(0), e.vr.charCodeAt(1));
    if (LONG_VRS.has(e.vr)) {
      w.u16(0);
      w.u32(length);
    } else w.u16(length);
  } else w.u32(length);
  w.bytes(value);
  if (undefinedLength && e.vr === "SQ") {
    w.u16(0xfffe);
    w.u16(0xe0dd);
    w.u32(0);
  }
  return w.result();
}

export function encodeElements(elements: Element[], le: boolean, explicit: boolean): Uint8Array {
  const parts = [...elements].sort((a, b) => a.tag - b.tag).map((e) => encodeElement(e, le, explicit));
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encapsulated Pixel Data value: Basic Offset Table item, one item per fragment, sequence delimiter. */
export function encapsulate(fragments: Uint8Array[], basicOffsetTable: number[] = []): Uint8Array {
  const w = new Writer(true);
  w.u16(0xfffe);
  w.u16(0xe000);
  w.u32(basicOffsetTable.length * 4);
  for (const o of basicOffsetTable) w.u32(o);
  for (const f of fragments) {
    const even = f.length % 2 ? concat([f, new Uint8Array(1)]) : f;
    w.u16(0xfffe);
    w.u16(0xe000);
    w.u32(even.length);
    w.bytes(even);
  }
  w.u16(0xfffe);
  w.u16(0xe0dd);
  w.u32(0);
  return w.result();
}

/** Offsets of each fragment item relative to the first, for a Basic Offset Table. */
export function offsetsOf(fragments: Uint8Array[]): number[] {
  const out: number[] = [];
  let o = 0;
  for (const f of fragments) {
    out.push(o);
    o += 8 + f.length + (f.length % 2);
  }
  return out;
}

export interface FileOptions {
  ts: string;
  elements: Element[];
  /** Write preamble + DICM + meta group (default true). */
  part10?: boolean;
  /** Leave TransferSyntaxUID out of the meta group. */
  omitTransferSyntax?: boolean;
  /** Already-encoded bytes appended to the dataset (before deflate), for large values. */
  datasetSuffix?: Uint8Array;
}

export function buildFile(o: FileOptions): Uint8Array {
  const le = o.ts !== TS.explicitBE;
  const explicit = o.ts !== TS.implicitLE;
  let dataset = encodeElements(o.elements, le, explicit);
  if (o.datasetSuffix) dataset = concat([dataset, o.datasetSuffix]);
  if (o.ts === TS.deflated) dataset = new Uint8Array(deflateRawSync(dataset));
  if (o.part10 === false) return dataset;
  const metaElements: Element[] = [
    { tag: 0x00020001, vr: "OB", bytes: Uint8Array.of(0, 1) },
    { tag: 0x00020002, vr: "UI", str: "1.2.840.10008.5.1.4.1.1.2" },
    { tag: 0x00020003, vr: "UI", str: "1.2.3.4.5.6" },
    { tag: 0x00020012, vr: "UI", str: "1.2.3.4" },
  ];
  if (!o.omitTransferSyntax) metaElements.push({ tag: 0x00020010, vr: "UI", str: o.ts });
  const metaBody = encodeElements(metaElements, true, true);
  const groupLength = encodeElement({ tag: 0x00020000, vr: "UL", nums: [metaBody.length] }, true, true);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, groupLength, metaBody, dataset]);
}

export interface CtOptions {
  rows?: number;
  columns?: number;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: 0 | 1;
  photometric?: string;
  samplesPerPixel?: number;
  slope?: string;
  intercept?: string;
  frames?: number;
  padding?: number;
  paddingLimit?: number;
  extra?: Element[];
}

/** The image-pixel and CT attributes of a small CT image (no Pixel Data). */
export function ctElements(o: CtOptions = {}): Element[] {
  const signed = (o.pixelRepresentation ?? 1) === 1;
  const els: Element[] = [
    { tag: 0x00080008, vr: "CS", str: "ORIGINAL\\PRIMARY\\AXIAL" },
    { tag: 0x00080016, vr: "UI", str: "1.2.840.10008.5.1.4.1.1.2" },
    { tag: 0x00080018, vr: "UI", str: "1.2.3.4.5.6" },
    { tag: 0x00080060, vr: "CS", str: "CT" },
    { tag: 0x0020000d, vr: "UI", str: "1.2.3.10" },
    { tag: 0x0020000e, vr: "UI", str: "1.2.3.11" },
    { tag: 0x00200013, vr: "IS", str: "7" },
    { tag: 0x00200032, vr: "DS", str: "-100.5\\-120.25\\33.75" },
    { tag: 0x00200037, vr: "DS", str: "1\\0\\0\\0\\1\\0" },
    { tag: 0x00280002, vr: "US", nums: [o.samplesPerPixel ?? 1] },
    { tag: 0x00280004, vr: "CS", str: o.photometric ?? "MONOCHROME2" },
    { tag: 0x00280010, vr: "US", nums: [o.rows ?? 2] },
    { tag: 0x00280011, vr: "US", nums: [o.columns ?? 3] },
    { tag: 0x00280030, vr: "DS", str: "0.5\\0.75" },
    { tag: 0x00280100, vr: "US", nums: [o.bitsAllocated ?? 16] },
    { tag: 0x00280101, vr: "US", nums: [o.bitsStored ?? o.bitsAllocated ?? 16] },
    { tag: 0x00280102, vr: "US", nums: [o.highBit ?? (o.bitsStored ?? o.bitsAllocated ?? 16) - 1] },
    { tag: 0x00280103, vr: "US", nums: [o.pixelRepresentation ?? 1] },
    { tag: 0x00281052, vr: "DS", str: o.intercept ?? "-1024" },
    { tag: 0x00281053, vr: "DS", str: o.slope ?? "1" },
  ];
  if (o.frames !== undefined) els.push({ tag: 0x00280008, vr: "IS", str: String(o.frames) });
  if (o.padding !== undefined) els.push({ tag: 0x00280120, vr: signed ? "SS" : "US", nums: [o.padding] });
  if (o.paddingLimit !== undefined)
    els.push({ tag: 0x00280121, vr: signed ? "SS" : "US", nums: [o.paddingLimit] });
  return [...els, ...(o.extra ?? [])];
}

/** Native Pixel Data bytes for 8/16/32-bit samples given as raw bit patterns. */
export function nativePixels(samples: number[], bitsAllocated: number, littleEndian = true): Uint8Array {
  const size = bitsAllocated / 8;
  const out = new Uint8Array(samples.length * size);
  const dv = new DataView(out.buffer);
  samples.forEach((s, i) => {
    if (size === 1) out[i] = s & 0xff;
    else if (size === 2) dv.setUint16(i * 2, s & 0xffff, littleEndian);
    else dv.setUint32(i * 4, s >>> 0, littleEndian);
  });
  return out;
}

/** A classic CT file with native pixels. */
export function ctFile(o: CtOptions & { ts?: string; samples: number[]; vr?: string }): Uint8Array {
  const ts = o.ts ?? TS.explicitLE;
  const pixels = nativePixels(o.samples, o.bitsAllocated ?? 16, ts !== TS.explicitBE);
  return buildFile({
    ts,
    elements: [
      ...ctElements(o),
      { tag: 0x7fe00010, vr: o.vr ?? ((o.bitsAllocated ?? 16) === 8 ? "OB" : "OW"), bytes: pixels },
    ],
  });
}

/** PackBits encoder (PS3.5 G.3.1) used to build RLE test frames: literal runs only, or replicate runs. */
export function packBits(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    let run = 1;
    while (i + run < data.length && run < 128 && data[i + run] === data[i]) run++;
    if (run >= 2) {
      out.push(257 - run, data[i]!);
      i += run;
      continue;
    }
    let lit = 1;
    while (
      i + lit < data.length &&
      lit < 128 &&
      !(i + lit + 1 < data.length && data[i + lit] === data[i + lit + 1])
    )
      lit++;
    out.push(lit - 1, ...data.subarray(i, i + lit));
    i += lit;
  }
  return Uint8Array.from(out);
}

/** One RLE frame (PS3.5 G.2) of 16-bit samples: high-byte segment, then low-byte segment. */
export function rleFrame16(samples: number[]): Uint8Array {
  const hi = Uint8Array.from(samples, (s) => (s >> 8) & 0xff);
  const lo = Uint8Array.from(samples, (s) => s & 0xff);
  const segs = [packBits(hi), packBits(lo)].map((s) => (s.length % 2 ? concat([s, Uint8Array.of(0x80)]) : s));
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + segs[0]!.length, true);
  return concat([header, ...segs]);
}
