import { describe, expect, it } from "vitest";
import { scanProbabilities, softmax } from "../../../../gpu-job/pipeline/infer/scan-rule.js";
import { gaussianWeights, tileStarts } from "../../../../gpu-job/pipeline/infer/tiling.js";

describe("tileStarts", () => {
  it("covers the scan with the stride and ends flush with the last slice", () => {
    expect(tileStarts(40, 16, 8)).toEqual([0, 8, 16, 24]);
    expect(tileStarts(41, 16, 8)).toEqual([0, 8, 16, 24, 25]);
    expect(tileStarts(16, 16, 8)).toEqual([0]);
    expect(tileStarts(5, 16, 8)).toEqual([0]);
  });
  it("leaves no slice uncovered", () => {
    for (let depth = 1; depth < 80; depth++) {
      const covered = new Set<number>();
      for (const s of tileStarts(depth, 16, 8))
        for (let z = s; z < Math.min(s + 16, depth); z++) covered.add(z);
      expect(covered.size).toBe(depth);
    }
  });
});

describe("gaussianWeights", () => {
  it("peaks at 1 in the centre, is symmetric and floored where the manifest says", () => {
    const w = gaussianWeights(16, 0.125, 1e-3);
    expect(Math.max(...w)).toBeCloseTo(1, 6);
    for (let i = 0; i < 8; i++) expect(w[i]).toBeCloseTo(w[15 - i] as number, 6);
    expect(Math.min(...w)).toBeCloseTo(1e-3, 6);
    expect(w[7]).toBeGreaterThan(w[3] as number);
    // exp(-0.5 * (7.5 / 2)^2) = 8.8e-4 at the edges: a floor of 0.05 lifts them and nothing near the centre.
    const floored = gaussianWeights(16, 0.125, 0.05);
    expect(floored[0]).toBeCloseTo(0.05, 6);
    expect(floored[7]).toBeCloseTo(w[7] as number, 6);
  });
});

describe("scan rule", () => {
  const p = (a: number, b: number, c: number) => Float64Array.from([a, b, c]);
  it("weights each tile by base + its lesion volume", () => {
    const out = scanProbabilities([p(1, 0, 0), p(0, 1, 0)], [0, 15], {
      method: "lesion-weighted",
      baseMl: 5,
    });
    expect(Array.from(out)).toEqual([0.2, 0.8, 0]); // weights 5 and 5 + 15
  });
  it("averages plainly with method mean, and when every weight is zero", () => {
    expect(
      Array.from(scanProbabilities([p(1, 0, 0), p(0, 1, 0)], [0, 15], { method: "mean", baseMl: 5 })),
    ).toEqual([0.5, 0.5, 0]);
    expect(
      Array.from(
        scanProbabilities([p(1, 0, 0), p(0, 0, 1)], [0, 0], { method: "lesion-weighted", baseMl: 0 }),
      ),
    ).toEqual([0.5, 0, 0.5]);
  });
  it("leaves out the tiles that do not vote, and lets all vote when none would", () => {
    const rule = { method: "lesion-weighted" as const, baseMl: 5 };
    const tiles = [p(1, 0, 0), p(0, 1, 0), p(0, 0, 1)];
    expect(Array.from(scanProbabilities(tiles, [0, 15, 0], rule, [false, true, true]))).toEqual([
      0, 0.8, 0.2,
    ]);
    expect(Array.from(scanProbabilities(tiles, [0, 0, 0], rule, [false, false, false]))).toEqual(
      Array.from(scanProbabilities(tiles, [0, 0, 0], rule)),
    );
    expect(() => scanProbabilities(tiles, [0, 0, 0], rule, [true])).toThrow(/3 tiles/);
  });
  it("softmax is stable for large logits", () => {
    const s = softmax([1000, 1000, -1000]);
    expect(s[0]).toBeCloseTo(0.5, 12);
    expect(s[2]).toBe(0);
  });
});
