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

export interface ThinWallGrid {
  dims: Vec3;
  spacing: Vec3;
  /** nx * ny, 1 where the pixel is out of the field of view (field-of-view.ts); absent: none. */
  outOfView?: Uint8Array | undefined;
}

/**
 * Share (0..1) of the in-plane boundary of the voxels `voxels[0, count)` (all equal to `member` in
 * `state`) that faces outside air through at most `wallMm` of tissue. 0 when the component has no
 * in-plane boundary inside the image. Reads `state` only.
 */
export function thinWallShare(
  state: Uint8Array,
  grid: ThinWallGrid,
  voxels: Int32Array,
  count: number,
  member: number,
  wallMm: number,
): number {
  const [nx, ny] = grid.dims;
  const plane = nx * ny;
  const unseen = grid.outOfView;
  // Steps of a walk along i and along j: voxels whose far side is within wallMm of the component.
  const stepsI = Math.floor(wallMm / grid.spacing[0]);
  const stepsJ = Math.floor(wallMm / grid.spacing[1]);
  let sides = 0;
  let thin = 0;
  // Walk from voxel n in steps of `stride` (at most `steps`, staying on the row/column): outside air met?
  const reachesOutside = (
    n: number,
    stride: number,
    steps: number,
    fromCoord: number,
    limit: number,
  ): boolean => {
    let m = n;
    let c = fromCoord;
    for (let s = 0; s <= steps; s++) {
      m += stride;
      c += stride > 0 ? 1 : -1;
      if (c < 0 || c >= limit) return false;
      const v = state[m]!;
      if (v === STATE.outside) return !unseen?.[m % plane];
      if (v !== STATE.tissue) return false;
    }
    return false;
  };
  for (let h = 0; h < count; h++) {
    const n = voxels[h]!;
    const p = n % plane;
    const i = p % nx;
    const j = (p - i) / nx;
    // Each in-plane neighbour that is in the image and not the component is one side of the boundary.
    if (i > 0 && state[n - 1] !== member) {
      sides++;
      if (reachesOutside(n, -1, stepsI, i, nx)) thin++;
    }
    if (i < nx - 1 && state[n + 1] !== member) {
      sides++;
      if (reachesOutside(n, 1, stepsI, i, nx)) thin++;
    }
    if (j > 0 && state[n - nx] !== member) {
      sides++;
      if (reachesOutside(n, -nx, stepsJ, j, ny)) thin++;
    }
    if (j < ny - 1 && state[n + nx] !== member) {
      sides++;
      if (reachesOutside(n, nx, stepsJ, j, ny)) thin++;
    }
  }
  return sides === 0 ? 0 : thin / sides;
}
