/**
 * How the best CT series is chosen when an upload holds several, kept as data so the rules can be read,
 * tested and changed in one place. A candidate must pass every `required` rule; among those that do, the
 * highest score wins (the sum of matched rule weights, then more slices). Series still level after that
 * (a CT study routinely holds the same axial stack reconstructed twice, with a lung and a soft-tissue
 * kernel) are told apart by SERIES_TIE_BREAKS, in order.
 */
import type { SeriesCandidate } from "../contracts/validation-report.js";
import { isCtSopClass, isLocalizer } from "../dicom/sop-classes.js";
import { planeOf } from "../geometry/affine.js";
import { normalOf, type Slice } from "./slices.js";

export interface CandidateFacts {
  modality: string | undefined;
  sopClassUid: string | undefined;
  imageType: string[];
  slices: Slice[];
  orientation: SeriesCandidate["orientation"];
  hasPixelData: boolean;
  seriesNumber?: number | undefined;
  seriesDescription?: string | undefined;
  convolutionKernel?: string | undefined;
  sliceThickness?: number | undefined;
}

export interface SeriesRule {
  id: string;
  /** Human wording used in the report ("modality CT", ...). */
  describe: string;
  required: boolean;
  weight: number;
  test(c: CandidateFacts): boolean;
}

export const isCtCandidate = (c: CandidateFacts): boolean =>
  c.modality === "CT" || (c.modality === undefined && isCtSopClass(c.sopClassUid));

export const SERIES_RULES: readonly SeriesRule[] = [
  { id: "ct", describe: "CT modality or CT SOP class", required: true, weight: 0, test: isCtCandidate },
  { id: "image", describe: "has pixel data", required: true, weight: 0, test: (c) => c.hasPixelData },
  {
    id: "not-localizer",
    describe: "not a LOCALIZER/scout",
    required: true,
    weight: 0,
    test: (c) => !isLocalizer(c.imageType),
  },
  {
    id: "axial",
    describe: "axial slices",
    required: false,
    weight: 100,
    test: (c) => c.orientation === "axial",
  },
  {
    id: "original-primary",
    describe: "ImageType ORIGINAL\\PRIMARY",
    required: false,
    weight: 50,
    test: (c) => c.imageType[0] === "ORIGINAL" && c.imageType[1] === "PRIMARY",
  },
  {
    id: "ct-sop-class",
    describe: "CT Image Storage SOP class",
    required: false,
    weight: 10,
    test: (c) => isCtSopClass(c.sopClassUid),
  },
];

export interface TieBreak {
  id: string;
  /** Why the winner was preferred, as the report says it ("a lung reconstruction", ...). */
  describe: string;
  /** Negative when `a` should be chosen over `b`, positive for `b`, 0 when this rule cannot tell them apart. */
  compare(a: CandidateFacts, b: CandidateFacts): number;
}

/** Kernel or description naming a lung reconstruction (GE "LUNG", "Lung 1.25mm", Canon "FC51 LUNG", ...). */
export const isLungReconstruction = (c: CandidateFacts): boolean =>
  /lung/i.test(c.convolutionKernel ?? "") || /lung/i.test(c.seriesDescription ?? "");

/** Missing values sort last, so a series that states a thickness or number wins over one that does not. */
const ascending = (a: number | undefined, b: number | undefined): number =>
  (a ?? Number.POSITIVE_INFINITY) - (b ?? Number.POSITIVE_INFINITY) || 0;

export const SERIES_TIE_BREAKS: readonly TieBreak[] = [
  {
    // Ground glass and its margins are read on the lung kernel; the model's lesion maps follow them.
    id: "lung-reconstruction",
    describe: "a lung reconstruction (its kernel or description says LUNG)",
    compare: (a, b) => Number(isLungReconstruction(b)) - Number(isLungReconstruction(a)),
  },
  {
    id: "thinner-slices",
    describe: "thinner slices",
    compare: (a, b) => ascending(a.sliceThickness, b.sliceThickness),
  },
  {
    // Scanners number the primary reconstruction first; later numbers are usually derived or repeated.
    id: "lower-series-number",
    describe: "the lower SeriesNumber",
    compare: (a, b) => ascending(a.seriesNumber, b.seriesNumber),
  },
];

/** The first tie-break that tells `a` from `b` (negative: `a` first), or undefined when none does. */
export function breakTie(
  a: CandidateFacts,
  b: CandidateFacts,
  rules: readonly TieBreak[] = SERIES_TIE_BREAKS,
): { order: number; rule: TieBreak } | undefined {
  for (const rule of rules) {
    const order = rule.compare(a, b);
    if (order !== 0) return { order, rule };
  }
  return undefined;
}

export interface RankedCandidate {
  facts: CandidateFacts;
  eligible: boolean;
  score: number;
  passed: string[];
  failed: string[];
}

export function orientationOfSlices(slices: Slice[]): SeriesCandidate["orientation"] {
  const first = slices[0];
  const n = first ? normalOf(first.info) : undefined;
  return n ? planeOf(n) : "unknown";
}

export function rankCandidate(
  facts: CandidateFacts,
  rules: readonly SeriesRule[] = SERIES_RULES,
): RankedCandidate {
  const passed: string[] = [];
  const failed: string[] = [];
  let score = 0;
  let eligible = true;
  for (const rule of rules) {
    if (rule.test(facts)) {
      passed.push(rule.describe);
      score += rule.weight;
    } else {
      failed.push(rule.describe);
      if (rule.required) eligible = false;
    }
  }
  return { facts, eligible, score, passed, failed };
}

/** Order: eligible first, then score, then slice count (more is better). */
export function compareRanked(a: RankedCandidate, b: RankedCandidate): number {
  if (a.eligible !== b.eligible) return a.eligible ? -1 : 1;
  if (a.score !== b.score) return b.score - a.score;
  return b.facts.slices.length - a.facts.slices.length;
}

/**
 * Two reconstructions of one acquisition (a lung and a soft-tissue kernel) often differ by a slice or two at
 * the ends: within this share of slices, at the same slice thickness, the tie-breaks (the lung kernel first)
 * may prefer the one with fewer slices (select-series.ts). A lung series one slice short lost to the
 * soft-tissue one.
 */
export const SAME_RECONSTRUCTION_SLICE_SHARE = 0.05;

export function sameReconstruction(a: CandidateFacts, b: CandidateFacts): boolean {
  const [na, nb] = [a.slices.length, b.slices.length];
  return (
    a.sliceThickness === b.sliceThickness &&
    Math.abs(na - nb) <= Math.max(1, Math.floor(SAME_RECONSTRUCTION_SLICE_SHARE * Math.max(na, nb)))
  );
}
