/**
 * Air behind a thin wall is outside the patient. A lung is wrapped by the chest wall (skin, fat, muscle,
 * ribs: a centimetre or more in an adult) and the mediastinum; the foam core of a CT table whose whole
 * width is in view (a carbon-fibre skin of a few millimetres above and below it), a covered cushion or a
 * positioning wedge is air-like, enclosed in its slice, and as large as a lung over the whole stack, yet
 * only that thin skin separates it from the room's air. Foam of 0.03-0.11 g/cm^3 reads about -970 to
 * -890 HU: below the gas rule's -950 it was already dropped as gas, above it a table core of 440 x 40 mm
 * was taken for both lungs (lung Dice 0.77, a 500 mm field of view).
 *
 * The measure: of a component's in-plane boundary (each voxel side whose neighbour in the slice is not
 * the component), the share from which a straight walk through tissue along that axis reaches outside air
 * (STATE.outside, not out-of-view padding) within `wallMm`. A lung's is about zero; a table core's about
 * half (its whole underside and ends).
 */
import type { Vec3 } from "../../../core/contracts/volume.js";
import { STATE } from "./air-mask.js";
import { NO_ORDINAL } from "./components.js";

export interface ThinWallGrid {
  dims: Vec3;
  spacing: Vec3;
  /** nx * ny, 1 where the pixel is out of the field of view (field-of-view.ts); absent: none. */
  outOfView?: Uint8Array | undefined;
}

/**
 * For every component of `member` voxels, by its ordinal in `ordinals` (components.ts: FIRST_ORDINAL up,
 * NO_ORDINAL for none), the share (0..1) of its in-plane boundary that faces outside air through at most
 * `wallMm` of tissue; 0 for a component with no in-plane boundary inside the image. One pass over the
 * box; reads `state` and `ordinals` only.
 */
export function thinWallShares(
  state: Uint8Array,
  grid: ThinWallGrid,
  ordinals: Uint8Array,
  member: number,
  wallMm: number,
  /** Inclusive index box [i0, i1, j0, j1, k0, k1] holding every component to measure; default: all. */
  box?: readonly [number, number, number, number, number, number],
): Float64Array {
  const [nx, ny, nz] = grid.dims;
  const plane = nx * ny;
  const unseen = grid.outOfView;
  // Steps of a walk along i and along j: voxels whose far side is within wallMm of the component.
  const stepsI = Math.floor(wallMm / grid.spacing[0]);
  const stepsJ = Math.floor(wallMm / grid.spacing[1]);
  const sides = new Float64Array(256);
  const thin = new Float64Array(256);
  // Walk from voxel n in steps of `stride` (at most steps + 1, staying on the row or column): outside air?
  const reachesOutside = (
    n: number,
    stride: number,
    steps: number,
    coord: number,
    limit: number,
  ): boolean => {
    const dir = stride > 0 ? 1 : -1;
    for (let s = 0, m = n, c = coord; s <= steps; s++) {
      m += stride;
      c += dir;
      if (c < 0 || c >= limit) return false;
      const v = state[m]!;
      if (v === STATE.outside) return !unseen?.[m % plane];
      if (v !== STATE.tissue) return false;
    }
    return false;
  };
  const other = (m: number, o: number): boolean => state[m] !== member || ordinals[m] !== o;
  const side = (o: number, isThin: boolean): void => {
    sides[o] = sides[o]! + 1;
    if (isThin) thin[o] = thin[o]! + 1;
  };
  const [i0, i1, j0, j1, k0, k1] = box ?? [0, nx - 1, 0, ny - 1, 0, nz - 1];
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++)
      for (let i = i0, n = i0 + nx * j + plane * k; i <= i1; i++, n++) {
        if (state[n] !== member) continue;
        const o = ordinals[n]!;
        if (o === NO_ORDINAL) continue;
        // Each in-plane neighbour that is in the image and not the component is one side of the boundary.
        if (i > 0 && other(n - 1, o)) side(o, reachesOutside(n, -1, stepsI, i, nx));
        if (i < nx - 1 && other(n + 1, o)) side(o, reachesOutside(n, 1, stepsI, i, nx));
        if (j > 0 && other(n - nx, o)) side(o, reachesOutside(n, -nx, stepsJ, j, ny));
        if (j < ny - 1 && other(n + nx, o)) side(o, reachesOutside(n, nx, stepsJ, j, ny));
      }
  return thin.map((t, o) => (sides[o]! > 0 ? t / sides[o]! : 0));
}
