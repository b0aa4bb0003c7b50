/**
 * Where the key images are taken: the axial levels with the largest lesion area and the coronal plane
 * through the lesions' centroid. Per-axis voxel counts of the masks are built in one sparse pass; the
 * choice works on those profiles.
 *
 * Axial levels: greedily the largest lesion area, each at least MIN_LEVEL_SEPARATION_MM from the levels
 * already taken (so three images show three parts of the disease, not three neighbouring slices). Without
 * lesions: one level, the largest lung area (or the middle slice). Levels are oriented z indices
 * (inferior to superior); the coronal level is an oriented y index (anterior to posterior).
 */
import type { Vec3 } from "../../../../core/contracts/volume.js";
import type { OrientedView } from "../../preprocess/orientation.js";
import { forEachNonZero } from "../nonzero.js";

export const KEY_AXIAL_LEVELS = 3;
export const MIN_LEVEL_SEPARATION_MM = 15;

/** Non-zero voxels per native index along i, j and k, and in all. */
export interface MaskProfile {
  counts: [Float64Array, Float64Array, Float64Array];
  total: number;
}

export function maskProfile(mask: Uint8Array, dims: Vec3): MaskProfile {
  const [nx, ny, nz] = dims;
  const ci = new Float64Array(nx);
  const cj = new Float64Array(ny);
  const ck = new Float64Array(nz);
  let total = 0;
  const plane = nx * ny;
  forEachNonZero(mask, (p) => {
    const k = Math.floor(p / plane);
    const r = p - k * plane;
    const j = Math.floor(r / nx);
    ci[r - j * nx]!++;
    cj[j]!++;
    ck[k]!++;
    total++;
  });
  return { counts: [ci, cj, ck], total };
}

/** A profile along an oriented axis (index 0 = towards patient right / anterior / inferior). */
export function orientedProfile(p: MaskProfile, view: OrientedView, axis: 0 | 1 | 2): Float64Array {
  const { native, flipped } = view.axes[axis];
  const src = p.counts[native as 0 | 1 | 2];
  if (!flipped) return src;
  const out = new Float64Array(src.length);
  for (let t = 0; t < src.length; t++) out[t] = src[src.length - 1 - t]!;
  return out;
}

export interface KeyLevels {
  /** Oriented z indices, by decreasing lesion area. */
  axial: { index: number; lesionVoxels: number }[];
  /** Oriented y index of the coronal view. */
  coronal: number;
  /** What the coronal plane passes through. */
  coronalThrough: "lesions" | "lungs" | "centre";
}

/**
 * The lung profile is asked for only when there is no lesion (`lungs` is called lazily), which saves a
 * pass over the lungs, a fifth of the volume, in the common case.
 */
export function chooseKeyLevels(
  lesions: MaskProfile,
  lungs: () => MaskProfile,
  view: OrientedView,
  count = KEY_AXIAL_LEVELS,
  minSeparationMm = MIN_LEVEL_SEPARATION_MM,
): KeyLevels {
  if (lesions.total > 0) {
    const z = orientedProfile(lesions, view, 2);
    const minSep = Math.max(1, Math.ceil(minSeparationMm / view.spacing[2] - 1e-9));
    const order = [...z.keys()].filter((t) => z[t]! > 0).sort((a, b) => z[b]! - z[a]! || a - b);
    const axial: KeyLevels["axial"] = [];
    for (const t of order) {
      if (axial.length >= count) break;
      if (axial.every((l) => Math.abs(l.index - t) >= minSep)) axial.push({ index: t, lesionVoxels: z[t]! });
    }
    return { axial, coronal: centroid(orientedProfile(lesions, view, 1)), coronalThrough: "lesions" };
  }
  const lung = lungs();
  const axial = [{ index: argmaxOrMiddle(orientedProfile(lung, view, 2)), lesionVoxels: 0 }];
  if (lung.total > 0)
    return { axial, coronal: centroid(orientedProfile(lung, view, 1)), coronalThrough: "lungs" };
  return { axial, coronal: Math.floor(view.dims[1] / 2), coronalThrough: "centre" };
}

function centroid(profile: Float64Array): number {
  let sum = 0;
  let weighted = 0;
  profile.forEach((v, t) => {
    sum += v;
    weighted += v * t;
  });
  return sum > 0 ? Math.round(weighted / sum) : Math.floor(profile.length / 2);
}

function argmaxOrMiddle(profile: Float64Array): number {
  let best = 0;
  let at = Math.floor(profile.length / 2);
  profile.forEach((v, t) => {
    if (v > best) {
      best = v;
      at = t;
    }
  });
  return at;
}
