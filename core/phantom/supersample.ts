/**
 * Partial volume at coarse pixels. A scanner's pixel value is the attenuation averaged over the pixel's
 * area; the renderer samples each analytic shape at one point. At fine pixels the two agree, but at 2.8 mm a
 * 1 mm vessel is either missed or painted at most of its contrast depending on where it crosses the pixel:
 * the lung becomes a speckle that no scanner makes (a 128x128 normal phantom got 28-59 mL of false lesion
 * from the model, bench/README.md). So a grid whose pixels are coarser than MAX_SAMPLE_SPACING_MM has its
 * HU rendered on a grid `factor` times finer in-plane and area-averaged back, pixel by pixel.
 *
 * In-plane only: the slice's thickness is not integrated (as for every phantom). Masks stay sampled at the
 * pixel centres (the truth is what the voxel's centre belongs to); noise is added after averaging, on the
 * pixels themselves.
 */
import type { Geometry } from "../contracts/volume.js";

/**
 * Pixels up to this size (mm) are sampled at their centres. The training phantoms (1.4 mm) and the
 * acceptance and sample phantoms (0.7 mm) are below it, so they render as before.
 */
export const MAX_SAMPLE_SPACING_MM = 1.5;

/**
 * Most fine samples one phantom may cost (2^28, the generator's voxel budget): a request whose supersampled
 * rendering would take more is rendered with a smaller factor, down to none, rather than for minutes.
 */
export const MAX_FINE_SAMPLES = 2 ** 28;

/** Fine samples rendered at once (a slab of slices): bounds the extra memory to about 80 MB. */
const SLAB_SAMPLES = 2 ** 24;

/** How many times finer, along each in-plane axis, the HU of `grid` is rendered (1: not supersampled). */
export function supersamplingFactor(grid: Geometry): number {
  const pixel = Math.max(grid.spacing[0], grid.spacing[1]);
  const wanted = Math.ceil(pixel / MAX_SAMPLE_SPACING_MM - 1e-9);
  const voxels = grid.dims[0] * grid.dims[1] * grid.dims[2];
  const affordable = Math.floor(Math.sqrt(MAX_FINE_SAMPLES / voxels));
  const f = Math.min(wanted, affordable);
  return f >= 2 ? f : 1;
}

/** The slabs (first slice, slice count) the fine rendering of `grid` at factor f goes through. */
export function slabs(grid: Geometry, f: number): Array<[number, number]> {
  const perSlice = grid.dims[0] * grid.dims[1] * f * f;
  const size = Math.max(1, Math.floor(SLAB_SAMPLES / perSlice));
  const out: Array<[number, number]> = [];
  for (let k = 0; k < grid.dims[2]; k += size) out.push([k, Math.min(size, grid.dims[2] - k)]);
  return out;
}

/**
 * The grid f times finer in-plane over slices k0..k0+nk-1 of `grid`: same direction, pixel (i, j) of `grid`
 * covered by fine pixels (f*i + a, f*j + b), a and b in 0..f-1, whose centres split it evenly.
 */
export function fineSlabGrid(grid: Geometry, f: number, k0: number, nk: number): Geometry {
  const d = grid.direction;
  const [si, sj, sk] = grid.spacing;
  // From the coarse pixel's centre to its first fine pixel's centre: half a coarse pixel less half a fine one.
  const shiftI = si * (1 / (2 * f) - 0.5);
  const shiftJ = sj * (1 / (2 * f) - 0.5);
  const shiftK = sk * k0;
  const origin = [0, 1, 2].map(
    (r) => grid.origin[r]! + d[3 * r]! * shiftI + d[3 * r + 1]! * shiftJ + d[3 * r + 2]! * shiftK,
  ) as Geometry["origin"];
  return {
    dims: [grid.dims[0] * f, grid.dims[1] * f, nk],
    spacing: [si / f, sj / f, sk],
    origin,
    direction: [...grid.direction] as Geometry["direction"],
  };
}

/**
 * Area-average the fine slab `fine` (nx*f by ny*f by nk) into slices k0.. of `out` (nx by ny), rounding
 * to whole HU.
 */
export function averageInto(
  fine: Int16Array,
  f: number,
  nx: number,
  ny: number,
  nk: number,
  out: Int16Array,
  k0: number,
): void {
  const fx = nx * f;
  const finePlane = fx * ny * f;
  const area = f * f;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < ny; j++) {
      let o = nx * (j + ny * (k0 + k));
      for (let i = 0; i < nx; i++, o++) {
        let sum = 0;
        for (let b = 0; b < f; b++) {
          const row = k * finePlane + fx * (f * j + b) + f * i;
          for (let a = 0; a < f; a++) sum += fine[row + a]!;
        }
        out[o] = Math.round(sum / area);
      }
    }
  }
}
