import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  checkPixelFormat,
  decodeFrameHu,
  decodeFrameHuInPlace,
  decodeFrameStored,
  headerReadsOtherwise,
  huFitsInt16,
  inPlaceFrameRange,
  PADDING_HU,
  useSimdKernel,
} from "../../../core/dicom/decode-pixels.js";
import type { DicomHeader } from "../../../core/dicom/header.js";
import { parseDicomHeader } from "../../../core/dicom/parse-header.js";
import { InputRejected } from "../../../core/errors.js";
import {
  buildFile,
  type CtOptions,
  concat,
  ctElements,
  ctFile,
  type Element,
  encapsulate,
  offsetsOf,
  rleFrame16,
  TS,
} from "./dicom-builder.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
const haveCorpus = existsSync(path.join(CORPUS, "MANIFEST.tsv"));

const header = (file: Uint8Array) => parseDicomHeader(file, "test.dcm", file.length);

async function stored(file: Uint8Array, frame = 0): Promise<number[]> {
  return Array.from((await decodeFrameStored(file, header(file), frame)).stored);
}

async function hu(file: Uint8Array, frame = 0, kind: "f32" | "i16" = "f32"): Promise<number[]> {
  const h = header(file);
  const out = kind === "f32" ? new Float32Array(h.rows * h.columns) : new Int16Array(h.rows * h.columns);
  await decodeFrameHu(file, h, frame, out, 0);
  return Array.from(out);
}

async function codes(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof InputRejected) return e.reasons.map((r) => r.code);
    throw e;
  }
  throw new Error("expected an InputRejected");
}

const ct = (o: CtOptions & { ts?: string; samples: number[] }) =>
  ctFile({ rows: 1, columns: o.samples.length, ...o });

describe("stored values: BitsStored, HighBit and PixelRepresentation", () => {
  it("sign-extends from BitsStored and ignores bits above HighBit", async () => {
    // 12 of 16 bits, signed; the top nibble carries overlay-like garbage in two samples.
    const raw = [0x0fff, 0x0800, 0x07ff, 0xf001, 0x1800, 0x0000];
    const f = ct({ samples: raw, bitsStored: 12, pixelRepresentation: 1 });
    expect(await stored(f)).toEqual([-1, -2048, 2047, 1, -2048, 0]);
    expect(await hu(f)).toEqual([-1025, -3072, 1023, -1023, -3072, -1024]);
  });

  it("masks unsigned values to BitsStored", async () => {
    const f = ct({ samples: [0xffff, 0x1234, 0x0fff, 0x8000], bitsStored: 12, pixelRepresentation: 0 });
    expect(await stored(f)).toEqual([4095, 0x234, 4095, 0]);
  });

  it("takes the BitsStored bits that end at HighBit when they are not the low bits", async () => {
    const f = ct({
      samples: [0xfff0, 0x7ff0, 0x0010, 0x000f],
      bitsStored: 12,
      highBit: 15,
      pixelRepresentation: 1,
    });
    expect(await stored(f)).toEqual([-1, 2047, 1, 0]);
  });

  it("reads full-width 16-bit signed and unsigned values unchanged", async () => {
    expect(await stored(ct({ samples: [0x8000, 0xffff, 0x7fff], pixelRepresentation: 1 }))).toEqual([
      -32768, -1, 32767,
    ]);
    expect(await stored(ct({ samples: [0x8000, 0xffff, 0x7fff], pixelRepresentation: 0 }))).toEqual([
      32768, 65535, 32767,
    ]);
  });

  it("handles 8- and 32-bit allocations", async () => {
    const eight = [0, 127, 128, 255];
    expect(await stored(ct({ samples: eight, bitsAllocated: 8, pixelRepresentation: 1 }))).toEqual([
      0, 127, -128, -1,
    ]);
    expect(await stored(ct({ samples: eight, bitsAllocated: 8, pixelRepresentation: 0 }))).toEqual(eight);
    const wide = [0xffffffff, 5, 0x80000000];
    expect(await stored(ct({ samples: wide, bitsAllocated: 32, pixelRepresentation: 1 }))).toEqual([
      -1, 5, -2147483648,
    ]);
    expect(await stored(ct({ samples: wide, bitsAllocated: 32, pixelRepresentation: 0 }))).toEqual([
      4294967295, 5, 2147483648,
    ]);
  });

  it("reads big endian, implicit and deflated files to the same values as explicit little endian", async () => {
    const samples = [0x0fff, 0xf001, 0x8000, 0x1234, 0x0042, 0xfffe];
    const reference = await stored(ct({ samples, bitsStored: 12 }));
    for (const ts of [TS.explicitBE, TS.implicitLE, TS.deflated])
      expect(await stored(ct({ ts, samples, bitsStored: 12 })), ts).toEqual(reference);
    const wide = [0xfffffff0, 7, 0x12345678];
    expect(await stored(ct({ ts: TS.explicitBE, samples: wide, bitsAllocated: 32 }))).toEqual(
      await stored(ct({ samples: wide, bitsAllocated: 32 })),
    );
  });

  it("decodes every frame of a deflated multi-frame file, each the same as uncompressed", async () => {
    const samples = Array.from({ length: 4 * 6 }, (_, i) => (i * 37) % 4096);
    const plain = ct({ rows: 2, columns: 3, samples, frames: 4, bitsStored: 12, pixelRepresentation: 0 });
    const deflated = ct({
      ts: TS.deflated,
      rows: 2,
      columns: 3,
      samples,
      frames: 4,
      bitsStored: 12,
      pixelRepresentation: 0,
    });
    for (let frame = 0; frame < 4; frame++)
      expect(await stored(deflated, frame), `frame ${frame}`).toEqual(await stored(plain, frame));
  });

  it("unswaps 8-bit big endian pixels stored as OW, but not as OB", async () => {
    const eight = [1, 2, 3, 4, 250, 6];
    const asOb = ctFile({
      ts: TS.explicitBE,
      rows: 1,
      columns: 6,
      samples: eight,
      bitsAllocated: 8,
      pixelRepresentation: 0,
      vr: "OB",
    });
    expect(await stored(asOb)).toEqual(eight);
    // The builder writes samples in file order; an OW writer would have swapped each pair.
    const swapped = [2, 1, 4, 3, 6, 250];
    const asOw = ctFile({
      ts: TS.explicitBE,
      rows: 1,
      columns: 6,
      samples: swapped,
      bitsAllocated: 8,
      pixelRepresentation: 0,
      vr: "OW",
    });
    expect(await stored(asOw)).toEqual(eight);
  });

  it("reads a padding value whose VR disagrees with PixelRepresentation as the same bit pattern", async () => {
    const f = ctFile({
      rows: 1,
      columns: 3,
      samples: [-2000 & 0xffff, 0, 10],
      extra: [{ tag: 0x00280120, vr: "US", nums: [-2000 & 0xffff] }],
    });
    expect(header(f).pixelPaddingValue).toBe(-2000);
    expect(await hu(f)).toEqual([PADDING_HU, -1024, -1014]);
  });

  it("reads pixel data at an odd memory offset", async () => {
    const f = ct({ samples: [1, 2, 3, 0xfffe, 5, 6] });
    const shifted = new Uint8Array(f.length + 1);
    shifted.set(f, 1);
    const view = shifted.subarray(1);
    expect(view.byteOffset % 2).toBe(1);
    expect(Array.from((await decodeFrameStored(view, header(view), 0)).stored)).toEqual([1, 2, 3, -2, 5, 6]);
  });
});

describe("Hounsfield units", () => {
  it("maps padding values and ranges to air", async () => {
    const samples = [-2000, -1990, -1500, -1499, 0, 40].map((v) => v & 0xffff);
    expect(await hu(ct({ samples, padding: -2000 }))).toEqual([PADDING_HU, -3014, -2524, -2523, -1024, -984]);
    const range = [PADDING_HU, PADDING_HU, PADDING_HU, -2523, -1024, -984];
    expect(await hu(ct({ samples, padding: -2000, paddingLimit: -1500 }))).toEqual(range);
    expect(await hu(ct({ samples, padding: -1500, paddingLimit: -2000 }))).toEqual(range);
    const unsigned = ct({ samples: [0, 5, 10, 11], pixelRepresentation: 0, padding: 0, paddingLimit: 10 });
    expect(await hu(unsigned)).toEqual([PADDING_HU, PADDING_HU, PADDING_HU, -1013]);
  });

  it("widens padding below air for lossy images, whose coding moves the padding value", async () => {
    // -2000 stored is -3024 HU; air is -1000 HU; values nearer the padding than air (below -2012 HU, i.e.
    // stored <= -988) are padding once the image went through lossy compression.
    const samples = [-2000, -1996, -2100, -989, -988, 20].map((v) => v & 0xffff);
    const lossless = ct({ samples, padding: -2000 });
    expect(await hu(lossless)).toEqual([PADDING_HU, -3020, -3124, -2013, -2012, -1004]);
    const lossy = ct({ samples, padding: -2000, extra: [{ tag: 0x00282110, vr: "CS", str: "01" }] });
    expect(await hu(lossy)).toEqual([PADDING_HU, PADDING_HU, PADDING_HU, PADDING_HU, -2012, -1004]);
  });

  it("gives MONOCHROME1 the same HU as MONOCHROME2 (it only inverts the display)", async () => {
    const samples = [0, 100, 2000, 0xffff];
    expect(await hu(ct({ samples, photometric: "MONOCHROME1" }))).toEqual(await hu(ct({ samples })));
  });

  it("rounds half up and clamps into int16, and keeps fractions in float32", async () => {
    const f = ct({ samples: [0, 1, 2, 3], slope: "0.5", intercept: "-0.5", pixelRepresentation: 0 });
    expect(await hu(f)).toEqual([-0.5, 0, 0.5, 1]);
    expect((await hu(f, 0, "i16")).map((v) => v + 0)).toEqual([0, 0, 1, 1]);
    const wide = ct({ samples: [10000, -10000 & 0xffff, 7], slope: "10", intercept: "0" });
    expect(await hu(wide)).toEqual([100000, -100000, 70]);
    expect(await hu(wide, 0, "i16")).toEqual([32767, -32768, 70]);
  });

  it("writes int16 exactly when the rescale is integral and fits", async () => {
    const f = ct({ samples: [0, 4095, 1024, 0xf000], bitsStored: 12, pixelRepresentation: 0 });
    expect(await hu(f, 0, "i16")).toEqual([-1024, 3071, 0, -1024]);
    expect(huFitsInt16(header(f))).toBe(true);
  });

  it("writes at the requested offset and nowhere else", async () => {
    const f = ct({ samples: [1, 2, 3] });
    const h = header(f);
    const out = new Int16Array(7).fill(99);
    await decodeFrameHu(f, h, 0, out, 2);
    expect(Array.from(out)).toEqual([99, 99, -1023, -1022, -1021, 99, 99]);
    await expect(decodeFrameHu(f, h, 0, out, 5)).rejects.toThrow(RangeError);
    await expect(decodeFrameHu(f, h, 1, out, 0)).rejects.toThrow(RangeError);
  });
});

describe("huFitsInt16", () => {
  const withRescale = (o: CtOptions) => header(ct({ samples: [0], ...o }));
  it("follows the stored range through every frame's rescale", () => {
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 0 }))).toBe(true);
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 1 }))).toBe(true);
    // -32768 - 1024 leaves int16.
    expect(huFitsInt16(withRescale({ bitsStored: 16, pixelRepresentation: 1 }))).toBe(false);
    expect(huFitsInt16(withRescale({ bitsStored: 16, pixelRepresentation: 1, intercept: "0" }))).toBe(true);
    expect(huFitsInt16(withRescale({ bitsStored: 16, pixelRepresentation: 0, intercept: "-1024" }))).toBe(
      false,
    );
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 0, slope: "0.5" }))).toBe(false);
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 0, intercept: "-1024.5" }))).toBe(
      false,
    );
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 0, slope: "8" }))).toBe(true);
    expect(huFitsInt16(withRescale({ bitsStored: 12, pixelRepresentation: 0, slope: "9" }))).toBe(false);
  });
});

describe("multi-frame", () => {
  const perFrameRescale = (intercept: string): Element => ({
    tag: 0x00289145,
    vr: "SQ",
    items: [
      [
        { tag: 0x00281052, vr: "DS", str: intercept },
        { tag: 0x00281053, vr: "DS", str: "1" },
      ],
    ],
  });

  it("decodes the requested frame with that frame's rescale", async () => {
    const samples = [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60];
    const f = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ rows: 2, columns: 3, frames: 2 }),
        { tag: 0x52009230, vr: "SQ", items: [[perFrameRescale("-1000")], [perFrameRescale("-2000")]] },
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(new Uint16Array(samples).buffer) },
      ],
    });
    expect(await hu(f, 0)).toEqual([-999, -998, -997, -996, -995, -994]);
    expect(await hu(f, 1)).toEqual([-1990, -1980, -1970, -1960, -1950, -1940]);
  });
});

describe("rejections", () => {
  const good = { samples: [1, 2, 3, 4] };

  it("refuses colour and palette images", async () => {
    expect(await codes(hu(ct({ ...good, photometric: "RGB", samplesPerPixel: 3 })))).toEqual([
      "UNSUPPORTED_PHOTOMETRIC",
    ]);
    expect(await codes(hu(ct({ ...good, photometric: "PALETTE COLOR" })))).toEqual([
      "UNSUPPORTED_PHOTOMETRIC",
    ]);
    expect(await codes(hu(ct({ ...good, photometric: "YBR_FULL" })))).toEqual(["UNSUPPORTED_PHOTOMETRIC"]);
    expect(await codes(hu(ct({ ...good, photometric: "MONOCHROME2", samplesPerPixel: 3 })))).toEqual([
      "UNSUPPORTED_PHOTOMETRIC",
    ]);
  });

  it("refuses bit depths that cannot hold HU", async () => {
    const oneBit = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ bitsAllocated: 1, bitsStored: 1 }),
        { tag: 0x7fe00010, vr: "OB", bytes: new Uint8Array(2) },
      ],
    });
    expect(await codes(hu(oneBit))).toEqual(["UNSUPPORTED_DATATYPE"]);
  });

  it("reports missing, empty and short pixel data", async () => {
    const none = buildFile({ ts: TS.explicitLE, elements: ctElements() });
    expect(await codes(hu(none))).toEqual(["MISSING_PIXEL_DATA"]);
    const empty = buildFile({
      ts: TS.explicitLE,
      elements: [...ctElements(), { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(0) }],
    });
    expect(await codes(hu(empty))).toEqual(["MISSING_PIXEL_DATA"]);
    const short = buildFile({
      ts: TS.explicitLE,
      elements: [...ctElements(), { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(10) }],
    });
    expect(await codes(hu(short))).toEqual(["TRUNCATED"]);
    const noRows = buildFile({
      ts: TS.explicitLE,
      elements: [...ctElements({ rows: 0 }), { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(4) }],
    });
    expect(await codes(hu(noRows))).toEqual(["MISSING_PIXEL_DATA"]);
  });

  it("refuses native pixel data a whole frame longer than the header's frames, and reads shorter padding past", async () => {
    const pixels = (n: number) => ({ tag: 0x7fe00010, vr: "OB", bytes: new Uint8Array(n) }) as Element;
    const file = (o: CtOptions, n: number) =>
      buildFile({ ts: TS.explicitLE, elements: [...ctElements(o), pixels(n)] });
    // 2x3 pixels of 16 bits need 12 bytes; 24 are a second frame (or a slice relabelled 8-bit) too many.
    expect(await codes(hu(file({}, 24)))).toEqual(["TRUNCATED"]);
    expect(() => checkPixelFormat(header(file({}, 24)))).toThrow(/holds 24 bytes.*need 12/);
    expect(await codes(hu(file({ bitsAllocated: 8, bitsStored: 8 }, 12)))).toEqual(["TRUNCATED"]);
    // Trailing padding short of a frame (PS3.5 8.1.1: receivers should accept it): the declared frame is read.
    expect(await hu(file({}, 14))).toHaveLength(6);
    expect(await hu(file({}, 22))).toHaveLength(6);
    // 3x3 pixels of 8 bits: 9 bytes, written as 10 (values are padded to even length).
    const odd = { rows: 3, columns: 3, bitsAllocated: 8, bitsStored: 8 };
    expect(await hu(file(odd, 10))).toHaveLength(9);
    expect(await codes(hu(file(odd, 18)))).toEqual(["TRUNCATED"]);
  });

  it("refuses BitsStored above BitsAllocated", async () => {
    const f = ct({ ...good, bitsStored: 20, highBit: 19 });
    expect(await codes(hu(f))).toEqual(["UNSUPPORTED_DATATYPE"]);
    expect(() => checkPixelFormat(header(f))).toThrow(/BitsStored 20 exceeds BitsAllocated 16/);
  });

  it("reports a file that turns out shorter than its header said", async () => {
    const f = ct({ samples: new Array(64).fill(7) });
    const h = parseDicomHeader(f.subarray(0, f.length - 40), "test.dcm", f.length);
    const out = new Float32Array(64);
    expect(await codes(decodeFrameHu(f.subarray(0, f.length - 40), h, 0, out, 0))).toEqual(["TRUNCATED"]);
  });

  it("refuses a rescale that is not a number instead of reading it as slope 1 or intercept 0", async () => {
    for (const slope of ["NaN", "inf", "1e400", "abc"]) {
      const f = ct({ ...good, slope });
      expect(header(f).frames[0]!.rescaleSlope).toBeNaN();
      expect(await codes(hu(f))).toEqual(["HU_IMPLAUSIBLE"]);
      expect(() => checkPixelFormat(header(f))).toThrow(/RescaleSlope is not a finite number/);
    }
    expect(await codes(hu(ct({ ...good, intercept: "NaN" })))).toEqual(["HU_IMPLAUSIBLE"]);
    // One bad frame of a multi-frame object is named.
    const f = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ rows: 1, columns: 2, frames: 2 }),
        {
          tag: 0x52009230,
          vr: "SQ",
          items: [1, 2].map((i) => [
            {
              tag: 0x00289145,
              vr: "SQ",
              items: [[{ tag: 0x00281052, vr: "DS", str: i === 2 ? "NaN" : "-1024" }]],
            },
          ]),
        },
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(8) },
      ],
    });
    expect(() => checkPixelFormat(header(f))).toThrow(/RescaleIntercept of frame 2 of 2/);
    // An absent or empty rescale is the identity, as before.
    const plain = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements({ rows: 1, columns: 2 }).filter((e) => e.tag !== 0x00281053),
        { tag: 0x00281053, vr: "DS", str: "" },
        { tag: 0x7fe00010, vr: "OW", bytes: new Uint8Array(new Uint16Array([5, 6]).buffer) },
      ],
    });
    expect(await hu(plain)).toEqual([-1019, -1018]);
  });

  it("refuses a rescale slope of 0, which made the slice a constant", async () => {
    for (const slope of ["0", "0.0", "-0"]) {
      const f = ct({ ...good, slope });
      expect(await codes(hu(f))).toEqual(["HU_IMPLAUSIBLE"]);
      expect(() => checkPixelFormat(header(f))).toThrow(/RescaleSlope is 0/);
    }
    // Any other finite slope, negative ones included, is the header's to decide.
    expect(await hu(ct({ ...good, slope: "-1", intercept: "0" }))).toEqual([-1, -2, -3, -4]);
  });

  it("refuses encapsulated pixel data under a native transfer syntax", async () => {
    const f = buildFile({
      ts: TS.explicitLE,
      elements: [
        ...ctElements(),
        { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate([new Uint8Array(12)]) },
      ],
    });
    expect(await codes(hu(f))).toEqual(["UNSUPPORTED_TRANSFER_SYNTAX"]);
  });
});

describe("encapsulated RLE", () => {
  const frameA = [0, 1, -1 & 0xffff, 2000, -2000 & 0xffff, 0x7fff];
  const frameB = [5, 5, 5, 5, 0x8000, 300];
  const rleFile = (fragments: Uint8Array[], bot: number[] = [], frames = fragments.length): Uint8Array =>
    buildFile({
      ts: TS.rle,
      elements: [
        ...ctElements({ rows: 2, columns: 3, frames }),
        { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate(fragments, bot) },
      ],
    });
  const signed = (v: number[]) => v.map((x) => (x << 16) >> 16);

  it("decodes single and multi-frame RLE, with and without a Basic Offset Table", async () => {
    expect(await stored(rleFile([rleFrame16(frameA)]))).toEqual(signed(frameA));
    const fragments = [rleFrame16(frameA), rleFrame16(frameB)];
    for (const f of [rleFile(fragments), rleFile(fragments, offsetsOf(fragments))]) {
      expect(await stored(f, 0)).toEqual(signed(frameA));
      expect(await stored(f, 1)).toEqual(signed(frameB));
    }
  });

  it("reports fragments that cannot be frames, and cut or damaged streams, as TRUNCATED", async () => {
    const a = rleFrame16(frameA);
    const split = [a.subarray(0, 40), a.subarray(40), rleFrame16(frameB)];
    expect(await codes(hu(rleFile(split, [], 2), 1))).toEqual(["TRUNCATED"]);
    const whole = rleFile([a]);
    expect(await codes(hu(whole.subarray(0, whole.length - 12)))).toEqual(["TRUNCATED"]);
    const oneSegment = concat([Uint8Array.of(1, 0, 0, 0, 64), a.subarray(5)]);
    expect(await codes(hu(rleFile([oneSegment])))).toEqual(["TRUNCATED"]);
    const shortSegment = a.subarray(0, a.length - 4);
    expect(await codes(hu(rleFile([shortSegment])))).toEqual(["TRUNCATED"]);
  });

  it("reports a frame larger than the header's rows and columns as TRUNCATED, as a JPEG codestream is", async () => {
    const big = rleFrame16(Array.from({ length: 24 }, (_, i) => i)); // a 6x4 frame under a 3x2 header
    expect(await codes(hu(rleFile([big])))).toEqual(["TRUNCATED"]);
  });

  it("reports encapsulated pixel data with no fragments as missing", async () => {
    expect(await codes(hu(rleFile([], [], 1)))).toEqual(["MISSING_PIXEL_DATA"]);
  });
});

describe("headerReadsOtherwise: whether reading a codestream as the header says changes a value", () => {
  const header = (bitsStored: number, pixelRepresentation: 0 | 1, highBit = bitsStored - 1) =>
    ({ bitsAllocated: 16, bitsStored, highBit, pixelRepresentation }) as DicomHeader;
  const frame = (samples: number[], precision: number, signed?: boolean, eightBit = false) => ({
    samples: eightBit ? Uint8Array.from(samples) : Uint16Array.from(samples),
    width: samples.length,
    height: 1,
    components: 1,
    precision,
    ...(signed !== undefined ? { signed } : {}),
  });

  it("is false for a wider codestream whose values all fit (dcmtk's 16-bit coding of 12-bit CT)", () => {
    expect(headerReadsOtherwise(frame([0, 1024, 4095], 16, false), header(12, 0))).toBe(false);
    expect(headerReadsOtherwise(frame([0xfc18, 2047], 16, true), header(12, 1))).toBe(false); // -1000, 2047
  });

  it("is true when a value does not fit, or a signed codestream is narrower than BitsStored", () => {
    expect(headerReadsOtherwise(frame([4096], 16, false), header(12, 0))).toBe(true);
    expect(headerReadsOtherwise(frame([0xfb], 8, true, true), header(16, 1))).toBe(true); // -5 read as 251
    expect(headerReadsOtherwise(frame([0xc00], 12, true), header(16, 1))).toBe(true); // -1024 read as 3072
    expect(headerReadsOtherwise(frame([0x8000], 16, false), header(16, 1))).toBe(true); // 32768 read as -32768
  });

  it("is true when HighBit shifts the stored bits", () => {
    expect(headerReadsOtherwise(frame([8], 16, false), header(12, 0, 15))).toBe(true);
  });
});

describe.skipIf(!haveCorpus)("codec output on the corpus", () => {
  it("keeps stdout clean while the wasm codecs run", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(CORPUS, "dicom/syntax/CT1_J2KR.dcm")));
    const write = vi.spyOn(process.stdout, "write");
    const log = vi.spyOn(console, "log");
    try {
      const h = parseDicomHeader(bytes, "CT1_J2KR.dcm", bytes.length);
      await decodeFrameHu(bytes, h, 0, new Float32Array(h.rows * h.columns), 0);
      expect(write).not.toHaveBeenCalled();
      expect(log).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
      log.mockRestore();
    }
  });

  it("refuses a codestream wider than the header allocates (16-bit samples under BitsAllocated 8)", async () => {
    for (const name of ["CT1_JLSL.dcm", "CT1_J2KR.dcm", "CT1_JPLL.dcm"]) {
      const bytes = new Uint8Array(readFileSync(path.join(CORPUS, "dicom/syntax", name)));
      const h: DicomHeader = parseDicomHeader(bytes, name, bytes.length);
      const relabelled = { ...h, bitsAllocated: 8, bitsStored: 8, highBit: 7 };
      const out = new Float32Array(h.rows * h.columns);
      expect(await codes(decodeFrameHu(bytes, relabelled, 0, out, 0)), name).toEqual([
        "UNSUPPORTED_DATATYPE",
      ]);
      await decodeFrameHu(bytes, h, 0, out, 0); // as written, it decodes
    }
  });

  it("says nothing when a wider codestream's values all fit the header (dcmtk codes 12-bit CT as 16-bit), and warns when they do not", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(CORPUS, "dicom/syntax/CT1_JLSL.dcm")));
    const h: DicomHeader = parseDicomHeader(bytes, "CT1_JLSL.dcm", bytes.length);
    expect([h.bitsStored, h.pixelRepresentation]).toEqual([16, 1]);
    // Stored values -2000 to 2278: 13 signed bits hold every one, 12 do not.
    const as = (bitsStored: number) => ({ ...h, bitsStored, highBit: bitsStored - 1 });
    const thirteen = await decodeFrameStored(bytes, as(13), 0);
    expect(thirteen.warnings).toEqual([]);
    expect(Array.from(thirteen.stored)).toEqual(Array.from((await decodeFrameStored(bytes, h, 0)).stored));
    const twelve = await decodeFrameStored(bytes, as(12), 0);
    expect(twelve.warnings.map((w) => w.code)).toEqual(["PIXEL_REPRESENTATION_MISMATCH"]);
  });

  it("warns when a JPEG 2000 codestream disagrees with the header, and honours the header", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(CORPUS, "dicom/real/ct_j2k_pixelrep_mismatch.dcm")));
    const h: DicomHeader = parseDicomHeader(bytes, "mismatch.dcm", bytes.length);
    expect([h.bitsStored, h.pixelRepresentation]).toEqual([13, 1]);
    const { stored: values, warnings } = await decodeFrameStored(bytes, h, 0);
    expect(warnings.map((w) => w.code)).toEqual(["PIXEL_REPRESENTATION_MISMATCH"]);
    expect(warnings[0]?.file).toBe("mismatch.dcm");
    // Unsigned 13-bit codestream values >= 4096 are negative once read as the header's signed 13 bits.
    let negative = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      if (v < 0) negative++;
    }
    expect(min).toBeGreaterThanOrEqual(-4096);
    expect(max).toBeLessThan(4096);
    expect(negative).toBeGreaterThan(10000);
  });
});

/** A deterministic pseudo-random bit pattern per sample (every bit, including those above HighBit). */
const noise = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => (Math.imul(i + seed, 2654435761) >>> 13) & 0xffff);

describe("the vector kernel (unsigned stored values, slope 1)", () => {
  it("compiles here (Node has WebAssembly SIMD), so the cases below compare two implementations", () => {
    expect(useSimdKernel(true)).toBe(true);
  });

  const layouts: { name: string; o: CtOptions }[] = [
    { name: "12-bit unsigned, intercept -1024", o: { bitsStored: 12, pixelRepresentation: 0 } },
    { name: "12 bits ending at bit 13", o: { bitsStored: 12, highBit: 13, pixelRepresentation: 0 } },
    {
      name: "10-bit unsigned, intercept +200",
      o: { bitsStored: 10, pixelRepresentation: 0, intercept: "200" },
    },
    {
      name: "15-bit unsigned, intercept -32768",
      o: { bitsStored: 15, pixelRepresentation: 0, intercept: "-32768" },
    },
  ];
  for (const { name, o } of layouts)
    it(`gives the scalar loop's values and the formula's, ${name}`, async () => {
      // 8 x 9 + 5: whole vectors and a scalar tail.
      const samples = noise(77, name.length);
      const f = ct({ ...o, samples });
      const h = header(f);
      expect(huFitsInt16(h)).toBe(true);
      const bits = o.bitsStored!;
      const shift = (o.highBit ?? bits - 1) + 1 - bits;
      const intercept = Number(o.intercept ?? "-1024");
      const expected = samples.map((s) => ((s >> shift) & (2 ** bits - 1)) + intercept);
      const vector = await hu(f, 0, "i16");
      useSimdKernel(false);
      try {
        expect(await hu(f, 0, "i16")).toEqual(expected);
      } finally {
        useSimdKernel(true);
      }
      expect(vector).toEqual(expected);
    });

  it("writes a slice at any offset, leaving its neighbours alone", async () => {
    const samples = noise(21, 3);
    const f = ct({ samples, bitsStored: 12, pixelRepresentation: 0 });
    const out = new Int16Array(30).fill(7);
    await decodeFrameHu(f, header(f), 0, out, 3);
    expect(Array.from(out.subarray(0, 3))).toEqual([7, 7, 7]);
    expect(Array.from(out.subarray(3, 24))).toEqual(samples.map((s) => (s & 0xfff) - 1024));
    expect(Array.from(out.subarray(24))).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it("copies signed 16-bit stored values with no rescale unchanged", async () => {
    const samples = [0, 1, 0x7fff, 0x8000, 0xffff, 1234, 0xfc18];
    const f = ct({ samples, intercept: "0" });
    expect(await hu(f, 0, "i16")).toEqual([0, 1, 32767, -32768, -1, 1234, -1000]);
  });
});

describe("in-place decoding (raw samples read straight into the volume)", () => {
  /** What a direct reader does: the frame's bytes into the slot, then decode there. */
  function decodeInPlace(file: Uint8Array, frame: number, out: Int16Array, offset: number) {
    const h = header(file);
    const range = inPlaceFrameRange(h, frame, file.length, out, offset);
    if (!range) return undefined;
    new Uint8Array(out.buffer, out.byteOffset + offset * 2, range.end - range.start).set(
      file.subarray(range.start, range.end),
    );
    return decodeFrameHuInPlace(h, frame, out, offset);
  }

  const cases: { name: string; o: CtOptions }[] = [
    { name: "unsigned 12-bit", o: { bitsStored: 12, pixelRepresentation: 0 } },
    { name: "signed 12-bit", o: { bitsStored: 12, pixelRepresentation: 1 } },
    { name: "signed 16-bit, no rescale", o: { intercept: "0" } },
    { name: "signed 16-bit with padding", o: { intercept: "0", padding: -2000 } },
    { name: "fractional rescale", o: { bitsStored: 12, pixelRepresentation: 0, slope: "0.5" } },
    { name: "rescale beyond int16", o: { slope: "10", intercept: "0" } },
  ];
  for (const { name, o } of cases)
    it(`matches decodeFrameHu: ${name}`, async () => {
      const samples = noise(37, name.length);
      samples[5] = -2000 & 0xffff;
      const f = ct({ ...o, samples });
      const viaFile = new Int16Array(45).fill(3);
      await decodeFrameHu(f, header(f), 0, viaFile, 4);
      const inPlace = new Int16Array(45).fill(3);
      expect(decodeInPlace(f, 0, inPlace, 4)).toEqual({ warnings: [] });
      expect(Array.from(inPlace)).toEqual(Array.from(viaFile));
    });

  it("decodes each frame of a multi-frame file into its own slot", async () => {
    const samples = [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60];
    const f = ctFile({ rows: 2, columns: 3, frames: 2, samples, bitsStored: 12, pixelRepresentation: 0 });
    const out = new Int16Array(12);
    decodeInPlace(f, 1, out, 0);
    decodeInPlace(f, 0, out, 6);
    expect(Array.from(out)).toEqual([10, 20, 30, 40, 50, 60, 1, 2, 3, 4, 5, 6].map((v) => v - 1024));
  });

  it("names the bytes of the frame and leaves other layouts to decodeFrameHu", () => {
    const samples = [1, 2, 3, 4, 5, 6];
    const f = ct({ samples });
    const h = header(f);
    const range = inPlaceFrameRange(h, 0, f.length, new Int16Array(6), 0);
    expect(range).toEqual({ start: h.pixelData!.offset, end: h.pixelData!.offset + 12 });
    expect(inPlaceFrameRange(h, 0, f.length, new Float32Array(6), 0)).toBeUndefined();
    const be = ct({ samples, ts: TS.explicitBE });
    expect(inPlaceFrameRange(header(be), 0, be.length, new Int16Array(6), 0)).toBeUndefined();
    const deflated = ct({ samples, ts: TS.deflated });
    expect(inPlaceFrameRange(header(deflated), 0, deflated.length, new Int16Array(6), 0)).toBeUndefined();
    const eight = ct({ samples, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0 });
    expect(inPlaceFrameRange(header(eight), 0, eight.length, new Int16Array(6), 0)).toBeUndefined();
    const rle = buildFile({
      ts: TS.rle,
      elements: [
        ...ctElements({ rows: 2, columns: 3 }),
        { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate([rleFrame16(samples)]) },
      ],
    });
    expect(inPlaceFrameRange(header(rle), 0, rle.length, new Int16Array(6), 0)).toBeUndefined();
  });

  it("rejects what decodeFrameHu rejects, with the same reasons", async () => {
    const f = ct({ samples: new Array(64).fill(7) });
    const h = parseDicomHeader(f.subarray(0, f.length - 40), "test.dcm", f.length);
    const sync = (fn: () => unknown) => codes(Promise.resolve().then(fn));
    const viaFile = await codes(decodeFrameHu(f.subarray(0, f.length - 40), h, 0, new Int16Array(64), 0));
    expect(await sync(() => inPlaceFrameRange(h, 0, f.length - 40, new Int16Array(64), 0))).toEqual(viaFile);
    expect(viaFile).toEqual(["TRUNCATED"]);
    const rgb = ct({ samples: [1, 2, 3, 4], photometric: "RGB", samplesPerPixel: 3 });
    expect(await sync(() => inPlaceFrameRange(header(rgb), 0, rgb.length, new Int16Array(4), 0))).toEqual([
      "UNSUPPORTED_PHOTOMETRIC",
    ]);
    const ok = ct({ samples: [1, 2, 3] });
    expect(() => inPlaceFrameRange(header(ok), 0, ok.length, new Int16Array(4), 2)).toThrow(RangeError);
    expect(() => inPlaceFrameRange(header(ok), 1, ok.length, new Int16Array(4), 0)).toThrow(RangeError);
  });
});
