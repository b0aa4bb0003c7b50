/**
 * Which zone of a lung lies at a given height. The zone map comes from lung segmentation (thirds of each
 * lung's craniocaudal extent); a lesion's zone is read at its centroid's height, as the phantom truth does,
 * so a lesion straddling two zones gets one zone and its volume still splits by voxel in the extent tables.
 * The boundary between two adjacent zones is the midpoint between the top of the lower one and the bottom of
 * the upper one (LPS z grows superiorly); zones the lung lacks are skipped.
 */
import type { LungZoneLabel } from "../../../core/contracts/findings.js";
import { regionIndex } from "./measure.js";

const ZONES_INFERIOR_FIRST: ReadonlyArray<{ code: 1 | 2 | 3; name: LungZoneLabel }> = [
  { code: 3, name: "lower" },
  { code: 2, name: "middle" },
  { code: 1, name: "upper" },
];

export function zoneAtHeight(
  zoneMinZ: Float64Array,
  zoneMaxZ: Float64Array,
  side: 1 | 2,
  z: number,
): LungZoneLabel | null {
  const present = ZONES_INFERIOR_FIRST.filter(({ code }) =>
    Number.isFinite(zoneMinZ[regionIndex(side, code)]!),
  );
  if (present.length === 0) return null;
  for (let n = 0; n < present.length - 1; n++) {
    const below = regionIndex(side, present[n]!.code);
    const above = regionIndex(side, present[n + 1]!.code);
    const boundary = (zoneMaxZ[below]! + zoneMinZ[above]!) / 2;
    if (z < boundary) return present[n]!.name;
  }
  return present[present.length - 1]!.name;
}
