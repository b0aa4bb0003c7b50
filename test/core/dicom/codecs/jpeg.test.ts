import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CodecError } from "../../../../core/dicom/codecs/frame.js";
import { decodeCodestream } from "../../../../core/dicom/codecs/index.js";
import { decodeJpegBaseline8 } from "../../../../core/dicom/codecs/jpeg-baseline.js";
import { decodeJpegDct } from "../../../../core/dicom/codecs/jpeg-dct.js";
import { decodeJpegLossless } from "../../../../core/dicom/codecs/jpeg-lossless.js";
import { decodeFrameHu, decodeFrameStored } from "../../../../core/dicom/decode-pixels.js";
import { parseDicomHeader } from "../../../../core/dicom/parse-header.js";
import { ctFile } from "../dicom-builder.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../../shared/corpus");
const haveCorpus = existsSync(path.join(CORPUS, "MANIFEST.tsv"));
const haveDcmtk = (() => {
  try {
    execFileSync("dcmdjpeg", ["--version"], { stdio: "ignore" });
    execFileSync("dcmcjpeg", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** A deterministic test image with edges, ramps and noise: hard for predictors, easy to check. */
function testImage(width: number, height: number, bits: number): number[] {
  const max = 2 ** bits - 1;
  let seed = 12345;
  return Array.from({ length: width * height }, (_, i) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const x = i % width;
    const y = Math.floor(i / width);
    const base = x < width / 3 ? 0 : y < height / 2 ? max : (x * 97 + y * 31) % (max + 1);
    return Math.min(max, Math.max(0, base + ((seed >> 8) % 7) - 3));
  });
}

/**
 * Minimal JPEG lossless encoder (T.81 H), independent of the decoder: one Huffman table giving every
 * difference category a 5-bit code, any predictor, optional restart interval.
 */
function encodeLossless(
  samples: number[],
  width: number,
  height: number,
  precision: number,
  predictor: number,
  restartInterval = 0,
): Uint8Array {
  const out: number[] = [0xff, 0xd8];
  out.push(0xff, 0xc3, 0, 11, precision, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0);
  const counts = new Array(16).fill(0);
  counts[4] = 17; // categories 0..16, codes 00000..10000
  out.push(0xff, 0xc4, 0, 2 + 1 + 16 + 17, 0x00, ...counts, ...Array.from({ length: 17 }, (_, i) => i));
  if (restartInterval) out.push(0xff, 0xdd, 0, 4, restartInterval >> 8, restartInterval & 0xff);
  out.push(0xff, 0xda, 0, 8, 1, 1, 0x00, predictor, 0, 0);
  let acc = 0;
  let nbits = 0;
  const putBits = (value: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++nbits === 8) {
        out.push(acc);
        if (acc === 0xff) out.push(0);
        acc = 0;
        nbits = 0;
      }
    }
  };
  const flush = () => {
    while (nbits !== 0) putBits(1, 1);
  };
  let rst = 0;
  let firstLine = true;
  for (let n = 0; n < samples.length; n++) {
    const x = n % width;
    let pred: number;
    const at = (i: number) => samples[i]!;
    if (restartInterval && n > 0 && n % restartInterval === 0) {
      flush();
      out.push(0xff, 0xd0 + (rst++ % 8));
      firstLine = true;
      pred = 1 << (precision - 1);
    } else if (n === 0) pred = 1 << (precision - 1);
    else if (x === 0) {
      firstLine = false;
      pred = at(n - width);
    } else if (firstLine) pred = at(n - 1);
    else {
      const [a, b, c] = [at(n - 1), at(n - width), at(n - width - 1)];
      pred = [0, a, b, c, a + b - c, a + ((b - c) >> 1), b + ((a - c) >> 1), (a + b) >> 1][predictor]!;
    }
    let diff = (samples[n]! - pred) & 0xffff;
    if (diff >= 32768) diff -= 65536;
    const category = diff === 32768 ? 16 : diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
    putBits(category, 5);
    if (category > 0 && category < 16) putBits(diff >= 0 ? diff : diff + 2 ** category - 1, category);
  }
  flush();
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

describe("JPEG lossless (process 14)", () => {
  const width = 23;
  const height = 17;

  it("decodes every predictor at 16, 12 and 8 bits", () => {
    for (const precision of [16, 12, 8])
      for (let predictor = 1; predictor <= 7; predictor++) {
        const image = testImage(width, height, precision);
        const frame = decodeJpegLossless(encodeLossless(image, width, height, precision, predictor));
        expect(Array.from(frame.samples), `P${precision} SV${predictor}`).toEqual(image);
        expect(frame.precision).toBe(precision);
      }
  });

  it("resets prediction at restart intervals, row-aligned or not", () => {
    const image = testImage(width, height, 16);
    for (const interval of [width, 2 * width, 10, 1])
      for (const predictor of [1, 4, 7])
        expect(
          Array.from(
            decodeJpegLossless(encodeLossless(image, width, height, 16, predictor, interval)).samples,
          ),
        ).toEqual(image);
  });

  it("keeps the last sample, which shares its byte with EOI", () => {
    // jpeg-lossless-decoder-js 2.1.2 drops it; a uniform image ends in a 5-bit code before EOI.
    const image = new Array(width * height).fill(40000);
    image[image.length - 1] = 0;
    expect(Array.from(decodeJpegLossless(encodeLossless(image, width, height, 16, 1)).samples)).toEqual(
      image,
    );
  });

  it("fails on cut and damaged streams instead of inventing samples", () => {
    const stream = encodeLossless(testImage(width, height, 16), width, height, 16, 1);
    expect(() => decodeJpegLossless(stream.subarray(0, stream.length / 2))).toThrow(CodecError);
    expect(() => decodeJpegLossless(stream.subarray(0, 30))).toThrow(CodecError);
    const noRestart = encodeLossless(testImage(width, height, 16), width, height, 16, 1, width);
    const markerAt = noRestart.findIndex((b, i) => b === 0xff && noRestart[i + 1] === 0xd0);
    const broken = noRestart.slice();
    broken[markerAt + 1] = 0x00; // RST0 -> stuffed FF00
    expect(() => decodeJpegLossless(broken)).toThrow(CodecError);
  });
});

describe("JPEG DCT (processes 1, 2, 4)", () => {
  it("matches libjpeg-turbo exactly on 8-bit baseline images", async () => {
    // The full (encoder) build is a test-only dependency of the same package.
    const factory = (
      (await import("@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs" as string)) as {
        default: (
          o: object,
        ) => Promise<Record<string, new () => Record<string, (...a: unknown[]) => unknown>>>;
      }
    ).default;
    const module = await factory({ print: () => {}, printErr: () => {} });
    // Sizes the encoder build handles (it crashes on some small images, e.g. 8x8 or fewer than 16 rows).
    for (const [width, height, quality] of [
      [61, 37, 75],
      [100, 40, 30],
      [17, 29, 95],
      [40, 24, 100],
    ] as const) {
      const encoder = new module.JPEGEncoder!();
      const input = encoder.getDecodedBuffer!({
        width,
        height,
        bitsPerSample: 8,
        componentCount: 1,
        isSigned: false,
      }) as Uint8Array;
      input.set(testImage(width, height, 8));
      // Order matters in this build: setProgressive before setQuality crashes the encoder.
      encoder.setQuality!(false, quality);
      encoder.setProgressive!(false);
      encoder.encode!();
      const jpeg = (encoder.getEncodedBuffer!() as Uint8Array).slice();
      encoder.delete!();
      const ours = decodeJpegDct(jpeg);
      const turbo = await decodeJpegBaseline8(jpeg);
      expect([ours.width, ours.height, ours.precision]).toEqual([width, height, 8]);
      expect(Array.from(ours.samples)).toEqual(Array.from(turbo.samples));
      // The routing sends 8-bit streams to libjpeg-turbo.
      expect(
        Array.from(
          (await decodeCodestream("jpeg-baseline", jpeg, { columns: width, rows: height, bitsAllocated: 8 }))
            .samples,
        ),
      ).toEqual(Array.from(turbo.samples));
    }
  });

  it("refuses progressive, lossless-as-DCT and cut streams", () => {
    const sof2 = Uint8Array.of(0xff, 0xd8, 0xff, 0xc2, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0);
    expect(() => decodeJpegDct(sof2)).toThrow(/SOF2/);
    const lossless = encodeLossless(testImage(8, 8, 12), 8, 8, 12, 1);
    expect(() => decodeJpegDct(lossless)).toThrow(CodecError);
    expect(() => decodeJpegDct(Uint8Array.of(0xff, 0xd8, 0xff))).toThrow(CodecError);
  });

  it("routes a lossless stream found under a DCT transfer syntax to the lossless decoder", async () => {
    const image = testImage(9, 5, 12);
    const frame = await decodeCodestream("jpeg-extended", encodeLossless(image, 9, 5, 12, 1), {
      columns: 9,
      rows: 5,
      bitsAllocated: 16,
    });
    expect(Array.from(frame.samples)).toEqual(image);
  });
});

describe.skipIf(!haveDcmtk)("cross-check with dcmtk", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "deepsc-jpeg-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const storedOf = async (file: string) => {
    const bytes = new Uint8Array(readFileSync(file));
    const h = parseDicomHeader(bytes, path.basename(file), bytes.length);
    const frames: number[][] = [];
    for (let f = 0; f < h.numberOfFrames; f++)
      frames.push(Array.from((await decodeFrameStored(bytes, h, f)).stored));
    return { h, frames };
  };

  it("decodes dcmcjpeg's lossless output for every predictor and a point transform as dcmdjpeg does", async () => {
    const width = 40;
    const height = 24;
    const signed = testImage(width, height, 16).map((v) => v - 32768);
    const source = path.join(dir, "source.dcm");
    writeFileSync(source, ctFile({ rows: height, columns: width, samples: signed.map((v) => v & 0xffff) }));
    for (const args of [
      ...[1, 2, 3, 4, 5, 6, 7].map((sv) => ["+el", "+sv", String(sv)]),
      ["+el", "+sv", "1", "+pt", "3"],
    ]) {
      const jpeg = path.join(dir, `l${args.join("")}.dcm`);
      const back = path.join(dir, `u${args.join("")}.dcm`);
      execFileSync("dcmcjpeg", [...args, source, jpeg]);
      execFileSync("dcmdjpeg", [jpeg, back]);
      const ours = await storedOf(jpeg);
      expect(ours.h.transferSyntax).toBe("1.2.840.10008.1.2.4.57");
      expect(ours.frames, args.join(" ")).toEqual((await storedOf(back)).frames);
      if (!args.includes("+pt")) expect(ours.frames[0]).toEqual(signed);
      // A point transform drops low bits under the lossless syntax, and dcmtk leaves the header saying
      // nothing of it: the decode says so.
      const bytes = new Uint8Array(readFileSync(jpeg));
      expect(ours.h.lossy).toBe(false);
      const { warnings } = await decodeFrameHu(bytes, ours.h, 0, new Float32Array(width * height), 0);
      expect(
        warnings.some((w) => w.code === "LOSSY_COMPRESSION"),
        args.join(" "),
      ).toBe(args.includes("+pt"));
    }
  });

  it.skipIf(!haveCorpus)(
    "decodes the corpus' 12-bit JPEG Extended frames exactly as dcmdjpeg (libijg12 islow)",
    async () => {
      const source = path.join(CORPUS, "dicom/syntax/CT0012_JPEG51.dcm");
      const back = path.join(dir, "jpeg51.dcm");
      execFileSync("dcmdjpeg", [source, back]);
      const ours = await storedOf(source);
      expect(ours.frames).toHaveLength(2);
      expect(ours.frames).toEqual((await storedOf(back)).frames);
    },
  );
});
