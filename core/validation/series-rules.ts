/**
 * How the best CT series is chosen when an upload holds several, kept as data so the rules can be read,
 * tested and changed in one place. A candidate must pass every `required` rule; among those that do, the
 * highest score wins (the sum of matched rule weights, then more slices).
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
