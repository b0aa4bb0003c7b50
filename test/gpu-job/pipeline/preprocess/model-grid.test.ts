import { describe, expect, it } from "vitest";
import type { Mat3, Vec3, Volume } from "../../../../core/contracts/volume.js";
import {
  areaResize,
  axisMap,
  buildModelGrid,
  buildStack,
  coarserThanModel,
  lungBox,
  type Preprocessing,
  stackIndices,
  thickerThanModel,
  windowOnLungs,
  zPositions,
} from "../../../../gpu-job/pipeline/preprocess/model-grid.js";
import { nativeIndex, orientedView } from "../../../../gpu-job/pipeline/preprocess/orientation.js";
import { testPreprocessing, functionVolume as volume } from "../fixtures.js";

describe("zPositions", () => {
  it("steps by target / dz up to the last native slice", () => {
    expect(Array.from(zPositions(11, 1, 2.5))).toEqual([0, 2.5, 5, 7.5, 10]);
    expect(Array.from(zPositions(3, 5, 2.5))).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(Array.from(zPositions(4, 1, null))).toEqual([0, 1, 2, 3]);
    expect(zPositions(1, 5, 2.5).length).toBe(1);
  });
  it("refuses an empty scan or a non-positive spacing", () => {
    expect(() => zPositions(0, 1, 2.5)).toThrow(RangeError);
    expect(() => zPositions(3, 0, 2.5)).toThrow(RangeError);
  });
});

describe("areaResize", () => {
  it("averages the adaptive-pooling windows (overlapping when the size does not divide)", () => {
    // 3 -> 2: windows [0,1] and [1,2] (PyTorch adaptive_avg_pool semantics).
    const src = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const out = areaResize(src, 3, 3, 2, 2);
    expect(Array.from(out)).toEqual([3, 4, 6, 7]);
  });
  it("is the identity at the same size and an exact mean when the size divides", () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i * 0.5);
    expect(Array.from(areaResize(src, 4, 4, 4, 4))).toEqual(Array.from(src));
    const half = areaResize(src, 4, 4, 2, 2);
    expect(half[0]).toBeCloseTo((0 + 0.5 + 2 + 2.5) / 4, 6);
  });
});

describe("a fixed model pixel size", () => {
  it("averages by exact overlap, centred on the field of view, with zero beyond it", () => {
    // 6 native pixels of 1 mm -> 2 model pixels of 4 mm: centred on native 2.5, covering [-1.5, 6.5).
    const vol = volume([6, 1, 1], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], () => 200);
    const p = testPreprocessing({ size: [1, 2], mask: false, spacing: null });
    p.inPlane = { ...p.inPlane, spacingMm: 4 };
    const grid = buildModelGrid(vol, null, p);
    // Along x each model pixel holds 3 of its 4 mm inside the scan; along y the single 1 mm row fills 1 of
    // 4 mm. Everything inside is at the top of the window (1.0): 0.75 x 0.25.
    expect(grid.image[0]).toBeCloseTo(0.1875, 6);
    expect(grid.image[1]).toBeCloseTo(0.1875, 6);
    expect(grid.voxelMl).toBeCloseTo((2.5 * 4 * 4) / 1000, 9);
  });

  it("counts a gantry-tilted (sheared) grid's voxels by their true volume, and its slices by their separation", () => {
    const t = (20 * Math.PI) / 180;
    // Image planes tilted 20 degrees about x, stacked along patient z (DICOM positions step in z only).
    const tilted: Mat3 = [1, 0, 0, 0, Math.cos(t), 0, 0, Math.sin(t), 1];
    const straight: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const p = testPreprocessing({ size: [4, 4], mask: false, spacing: null });
    const grid = (d: Mat3, k = 2.5) =>
      buildModelGrid(
        volume([8, 8, 6], [1, 1, k], d, () => 0),
        null,
        p,
      );
    expect(grid(tilted).voxelMl).toBeCloseTo(grid(straight).voxelMl * Math.cos(t), 12);
    // 5.3 mm along k is 4.98 mm between the tilted planes: within twice the 2.5 mm grid, unlike 5.3 mm straight.
    const g = (d: Mat3) => ({
      dims: [8, 8, 6] as Vec3,
      spacing: [1, 1, 5.3] as Vec3,
      origin: [0, 0, 0] as Vec3,
      direction: d,
    });
    const zGrid = testPreprocessing({ size: [4, 4] });
    expect(zGrid.zResampling.spacingMm).toBe(2.5);
    expect(thickerThanModel(g(straight), zGrid, 2)).toEqual({ nativeMm: 5.3, modelMm: 2.5, ratio: 2 });
    expect(thickerThanModel(g(tilted), zGrid, 2)).toBeNull();
  });

  it("scales the model pixel along x and y by pixelScale (the lungScale rule), and its voxel volume with it", () => {
    const vol = volume([40, 30, 2], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], (i, j) => (i + j) % 7);
    const p = testPreprocessing({ size: [4, 4], mask: false, spacing: null });
    p.inPlane = { ...p.inPlane, spacingMm: 5 };
    const plain = buildModelGrid(vol, null, p);
    expect(buildModelGrid(vol, null, p, [1, 1]).image).toEqual(plain.image);
    const scaled = buildModelGrid(vol, null, p, [1.2, 0.8]);
    expect(scaled.columns.step).toBeCloseTo(plain.columns.step * 1.2, 12);
    expect(scaled.rows.step).toBeCloseTo(plain.rows.step * 0.8, 12);
    expect(scaled.voxelMl).toBeCloseTo(plain.voxelMl * 1.2 * 0.8, 12);
    // Still centred on the field of view.
    const centre = (m: typeof plain.columns) => m.start + (m.size * m.step) / 2;
    expect(centre(scaled.columns)).toBeCloseTo(centre(plain.columns), 9);
    // Without a fixed model pixel there is nothing to scale: the whole field of view is resized.
    const whole = testPreprocessing({ size: [4, 4], mask: false, spacing: null });
    whole.inPlane = { ...whole.inPlane, spacingMm: null };
    expect(buildModelGrid(vol, null, whole, [1.2, 0.8]).image).toEqual(
      buildModelGrid(vol, null, whole).image,
    );
  });

  it("is exactly the whole-field resize when the field of view is size x spacing", () => {
    const vol = volume(
      [8, 8, 3],
      [0.5, 0.5, 2.5],
      [1, 0, 0, 0, 1, 0, 0, 0, 1],
      (i, j, k) => -1000 + 37 * i + 11 * j + 5 * k,
    );
    const a = buildModelGrid(vol, null, testPreprocessing({ mask: false }));
    const p = testPreprocessing({ mask: false });
    p.inPlane = { ...p.inPlane, spacingMm: 1 };
    const b = buildModelGrid(vol, null, p);
    for (let i = 0; i < a.image.length; i++) expect(b.image[i]).toBeCloseTo(a.image[i] as number, 6);
  });
});

describe("the window on the lungs (fixed model pixel size)", () => {
  // 10 model pixels of 1 native pixel each, centred on 0..19: native [4.5, 14.5).
  const m = axisMap(20, 1, 10, 1);

  it("stays centred when the lungs fit, and moves the least that brings them in", () => {
    expect(m.start).toBe(4.5);
    expect(windowOnLungs(m, 5, 14)).toBe(m);
    expect(windowOnLungs(m, 2, 8).start).toBe(1.5);
    expect(windowOnLungs(m, 12, 18).start).toBe(8.5);
    // Wider than the window: centred on them.
    expect(windowOnLungs(m, 0, 19).start).toBe(4.5);
    expect(windowOnLungs(m, 0, 13).start).toBe(1.5);
  });

  it("finds the lungs' extent on the oriented axes", () => {
    // i runs to the patient's right (x flipped), j posterior: native i 1..2 is oriented x 5..6 of 8.
    const flippedX: Mat3 = [-1, 0, 0, 0, 1, 0, 0, 0, 1];
    const v = volume([8, 6, 3], [1, 1, 1], flippedX, () => 0);
    const mask = new Uint8Array(v.data.length);
    mask[1 + 8 * (3 + 6 * 1)] = 1;
    mask[2 + 8 * (4 + 6 * 2)] = 2;
    expect(lungBox(orientedView(v), mask)).toEqual([5, 6, 3, 4, 1, 2]);
    expect(lungBox(orientedView(v), new Uint8Array(v.data.length))).toBeNull();
  });

  it("moves the model grid onto lungs that lie off the centre of a wide field of view", () => {
    // 40 native pixels of 1 mm, 4 model pixels of 5 mm: a 20 mm window centred on 19.5 covers 9.5..29.5.
    const v = volume([40, 40, 2], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], () => -800);
    const mask = new Uint8Array(v.data.length);
    for (let k = 0; k < 2; k++)
      for (let j = 15; j < 25; j++) for (let i = 25; i < 38; i++) mask[i + 40 * (j + 40 * k)] = 1;
    const p = testPreprocessing({ spacing: null });
    p.inPlane = { ...p.inPlane, spacingMm: 5 };
    const grid = buildModelGrid(v, mask, p);
    expect(grid.columns.start).toBe(17.5);
    expect(grid.rows.start).toBe(9.5);
    // All the lung is inside: each model pixel averages over its 25 mm², so the image sums to the native
    // lung's (13 x 10 pixels at (-800 + 1400) / 1600 = 0.375, on 2 slices) over 25. The centred window
    // held only 4.5 of the 13 columns.
    let sum = 0;
    for (const x of grid.image) sum += x;
    expect(sum).toBeCloseTo((2 * 13 * 10 * 0.375) / 25, 5);
  });
});

describe("coarserThanModel", () => {
  const geometry = (dims: [number, number, number], spacing: [number, number, number], direction: Mat3) => ({
    dims,
    spacing,
    origin: [0, 0, 0] as [number, number, number],
    direction,
  });
  const axial: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const fixed = (mm: number) => {
    const p = testPreprocessing({ size: [128, 128] });
    p.inPlane = { ...p.inPlane, spacingMm: mm };
    return p;
  };

  it("is null at or below the model's pixel, tolerating rounding of the same size", () => {
    expect(coarserThanModel(geometry([512, 512, 10], [0.7, 0.7, 2.5], axial), fixed(2.8125))).toBeNull();
    expect(
      coarserThanModel(geometry([128, 128, 10], [360 / 128, 360 / 128, 2.5], axial), fixed(2.8125)),
    ).toBeNull();
  });

  it("reports the coarser in-plane axis of the oriented scan", () => {
    expect(coarserThanModel(geometry([96, 96, 10], [3.75, 3.75, 2.5], axial), fixed(2.8125))).toEqual({
      nativeMm: 3.75,
      modelMm: 2.8125,
    });
    // Coronal slices: native i is x, native k (4 mm apart) is y; j (0.7 mm) is z and does not count.
    const coronal: Mat3 = [1, 0, 0, 0, 0, 1, 0, -1, 0];
    expect(coarserThanModel(geometry([512, 300, 90], [0.7, 0.7, 4], coronal), fixed(2.8125))).toEqual({
      nativeMm: 4,
      modelMm: 2.8125,
    });
  });

  it("compares with the model pixel the scan was really seen on, scaled to the patient's lungs", () => {
    // 2.81 mm pixels of a small chest seen on 2.8125 * 0.7 = 1.97 mm model pixels: upsampled, coarse.
    const small = geometry([128, 128, 10], [2.81, 2.81, 2.5], axial);
    expect(coarserThanModel(small, fixed(2.8125))).toBeNull();
    expect(coarserThanModel(small, fixed(2.8125), [0.7, 0.7])).toEqual({
      nativeMm: 2.81,
      modelMm: 2.8125 * 0.7,
    });
    // 3.3 mm pixels of a large chest seen on 2.8125 * 1.3 = 3.66 mm: downsampled, not coarse.
    const large = geometry([128, 128, 10], [3.3, 3.3, 2.5], axial);
    expect(coarserThanModel(large, fixed(2.8125))).not.toBeNull();
    expect(coarserThanModel(large, fixed(2.8125), [1.3, 1.3])).toBeNull();
    // Each axis by its own factor (columns x, rows y).
    expect(coarserThanModel(small, fixed(2.8125), [1, 0.7])).toEqual({
      nativeMm: 2.81,
      modelMm: 2.8125 * 0.7,
    });
  });

  it("without a fixed model pixel, compares with the field of view over the model's size", () => {
    const whole = testPreprocessing({ size: [128, 128], spacing: null });
    expect(coarserThanModel(geometry([128, 128, 10], [5, 5, 2.5], axial), whole)).toBeNull();
    expect(coarserThanModel(geometry([64, 64, 10], [5, 5, 2.5], axial), whole)).toEqual({
      nativeMm: 5,
      modelMm: 2.5,
    });
  });
});

describe("stackIndices", () => {
  it("spreads evenly and includes both ends", () => {
    expect(Array.from(stackIndices(10, 4))).toEqual([0, 3, 6, 9]);
    expect(Array.from(stackIndices(2, 5))).toEqual([0, 0, 1, 1, 1]);
    expect(Array.from(stackIndices(7, 1))).toEqual([0]);
  });
});

describe("buildModelGrid", () => {
  const f = (i: number, j: number, k: number) => -1500 + 100 * i + 37 * j + 11 * k;

  /** The definition, spelled out: orient, normalise, mask, interpolate in z, average in plane. */
  function reference(vol: Volume, mask: Uint8Array, p: Preprocessing): Float32Array {
    const v = orientedView(vol);
    const [nx, ny, nz] = v.dims;
    const norm = (x: number, y: number, z: number) => {
      const idx = nativeIndex(v, x, y, z);
      const hu = vol.data[idx] as number;
      const c = Math.min(Math.max(hu, p.huWindow[0]), p.huWindow[1]);
      return mask[idx] ? (c - p.huWindow[0]) / (p.huWindow[1] - p.huWindow[0]) : 0;
    };
    const pos = zPositions(nz, v.spacing[2], p.zResampling.spacingMm);
    const [h, w] = p.inPlane.size;
    const out = new Float32Array(pos.length * h * w);
    pos.forEach((pz, j) => {
      const lo = Math.min(Math.floor(pz), nz - 1);
      const hi = Math.min(lo + 1, nz - 1);
      const fr = pz - lo;
      const slice = new Float32Array(nx * ny);
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++)
          slice[y * nx + x] = norm(x, y, lo) + (norm(x, y, hi) - norm(x, y, lo)) * fr;
      for (let oy = 0; oy < h; oy++)
        for (let ox = 0; ox < w; ox++) {
          let s = 0;
          let n = 0;
          for (let y = Math.floor((oy * ny) / h); y < Math.ceil(((oy + 1) * ny) / h); y++)
            for (let x = Math.floor((ox * nx) / w); x < Math.ceil(((ox + 1) * nx) / w); x++) {
              s += slice[y * nx + x] as number;
              n++;
            }
          out[j * h * w + oy * w + ox] = s / n;
        }
    });
    return out;
  }

  for (const [name, direction] of [
    ["axial LPS", [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ["descending", [1, 0, 0, 0, 1, 0, 0, 0, -1]],
    ["RAS-stored", [-1, 0, 0, 0, -1, 0, 0, 0, 1]],
  ] as [string, Mat3][]) {
    it(`matches the definition for a ${name} scan`, () => {
      const vol = volume([6, 5, 7], [0.8, 0.8, 1.25], direction, f);
      const mask = Uint8Array.from({ length: vol.data.length }, (_, i) => (i % 7 === 3 ? 0 : 1));
      const p = testPreprocessing();
      const grid = buildModelGrid(vol, mask, p);
      const ref = reference(vol, mask, p);
      expect(grid.depth).toBe(4); // (7-1)*1.25/2.5 + 1
      expect(grid.image.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) expect(grid.image[i]).toBeCloseTo(ref[i] as number, 5);
      // Model voxel: 2.5 mm x (0.8*5/4) x (0.8*6/4) mm.
      expect(grid.voxelMl).toBeCloseTo((2.5 * 1 * 1.2) / 1000, 9);
    });
  }

  it("orders the model grid superior-last whatever the slice order", () => {
    const up = volume([4, 4, 5], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], (_i, _j, k) => -1000 + 100 * k);
    const down = { ...up, direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] as Mat3 };
    const mask = new Uint8Array(up.data.length).fill(1);
    const a = buildModelGrid(up, mask, testPreprocessing());
    const b = buildModelGrid(down, mask, testPreprocessing());
    expect(a.image[0]).toBeLessThan(a.image[a.image.length - 1] as number);
    expect(b.image[0]).toBeGreaterThan(b.image[b.image.length - 1] as number);
  });

  it("zeroes everything outside the lung mask and ignores the mask when masking is off", () => {
    const vol = volume([4, 4, 3], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], () => -600);
    const none = new Uint8Array(vol.data.length);
    expect(buildModelGrid(vol, none, testPreprocessing()).image.every((v) => v === 0)).toBe(true);
    const off = buildModelGrid(vol, none, testPreprocessing({ mask: false }));
    expect(off.image[0]).toBeCloseTo(800 / 1600, 6);
    expect(() => buildModelGrid(vol, null, testPreprocessing())).toThrow(/lung mask/);
    expect(() => buildModelGrid(vol, new Uint8Array(3), testPreprocessing())).toThrow(/grids differ/);
  });

  it("builds the stack from evenly spaced model slices", () => {
    const vol = volume([4, 4, 9], [1, 1, 2.5], [1, 0, 0, 0, 1, 0, 0, 0, 1], (_i, _j, k) => -1400 + 100 * k);
    const grid = buildModelGrid(vol, null, testPreprocessing({ mask: false }));
    const stack = buildStack(grid, 3);
    expect([stack[0], stack[16], stack[32]].map((v) => Math.round((v as number) * 1600 - 1400))).toEqual([
      -1400, -1000, -600,
    ]);
  });
});

describe("buildModelGrid with zCrop lung-extent", () => {
  const I: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  // 20 slices of 5 mm; lung on native slices 6..14 only; HU rises 5 per slice.
  const vol = volume([8, 8, 20], [1, 1, 5], I, (_i, _j, k) => -1000 + 5 * k);
  const lungs = new Uint8Array(vol.data.length);
  for (let k = 6; k <= 14; k++) lungs.fill(1, k * 64, (k + 1) * 64);
  const p = (zCrop?: "none" | "lung-extent") =>
    testPreprocessing({ size: [8, 8], zCrop, stack: 2, tile: 2, overlap: 0 });

  it("covers only the slices from the first to the last holding lung, at the model's spacing", () => {
    const grid = buildModelGrid(vol, lungs, p("lung-extent"));
    expect(grid.zRange).toEqual([6, 14]);
    expect(grid.depth).toBe(17); // 9 slices of 5 mm -> 17 of 2.5 mm
    expect(Array.from(grid.zPositions.slice(0, 3))).toEqual([6, 6.5, 7]);
    // Model slice 1 sits half-way between native slices 6 and 7.
    expect(grid.image[64]).toBeCloseTo((-1000 + 5 * 6.5 + 1400) / 1600, 5);
  });

  it("keeps the whole scan without zCrop, with 'none', and when there is no lung at all", () => {
    for (const grid of [
      buildModelGrid(vol, lungs, p()),
      buildModelGrid(vol, lungs, p("none")),
      buildModelGrid(vol, new Uint8Array(vol.data.length), p("lung-extent")),
    ]) {
      expect(grid.zRange).toEqual([0, 19]);
      expect(grid.depth).toBe(39);
    }
  });

  it("finds the lung's slices through a descending (flipped) z axis", () => {
    const flipped: Volume = { ...vol, direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };
    // Native slices 6..14 are oriented slices 19-14 .. 19-6 = 5..13.
    expect(buildModelGrid(flipped, lungs, p("lung-extent")).zRange).toEqual([5, 13]);
  });
});
