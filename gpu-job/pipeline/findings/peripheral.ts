/**
 * Finding 4, peripheral distribution: the share of lesion volume within 7, 14, 21, 28 and 35 mm of the
 * pleura (distance of each lesion voxel to the nearest non-lung voxel, from lung segmentation), set against
 * the COVID-19 and CAP reference curves of DESIGN.md §4. The closer curve is the one with the smaller
 * root-mean-square difference over the five depths (each depth weighs the same).
 */
import {
  type Findings,
  REFERENCE_PERIPHERAL_CURVES,
  type ReferencePattern,
  SHELL_DEPTHS_MM,
} from "../../../core/contracts/findings.js";
import type { Measurements } from "./measure.js";
import { mapNullable, mm, ratio, share } from "./round.js";

/** Root-mean-square difference of two curves sampled at the same depths. */
export function rmsDistance(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length === 0)
    throw new RangeError("curves must have the same, non-zero length");
  let sum = 0;
  for (let n = 0; n < a.length; n++) sum += (a[n]! - b[n]!) ** 2;
  return Math.sqrt(sum / a.length);
}

/** The reference curve nearer to `shares`, with both distances; null on an exact tie. */
export function closerReference(shares: readonly number[]): {
  rms: Record<ReferencePattern, number>;
  closerTo: ReferencePattern | null;
} {
  const rms = {
    covid19: rmsDistance(shares, REFERENCE_PERIPHERAL_CURVES.covid19),
    cap: rmsDistance(shares, REFERENCE_PERIPHERAL_CURVES.cap),
  };
  const closerTo = rms.covid19 < rms.cap ? "covid19" : rms.cap < rms.covid19 ? "cap" : null;
  return { rms, closerTo };
}

export function peripheralFinding(m: Measurements): Findings["peripheral"] {
  const total = m.keptVoxels;
  const shares = total > 0 ? Array.from(m.shellVoxels, (v) => v / total) : null;
  const closer = shares ? closerReference(shares) : null;
  return {
    shells: SHELL_DEPTHS_MM.map((depthMm, s) => ({
      depthMm,
      share: shares ? share(shares[s]!) : null,
      covid19Reference: REFERENCE_PERIPHERAL_CURVES.covid19[s]!,
      capReference: REFERENCE_PERIPHERAL_CURVES.cap[s]!,
    })),
    meanPleuralDistanceMm: mapNullable(ratio(m.sumPleuralMm, total - m.noPleuraVoxels), mm),
    rmsDistance: {
      covid19: closer ? share(closer.rms.covid19) : null,
      cap: closer ? share(closer.rms.cap) : null,
    },
    closerTo: closer?.closerTo ?? null,
  };
}
