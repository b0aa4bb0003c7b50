/**
 * Finding 1, lesion count: the kept components (3D connected, above the minimum volume, inside the lungs)
 * counted per scan and per lung, and the largest ones described one by one — volume, lung, zone at the
 * centroid, mean HU, ground-glass and consolidation fractions, mean depth under the pleura.
 */
import type { Findings, LesionFinding } from "../../../core/contracts/findings.js";
import type { Mat4, Vec3 } from "../../../core/contracts/volume.js";
import type { Measurements } from "./measure.js";
import { hu, mapNullable, ml, mm, ratio, round, share } from "./round.js";
import { zoneAtHeight } from "./zone-of-height.js";

export interface LesionCountContext {
  voxelMl: number;
  voxelToLps: Mat4;
  maxListedLesions: number;
  /** Components below the minimum volume. */
  ignored: { count: number; voxels: number };
}

export function lesionCountFinding(m: Measurements, ctx: LesionCountContext): Findings["lesions"] {
  const L = m.lesions;
  const count = L.voxels.length;
  let right = 0;
  for (let r = 0; r < count; r++) if (sideOf(m, r) === 1) right++;
  const listed: LesionFinding[] = [];
  for (let r = 0; r < Math.min(count, ctx.maxListedLesions); r++) listed.push(describe(m, r, ctx));
  return {
    count,
    right,
    left: count - right,
    listed,
    notListed: count - listed.length,
    ignoredSmall: { count: ctx.ignored.count, volumeMl: ml(ctx.ignored.voxels * ctx.voxelMl) },
    outsideLungsMl: ml(m.outsideLungVoxels * ctx.voxelMl),
  };
}

/** The lung holding most of the lesion (right on an exact tie, which needs a lesion split evenly). */
function sideOf(m: Measurements, r: number): 1 | 2 {
  return m.lesions.rightVoxels[r]! >= m.lesions.leftVoxels[r]! ? 1 : 2;
}

function describe(m: Measurements, r: number, ctx: LesionCountContext): LesionFinding {
  const L = m.lesions;
  const n = L.voxels[r]!;
  const c: Vec3 = [L.sumI[r]! / n, L.sumJ[r]! / n, L.sumK[r]! / n];
  const a = ctx.voxelToLps;
  const lps: Vec3 = [0, 1, 2].map((row) => {
    const o = 4 * row;
    return a[o]! * c[0] + a[o + 1]! * c[1] + a[o + 2]! * c[2] + a[o + 3]!;
  }) as Vec3;
  const side = sideOf(m, r);
  return {
    rank: r + 1,
    volumeMl: ml(n * ctx.voxelMl),
    side: side === 1 ? "right" : "left",
    zone: zoneAtHeight(m.zoneMinZ, m.zoneMaxZ, side, lps[2]),
    centroidMm: lps.map((v) => round(v, 2)) as Vec3,
    centroidVoxel: c.map((v) => round(v, 2)) as Vec3,
    meanHu: hu(L.sumHu[r]! / n),
    ggoFraction: share(L.ggoVoxels[r]! / n),
    consolidationFraction: share(L.consolidationVoxels[r]! / n),
    meanPleuralDistanceMm: mapNullable(ratio(L.sumPleuralMm[r]!, L.pleuralVoxels[r]!), mm),
  };
}
