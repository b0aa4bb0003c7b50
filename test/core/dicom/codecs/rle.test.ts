import { describe, expect, it } from "vitest";
import { CodecError } from "../../../../core/dicom/codecs/frame.js";
import { decodePackBits, decodeRle, packBitsLength } from "../../../../core/dicom/codecs/rle.js";
import { concat, packBits, rleFrame16 } from "../dicom-builder.js";

const hex = (s: string) => Uint8Array.from(s.split(" "), (b) => Number.parseInt(b, 16));

describe("PackBits (PS3.5 G.3.1)", () => {
  it("decodes the classic Apple TN1023 example", () => {
    const packed = hex("FE AA 02 80 00 2A FD AA 03 80 00 2A 22 F7 AA");
    const expected = hex("AA AA AA 80 00 2A AA AA AA AA 80 00 2A 22 AA AA AA AA AA AA AA AA AA AA");
    const out = new Uint8Array(expected.length);
    expect(decodePackBits(packed, out, expected.length)).toBe(expected.length);
    expect(out).toEqual(expected);
  });

  it("treats -128 as a no-op and writes with a stride", () => {
    const out = new Uint8Array(6);
    expect(decodePackBits(hex("80 01 05 06 80 FE 07"), out, 3, 1, 2)).toBe(3);
    expect(Array.from(out)).toEqual([0, 5, 0, 6, 0, 7]);
  });

  it("stops at the expected count and reports short segments", () => {
    const out = new Uint8Array(4);
    expect(decodePackBits(hex("81 09"), out, 4)).toBe(4); // a run of 128 cut to 4
    expect(Array.from(out)).toEqual([9, 9, 9, 9]);
    expect(decodePackBits(hex("05 01 02"), new Uint8Array(6), 6)).toBe(2); // literal cut by the segment end
    expect(decodePackBits(hex("FD"), new Uint8Array(3), 3)).toBe(0); // run without its byte
  });

  it("round-trips the test encoder on random data", () => {
    let seed = 7;
    const data = Uint8Array.from({ length: 5000 }, (_, i) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return i % 300 < 150 ? seed & 0xff : 42;
    });
    const out = new Uint8Array(data.length);
    expect(decodePackBits(packBits(data), out, data.length)).toBe(data.length);
    expect(out).toEqual(data);
  });
});

describe("RLE frames", () => {
  it("assembles 16-bit samples from the high and low byte segments", () => {
    const samples = [0x0102, 0xfffe, 0x8000, 0x00ff, 0x1234, 0x1234];
    const frame = decodeRle(rleFrame16(samples), 3, 2, 16);
    expect(frame.samples).toBeInstanceOf(Uint16Array);
    expect(Array.from(frame.samples)).toEqual(samples);
    expect([frame.width, frame.height, frame.components, frame.precision]).toEqual([3, 2, 1, undefined]);
  });

  it("decodes 8- and 32-bit frames", () => {
    const header8 = new Uint8Array(64);
    new DataView(header8.buffer).setUint32(0, 1, true);
    new DataView(header8.buffer).setUint32(4, 64, true);
    const eight = decodeRle(concat([header8, packBits(Uint8Array.of(1, 2, 3, 3))]), 2, 2, 8);
    expect(Array.from(eight.samples)).toEqual([1, 2, 3, 3]);

    const values = [0x01020304, 0xfffffffe];
    const planes = [24, 16, 8, 0].map((shift) =>
      packBits(Uint8Array.from(values, (v) => (v >>> shift) & 0xff)),
    );
    const header32 = new Uint8Array(64);
    const dv = new DataView(header32.buffer);
    dv.setUint32(0, 4, true);
    let offset = 64;
    planes.forEach((p, i) => {
      dv.setUint32(4 + 4 * i, offset, true);
      offset += p.length;
    });
    const wide = decodeRle(concat([header32, ...planes]), 2, 1, 32);
    expect(wide.samples).toBeInstanceOf(Uint32Array);
    expect(Array.from(wide.samples)).toEqual(values);
  });

  it("refuses inconsistent headers and short segments", () => {
    const good = rleFrame16([1, 2, 3, 4]);
    expect(() => decodeRle(good.subarray(0, 40), 2, 2, 16)).toThrow(CodecError);
    expect(() => decodeRle(good, 2, 2, 8)).toThrow(/segments/);
    const badOffsets = good.slice();
    new DataView(badOffsets.buffer).setUint32(8, 10, true);
    expect(() => decodeRle(badOffsets, 2, 2, 16)).toThrow(/offsets/);
    expect(() => decodeRle(good, 3, 2, 16)).toThrow(/ends before/);
    expect(() => decodeRle(good, 2, 2, 12)).toThrow(CodecError);
  });

  it("refuses a frame that holds more pixels than the header's rows and columns", () => {
    const samples = Array.from({ length: 64 }, (_, i) => i * 37);
    const frame = rleFrame16(samples); // 8x8
    expect(Array.from(decodeRle(frame, 8, 8, 16).samples)).toEqual(samples);
    expect(() => decodeRle(frame, 4, 4, 16)).toThrow(/holds 64 pixels; the header says 4x4 \(16\)/);
    expect(() => decodeRle(frame, 8, 7, 16)).toThrow(CodecError);
    expect(() => decodeRle(frame, 7, 8, 16)).toThrow(CodecError);
    // One pad byte decoded as a pixel (a writer's non-conformant padding) is not another size.
    const header = new Uint8Array(64);
    new DataView(header.buffer).setUint32(0, 1, true);
    new DataView(header.buffer).setUint32(4, 64, true);
    const padded = concat([header, packBits(Uint8Array.of(1, 2, 3, 4)), Uint8Array.of(0, 0)]);
    expect(Array.from(decodeRle(padded, 2, 2, 8).samples)).toEqual([1, 2, 3, 4]);
  });

  it("measures a whole PackBits segment", () => {
    expect(packBitsLength(hex("FE AA 02 80 00 2A FD AA 03 80 00 2A 22 F7 AA"))).toBe(24);
    expect(packBitsLength(hex("05 01 02"))).toBe(2);
    expect(packBitsLength(hex("FD"))).toBe(0);
    expect(packBitsLength(hex("80 00"))).toBe(0);
  });
});
