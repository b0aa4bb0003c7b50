/**
 * Warnings about the scan itself that make the model's answer unreliable, each with the sentence the
 * impression carries so that nobody reads a class off a scan the model cannot judge without being told.
 *
 *  - NOT_CHEST: less lung than any chest CT holds. An abdominal CT with a sliver of lung bases got
 *    "CAP 0.94" with no caveat before this (the corpus's ct_abdomen_3mm: 123 mL of lung).
 *  - COARSE_PIXELS: pixels coarser than the model's input grid (see coarserThanModel).
 *  - PATIENT_ROLLED: the lungs' left-right axis turned in plane (lungs/lung-axis.ts) from the model's
 *    envelope.rollWarningDeg on. The shipped model on bench/patient-roll.ts: every class is right from -30 to
 *    +30 degrees, but at +30 a normal phantom got 11 mL of false lesion (up to 20 degrees either way: under
 *    1 mL). Upright phantoms read about 1 degree (the heart makes the lungs a little asymmetric); the warning
 *    was at 8 while the lung stage took a rolled patient's heart for consolidation (envelope-fill.ts).
 *  - NARROW_FIELD_OF_VIEW: an in-plane field of view under the model's envelope.narrowestFieldOfViewMm
 *    that cuts the lungs at the side. The shipped model was trained on 360 mm; on bench/scan-kinds.ts every
 *    class was right at 250 mm (square and round), while at 220 and 200 mm normal phantoms were called
 *    COVID-19 (0.84-0.91) with the lungs and their lesions found, so the class, not the segmentation, goes
 *    wrong.
 *  - LUNG_SIZE_OUT_OF_RANGE: lungs whose spread lies beyond the ratios the model's size rule was checked on
 *    (model.json inPlane.lungScale.checkedRange; preprocess/lung-scale.ts). On bench/scan-kinds.ts a normal
 *    chest 0.6 times the training body's (a child's) came out non-pneumonia only at 0.67, with 3.3 mL of
 *    false lesion, once resampled all the way, and COVID-19 0.90 when resampled only to 0.7.
 *  - THICK_SLICES: slices further apart than the model was trained on (thickerThanModel, the envelope's
 *    thickSliceRatio): false lesions grow (the shipped model on a normal phantom: 5 mL at 5 mm, 40 mL at
 *    10 mm) while the class held; care, not unreliable.
 *  - PLEURAL_EFFUSION: water-density fluid beneath a lung (lungs/pleural-fluid.ts), which the model never
 *    saw. On bench/scan-kinds.ts (seeds 9106 and 9107) every class stayed right with up to 1.2 L on one side
 *    or 600 mL on each, but less surely (a normal chest 0.83, a COVID-19 one 0.75 with 1.2 L), with up to
 *    6 mL of false lesion on normal chests: the warning asks for care, and the class is not marked
 *    unreliable for it.
 */
import type { Warning } from "../../core/contracts/validation-report.js";
import type { PleuralFluid } from "./lungs/pleural-fluid.js";
import { DEFAULT_ENVELOPE, type ModelEnvelope } from "./model/model-manifest.js";

/**
 * Below this much segmented lung the scan is not taken for a chest CT: an adult's lungs hold 2.5–7 L on CT,
 * and a stack of 100 mm through the mid-chest still holds 2.4 L of our phantoms' lungs.
 */
export const MIN_CHEST_LUNG_ML = 1000;

/** The warning codes this module raises: each says the model's class is unreliable for the scan. */
export const UNRELIABLE_CLASS_CODES: readonly string[] = [
  "NOT_CHEST",
  "COARSE_PIXELS",
  "PATIENT_ROLLED",
  "NARROW_FIELD_OF_VIEW",
  "LUNG_SIZE_OUT_OF_RANGE",
];

/**
 * From this much fluid beneath one lung (mL, pleuralFluid's lower bound), PLEURAL_EFFUSION. Phantoms
 * without fluid read under 12 mL per side in every scan kind (80 HU of noise, 60 degrees of tilt at worst)
 * and 500 mL of fluid reads 458 mL (bench/results/pleural-fluid.json); a real effusion of this size is plainly visible on CT.
 */
export const EFFUSION_WARNING_ML = 100;

export interface ScanCaveats {
  warnings: Warning[];
  /** Sentences for the impression, in the warnings' order. */
  impression: string[];
}

export function scanCaveats(
  facts: {
    lungMl: number;
    coarse: { nativeMm: number; modelMm: number } | null;
    /** lungRollDeg of the lung mask (null: no axis to read). */
    rollDeg?: number | null;
    /** The in-plane field of view across (mm, its narrower side) and whether it cuts a lung at the side. */
    view?: { acrossMm: number; cutsLungs: boolean };
    /**
     * The lungs' spread over the model's training bodies' (lungScaleRatios, left-right then front-back) when
     * it lies beyond the ratios the size rule was checked on (beyondLungScaleRange).
     */
    lungSizeBeyondRange?: {
      ratios: [number, number];
      checkedRange: [number, number];
      clamped: boolean;
    } | null;
    /** pleuralFluid's measure (null: pixels too coarse to measure). */
    pleuralFluid?: Pick<PleuralFluid, "ml" | "depthMm"> | null;
    /** thickerThanModel's answer. */
    thick?: { nativeMm: number; modelMm: number; ratio: number } | null;
  },
  envelope: ModelEnvelope = DEFAULT_ENVELOPE,
): ScanCaveats {
  const out: ScanCaveats = { warnings: [], impression: [] };
  const lungMl = Math.round(facts.lungMl);
  if (lungMl < MIN_CHEST_LUNG_ML) {
    const found = lungMl === 0 ? "No lung was found" : `Only ${lungMl} mL of lung was found`;
    out.warnings.push({
      code: "NOT_CHEST",
      message: `${found} (a chest CT holds litres): the scan may not cover the chest, or covers only a sliver of the lungs. The class and the findings describe that part only and are unreliable.`,
    });
    out.impression.push(
      `${lungMl === 0 ? "No lung lies" : `Only ${lungMl} mL of lung lies`} in this scan, so it may not be a chest CT: the model's class is unreliable.`,
    );
  }
  const c = facts.coarse;
  if (c) {
    out.warnings.push({
      code: "COARSE_PIXELS",
      message: `In-plane pixels of ${c.nativeMm.toFixed(2)} mm are coarser than the model's ${c.modelMm.toFixed(2)} mm input grid: the model sees upsampled images it was not trained on. Expect false-positive lesions and an unreliable class; reconstruct the series with finer pixels if possible.`,
    });
    out.impression.push(
      `The image's pixels (${c.nativeMm.toFixed(1)} mm) are coarser than the model's input, so its class and lesions are unreliable.`,
    );
  }
  const roll = facts.rollDeg;
  if (roll !== undefined && roll !== null && Math.abs(roll) >= envelope.rollWarningDeg) {
    const deg = Math.abs(roll).toFixed(0);
    out.warnings.push({
      code: "PATIENT_ROLLED",
      message: `The lungs lie about ${deg} degrees rolled from the image's left-right axis (a patient lying partly on one side): the model was trained on upright bodies only and was checked up to ${envelope.rollCheckedDeg} degrees of roll. Expect false-positive lesions beyond that.`,
    });
    out.impression.push(
      `The patient lies about ${deg} degrees rolled, which the model was not trained on: its lesions and class are less reliable.`,
    );
  }
  const v = facts.view;
  if (v?.cutsLungs && v.acrossMm < envelope.narrowestFieldOfViewMm) {
    const mm = Math.round(v.acrossMm);
    out.warnings.push({
      code: "NARROW_FIELD_OF_VIEW",
      message: `The field of view is ${mm} mm across and cuts the lungs at the side: the model was trained on ${envelope.trainingFieldOfViewMm} mm views of whole lungs and checked down to ${envelope.narrowestFieldOfViewMm} mm; narrower views that cut the lungs can change its class. Expect an unreliable class; reconstruct the series with a field of view that holds both lungs if possible.`,
    });
    out.impression.push(
      `The field of view (${mm} mm) cuts the lungs, which the model was not trained on: its class is unreliable.`,
    );
  }
  const size = facts.lungSizeBeyondRange;
  if (size) {
    const [lo, hi] = size.checkedRange;
    const smaller = size.ratios.some((r) => r < lo);
    const ratios = size.ratios.map((r) => r.toFixed(2)).join(" x ");
    const seen = size.clamped
      ? `at the end of its size rule's range, ${smaller ? "smaller" : "larger"} than any chest it was trained on`
      : "resampled to its training size further than it was checked";
    const child = smaller
      ? " A child's chest is this small; the model was trained and checked on adults' sizes only."
      : "";
    out.warnings.push({
      code: "LUNG_SIZE_OUT_OF_RANGE",
      message: `The lungs spread ${ratios} times the model's training bodies' (left-right x front-back), beyond the ${lo}-${hi} its size rule (model.json preprocessing.inPlane.lungScale) was checked on: the model saw them ${seen}.${child} Expect an unreliable class.`,
    });
    out.impression.push(
      `The lungs are ${smaller ? "smaller" : "larger"} than any the model was checked on, so its class is unreliable.`,
    );
  }
  const thick = facts.thick;
  if (thick) {
    const mm = (v: number) => v.toFixed(1);
    out.warnings.push({
      code: "THICK_SLICES",
      message: `The slices are ${mm(thick.nativeMm)} mm apart, more than ${thick.ratio === 2 ? "twice" : `${thick.ratio} times`} the model's ${mm(thick.modelMm)} mm slice grid and thicker than any it was trained on: it sees slices interpolated across the gaps, where false lesions grow. Read the lesions with care; reconstruct the series with thinner slices if possible.`,
    });
    out.impression.push(
      `The slices are ${mm(thick.nativeMm)} mm apart, thicker than the model was trained on: lesions may be false.`,
    );
  }
  const fluid = facts.pleuralFluid;
  const sides = fluid ? (["right", "left"] as const).filter((s) => fluid.ml[s] >= EFFUSION_WARNING_ML) : [];
  if (fluid && sides.length > 0) {
    const where = sides
      .map(
        (s) =>
          `${Math.round(fluid.ml[s])} mL beneath the ${s} lung (${Math.round(fluid.depthMm[s])} mm deep)`,
      )
      .join(" and ");
    const impressionWhere = sides.map((s) => `${Math.round(fluid.ml[s])} mL on the ${s}`).join(" and ");
    out.warnings.push({
      code: "PLEURAL_EFFUSION",
      message: `About ${where} is water-density fluid, most likely a pleural effusion (a lower bound: fluid wrapping round the lung's side is not counted). The model was not trained on effusions: on phantoms with up to 1.2 L of fluid it kept every class, but less surely, with up to 6 mL of false lesion on normal chests. Read the class and the lesions next to the fluid with care.`,
    });
    out.impression.push(
      `Pleural fluid (about ${impressionWhere}) lies beneath the lungs, which the model was not trained on: lesions along it may be false.`,
    );
  }
  return out;
}
