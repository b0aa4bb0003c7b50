/**
 * Finding 3, extent: lesion volume in mL and as a percentage of the lung volume, per scan, per lung and per
 * zone (voxel by voxel: a lesion across a zone boundary counts in both zones), with the severity score.
 * DeepSC-COVID's database: CAP mostly under 8 % of the lungs, COVID-19 spreading wide (largest bin > 20 %).
 */
import type { Findings, RegionExtent } from "../../../core/contracts/findings.js";
import { type Measurements, regionIndex } from "./measure.js";
import { mapNullable, ml, percent, ratio } from "./round.js";
import { severityScore } from "./severity.js";

export function extentFinding(m: Measurements, voxelMl: number): Findings["extent"] {
  const region = (lesionVoxels: number, lungVoxels: number): RegionExtent => ({
    lesionVolumeMl: ml(lesionVoxels * voxelMl),
    lungVolumeMl: ml(lungVoxels * voxelMl),
    percentOfLung: mapNullable(ratio(lesionVoxels, lungVoxels), (v) => percent(100 * v)),
  });
  const lung = (side: 1 | 2): Findings["extent"]["right"] => {
    let lesion = 0;
    let total = 0;
    for (let zone = 0; zone <= 3; zone++) {
      lesion += m.lesionVoxels[regionIndex(side, zone)]!;
      total += m.lungVoxels[regionIndex(side, zone)]!;
    }
    const zone = (code: 1 | 2 | 3): RegionExtent =>
      region(m.lesionVoxels[regionIndex(side, code)]!, m.lungVoxels[regionIndex(side, code)]!);
    return { ...region(lesion, total), zones: { upper: zone(1), middle: zone(2), lower: zone(3) } };
  };
  let lungTotal = 0;
  for (const v of m.lungVoxels) lungTotal += v;
  return {
    ...region(m.keptVoxels, lungTotal),
    right: lung(1),
    left: lung(2),
    severity: severityScore(m),
  };
}
