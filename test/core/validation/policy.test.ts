/**
 * The reason codes' documented meanings (README table, OpenAPI) quote the analysis policy's numbers; this
 * keeps the two from drifting apart when a threshold changes.
 */
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../../../core/contracts/reason-codes.js";
import { ANALYSIS_POLICY } from "../../../core/validation/policy.js";

describe("the reason codes' meanings quote the analysis policy", () => {
  it.each([
    ["SLICE_GAP", `${ANALYSIS_POLICY.gapFactor} x the median`],
    [
      "NON_UNIFORM_SPACING",
      `(${ANALYSIS_POLICY.spacingToleranceMm} mm or ${ANALYSIS_POLICY.spacingToleranceFraction * 100} %)`,
    ],
    ["DUPLICATE_SLICES", `times under ${ANALYSIS_POLICY.sameAcquisitionSeconds} s apart`],
    ["MISSING_GEOMETRY", `over ${ANALYSIS_POLICY.maxExtentMm} mm along an axis`],
  ] as const)("%s", (code, quoted) => {
    expect(REASON_CODES[code]).toContain(quoted);
  });
});
