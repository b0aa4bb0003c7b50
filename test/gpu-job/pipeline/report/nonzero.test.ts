import { describe, expect, it } from "vitest";
import { anyNonZero, forEachNonZero } from "../../../../gpu-job/pipeline/report/nonzero.js";

function naive(mask: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  for (let p = start; p < end; p++) if (mask[p] !== 0) out.push(p);
  return out;
}

/** Deterministic sparse mask. */
function sparse(n: number, seed: number, every: number): Uint8Array {
  const m = new Uint8Array(n);
  let s = seed;
  for (let p = 0; p < n; p++) {
    s = (s * 1103515245 + 12345) >>> 0;
    if (s % every === 0) m[p] = 1 + (s % 7);
  }
  return m;
}

describe("sparse mask scans", () => {
  it("visit exactly the non-zero bytes of any range, aligned or not", () => {
    const backing = sparse(1037, 7, 13);
    // Subarrays at every byte offset exercise the unaligned head and tail around the 32-bit view.
    for (let offset = 0; offset < 4; offset++) {
      const mask = backing.subarray(offset);
      for (const [start, end] of [
        [0, mask.length],
        [1, 2],
        [3, 11],
        [5, 900],
        [400, 401],
        [17, 17],
      ] as const) {
        const seen: number[] = [];
        forEachNonZero(mask, (p) => seen.push(p), start, end);
        expect(seen).toEqual(naive(mask, start, end));
        expect(anyNonZero(mask, start, end)).toBe(naive(mask, start, end).length > 0);
      }
    }
  });

  it("finds a single voxel at either end and reports an empty mask as empty", () => {
    const mask = new Uint8Array(64);
    expect(anyNonZero(mask)).toBe(false);
    mask[63] = 1;
    expect(anyNonZero(mask)).toBe(true);
    expect(anyNonZero(mask, 0, 63)).toBe(false);
    const seen: number[] = [];
    forEachNonZero(mask, (p) => seen.push(p));
    expect(seen).toEqual([63]);
  });
});
