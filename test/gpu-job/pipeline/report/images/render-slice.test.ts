/**
 * Key images follow the radiological convention from the direction matrix, not from array order: the same
 * patient-space scene sampled on grids with flipped, reversed and permuted axes must render to the same
 * picture, with the physical aspect ratio kept (square pixels, anisotropic spacing resampled).
 */
import { describe, expect, it } from "vitest";
import type { Geometry, Mat3, Vec3, Volume } from "../../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../../core/geometry/affine.js";
import { orientedView } from "../../../../../gpu-job/pipeline/preprocess/orientation.js";
import { chooseKeyLevels, maskProfile } from "../../../../../gpu-job/pipeline/report/images/key-levels.js";
import type { Raster } from "../../../../../gpu-job/pipeline/report/images/raster.js";
import { renderSlice, sliceImageSize } from "../../../../../gpu-job/pipeline/report/images/render-slice.js";

/** The scene: a 120 mm cube centred at the origin; lesion balls at LPS points. */
const HALF = 60;
const RIGHT_ANTERIOR_SUPERIOR: Vec3 = [-30, -30, 30];
const BALL_MM = 9;

/** A grid covering the cube with the given axis directions (columns of direction) and spacing. */
function grid(axes: [Vec3, Vec3, Vec3], spacing: Vec3): Geometry {
  const dims = spacing.map((s) => Math.round((2 * HALF) / s)) as Vec3;
  // Voxel (0,0,0) centre: start at the cube corner each axis points away from.
  const origin: Vec3 = [0, 0, 0];
  for (let a = 0; a < 3; a++)
    for (let c = 0; c < 3; c++) origin[c] = origin[c]! - axes[a]![c]! * (HALF - spacing[a]! / 2);
  const direction = [0, 1, 2].flatMap((r) => [axes[0]![r]!, axes[1]![r]!, axes[2]![r]!]) as Mat3;
  return { dims, spacing, origin, direction };
}

function scene(g: Geometry, balls: Vec3[]): { volume: Volume; lesions: Uint8Array; lungs: Uint8Array } {
  const [nx, ny, nz] = g.dims;
  const data = new Int16Array(nx * ny * nz).fill(-800);
  const lesions = new Uint8Array(nx * ny * nz);
  const lungs = new Uint8Array(nx * ny * nz).fill(1);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = voxelCentre(g, i, j, k);
        if (balls.some((b) => Math.hypot(p[0] - b[0], p[1] - b[1], p[2] - b[2]) <= BALL_MM)) {
          lesions[i + nx * (j + ny * k)] = 1;
          data[i + nx * (j + ny * k)] = -300;
        }
      }
  return { volume: { ...g, data }, lesions, lungs };
}

/** Centroid and extent of the lesion-coloured pixels, as fractions of the image size. */
function lesionBlob(r: Raster) {
  let n = 0;
  let su = 0;
  let sv = 0;
  let minU = Infinity;
  let maxU = -Infinity;
  let minV = Infinity;
  let maxV = -Infinity;
  for (let v = 0; v < r.height; v++)
    for (let u = 0; u < r.width; u++) {
      const p = 3 * (u + r.width * v);
      if (r.data[p]! - r.data[p + 2]! > 80) {
        n++;
        su += u;
        sv += v;
        minU = Math.min(minU, u);
        maxU = Math.max(maxU, u);
        minV = Math.min(minV, v);
        maxV = Math.max(maxV, v);
      }
    }
  return {
    n,
    u: (su / n + 0.5) / r.width,
    v: (sv / n + 0.5) / r.height,
    w: maxU - minU + 1,
    h: maxV - minV + 1,
  };
}

const L: Vec3 = [1, 0, 0];
const R: Vec3 = [-1, 0, 0];
const P: Vec3 = [0, 1, 0];
const A: Vec3 = [0, -1, 0];
const S: Vec3 = [0, 0, 1];
const I: Vec3 = [0, 0, -1];

const GRIDS: [string, Geometry][] = [
  ["LPS axial (i left, j posterior, k superior)", grid([L, P, S], [2, 2, 4])],
  ["i towards the right", grid([R, P, S], [2, 2, 4])],
  ["j anterior, k inferior (reversed stack)", grid([L, A, I], [2, 2, 4])],
  ["coronal acquisition (j inferior, k posterior)", grid([L, I, P], [2, 4, 2])],
  ["sagittal acquisition (i posterior, j inferior, k left)", grid([P, I, L], [2, 2, 4])],
];

describe.each(GRIDS)("key images of a grid with %s", (_, g) => {
  const s = scene(g, [RIGHT_ANTERIOR_SUPERIOR]);
  const view = orientedView(g);
  const levels = chooseKeyLevels(maskProfile(s.lesions, g.dims), () => maskProfile(s.lungs, g.dims), view);

  it("puts the patient's right on the image's left and anterior up in the axial view", () => {
    expect(levels.axial).toHaveLength(1);
    const img = renderSlice({ ...s, view, plane: "axial", index: levels.axial[0]!.index });
    const blob = lesionBlob(img);
    expect(blob.n).toBeGreaterThan(0);
    // x = -30 of [-60, 60] is a quarter from the left; y = -30 (anterior) a quarter from the top.
    expect(blob.u).toBeCloseTo(0.25, 1);
    expect(blob.v).toBeCloseTo(0.25, 1);
    // A ball: as wide as it is high on screen.
    expect(Math.abs(blob.w - blob.h)).toBeLessThanOrEqual(2);
  });

  it("puts the patient's right on the left and superior up in the coronal view, with square pixels", () => {
    const img = renderSlice({ ...s, view, plane: "coronal", index: levels.coronal });
    // 120 mm by 120 mm whatever the spacing along z.
    expect(img.width).toBe(img.height);
    const blob = lesionBlob(img);
    expect(blob.u).toBeCloseTo(0.25, 1);
    expect(blob.v).toBeCloseTo(0.25, 1);
    expect(Math.abs(blob.w - blob.h) / blob.w).toBeLessThan(0.2);
  });
});

describe("slice rendering", () => {
  it("maps HU through the lung window (W 1500 / L -600)", () => {
    const g = grid([L, P, S], [4, 4, 4]);
    const n = g.dims[0] * g.dims[1] * g.dims[2];
    const empty = new Uint8Array(n);
    const grey = (hu: number) => {
      const img = renderSlice({
        volume: { ...g, data: new Int16Array(n).fill(hu) },
        lesions: empty,
        lungs: empty,
        view: orientedView(g),
        plane: "axial",
        index: 10,
      });
      const p = 3 * (Math.floor(img.width / 3) + img.width * Math.floor(img.height / 3));
      return [img.data[p], img.data[p + 1], img.data[p + 2]];
    };
    expect(grey(-600)).toEqual([128, 128, 128]);
    expect(grey(-1350)).toEqual([0, 0, 0]);
    expect(grey(-2000)).toEqual([0, 0, 0]);
    expect(grey(150)).toEqual([255, 255, 255]);
    expect(grey(1000)).toEqual([255, 255, 255]);
  });

  it("upsamples small matrices to at least 512 pixels and caps large ones at 768, keeping the aspect", () => {
    const small = orientedView(grid([L, P, S], [4, 4, 4]));
    expect(sliceImageSize(small, "axial")).toMatchObject({ width: 512, height: 512 });
    const big = orientedView({
      ...grid([L, P, S], [1, 1, 1]),
      dims: [1000, 500, 20],
      spacing: [0.5, 0.5, 5],
    });
    const s = sliceImageSize(big, "axial");
    expect(s.width).toBe(768);
    expect(s.height).toBe(384);
    // Coronal: 500 mm wide, 100 mm high.
    const c = sliceImageSize(big, "coronal");
    expect(c.width / c.height).toBeCloseTo(5, 1);
  });
});
