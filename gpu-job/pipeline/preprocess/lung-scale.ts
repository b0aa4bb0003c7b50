/**
 * The model pixel scaled to the patient's size (model.json preprocessing.inPlane.lungScale). The light
 * model was trained on phantoms of one body; a chest 20 % smaller or larger reached it at another size than
 * any training scan, and it called a small normal chest COVID-19 (0.92) and a large chest's pneumonia
 * non-pneumonia (1.00) although it segmented the lesions (bench/README.md, "Other bodies"). Measuring the
 * lungs and resampling them to the training size puts such chests back on the training's scale.
 *
 * The size is the lungs' spread: the standard deviations of the lung voxels' LPS (x, y) positions along
 * the principal axes of their in-plane covariance, the larger first (left-right: two lungs side by side are
 * wider than deep). Unlike a bounding box it does not change when the patient lies rolled, and it barely
 * changes with the slices covered (a 100 mm mid-chest stack read 0.6 % off the whole scan's) or with
 * lesions (every scan kind of the standard body read within 1 %). It is meaningless for lungs the field of
 * view cuts or for one lung (spreadMeasuresBody); the caller says whether to measure
 * (EngineOptions.lungScaling).
 */
import type { Geometry } from "../../../core/contracts/volume.js";
import { lungMomentsXY } from "../lungs/lung-axis.js";
import type { ModelManifest } from "../model/model-manifest.js";

export type LungScaleRule = NonNullable<ModelManifest["preprocessing"]["inPlane"]["lungScale"]>;

/**
 * The smaller lung must hold at least this share of the larger one's volume for the two to measure the
 * body: a collapsed lung, a large effusion or a pneumonectomy moves the spread however large the patient.
 * The standard phantom body's left lung holds 0.85 of the right's.
 */
export const MIN_LUNG_BALANCE = 1 / 3;

/** Whether a lung segmentation's spread can measure the patient: both lungs, neither cut in plane, comparable in size. */
export function spreadMeasuresBody(l: {
  volumeMl: { right: number; left: number };
  cutInPlane: boolean;
}): boolean {
  const { right, left } = l.volumeMl;
  return (
    !l.cutInPlane &&
    right > 0 &&
    left > 0 &&
    Math.min(right, left) >= MIN_LUNG_BALANCE * Math.max(right, left)
  );
}

/** Standard deviations (mm) of the lung voxels along their in-plane principal axes, larger first; null without lung. */
export function lungSpreadMm(mask: Uint8Array, g: Geometry): [number, number] | null {
  // Every slice, every other voxel in plane (lungs/lung-axis.ts).
  const { n, cxx, cyy, cxy } = lungMomentsXY(mask, g, 1);
  if (n === 0) return null;
  const mean = (cxx + cyy) / 2;
  const half = Math.hypot((cxx - cyy) / 2, cxy);
  return [Math.sqrt(mean + half), Math.sqrt(Math.max(0, mean - half))];
}

/**
 * The factors [x, y] the model pixel is multiplied by: each spread over the reference, clamped to the
 * rule's range, and exactly 1 within its tolerance (a scan like the training's sees the training's grid).
 */
export function lungScaleFactors(spread: [number, number] | null, rule: LungScaleRule): [number, number] {
  if (!spread) return [1, 1];
  const [lo, hi] = rule.range;
  const factor = (r: number): number => {
    if (!Number.isFinite(r) || r <= 0 || Math.abs(r - 1) <= rule.tolerance) return 1;
    return Math.min(hi, Math.max(lo, r));
  };
  const [rx, ry] = lungScaleRatios(spread, rule);
  return [factor(rx), factor(ry)];
}

/** The spreads over the rule's reference, unclamped: how many times the training bodies' size the lungs are. */
export function lungScaleRatios(spread: [number, number], rule: LungScaleRule): [number, number] {
  return [spread[0] / rule.referenceSpreadMm[0], spread[1] / rule.referenceSpreadMm[1]];
}

/**
 * The lungs' ratios to the training bodies' and the range the rule was checked on (checkedRange, else
 * range) when they lie beyond it on either axis (a child's chest, or a larger one than was checked), else
 * null: the model then sees lungs resampled further than anyone checked it on, or, beyond `range`, at the
 * range's end instead of its training size (scan-caveats.ts, LUNG_SIZE_OUT_OF_RANGE).
 */
export function beyondLungScaleRange(
  spread: [number, number] | null | undefined,
  rule: LungScaleRule | undefined,
): { ratios: [number, number]; checkedRange: [number, number]; clamped: boolean } | null {
  if (!spread || !rule) return null;
  const [lo, hi] = rule.checkedRange ?? rule.range;
  const ratios = lungScaleRatios(spread, rule);
  if (!ratios.some((r) => r < lo || r > hi)) return null;
  const clamped = ratios.some((r) => r < rule.range[0] || r > rule.range[1]);
  return { ratios, checkedRange: [lo, hi], clamped };
}
