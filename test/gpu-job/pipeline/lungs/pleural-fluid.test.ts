/**
 * pleuralFluid on drawn columns (lung over a layer over the chest wall, with CT-like noise), in every
 * orientation the rule must follow, and on a phantom with a rendered effusion through the real lung stage.
 */
import { describe, expect, it } from "vitest";
import type { Mat3, Vec3, Volume } from "../../../../core/contracts/volume.js";
import { FastNormal } from "../../../../core/phantom/rng.js";
import { validatePath } from "../../../../core/validation/validate-path.js";
import {
  MAX_PIXEL_MM,
  MIN_LAYER_MM,
  pleuralFluid,
  posteriorAxis,
} from "../../../../gpu-job/pipeline/lungs/pleural-fluid.js";
import { segmentLungs } from "../../../../gpu-job/pipeline/lungs/segment-lungs.js";
import { LUNG_LABEL } from "../../../../gpu-job/pipeline/lungs/types.js";
import { corpusPath } from "../../../helpers/corpus.js";
import { renderSmall } from "./phantom-fixture.js";

type Drawn = Volume & { labels: Uint8Array };
type Axis = { index: 0 | 1 | 2; step: 1 | -1 };

const LUNG_HU = -850;
const MUSCLE_HU = 40;
const FLUID_HU = 12;
const AIR_HU = -1000;

/** One layer of a column, from anterior to posterior: its HU, its lung label, its thickness in voxels. */
type Layer = { hu: number; label?: number; voxels: number };

/**
 * A block 30 voxels wide (x: right lung's columns at i < 12, left's at i >= 18, muscle between) and 8
 * slices deep whose columns run anterior to posterior through `right` and `left` layers (then muscle, then
 * air), on
 * 1 x 1 x 2 mm voxels with 15 HU of Gaussian noise. Returned with i, j, k in the anatomical order
 * (x, y, z); `orient` turns it into another voxel order.
 */
function columns(right: Layer[], left: Layer[], noiseHu = 15): Drawn {
  const nx = 30;
  const ny = 60;
  const nz = 8;
  const data = new Int16Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  const noise = new Float32Array(data.length);
  new FastNormal("pleural-fluid-test").fillNormal(noise);
  for (let k = 0; k < nz; k++)
    for (let i = 0; i < nx; i++) {
      const layers = i < 12 ? right : i >= 18 ? left : [];
      let j = 0;
      for (const layer of [{ hu: MUSCLE_HU, voxels: 5 }, ...layers]) {
        for (let n = 0; n < layer.voxels && j < ny; n++, j++) {
          const o = i + nx * (j + ny * k);
          data[o] = Math.round(layer.hu + (layer.hu > -500 ? noiseHu * noise[o]! : 0));
          labels[o] = layer.label ?? 0;
        }
      }
      // Chest wall behind the layers, then air outside the body.
      for (; j < ny - 6; j++) {
        const o = i + nx * (j + ny * k);
        data[o] = Math.round(MUSCLE_HU + noiseHu * noise[o]!);
      }
      for (; j < ny; j++) data[i + nx * (j + ny * k)] = AIR_HU;
    }
  return {
    dims: [nx, ny, nz],
    spacing: [1, 1, 2],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
    labels,
  };
}

const lung = (side: "right" | "left", voxels = 20): Layer => ({
  hu: LUNG_HU,
  label: LUNG_LABEL[side],
  voxels,
});
const fluid = (voxels: number, hu = FLUID_HU): Layer => ({ hu, voxels });

/** mL of `mm` of fluid under each of 12 columns x 8 slices of 1 x 1 x 2 mm voxels. */
const layerMl = (mm: number) => (12 * 8 * mm * 2) / 1000;

describe("pleuralFluid", () => {
  it("measures a water layer beneath one lung and none beneath the other", () => {
    const v = columns([lung("right"), fluid(12)], [lung("left")]);
    const f = pleuralFluid(v, v.labels)!;
    // 12 mm in every column, give or take the voxel at either edge whose neighbours are half fluid.
    expect(f.ml.right).toBeGreaterThan(layerMl(11));
    expect(f.ml.right).toBeLessThan(layerMl(13));
    expect(f.depthMm.right).toBeGreaterThanOrEqual(11);
    expect(f.ml.left).toBe(0);
    expect(f.axis).toEqual({ index: 1, step: 1 });
  });

  it("counts no layer thinner than MIN_LAYER_MM (the chest wall's partial volume)", () => {
    // Two voxels under: the edge voxel behind a layer can read as water (above).
    const thin = Math.floor(MIN_LAYER_MM) - 2;
    const v = columns([lung("right"), fluid(thin)], [lung("left"), fluid(MIN_LAYER_MM + 3)]);
    const f = pleuralFluid(v, v.labels)!;
    expect(f.ml.right).toBe(0);
    expect(f.ml.left).toBeGreaterThan(0);
  });

  it("takes neither muscle nor blood-dense fluid for water", () => {
    const v = columns([lung("right"), fluid(12, MUSCLE_HU)], [lung("left"), fluid(12, 45)]);
    const f = pleuralFluid(v, v.labels)!;
    expect(f.ml).toEqual({ right: 0, left: 0 });
  });

  it("leaves out fluid with lung beneath it again (the stomach under the dome, the posterior recess below)", () => {
    const v = columns(
      [lung("right", 10), fluid(12), lung("right", 6)],
      [lung("left", 10), fluid(12), lung("left", 6)],
    );
    const f = pleuralFluid(v, v.labels)!;
    expect(f.ml).toEqual({ right: 0, left: 0 });
  });

  it("misses fluid behind a band of collapsed lung thicker than GAP_MM (a documented limit)", () => {
    const v = columns([lung("right"), fluid(6, 50), fluid(12)], [lung("left"), fluid(12)]);
    const f = pleuralFluid(v, v.labels)!;
    expect(f.ml.right).toBe(0);
    expect(f.ml.left).toBeGreaterThan(0.9 * layerMl(12));
  });

  it("holds under 50 HU of noise without fake or split layers", () => {
    const v = columns([lung("right"), fluid(12)], [lung("left")], 50);
    const f = pleuralFluid(v, v.labels)!;
    expect(f.ml.right).toBeGreaterThan(0.8 * layerMl(12));
    expect(f.ml.left).toBeLessThan(0.05 * layerMl(12));
  });

  // The same anatomy stored in other voxel orders: posterior along -j (rows flipped), along i (x and y
  // swapped), and along -k (a coronal stack: j runs along the body). The neighbourhood is the patient's
  // (one axial slice either side, NEIGHBOURHOOD_MM in the axial plane) whichever voxel axes carry it, so the
  // figures are the same to the last digit.
  const orders: [string, (v: Drawn) => Drawn, Axis][] = [
    ["rows stored posterior first", (v) => reorder(v, [0, 1, 2], [1, -1, 1]), { index: 1, step: -1 }],
    ["posterior along i", (v) => reorder(v, [1, 0, 2], [1, 1, 1]), { index: 0, step: 1 }],
    ["posterior along -k", (v) => reorder(v, [0, 2, 1], [1, 1, -1]), { index: 2, step: -1 }],
  ];
  for (const [name, turn, axis] of orders)
    it(`walks the axis nearest posterior whatever the voxel order (${name})`, () => {
      const base = columns([lung("right"), fluid(12)], [lung("left"), fluid(7)]);
      const expected = pleuralFluid(base, base.labels)!;
      const v = turn(base);
      const f = pleuralFluid(v, v.labels)!;
      expect(f.axis).toEqual(axis);
      for (const side of ["right", "left"] as const) {
        expect(expected.ml[side]).toBeGreaterThan(0);
        expect(f.ml[side]).toBeCloseTo(expected.ml[side], 9);
        expect(f.depthMm[side]).toBe(expected.depthMm[side]);
      }
    });

  it("measures a coronal reformat of 5 mm axial slices like the axial stack (its 5 mm rows run head to feet)", () => {
    const drawn = columns([lung("right"), fluid(12)], [lung("left")]);
    const base: Drawn = { ...drawn, spacing: [1, 1, 5] };
    const expected = pleuralFluid(base, base.labels)!;
    const coronal = reorder(base, [0, 2, 1], [1, -1, 1]);
    expect(coronal.spacing).toEqual([1, 5, 1]);
    const f = pleuralFluid(coronal, coronal.labels);
    expect(f).not.toBeNull();
    expect(f!.ml.right).toBeCloseTo(expected.ml.right, 9);
    expect(f!.ml.right).toBeGreaterThan(0);
    // A coronal stack of 5 mm slices is 5 mm across the chest wall behind the lungs: not measured.
    expect(pleuralFluid({ ...coronal, spacing: [1, 1, 5] }, coronal.labels)).toBeNull();
  });

  it("does not measure pixels coarser than MAX_PIXEL_MM", () => {
    const v = columns([lung("right"), fluid(12)], [lung("left")]);
    expect(pleuralFluid({ ...v, spacing: [MAX_PIXEL_MM + 0.1, 1, 2] }, v.labels)).toBeNull();
    expect(pleuralFluid({ ...v, spacing: [MAX_PIXEL_MM, MAX_PIXEL_MM, 5] }, v.labels)).not.toBeNull();
  });

  it("finds a rendered effusion beneath the lung the lung stage segments, and none on the other side", () => {
    const r = renderSmall("normal", 9107, {
      size: 256,
      slices: 120,
      sliceThickness: 2.5,
      effusionMl: { right: 500 },
    });
    const voxelMl = (r.ct.spacing[0] * r.ct.spacing[1] * r.ct.spacing[2]) / 1000;
    const truthMl = r.fluidVoxels[0] * voxelMl;
    expect(truthMl).toBeGreaterThan(450);
    const f = pleuralFluid(r.ct, segmentLungs(r.ct).labels)!;
    // A lower bound: fluid wrapping round the lung's side lies beneath no lung in its column.
    expect(f.ml.right).toBeGreaterThan(0.75 * truthMl);
    expect(f.ml.right).toBeLessThan(1.02 * truthMl);
    expect(f.ml.left).toBeLessThan(5);
  });
});

describe("pleuralFluid on real CT", () => {
  it("reads next to nothing behind three real lung bases (GE, 0.81 mm pixels, 1 mm slices)", async () => {
    // The chest wall and crura behind real lung bases hold fat-streaked muscle whose median can fall in
    // FLUID_HU: measured 0.12 mL right and 0.23 mL left over these 3 mm, some 20 mL over a whole base if
    // every slice read alike, against EFFUSION_WARNING_ML's 100 mL a side.
    const { report, volume } = await validatePath(corpusPath("dicom/real/ct-3slice"), {
      mode: "full",
      purpose: "convert",
    });
    expect(report.accepted).toBe(true);
    const f = pleuralFluid(volume!, segmentLungs(volume!).labels)!;
    expect(f.ml.right + f.ml.left).toBeLessThan(0.5);
  });
});

describe("posteriorAxis", () => {
  it("picks the axis with the largest posterior component and its sign", () => {
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    // Tilted 30 degrees about x: j still mostly posterior.
    expect(posteriorAxis([1, 0, 0, 0, c, -s, 0, s, c])).toEqual({ index: 1, step: 1 });
    // Tilted 60 degrees: k is now nearer posterior than j, pointing anteriorly.
    expect(posteriorAxis([1, 0, 0, 0, s, -c, 0, c, s])).toEqual({ index: 2, step: -1 });
  });
});

/**
 * The same voxels stored in another order: new axis a holds old axis perm[a], flipped where sign[a] is -1;
 * the direction matrix follows, so every voxel keeps its LPS position.
 */
function reorder(v: Drawn, perm: [number, number, number], sign: [number, number, number]): Drawn {
  const od = v.dims;
  const dims = perm.map((p) => od[p]!) as Vec3;
  const spacing = perm.map((p) => v.spacing[p]!) as Vec3;
  const data = new Int16Array(v.data.length);
  const labels = new Uint8Array(v.labels.length);
  const idx = [0, 0, 0];
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const n = [i, j, k];
        for (let a = 0; a < 3; a++) idx[perm[a]!] = sign[a] === 1 ? n[a]! : dims[a]! - 1 - n[a]!;
        const from = idx[0]! + od[0] * (idx[1]! + od[1] * idx[2]!);
        const to = i + dims[0] * (j + dims[1] * k);
        data[to] = v.data[from]!;
        labels[to] = v.labels[from]!;
      }
  // Column a of the new direction: old axis perm[a]'s unit vector (identity here), times its sign.
  const direction = [0, 0, 0, 0, 0, 0, 0, 0, 0] as Mat3;
  for (let a = 0; a < 3; a++) direction[3 * perm[a]! + a] = sign[a]!;
  return { ...v, dims, spacing, direction, data, labels };
}
