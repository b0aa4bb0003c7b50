/**
 * Finding 2, attenuation: how dense the lesions are. DeepSC-COVID's database shows both COVID-19 and CAP
 * peaking in ground glass (about -850 HU at their lesion edges), CAP with a second, consolidation peak near
 * +100 HU. We report the lesion-volume histogram on fixed 50 HU bins from -1000 to +200 HU (plus below and
 * above), the volume fractions below the ground-glass band, in it, and in consolidation, and the mean HU.
 */
import type { Findings } from "../../../core/contracts/findings.js";
import { HISTOGRAM, HISTOGRAM_BINS, type Measurements } from "./measure.js";
import { hu, mapNullable, ml, ratio, share } from "./round.js";

export function attenuationFinding(m: Measurements, voxelMl: number): Findings["attenuation"] {
  const total = m.keptVoxels;
  let ggo = 0;
  let consolidation = 0;
  for (let r = 0; r < m.lesions.voxels.length; r++) {
    ggo += m.lesions.ggoVoxels[r]!;
    consolidation += m.lesions.consolidationVoxels[r]!;
  }
  const frac = (voxels: number): number | null => mapNullable(ratio(voxels, total), share);
  const { fromHu, toHu, binWidthHu } = HISTOGRAM;
  const bins: Findings["attenuation"]["histogram"]["bins"] = [];
  let peak = -1;
  for (let b = 0; b < HISTOGRAM_BINS; b++) {
    const voxels = m.histogram[b + 1]!;
    if (voxels > 0 && (peak < 0 || voxels > m.histogram[peak + 1]!)) peak = b;
    bins.push({
      fromHu: fromHu + b * binWidthHu,
      toHu: fromHu + (b + 1) * binWidthHu,
      volumeMl: ml(voxels * voxelMl),
      fraction: frac(voxels),
    });
  }
  const below = m.histogram[0]!;
  const above = m.histogram[HISTOGRAM_BINS + 1]!;
  return {
    meanHu: mapNullable(ratio(m.sumHu, total), hu),
    belowGgoFraction: frac(total - ggo - consolidation),
    ggoFraction: frac(ggo),
    consolidationFraction: frac(consolidation),
    histogram: {
      fromHu,
      toHu,
      binWidthHu,
      bins,
      below: { volumeMl: ml(below * voxelMl), fraction: frac(below) },
      above: { volumeMl: ml(above * voxelMl), fraction: frac(above) },
      peakHu: peak < 0 ? null : fromHu + (peak + 0.5) * binWidthHu,
    },
  };
}
