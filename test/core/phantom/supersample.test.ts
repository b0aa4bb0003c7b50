/**
 * Partial volume at coarse pixels: which grids are supersampled and by how much, that the fine grid splits
 * each pixel evenly (oblique and descending grids too), and that a coarse phantom's HU is exactly the
 * area average of the same phantom rendered at the fine pixel size.
 */
import { describe, expect, it } from "vitest";
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelCentre } from "../../../core/geometry/affine.js";
import { planPhantom, renderPhantom, renderSteps } from "../../../core/phantom/generate.js";
import { phantomGrid } from "../../../core/phantom/grid.js";
import { type PhantomOptions, resolvePhantomOptions } from "../../../core/phantom/options.js";
import {
  averageInto,
  fineSlabGrid,
  MAX_FINE_SAMPLES,
  slabs,
  supersamplingFactor,
} from "../../../core/phantom/supersample.js";
import { computeTruth } from "../../../core/phantom/truth.js";

const gridOf = (o: Omit<PhantomOptions, "out">): Geometry =>
  phantomGrid(resolvePhantomOptions({ out: "unused", ...o }));

describe("supersamplingFactor", () => {
  it("leaves pixels up to 1.5 mm alone and renders coarser ones at 1.5 mm or finer", () => {
    expect(supersamplingFactor(gridOf({ size: 512 }))).toBe(1); // 0.70 mm
    expect(supersamplingFactor(gridOf({ size: 256 }))).toBe(1); // 1.41 mm: the training phantoms
    expect(supersamplingFactor(gridOf({ size: 240 }))).toBe(1); // 1.5 mm exactly
    expect(supersamplingFactor(gridOf({ size: 128 }))).toBe(2); // 2.81 mm
    expect(supersamplingFactor(gridOf({ size: 100, pixelSpacing: 2.5 }))).toBe(2);
    expect(supersamplingFactor(gridOf({ size: 64, pixelSpacing: 5 }))).toBe(4);
    expect(supersamplingFactor(gridOf({ size: 16, slices: 4 }))).toBe(15); // 22.5 mm
  });

  it("gives up factor before exceeding the sample budget, down to none", () => {
    const big = gridOf({ size: 512, slices: 1000, pixelSpacing: 2 });
    expect(supersamplingFactor(big)).toBe(1);
    const mid = gridOf({ size: 512, slices: 300, pixelSpacing: 4 });
    expect(supersamplingFactor(mid)).toBe(1); // wants 3; sqrt(2^28 / 78.6 M voxels) = 1.8
    const small = gridOf({ size: 256, slices: 300, pixelSpacing: 5 });
    expect(supersamplingFactor(small)).toBe(3); // wants 4; 4^2 * 19.7 M voxels > 2^28 >= 3^2 * 19.7 M
    expect(16 * 256 * 256 * 300).toBeGreaterThan(MAX_FINE_SAMPLES);
    expect(9 * 256 * 256 * 300).toBeLessThanOrEqual(MAX_FINE_SAMPLES);
  });
});

describe("fineSlabGrid", () => {
  const oblique = gridOf({
    size: 20,
    slices: 9,
    pixelSpacing: 3,
    spacing: 4,
    zDirection: "descending",
    orientation: { rotateXDeg: 20, rotateYDeg: -35 },
  });

  it("splits each pixel of a slab evenly: its fine centres average to the pixel's centre", () => {
    for (const f of [2, 3]) {
      const fine = fineSlabGrid(oblique, f, 4, 3);
      expect(fine.dims).toEqual([20 * f, 20 * f, 3]);
      expect(fine.spacing[0]).toBeCloseTo(3 / f, 12);
      for (const [i, j, kk] of [
        [0, 0, 0],
        [7, 13, 1],
        [19, 19, 2],
      ] as const) {
        const sum = [0, 0, 0];
        for (let a = 0; a < f; a++)
          for (let b = 0; b < f; b++) {
            const c = voxelCentre(fine, f * i + a, f * j + b, kk);
            for (let r = 0; r < 3; r++) sum[r]! += c[r]! / (f * f);
          }
        const want = voxelCentre(oblique, i, j, 4 + kk);
        for (let r = 0; r < 3; r++) expect(sum[r]).toBeCloseTo(want[r]!, 9);
      }
    }
  });

  it("covers every slice once, in slabs", () => {
    const g = gridOf({ size: 512, slices: 300, pixelSpacing: 2 });
    const s = slabs(g, 2);
    expect(s.length).toBeGreaterThan(1);
    expect(s.reduce((n, [, nk]) => n + nk, 0)).toBe(300);
    for (let m = 1; m < s.length; m++) expect(s[m]![0]).toBe(s[m - 1]![0] + s[m - 1]![1]);
  });
});

describe("averageInto", () => {
  it("writes each pixel the rounded mean of its f x f block, into the slab's slices", () => {
    // 2 x 1 pixels, f = 2, one slice: blocks [1, 2; 3, 5] and [-4, -4; -4, -5].
    const fine = Int16Array.from([1, 2, -4, -4, 3, 5, -4, -5]);
    const out = new Int16Array(2 * 1 * 3).fill(7);
    averageInto(fine, 2, 2, 1, 1, out, 1);
    expect([...out]).toEqual([7, 7, Math.round(11 / 4), Math.round(-17 / 4), 7, 7]);
  });
});

describe("a coarse phantom", () => {
  it("has, without noise, exactly the HU of the phantom rendered at the fine pixel size and averaged", () => {
    const plan = planPhantom("covid", 3);
    const coarseGrid = gridOf({ size: 64, slices: 10, sliceThickness: 10 });
    const fineGrid = gridOf({ size: 256, slices: 10, sliceThickness: 10 });
    expect(supersamplingFactor(coarseGrid)).toBe(4);
    expect(supersamplingFactor(fineGrid)).toBe(1);
    const coarse = renderPhantom(plan, coarseGrid, { noiseSd: 0, correlatedNoise: false });
    const fine = renderPhantom(plan, fineGrid, { noiseSd: 0, correlatedNoise: false });
    const averaged = new Int16Array(coarse.ct.data.length);
    averageInto(fine.ct.data, 4, 64, 64, 10, averaged, 0);
    expect(Buffer.from(coarse.ct.data.buffer).equals(Buffer.from(averaged.buffer))).toBe(true);
  });

  it("keeps its masks what each pixel's centre belongs to", () => {
    // 4.5 mm pixels, rendered 3 times finer: the middle fine pixel shares the coarse pixel's centre.
    const plan = planPhantom("cap", 5);
    const coarseGrid = gridOf({ size: 80, slices: 12, sliceThickness: 10 });
    const fineGrid = gridOf({ size: 240, slices: 12, sliceThickness: 10 });
    expect(supersamplingFactor(coarseGrid)).toBe(3);
    const coarse = renderPhantom(plan, coarseGrid, { noiseSd: 0, correlatedNoise: false });
    const fine = renderPhantom(plan, fineGrid, { noiseSd: 0, correlatedNoise: false });
    let lungs = 0;
    let lesions = 0;
    let mismatched = 0;
    for (let k = 0; k < 12; k++)
      for (let j = 0; j < 80; j++)
        for (let i = 0; i < 80; i++) {
          const v = i + 80 * (j + 80 * k);
          const w = 3 * i + 1 + 240 * (3 * j + 1 + 240 * k);
          if (coarse.lungs.data[v]! > 0) lungs++;
          if (coarse.lesions.data[v]! > 0) lesions++;
          if (coarse.lungs.data[v] !== fine.lungs.data[w] || coarse.lesions.data[v] !== fine.lesions.data[w])
            mismatched++;
        }
    expect(lungs).toBeGreaterThan(1000);
    expect(lesions).toBeGreaterThan(10);
    expect(mismatched).toBe(0);
  });

  it("says so in its truth: the factor, absent at centre-sampled pixels", () => {
    const plan = planPhantom("normal", 2);
    const truthOf = (g: Geometry) =>
      computeTruth(renderPhantom(plan, g, { noiseSd: 0, correlatedNoise: false }), {
        cls: "normal",
        seed: 2,
        lesions: plan.lesions,
        sliceThickness: 10,
        zDirection: "ascending",
        rotationDeg: { x: 0, y: 0 },
        files: {},
      });
    expect(truthOf(gridOf({ size: 64, slices: 4, sliceThickness: 10 })).grid.supersampling).toBe(4);
    expect("supersampling" in truthOf(gridOf({ size: 256, slices: 4, sliceThickness: 10 })).grid).toBe(false);
  });

  it("reports one more progress step per slice while supersampling", () => {
    const g = gridOf({ size: 64, slices: 6 });
    const seen: number[] = [];
    renderPhantom(planPhantom("normal", 1), g, { noiseSd: 5, correlatedNoise: false }, (d, t) => {
      seen.push(d);
      expect(t).toBe(renderSteps(g));
    });
    expect(renderSteps(g)).toBe(3 * 6 + 2);
    expect(seen.at(-1)).toBe(renderSteps(g));
  });
});
