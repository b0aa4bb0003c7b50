/**
 * A CT table under the phantom (options.table): what every real chest CT shows below the patient and the
 * anatomy alone leaves out. Modelled on the carbon-fibre sandwich tops of current scanners: two skins of
 * carbon-fibre composite round a foam core, closed at the sides, slightly dished, wider than the body. The
 * core's foam (polymethacrylimide or similar, about 0.08 g/cm^3) reads about -920 HU: air-like to a
 * threshold, enclosed in its slice by the skins, and as long as the scan, so a lung segmentation has to
 * know it is outside the patient (gpu-job/pipeline/lungs/thin-wall.ts). No mattress is drawn.
 *
 * The table belongs to the scanner, not to the patient: it is level in the declared (upright) frame
 * whatever the patient's roll, centred under the chest's axis, its top just below the body's lowest point.
 * Voxels it covers in part get the area average of their 4 x 4 sub-pixel samples, table or not.
 */
import type { Geometry } from "../contracts/volume.js";
import { voxelToLps } from "../geometry/affine.js";
import { BODY } from "./anatomy.js";

/** Table top dimensions (mm) and materials (HU). */
export const TABLE = {
  halfWidthMm: 220,
  skinMm: 2,
  coreMm: 40,
  /** Radius of the top's dish: its edges rise width^2 / (8 R), 20 mm. */
  dishRadiusMm: 1200,
  /** Gap between the body's lowest point and the table top. */
  gapMm: 3,
  skinHu: 300,
  coreHu: -920,
} as const;

/** The table as placed for one phantom: the declared grid and the top's height (LPS y at x = 0). */
export interface PlacedTable {
  grid: Geometry;
  topMm: number;
}

/**
 * Where the table goes for a body scaled by `depthScale` and `widthScale` (habitus) and rolled by
 * `rollDeg`: its top `gapMm` below the rolled ellipse's lowest point (the body is centred on x = y = 0).
 */
export function placeTable(
  grid: Geometry,
  habitus: { widthScale: number; depthScale: number },
  rollDeg: number,
): PlacedTable {
  const a = BODY.a * habitus.widthScale;
  const b = BODY.b * habitus.depthScale;
  const t = (rollDeg * Math.PI) / 180;
  const lowest = Math.hypot(a * Math.sin(t), b * Math.cos(t));
  return { grid, topMm: lowest + TABLE.gapMm };
}

const THICKNESS_MM = 2 * TABLE.skinMm + TABLE.coreMm;

/** HU of the table at LPS (x, y), or NaN where there is no table. */
function tableHu(x: number, y: number, topMm: number): number {
  const ax = Math.abs(x);
  if (ax > TABLE.halfWidthMm) return Number.NaN;
  const depth = y - (topMm - (x * x) / (2 * TABLE.dishRadiusMm));
  if (depth < 0 || depth > THICKNESS_MM) return Number.NaN;
  const skin =
    depth < TABLE.skinMm || depth > THICKNESS_MM - TABLE.skinMm || ax > TABLE.halfWidthMm - TABLE.skinMm;
  return skin ? TABLE.skinHu : TABLE.coreHu;
}

const SUB = [-0.375, -0.125, 0.125, 0.375];

/**
 * Paint the table into `hu` (the noise-free rendering on `table.grid`'s voxels): each voxel the table
 * touches becomes the mean of its sub-pixel samples, the table's HU where they fall on it and the voxel's
 * own value elsewhere. An axial grid (slice normal along z) has the same pattern in every slice, which is
 * computed once.
 */
export function paintTable(hu: Int16Array, table: PlacedTable): void {
  const g = table.grid;
  const [nx, ny, nz] = g.dims;
  const a = voxelToLps(g);
  const [ax, ay, az] = [a[0]!, a[1]!, a[2]!]; // d x / d i, d x / d j, d x / d k (spacing included)
  const [bx, by, bz] = [a[4]!, a[5]!, a[6]!];
  const [x0, y0] = [a[3]!, a[7]!];
  // A voxel whose centre lies further than this from the table's band cannot touch it.
  const reach = 0.5 * (Math.hypot(ax, bx) + Math.hypot(ay, by) + Math.hypot(az, bz));
  const lowY = table.topMm - (TABLE.halfWidthMm * TABLE.halfWidthMm) / (2 * TABLE.dishRadiusMm) - reach;
  const highY = table.topMm + THICKNESS_MM + reach;
  const plane = nx * ny;
  const sliceInvariant = az === 0 && bz === 0;
  // For a slice-invariant pattern: per pixel, the table's share (samples on it) and their HU sum; -1: none.
  const share = sliceInvariant ? new Float32Array(plane).fill(-1) : undefined;
  const sum = sliceInvariant ? new Float32Array(plane) : undefined;
  const sample = (i: number, j: number, k: number): { on: number; total: number } => {
    let on = 0;
    let total = 0;
    for (const u of SUB)
      for (const v of SUB) {
        const x = x0 + ax * (i + u) + ay * (j + v) + az * k;
        const y = y0 + bx * (i + u) + by * (j + v) + bz * k;
        const h = tableHu(x, y, table.topMm);
        if (!Number.isNaN(h)) {
          on++;
          total += h;
        }
      }
    return { on, total };
  };
  const blend = (n: number, on: number, total: number): void => {
    const own = hu[n]!;
    hu[n] = Math.round((total + (SUB.length * SUB.length - on) * own) / (SUB.length * SUB.length));
  };
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = i + nx * j;
        const n = p + plane * k;
        if (share && sum && k > 0) {
          if (share[p]! > 0) blend(n, share[p]!, sum[p]!);
          continue;
        }
        const y = y0 + bx * i + by * j + bz * k;
        if (y < lowY || y > highY) continue;
        const { on, total } = sample(i, j, k);
        if (share && sum) {
          share[p] = on;
          sum[p] = total;
        }
        if (on > 0) blend(n, on, total);
      }
}
