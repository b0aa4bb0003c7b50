/**
 * The plain-language impression: a few sentences built only from the findings and the model's class
 * probabilities. It describes and compares ("more similar to the COVID-19 pattern"); it never states a
 * diagnosis, always says it needs a radiologist's review, and says so loudly when the model was trained on
 * synthetic phantoms. Deterministic: same findings and probabilities, same text.
 *
 * Wording rules (documented thresholds):
 * - focality: one lesion "single", more "multi-focal";
 * - attenuation, by the consolidation fraction of the lesion volume: under 0.15 "ground-glass", under 0.5
 *   "mixed ground-glass and consolidative", else "predominantly consolidative";
 * - "peripheral (subpleural)" when the peripheral curve is closer to the COVID-19 reference AND at least
 *   SUBPLEURAL_SHARE of the lesion volume lies within SUBPLEURAL_DEPTH_MM of the pleura (the curve fit alone is
 *   relative: a lesion wholly 14-35 mm deep fits the COVID-19 curve better than CAP's, yet is not
 *   subpleural); "not predominantly subpleural" when closer to CAP's;
 * - the CT severity score is said to approximate its lobes by thirds of each lung (severity.ts);
 * - "lower-zone predominant" and "in both lungs" from the distribution finding.
 */
import {
  type Findings,
  REFERENCE_PERIPHERAL_CURVES,
  SHELL_DEPTHS_MM,
} from "../../../core/contracts/findings.js";
import { FindingsInputError } from "./errors.js";

export interface ClassProbabilities {
  covid19: number;
  cap: number;
  non_pneumonia: number;
}

const MIXED_FROM = 0.15;
const CONSOLIDATIVE_FROM = 0.5;

/** The shell whose share decides whether "subpleural" may be said: about a centimetre and a half. */
const SUBPLEURAL_DEPTH_MM = 14;
const SUBPLEURAL_SHELL = SHELL_DEPTHS_MM.indexOf(SUBPLEURAL_DEPTH_MM);
/** Halfway between the reference curves at that depth (COVID-19 0.36, CAP 0.12): 0.24. */
export const SUBPLEURAL_SHARE =
  (REFERENCE_PERIPHERAL_CURVES.covid19[SUBPLEURAL_SHELL]! +
    REFERENCE_PERIPHERAL_CURVES.cap[SUBPLEURAL_SHELL]!) /
  2;

const PATTERN: Record<keyof ClassProbabilities, string> = {
  covid19: "the COVID-19 pneumonia pattern",
  cap: "the community-acquired pneumonia (CAP) pattern",
  non_pneumonia: "scans without pneumonia",
};

export function impression(
  findings: Findings,
  probabilities: ClassProbabilities,
  model: { synthetic: boolean },
  /** Sentences on why the class is unreliable for this scan (scan-caveats.ts), after the model's. */
  caveats: readonly string[] = [],
): string {
  checkProbabilities(probabilities);
  const sentences = [...describeFindings(findings), modelSentence(probabilities), ...caveats];
  sentences.push("This summary is not a diagnosis and must be reviewed by a radiologist.");
  if (model.synthetic) {
    sentences.push(
      "The model was trained on synthetic phantoms only: these results are not for clinical use.",
    );
  }
  return sentences.join(" ");
}

function describeFindings(f: Findings): string[] {
  if (f.extent.lungVolumeMl === 0) return ["The lungs could not be segmented, so no findings were measured."];
  const n = f.lesions.count;
  if (n === 0) return [`No lung opacities of ${f.method.minLesionVolumeMl} mL or more were found.`];

  const plural = n > 1;
  const c = f.attenuation.consolidationFraction ?? 0;
  const kind =
    c < MIXED_FROM
      ? "ground-glass"
      : c < CONSOLIDATIVE_FROM
        ? "mixed ground-glass and consolidative"
        : "predominantly consolidative";
  const parts = [`${plural ? "Multi-focal" : "A single"} ${kind} ${plural ? "opacities" : "opacity"}`];
  const nearPleura = f.peripheral.shells[SUBPLEURAL_SHELL]?.share ?? 0;
  if (f.peripheral.closerTo === "covid19" && nearPleura >= SUBPLEURAL_SHARE)
    parts.push("peripheral (subpleural)");
  if (f.peripheral.closerTo === "cap") parts.push("not predominantly subpleural");
  if (f.distribution.lowerZonePredominant) parts.push("lower-zone predominant");
  parts.push(where(f));

  const ext = f.extent;
  const severity = `CT severity score ${ext.severity.score} of ${ext.severity.maxScore}, lobes approximated by thirds of each lung`;
  const amount =
    `${plural ? `The ${n} lesions occupy` : "It occupies"} ${volume(ext.lesionVolumeMl)}, ` +
    `${(ext.percentOfLung ?? 0).toFixed(1)} % of the lung volume (${severity}).`;
  const sentences = [`${parts.join(", ")}.`, amount];
  if (f.peripheral.closerTo) {
    const curve = f.peripheral.closerTo === "covid19" ? "COVID-19" : "CAP";
    sentences.push(`Their depth under the pleura is closer to the ${curve} reference curve.`);
  }
  return sentences;
}

function where(f: Findings): string {
  if (f.distribution.bilateral) return "in both lungs";
  const side = f.extent.right.lesionVolumeMl >= f.extent.left.lesionVolumeMl ? "right" : "left";
  const only = f.lesions.listed[0];
  if (f.lesions.count === 1 && only?.zone) return `in the ${only.zone} zone of the ${side} lung`;
  return `in the ${side} lung`;
}

function volume(mlValue: number): string {
  return mlValue >= 10 ? `${mlValue.toFixed(0)} mL` : `${mlValue.toFixed(1)} mL`;
}

function modelSentence(p: ClassProbabilities): string {
  const order: Array<keyof ClassProbabilities> = ["covid19", "cap", "non_pneumonia"];
  const top = order.reduce((best, k) => (p[k] > p[best] ? k : best), order[0]!);
  const pct = (v: number): string => `${Math.round(100 * v)} %`;
  return (
    `Findings are more similar to ${PATTERN[top]} (model probabilities: COVID-19 ${pct(p.covid19)}, ` +
    `CAP ${pct(p.cap)}, non-pneumonia ${pct(p.non_pneumonia)}).`
  );
}

function checkProbabilities(p: ClassProbabilities): void {
  for (const [k, v] of Object.entries(p)) {
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) {
      throw new FindingsInputError(`probability ${k} must be a number in [0, 1], got ${String(v)}`);
    }
  }
}
