/**
 * What the sequential DCT and lossless JPEG decoders share (ITU-T T.81): the marker segments up to the first
 * scan (tables, restart interval, frame and scan headers) and the Huffman-coded bit stream reader. Only
 * single-component frames are accepted: CT is monochrome, and anything else is refused before decoding.
 */
import { CodecError } from "./frame.js";

/** Zigzag scan position -> natural (row-major) coefficient index. */
export const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
]);

export interface HuffmanTable {
  /** Largest code of each length 1..16 (-1 when none); index 17 is a sentinel. */
  maxcode: Int32Array;
  /** Index into values of the first code of each length, minus that code. */
  valoffset: Int32Array;
  values: Uint8Array;
}

/** Canonical Huffman decoding tables (T.81 Annex C; libjpeg's jpeg_make_d_derived_tbl). */
export function buildHuffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    if (n > 0) {
      valoffset[len] = k - code;
      code += n;
      k += n;
      if (code > 1 << len) throw new CodecError("Bad JPEG Huffman table.");
      maxcode[len] = code - 1;
    }
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valoffset, values };
}

/** Entropy-coded data reader: removes 0xFF00 byte stuffing and stops at markers, feeding zero bits. */
export class BitReader {
  private bits = 0;
  private count = 0;
  /** Zero bytes fed past the data; a valid stream needs none, a cut one needs many. */
  padding = 0;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  private nextByte(): number {
    const d = this.data;
    if (this.pos >= d.length) {
      this.padding++;
      return 0;
    }
    const b = d[this.pos]!;
    if (b !== 0xff) {
      this.pos++;
      return b;
    }
    if (d[this.pos + 1] === 0x00) {
      this.pos += 2;
      return 0xff;
    }
    // A marker: leave it for the caller and feed zeros, as libjpeg does.
    this.padding++;
    return 0;
  }

  bit(): number {
    if (this.count === 0) {
      this.bits = this.nextByte();
      this.count = 8;
    }
    this.count--;
    return (this.bits >> this.count) & 1;
  }

  receive(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  /** T.81 F.2.2.1 EXTEND: an n-bit magnitude category to a signed value. */
  receiveExtend(n: number): number {
    if (n === 0) return 0;
    const v = this.receive(n);
    const half = 2 ** (n - 1);
    return v < half ? v - (2 * half - 1) : v;
  }

  decode(t: HuffmanTable): number {
    let code = this.bit();
    let len = 1;
    while (code > t.maxcode[len]!) {
      code = code * 2 + this.bit();
      if (++len > 16) throw new CodecError("Corrupt JPEG entropy-coded data.");
    }
    const v = t.values[t.valoffset[len]! + code];
    if (v === undefined) throw new CodecError("Corrupt JPEG entropy-coded data.");
    return v;
  }

  /**
   * At a restart boundary: drop the bits left in the current byte and consume the RSTn marker (fill bytes
   * before it are allowed).
   */
  restart(): void {
    this.count = 0;
    const d = this.data;
    let p = this.pos;
    while (p + 1 < d.length && d[p] === 0xff && d[p + 1] === 0xff) p++;
    if (!(p + 1 < d.length && d[p] === 0xff && d[p + 1]! >= 0xd0 && d[p + 1]! <= 0xd7))
      throw new CodecError("A JPEG restart marker is missing.");
    this.pos = p + 2;
    this.padding = 0;
  }
}

export interface JpegFrame {
  /** n of SOFn. */
  process: number;
  precision: number;
  width: number;
  height: number;
  componentId: number;
  quantTable: number;
}

export interface JpegScanSetup {
  frame: JpegFrame;
  quant: (Int32Array | undefined)[];
  dc: HuffmanTable;
  ac: HuffmanTable | undefined;
  restartInterval: number;
  /** Ss (spectral start; the predictor selection value of lossless scans). */
  ss: number;
  /** Al (successive approximation low bit; the point transform of lossless scans). */
  al: number;
  /** Offset of the entropy-coded data. */
  scanStart: number;
}

/**
 * Read the marker segments from SOI up to and including the first SOS.
 * @param accept the SOF processes the calling decoder implements; others throw an "unsupported" CodecError
 */
export function readJpegHeaders(data: Uint8Array, accept: readonly number[]): JpegScanSetup {
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new CodecError("No JPEG SOI marker.");
  const quant: (Int32Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  let restartInterval = 0;
  let frame: JpegFrame | undefined;
  let pos = 2;
  const u16 = (at: number) => {
    if (at + 2 > data.length) throw new CodecError("The JPEG codestream ends inside a marker segment.");
    return (data[at]! << 8) | data[at + 1]!;
  };

  for (;;) {
    if (pos + 2 > data.length) throw new CodecError("The JPEG codestream ends before its scan.");
    if (data[pos] !== 0xff) throw new CodecError("JPEG marker expected but not found.");
    const marker = data[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9) throw new CodecError("The JPEG codestream ends before its scan.");
    const length = u16(pos + 2);
    const seg = pos + 4;
    const end = pos + 2 + length;
    if (length < 2 || end > data.length)
      throw new CodecError("A JPEG marker segment runs past the codestream.");

    if (marker === 0xdb) {
      // DQT: tables of 8- or 16-bit entries stored in zigzag order.
      let p = seg;
      while (p < end) {
        const pq = data[p]! >> 4;
        const tq = data[p]! & 15;
        p++;
        if (tq > 3 || pq > 1 || p + 64 * (pq + 1) > end) throw new CodecError("Bad JPEG quantization table.");
        const table = new Int32Array(64);
        for (let k = 0; k < 64; k++) table[ZIGZAG[k]!] = pq === 0 ? data[p + k]! : u16(p + 2 * k);
        quant[tq] = table;
        p += 64 * (pq + 1);
      }
    } else if (marker === 0xc4) {
      let p = seg;
      while (p < end) {
        const tc = data[p]! >> 4;
        const th = data[p]! & 15;
        if (p + 17 > end || tc > 1 || th > 3) throw new CodecError("Bad JPEG Huffman table.");
        const counts = data.subarray(p + 1, p + 17);
        let total = 0;
        for (const n of counts) total += n;
        if (total > 256 || p + 17 + total > end) throw new CodecError("Bad JPEG Huffman table.");
        (tc === 0 ? dcTables : acTables)[th] = buildHuffmanTable(counts, data.slice(p + 17, p + 17 + total));
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      restartInterval = u16(seg);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const process = marker - 0xc0;
      if (!accept.includes(process))
        throw new CodecError(`JPEG coding process SOF${process} is not supported here.`, true);
      const components = data[seg + 5]!;
      if (components !== 1)
        throw new CodecError(
          `The JPEG frame has ${components} components; a monochrome image has one.`,
          true,
        );
      frame = {
        process,
        precision: data[seg]!,
        height: u16(seg + 1),
        width: u16(seg + 3),
        componentId: data[seg + 6]!,
        quantTable: data[seg + 8]! & 3,
      };
      if (frame.width === 0 || frame.height === 0)
        throw new CodecError("JPEG frames sized by a DNL marker are not supported.", true);
    } else if (marker === 0xda) {
      if (!frame) throw new CodecError("JPEG scan before its frame header.");
      if (data[seg] !== 1 || data[seg + 1] !== frame.componentId)
        throw new CodecError("The JPEG scan does not code the frame's single component.");
      const dc = dcTables[data[seg + 2]! >> 4];
      if (!dc) throw new CodecError("The JPEG scan refers to a missing Huffman table.");
      return {
        frame,
        quant,
        dc,
        ac: acTables[data[seg + 2]! & 15],
        restartInterval,
        ss: data[seg + 3]!,
        al: data[seg + 5]! & 15,
        scanStart: end,
      };
    }
    pos = end;
  }
}
