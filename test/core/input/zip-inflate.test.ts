import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32, type DeflatedEntry, InflateCursor, nextStep } from "../../../core/input/zip-inflate.js";

/** A deflated entry over memory that counts the compressed reads. */
function entry(content: Uint8Array, o: { crc?: number; size?: number } = {}) {
  const compressed = new Uint8Array(deflateRawSync(content));
  const reads: [number, number][] = [];
  const e: DeflatedEntry = {
    compressedSize: compressed.length,
    uncompressedSize: o.size ?? content.length,
    crc32: o.crc ?? crc32(content),
    readCompressed: async (start, end) => {
      reads.push([start, end]);
      return compressed.slice(start, end);
    },
    fail: (problem) => {
      throw Object.assign(new Error(problem), { problem });
    },
  };
  return { e, reads, compressed };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("InflateCursor", () => {
  it("continues forward reads, skips ahead, and needs a new cursor only to go back", async () => {
    const content = new Uint8Array(randomBytes(300_000));
    const { e } = entry(content);
    const cursor = new InflateCursor(e);
    expect(same(await cursor.read(0, 1000), content.subarray(0, 1000))).toBe(true);
    expect(same(await cursor.read(1000, 5000), content.subarray(1000, 5000))).toBe(true);
    expect(same(await cursor.read(200_000, 200_100), content.subarray(200_000, 200_100))).toBe(true);
    expect(cursor.canRead(150_000)).toBe(false);
    expect(cursor.canRead(200_100)).toBe(true);
    expect(same(await cursor.read(200_100, 300_000), content.subarray(200_100))).toBe(true);
  });

  it("grows a step that fell short, so a poorly compressing stretch takes few requests", async () => {
    // Zeros then noise: the entry's average ratio badly underestimates what the noise needs.
    const content = new Uint8Array(1_200_000);
    content.set(randomBytes(120_000), 1_000_000);
    const { e, reads } = entry(content);
    const cursor = new InflateCursor(e);
    await cursor.read(0, 1000); // one small step: all the zeros and the first KiB of noise
    const before = reads.length;
    expect(same(await cursor.read(1_000_000, 1_100_000), content.subarray(1_000_000, 1_100_000))).toBe(true);
    // Steps of 11, 22, 44 and 88 KiB; at the average ratio alone it would be about ten ~10 KiB requests.
    expect(reads.length - before).toBeLessThanOrEqual(5);
    // Without growth each step would aim at what is left at the average ratio (about 1/10 here).
    expect(nextStep(e, 0, 0, 100_000)).toBeLessThan(nextStep(e, 0, 0, 100_000, 20_000));
  });

  it("checks size and CRC-32 once the data is inflated to its end", async () => {
    const content = new Uint8Array(randomBytes(50_000));
    const bad = new InflateCursor(entry(content, { crc: (crc32(content) + 1) >>> 0 }).e);
    await expect(bad.read(0, 50_000)).rejects.toThrow(/CRC-32/);
    const longer = new InflateCursor(entry(content, { size: 60_000 }).e);
    await expect(longer.read(0, 60_000)).rejects.toThrow(/inflates to 50000 bytes but declares 60000/);
    const shorter = new InflateCursor(entry(content, { size: 40_000 }).e);
    await expect(shorter.read(0, 40_000)).rejects.toThrow(/more than its declared 40000/);
  });

  it("continues a CRC-32 across chunks exactly as over the whole", () => {
    const data = new Uint8Array(randomBytes(10_000));
    expect(crc32(data.subarray(5000), crc32(data.subarray(0, 5000)))).toBe(crc32(data));
  });
});
