import { describe, expect, it } from "vitest";
import type { Mat3, Vec3 } from "../../../../core/contracts/volume.js";
import { toNative } from "../../../../gpu-job/pipeline/postprocess/to-native.js";
import { buildModelGrid, type ModelGrid } from "../../../../gpu-job/pipeline/preprocess/model-grid.js";
import { orientedView } from "../../../../gpu-job/pipeline/preprocess/orientation.js";
import { testPreprocessing, functionVolume as volume } from "../fixtures.js";

const opts = { threshold: 0, evidenceRange: [0, 1] as [number, number], lungMask: null };

describe("toNative", () => {
  // Where the model grid equals the native grid (same in-plane size, 2.5 mm slices), mapping a function of
  // the preprocessed image back must land on exactly the native voxels it came from, whatever the
  // orientation the scan was stored in.
  for (const [name, direction] of [
    ["axial", [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ["descending", [1, 0, 0, 0, 1, 0, 0, 0, -1]],
    ["flipped in plane", [-1, 0, 0, 0, -1, 0, 0, 0, 1]],
    ["coronal", [1, 0, 0, 0, 0, 1, 0, -1, 0]],
  ] as [string, Mat3][]) {
    it(`puts every voxel back where it was (${name})`, () => {
      const dims: Vec3 = [6, 6, 6];
      const spacing: Vec3 = name === "coronal" ? [1, 2.5, 1] : [1, 1, 2.5];
      const vol = volume(dims, spacing, direction, (i, j, k) =>
        (i * 7 + j * 3 + k * 5) % 11 < 5 ? -900 : -300,
      );
      const grid = buildModelGrid(
        vol,
        null,
        testPreprocessing({ size: [6, 6], mask: false, stack: 2, tile: 2, overlap: 0 }),
      );
      expect(grid.depth).toBe(6);
      // "Lesion" where the normalised value exceeds that of -600 HU.
      const logits = grid.image.map((v) => v - 800 / 1600);
      const maps = toNative(grid, logits, grid.image, opts);
      for (let n = 0; n < vol.data.length; n++)
        expect(maps.lesions[n], `voxel ${n}`).toBe((vol.data[n] as number) > -600 ? 1 : 0);
      expect(maps.lesionVoxels).toBe(vol.data.filter((v) => v > -600).length);
    });
  }

  it("interpolates bilinearly with align_corners=False and quantises evidence to 8 bits", () => {
    const grid: ModelGrid = {
      image: new Float32Array(4),
      depth: 1,
      height: 2,
      width: 2,
      zPositions: Float64Array.from([0]),
      zRange: [0, 2],
      view: orientedView({
        dims: [4, 1, 3],
        spacing: [1, 1, 1],
        origin: [0, 0, 0],
        direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      }),
      voxelMl: 1,
      columns: { n: 4, size: 2, start: -0.5, step: 2 },
      rows: { n: 1, size: 2, start: -0.5, step: 0.5 },
    };
    const evidence = Float32Array.from([0, 1, 0, 1]);
    const maps = toNative(grid, Float32Array.from([-1, 1, -1, 1]), evidence, opts);
    // Native x reads model x at (x + 0.5) / 2 - 0.5 = 0 (clamped), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(maps.evidence.subarray(0, 4))).toEqual([0, 64, 191, 255]);
    expect(Array.from(maps.lesions.subarray(0, 4))).toEqual([0, 0, 1, 1]);
    // A single model slice covers every native slice.
    expect(Array.from(maps.evidence.subarray(8, 12))).toEqual([0, 64, 191, 255]);
  });

  it("with a fixed model pixel size, maps back through the same centred grid (any field of view)", () => {
    // 10 native pixels of 1 mm, model pixels of 2 mm, 4 of them: the model grid covers native x 0.5 .. 8.5
    // (centred on 4.5); native pixels 0 and 9 lie beyond it: the model never saw them, so they are background
    // with the least evidence (they used to copy the window's edge column).
    const vol = volume([10, 10, 2], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], (i) => (i < 5 ? -1400 : 200));
    const p = { ...testPreprocessing({ size: [4, 4], mask: false, stack: 2, tile: 2, overlap: 0 }) };
    p.inPlane = { ...p.inPlane, spacingMm: 2 };
    const grid = buildModelGrid(vol, null, p);
    expect(grid.columns).toEqual({ n: 10, size: 4, start: 0.5, step: 2 });
    // Model pixel 1 covers native [2.5, 4.5): pixels 3 and 4, both -1400 -> 0; model pixel 2 covers
    // [4.5, 6.5): native 5 and 6, both 200 -> 1.
    expect(Array.from(grid.image.subarray(0, 4))).toEqual([0, 0, 1, 1]);
    const maps = toNative(
      grid,
      grid.image.map((v) => v - 0.5),
      grid.image,
      opts,
    );
    // Row 1 (rows 0 and 9 lie outside the window too).
    expect(Array.from(maps.lesions.subarray(10, 20))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
    expect(Array.from(maps.evidence.subarray(10, 20))).toEqual([0, 0, 0, 0, 64, 191, 255, 255, 255, 0]);
    for (const row of [0, 9]) {
      expect(Array.from(maps.evidence.subarray(row * 10, row * 10 + 10)).every((v) => v === 0)).toBe(true);
      expect(Array.from(maps.lesions.subarray(row * 10, row * 10 + 10)).every((v) => v === 0)).toBe(true);
    }
    const logits = new Int16Array(vol.data.length);
    toNative(
      grid,
      grid.image.map((v) => v - 0.5),
      grid.image,
      { ...opts, logitsInto: logits, lesions: false },
    );
    expect(logits[19]).toBe(-32768); // the lowest logit the store holds, as for slices past zRange
    expect(logits[18]).toBeGreaterThan(0);
    // An oblique scan's views take the window's edge instead (their weighted mean must not read one
    // view's "never seen" as evidence against the other's lesion).
    const edge = toNative(
      grid,
      grid.image.map((v) => v - 0.5),
      grid.image,
      { ...opts, outsideWindow: "edge" },
    );
    expect(Array.from(edge.lesions.subarray(10, 20))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it("keeps lesions inside the lung mask", () => {
    const vol = volume([4, 4, 2], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], () => 0);
    const grid = buildModelGrid(
      vol,
      null,
      testPreprocessing({ size: [4, 4], mask: false, stack: 2, tile: 2, overlap: 0 }),
    );
    const lung = Uint8Array.from({ length: 32 }, (_, i) => (i < 16 ? 1 : 0));
    const maps = toNative(grid, new Float32Array(grid.image.length).fill(3), grid.image, {
      ...opts,
      lungMask: lung,
    });
    expect(Array.from(maps.lesions)).toEqual(Array.from(lung));
    expect(maps.lesionVoxels).toBe(16);
  });
});

describe("toNative with a model grid cropped to the lungs", () => {
  for (const [name, direction] of [
    ["ascending", [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ["descending", [1, 0, 0, 0, 1, 0, 0, 0, -1]],
  ] as [string, Mat3][]) {
    it(`maps the cropped slices back in place and makes the rest background (${name})`, () => {
      const dims: Vec3 = [6, 6, 10];
      const vol = volume(dims, [1, 1, 2.5], direction, (i, j, k) => ((i + j + k) % 3 === 0 ? -300 : -900));
      const lungs = new Uint8Array(vol.data.length);
      for (let k = 3; k <= 7; k++) lungs.fill(1, k * 36, (k + 1) * 36); // native slices 3..7
      const grid = buildModelGrid(
        vol,
        lungs,
        testPreprocessing({ size: [6, 6], stack: 2, tile: 2, overlap: 0, zCrop: "lung-extent" }),
      );
      expect(grid.depth).toBe(5);
      // Lesion wherever the image is brighter than -600 HU; evidence 1 everywhere on the model grid.
      const logits = grid.image.map((v) => v - 800 / 1600);
      const logitsInto = new Int16Array(vol.data.length);
      const maps = toNative(grid, logits, new Float32Array(grid.image.length).fill(1), {
        ...opts,
        logitsInto,
      });
      for (let k = 0; k < 10; k++)
        for (let n = k * 36; n < (k + 1) * 36; n++) {
          const inside = k >= 3 && k <= 7;
          expect(maps.lesions[n], `voxel ${n}`).toBe(inside && (vol.data[n] as number) > -600 ? 1 : 0);
          expect(maps.evidence[n]).toBe(inside ? 255 : 0);
          if (!inside) expect(logitsInto[n]).toBe(-32768);
        }
    });
  }
});
