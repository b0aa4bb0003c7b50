/**
 * A pleural effusion in the phantom: fluid in the dependent pleural space. With the patient supine the
 * fluid lies posterior and its surface is level: a plane parallel to the table, which is the scanner's
 * coronal plane (LPS y constant on the declared grid) whatever the patient's roll. The fluid takes the place
 * of the lung beneath that plane (the lung is compressed, not drowned: what lies under the surface is fluid).
 *
 * The renderer works in the unscaled, upright anatomy (run.ts renderResolved), so the plane is carried
 * there: gravity's direction in the anatomy and, per side, the level whose lung beyond it holds the asked
 * volume. The volume is counted on the fixed 2 mm lung model (lung-model.ts), so every grid of a phantom
 * draws the same fluid; the truth counts what each grid rendered.
 */
import type { Geometry, Vec3 } from "../contracts/volume.js";
import { dot, invert3, multiply3, normalize, transpose3 } from "../geometry/affine.js";
import { getLungModel } from "./lung-model.js";
import { type Habitus, PhantomOptionsError } from "./options.js";

export interface EffusionPlan {
  /** Unit vector in anatomy millimetres along which the fluid lies deeper (gravity, for a supine patient). */
  down: Vec3;
  /** Per side, the level of the fluid surface: points q with dot(down, q) >= level are fluid (null: none). */
  level: { right: number | null; left: number | null };
}

/** The smallest share of a side's lung that must remain aerated. */
export const MIN_AERATED_SHARE = 1 / 3;

/**
 * Gravity's direction in the anatomy that `rendered` samples, when the phantom is declared on `declared`
 * (same voxels): the declared grid's +y (posterior) carried through the voxel map. A world plane y = c
 * is, in the anatomy, the plane with normal (D_d D_r^-1)^T e_y, D the grids' direction matrices.
 */
export function gravityInAnatomy(declared: Geometry, rendered: Geometry): Vec3 {
  const m = transpose3(multiply3(declared.direction, invert3(rendered.direction)));
  return normalize([m[1], m[4], m[7]]);
}

/**
 * The plan for `ml` of fluid per side in a body of `habitus` (the anatomy's mL are the body's divided by
 * its three scales). Undefined without fluid. Throws when a side would keep less than MIN_AERATED_SHARE of
 * its lung (PhantomOptionsError).
 */
export function planEffusion(
  ml: { right: number; left: number },
  down: Vec3,
  habitus: Habitus,
): EffusionPlan | undefined {
  if (ml.right <= 0 && ml.left <= 0) return undefined;
  const model = getLungModel();
  const [nx, ny, nz] = model.dims;
  const step = model.step;
  const pointMl = (step * step * step) / 1000;
  const bodyScale = habitus.widthScale * habitus.depthScale * habitus.heightScale;
  const projections: [number[], number[]] = [[], []];
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const side = model.label[i + nx * (j + ny * k)]!;
        if (side === 0) continue;
        const q: Vec3 = [model.origin[0] + i * step, model.origin[1] + j * step, model.origin[2] + k * step];
        projections[side - 1]!.push(dot(down, q));
      }
  const levelOf = (wantMl: number, p: number[], name: string): number | null => {
    if (wantMl <= 0) return null;
    const want = wantMl / bodyScale / pointMl;
    if (want > (1 - MIN_AERATED_SHARE) * p.length)
      throw new PhantomOptionsError([
        {
          path: `effusionMl.${name}`,
          message: `${wantMl} mL would leave less than a third of the ${name} lung (${Math.round(p.length * pointMl * bodyScale)} mL in this body)`,
        },
      ]);
    return levelHolding(p, want, step);
  };
  return {
    down,
    level: {
      right: levelOf(ml.right, projections[0], "right"),
      left: levelOf(ml.left, projections[1], "left"),
    },
  };
}

/** Whether an anatomy point of lung `side` (1 right, 2 left) lies under the fluid's surface. */
export function underFluid(
  e: EffusionPlan | undefined,
  side: number,
  x: number,
  y: number,
  z: number,
): boolean {
  if (!e) return false;
  const level = side === 1 ? e.level.right : e.level.left;
  return level !== null && e.down[0] * x + e.down[1] * y + e.down[2] * z >= level;
}

/**
 * The level L at which the points beyond it hold `want` points' worth of volume, each point counted as a
 * slab `step` thick along the gravity direction (the share of it beyond L). A count of whole points would
 * move in steps of a whole row of the lung model (tens of mL) when gravity runs along its axes.
 */
function levelHolding(projections: number[], want: number, step: number): number {
  const beyond = (level: number): number => {
    let v = 0;
    for (const p of projections) {
      const share = (p + step / 2 - level) / step;
      v += Math.min(1, Math.max(0, share));
    }
    return v;
  };
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of projections) {
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  lo -= step;
  hi += step;
  // beyond() falls from the whole lung at lo to nothing at hi; 40 halvings reach well under a micrometre.
  for (let n = 0; n < 40; n++) {
    const mid = (lo + hi) / 2;
    if (beyond(mid) > want) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
