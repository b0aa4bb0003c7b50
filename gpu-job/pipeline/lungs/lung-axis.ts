/**
 * How far the patient is rolled about the body's long axis, read from the lungs: the angle in the LPS x-y
 * plane between the image's left-right axis and the principal axis of both lungs together (two lungs side
 * by side are about 1.5 times wider than deep, so that axis is the patient's left-right). The scanner's
 * axes are the table's, so a patient lying a little on one side shows rolled anatomy under an upright
 * header; the model only ever saw upright bodies (bench/README.md, "A patient rolled").
 */
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { LUNG_LABEL } from "./types.js";

/**
 * Roll in degrees, (-90, 90]: positive when the lungs' left-right axis turns from +x (patient's left)
 * towards +y (posterior). Null without voxels of both lungs (LUNG_LABEL right and left) or when the lungs have no
 * dominant in-plane direction (as wide as deep: no axis to read).
 */
export function lungRollDeg(labels: Uint8Array, g: Geometry): number | null {
  // Every other voxel along each axis is plenty for second moments over litres of lung.
  const m = lungMomentsXY(labels, g, 2);
  if (!m.seen[LUNG_LABEL.right] || !m.seen[LUNG_LABEL.left]) return null;
  return principalAxisDeg(m);
}

/**
 * The same angle read from the body's outline: the principal in-plane axis of every voxel not `outside`
 * (air-mask STATE), every fourth slice. Pleural fluid, a collapsed lung or a lobectomy move the lungs' axis
 * (one lung loses its back and the pair reads turned) but not the body's. A table under the patient counts
 * as body and stays level, so a rolled patient's body reads less roll than the lungs. Null: no axis.
 */
export function bodyRollDeg(state: Uint8Array, outside: number, g: Geometry): number | null {
  const m = momentsXY(state, g, 4, (v) => v !== outside);
  return m.n === 0 ? null : principalAxisDeg(m);
}

/** The angle of the larger principal axis of an x-y covariance, (-90, 90]; null when nearly isotropic. */
function principalAxisDeg(m: { cxx: number; cyy: number; cxy: number }): number | null {
  const { cxx, cyy, cxy } = m;
  // Eigenvalues of the 2x2 covariance: no axis when they are within 10 % of each other.
  const half = Math.hypot((cxx - cyy) / 2, cxy);
  const mean = (cxx + cyy) / 2;
  if (half < 0.05 * mean) return null;
  const deg = (Math.atan2(2 * cxy, cxx - cyy) * 90) / Math.PI;
  return deg <= -90 ? deg + 180 : deg;
}

/**
 * Covariance (mm^2) of the LPS x and y of the non-zero voxels of `labels`, every other voxel in plane and
 * every `kStep`-th slice, and which label values were seen; n = 0 without any.
 */
export function lungMomentsXY(
  labels: Uint8Array,
  g: Geometry,
  kStep: number,
): { n: number; cxx: number; cyy: number; cxy: number; seen: boolean[] } {
  return momentsXY(labels, g, kStep, (l) => l !== 0);
}

/** lungMomentsXY over the voxels whose value passes `include`. */
function momentsXY(
  values: Uint8Array,
  g: Geometry,
  kStep: number,
  include: (value: number) => boolean,
): { n: number; cxx: number; cyy: number; cxy: number; seen: boolean[] } {
  const a = voxelToLps(g);
  const [nx, ny, nz] = g.dims;
  const step = 2;
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  const seen: boolean[] = [];
  for (let k = 0; k < nz; k += kStep)
    for (let j = 0; j < ny; j += step) {
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i += step) {
        const l = values[row + i]!;
        if (!include(l)) continue;
        seen[l] = true;
        const x = a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        const y = a[4]! * i + a[5]! * j + a[6]! * k + a[7]!;
        n++;
        sx += x;
        sy += y;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
      }
    }
  if (n === 0) return { n, cxx: 0, cyy: 0, cxy: 0, seen };
  const mx = sx / n;
  const my = sy / n;
  return { n, cxx: sxx / n - mx * mx, cyy: syy / n - my * my, cxy: sxy / n - mx * my, seen };
}
