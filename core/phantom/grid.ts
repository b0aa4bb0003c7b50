/**
 * The voxel grid a phantom is sampled on. It is centred on the chest (SCAN_CENTRE, moved in plane by
 * offCentreMm) whatever its size, spacing, slice order or obliquity; only the grid moves, never the anatomy, so renderings of one seed on
 * different grids show the same body and the same lesions.
 */
import type { Geometry, Mat3, Vec3 } from "../contracts/volume.js";
import { cross, fromColumns, turnedAboutZ } from "../geometry/affine.js";
import { SCAN_CENTRE } from "./anatomy.js";
import type { Habitus, ResolvedPhantomOptions } from "./options.js";

export const DEFAULT_FIELD_OF_VIEW_MM = 360;

type GridOptions = Pick<
  ResolvedPhantomOptions,
  "size" | "slices" | "sliceThickness" | "spacing" | "pixelSpacing" | "zDirection" | "orientation"
> &
  Partial<Pick<ResolvedPhantomOptions, "offCentreMm">>;

/** Rotation about x by a, then about y by b (degrees), as a row-major matrix R = Ry(b) * Rx(a). */
export function obliqueRotation(rotateXDeg: number, rotateYDeg: number): Mat3 {
  const a = (rotateXDeg * Math.PI) / 180;
  const b = (rotateYDeg * Math.PI) / 180;
  const ca = Math.cos(a);
  const sa = Math.sin(a);
  const cb = Math.cos(b);
  const sb = Math.sin(b);
  // Ry * Rx
  return [cb, sb * sa, sb * ca, 0, ca, -sa, -sb, cb * sa, cb * ca];
}

function apply(m: Mat3, v: Vec3): Vec3 {
  return [
    m[0] * v[0] + m[1] * v[1] + m[2] * v[2],
    m[3] * v[0] + m[4] * v[1] + m[5] * v[2],
    m[6] * v[0] + m[7] * v[1] + m[8] * v[2],
  ];
}

/**
 * Row (i) and column (j) directions of each slice plane, LPS, as viewers lay them out: the patient's right on
 * the viewer's left and anterior at the top (axial), the head at the top (coronal, sagittal), anterior on the
 * left (sagittal). The slices' normal is i x j: up the body (axial), front to back (coronal), left to
 * right (sagittal).
 */
export const PLANES = {
  axial: { i: [1, 0, 0], j: [0, 1, 0] },
  coronal: { i: [1, 0, 0], j: [0, 0, -1] },
  sagittal: { i: [0, 1, 0], j: [0, 0, -1] },
} as const satisfies Record<string, { i: Vec3; j: Vec3 }>;

export function phantomGrid(o: GridOptions): Geometry {
  const n = o.size;
  const ps = o.pixelSpacing ?? DEFAULT_FIELD_OF_VIEW_MM / n;
  const dz = o.spacing ?? o.sliceThickness;
  const plane = typeof o.orientation === "string" ? PLANES[o.orientation] : PLANES.axial;
  const rot =
    typeof o.orientation === "string"
      ? obliqueRotation(0, 0)
      : obliqueRotation(o.orientation.rotateXDeg, o.orientation.rotateYDeg);
  const iAxis = apply(rot, [...plane.i]);
  const jAxis = apply(rot, [...plane.j]);
  const normal = cross(iAxis, jAxis);
  const kAxis: Vec3 = o.zDirection === "ascending" ? normal : [-normal[0], -normal[1], -normal[2]];
  const half = [((n - 1) * ps) / 2, ((n - 1) * ps) / 2, ((o.slices - 1) * dz) / 2];
  const [dx, dy] = o.offCentreMm ?? [0, 0];
  const centre: Vec3 = [SCAN_CENTRE[0] + dx, SCAN_CENTRE[1] + dy, SCAN_CENTRE[2]];
  const origin: Vec3 = [0, 1, 2].map(
    (c) => centre[c]! - iAxis[c]! * half[0]! - jAxis[c]! * half[1]! - kAxis[c]! * half[2]!,
  ) as Vec3;
  // -0 (from rotations by 0 degrees and the descending flip) would surface as "-0" in JSON and headers.
  const clean = (v: number): number => (v === 0 ? 0 : v);
  return {
    dims: [n, n, o.slices],
    spacing: [ps, ps, dz],
    origin: origin.map(clean) as Vec3,
    direction: fromColumns(iAxis, jAxis, kAxis).map(clean) as Mat3,
  };
}

/**
 * The grid turned by `deg` about the chest's long axis (LPS z through SCAN_CENTRE), +x towards +y for
 * positive angles. A phantom rendered on it but declared on the unturned grid shows its anatomy turned the
 * other way (by -deg) in the image: runPhantom renders a patientRollDeg of r on the grid turned by -r.
 */
export function turnedAboutChestAxis(grid: Geometry, deg: number): Geometry {
  return turnedAboutZ(grid, deg, SCAN_CENTRE);
}

/**
 * The grid a body of `habitus` is sampled on: voxel centres mapped into the unscaled anatomy's
 * millimetres (q = SCAN_CENTRE + S^-1 (p - SCAN_CENTRE), S = diag(width, depth, height)). A phantom
 * rendered on it but declared on `grid` shows the anatomy scaled by S. Its direction columns are not unit
 * vectors: only the renderer's voxel-to-millimetre map reads it.
 */
export function scaledAboutChestCentre(grid: Geometry, habitus: Habitus): Geometry {
  const s = [habitus.widthScale, habitus.depthScale, habitus.heightScale];
  const d = grid.direction;
  return {
    ...grid,
    origin: [0, 1, 2].map((r) => SCAN_CENTRE[r]! + (grid.origin[r]! - SCAN_CENTRE[r]!) / s[r]!) as Vec3,
    direction: d.map((v, n) => v / s[Math.floor(n / 3)]!) as Mat3,
  };
}
