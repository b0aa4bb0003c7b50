/**
 * CT severity score, 0-25: five lobes scored 0-5 by their percentage of involvement (Pan et al., Radiology
 * 2020), the lobes approximated by the six lung zones (SEVERITY_LOBES). Without lobar fissure segmentation
 * this is an approximation of the radiologist's score, and is documented as such (also in the impression).
 */
import {
  type Findings,
  type LungZoneLabel,
  SEVERITY_BANDS_PERCENT,
  SEVERITY_LOBES,
  SEVERITY_MAX_SCORE,
} from "../../../core/contracts/findings.js";
import { type Measurements, regionIndex } from "./measure.js";
import { mapNullable, percent, ratio } from "./round.js";

const ZONE_CODE: Record<LungZoneLabel, 1 | 2 | 3> = { upper: 1, middle: 2, lower: 3 };
/** percentOfLobe's resolution (two decimals): the least a lobe with any lesion reads. */
const MIN_REPORTED_PERCENT = 0.01;

/** 0 for no involvement, 1 under 5 %, 2 from 5 to 25 %, 3 to 50 %, 4 to 75 %, 5 above (SEVERITY_BANDS_PERCENT). */
export function lobeScore(percentInvolved: number | null): number {
  if (percentInvolved === null || !(percentInvolved > 0)) return 0;
  const [under, ...upTo] = SEVERITY_BANDS_PERCENT;
  if (percentInvolved < under) return 1;
  let score = 2;
  for (const bound of upTo) if (percentInvolved > bound) score++;
  return score;
}

export function severityScore(m: Measurements): Findings["extent"]["severity"] {
  const lobes = SEVERITY_LOBES.map(({ lobe, side, zones }) => {
    const s = side === "right" ? 1 : 2;
    let lesion = 0;
    let lung = 0;
    for (const zone of zones) {
      lesion += m.lesionVoxels[regionIndex(s, ZONE_CODE[zone])]!;
      lung += m.lungVoxels[regionIndex(s, ZONE_CODE[zone])]!;
    }
    // Scored from the percentage as reported: "25 %" must read as band 2 (5-25 %), not band 3. Any
    // involvement reads at least the smallest step (0.01 %), so a lobe holding lesion never scores 0.
    const raw = mapNullable(ratio(lesion, lung), (v) => 100 * v);
    const pct = mapNullable(raw, (v) => (v > 0 ? Math.max(percent(v), MIN_REPORTED_PERCENT) : 0));
    return { lobe, side, zones: [...zones], percentOfLobe: pct, score: lobeScore(pct) };
  });
  return {
    score: lobes.reduce((sum, l) => sum + l.score, 0),
    maxScore: SEVERITY_MAX_SCORE,
    lobes,
  };
}
