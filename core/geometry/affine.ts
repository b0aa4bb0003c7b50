/**
 * Geometry maths shared by every reader and writer. Internal convention is LPS (see core/contracts/volume.ts);
 * NIfTI's world space is RAS, which differs by negating x and y.
 */
import type { Geometry, Mat3, Mat4, Vec3 } from "../contracts/volume.js";

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
export const normalize = (a: Vec3): Vec3 => {
  const n = norm(a);
  return n > 0 ? scale(a, 1 / n) : [0, 0, 0];
};

/** Column c of a row-major 3x3 matrix. */
export const column = (m: Mat3, c: number): Vec3 => [m[c]!, m[3 + c]!, m[6 + c]!];

/** Build a row-major 3x3 from its three column vectors. */
export const fromColumns = (i: Vec3, j: Vec3, k: Vec3): Mat3 => [
  i[0],
  j[0],
  k[0],
  i[1],
  j[1],
  k[1],
  i[2],
  j[2],
  k[2],
];

/** Transpose of a row-major 3x3. */
export const transpose3 = (m: Mat3): Mat3 => [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];

/** Product of two row-major 3x3 matrices. */
export function multiply3(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++)
      out[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  return out as unknown as Mat3;
}

/**
 * Determinant of a row-major 3x3. Of a geometry's direction (unit columns), its absolute value is 1 for an
 * orthonormal grid and the cosine of the tilt for a sheared (gantry-tilt) one: the voxel's volume over the
 * product of its edges.
 */
export function determinant3(m: Mat3): number {
  const [a, b, c, d, e, f, g, h, i] = m;
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

/** Inverse of a row-major 3x3 (adjugate over determinant); throws for a singular matrix. */
export function invert3(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = f * g - d * i;
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new Error("invert3: singular matrix");
  return [
    A / det,
    (c * h - b * i) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    (c * d - a * f) / det,
    C / det,
    (b * g - a * h) / det,
    (a * e - b * d) / det,
  ];
}

/** Voxel (i,j,k) -> LPS mm affine, row-major 4x4. */
export function voxelToLps(g: Geometry): Mat4 {
  const d = g.direction;
  const s = g.spacing;
  return [
    d[0] * s[0],
    d[1] * s[1],
    d[2] * s[2],
    g.origin[0],
    d[3] * s[0],
    d[4] * s[1],
    d[5] * s[2],
    g.origin[1],
    d[6] * s[0],
    d[7] * s[1],
    d[8] * s[2],
    g.origin[2],
    0,
    0,
    0,
    1,
  ];
}

/** Voxel -> RAS mm affine (what NIfTI's sform holds): LPS with x and y negated. */
export function voxelToRas(g: Geometry): Mat4 {
  const a = voxelToLps(g);
  for (let c = 0; c < 4; c++) {
    a[c] = -a[c]!;
    a[4 + c] = -a[4 + c]!;
  }
  return a;
}

/** Inverse of voxelToRas: split a RAS affine into spacing, LPS origin and direction (columns normalised). */
export function geometryFromRas(ras: Mat4, dims: Vec3): Geometry {
  const lps = ras.slice();
  for (let c = 0; c < 4; c++) {
    lps[c] = -lps[c]!;
    lps[4 + c] = -lps[4 + c]!;
  }
  const cols: Vec3[] = [0, 1, 2].map((c) => [lps[c]!, lps[4 + c]!, lps[8 + c]!] as Vec3);
  const spacing = cols.map(norm) as Vec3;
  const dirs = cols.map((v, c) => (spacing[c]! > 0 ? scale(v, 1 / spacing[c]!) : unitAxis(c)));
  return {
    dims,
    spacing: spacing.map((s) => (s > 0 ? s : 1)) as Vec3,
    origin: [lps[3]!, lps[7]!, lps[11]!],
    direction: fromColumns(dirs[0]!, dirs[1]!, dirs[2]!),
  };
}

function unitAxis(c: number): Vec3 {
  return [c === 0 ? 1 : 0, c === 1 ? 1 : 0, c === 2 ? 1 : 0];
}

/** Centre of voxel (i,j,k) in LPS mm. */
export function voxelCentre(g: Geometry, i: number, j: number, k: number): Vec3 {
  const a = voxelToLps(g);
  return [
    a[0]! * i + a[1]! * j + a[2]! * k + a[3]!,
    a[4]! * i + a[5]! * j + a[6]! * k + a[7]!,
    a[8]! * i + a[9]! * j + a[10]! * k + a[11]!,
  ];
}

/**
 * The same voxels turned by `deg` about the LPS z axis through `centre` (+x towards +y for positive angles):
 * the voxel axes and the origin turn, spacing and dims stay. Content drawn at world p on `g` lies at the
 * turned p on the result.
 */
export function turnedAboutZ<G extends Geometry>(g: G, deg: number, centre: Vec3): G {
  const t = (deg * Math.PI) / 180;
  const [c, s] = [Math.cos(t), Math.sin(t)];
  const turn = (v: Vec3): Vec3 => [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]];
  const d = g.direction;
  const [i, j, k] = [0, 1, 2].map((a) => turn(column(d, a))) as [Vec3, Vec3, Vec3];
  return { ...g, origin: add(centre, turn(sub(g.origin, centre))), direction: fromColumns(i, j, k) };
}

export type PlaneOrientation = "axial" | "coronal" | "sagittal" | "oblique";

/**
 * Name the acquisition plane from the slice normal. Within ~10 degrees of a cardinal axis counts as that
 * plane (scanners commonly tilt a few degrees); anything else is oblique.
 */
export function planeOf(normal: Vec3, toleranceDeg = 10): PlaneOrientation {
  const n = normalize(normal);
  const cos = Math.cos((toleranceDeg * Math.PI) / 180);
  if (Math.abs(n[2]) >= cos) return "axial";
  if (Math.abs(n[1]) >= cos) return "coronal";
  if (Math.abs(n[0]) >= cos) return "sagittal";
  return "oblique";
}

/** Angle in degrees between the slice normal (i x j) and the actual slice step (k column); 0 without tilt. */
export function shearAngleDeg(direction: Mat3): number {
  const n = normalize(cross(column(direction, 0), column(direction, 1)));
  const k = normalize(column(direction, 2));
  const c = Math.min(1, Math.abs(dot(n, k)));
  return (Math.acos(c) * 180) / Math.PI;
}
