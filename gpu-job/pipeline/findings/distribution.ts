/**
 * Bilateral involvement and lower-zone predominance, the two distribution features of the authors'
 * example reads ("inferior lobes of both lungs" for COVID-19, "right lower lobe" for CAP).
 * - bilateral: each lung holds at least bilateralMinMl of lesion (kept lesions, voxel by voxel);
 * - lowerZoneShare: lesion volume in the lower zones of both lungs / all lesion volume (null without
 *   lesions); predominant when it exceeds lowerZonePredominanceShare (default 0.5: more than the upper and
 *   middle zones together).
 */
import type { Findings } from "../../../core/contracts/findings.js";
import { type Measurements, regionIndex } from "./measure.js";
import { mapNullable, ratio, share } from "./round.js";

export function distributionFinding(
  m: Measurements,
  voxelMl: number,
  options: { bilateralMinMl: number; lowerZonePredominanceShare: number },
): Findings["distribution"] {
  const lungLesionMl = (side: 1 | 2): number => {
    let voxels = 0;
    for (let zone = 0; zone <= 3; zone++) voxels += m.lesionVoxels[regionIndex(side, zone)]!;
    return voxels * voxelMl;
  };
  const right = lungLesionMl(1);
  const left = lungLesionMl(2);
  const lower = m.lesionVoxels[regionIndex(1, 3)]! + m.lesionVoxels[regionIndex(2, 3)]!;
  const lowerShare = ratio(lower, m.keptVoxels);
  return {
    bilateral: right > 0 && left > 0 && right >= options.bilateralMinMl && left >= options.bilateralMinMl,
    lowerZoneShare: mapNullable(lowerShare, share),
    lowerZonePredominant: lowerShare !== null && lowerShare > options.lowerZonePredominanceShare,
  };
}
