/** The reference-curve comparison of finding 4 on constructed share curves. */
import { describe, expect, it } from "vitest";
import { REFERENCE_PERIPHERAL_CURVES } from "../../../../core/contracts/findings.js";
import { closerReference, rmsDistance } from "../../../../gpu-job/pipeline/findings/peripheral.js";

const { covid19, cap } = REFERENCE_PERIPHERAL_CURVES;

describe("rmsDistance", () => {
  it("is the root-mean-square difference", () => {
    expect(rmsDistance([0, 0, 0, 0], [1, 1, 1, 1])).toBe(1);
    expect(rmsDistance([0.1, 0.2], [0.1, 0.2])).toBe(0);
    expect(rmsDistance([0, 0, 0, 0, 0], [0.5, 0, 0, 0, 0])).toBeCloseTo(Math.sqrt(0.05), 12);
  });
  it("refuses curves of different or zero length", () => {
    expect(() => rmsDistance([1], [1, 2])).toThrow(RangeError);
    expect(() => rmsDistance([], [])).toThrow(RangeError);
  });
});

describe("closerReference", () => {
  it("recognises each reference curve as itself", () => {
    expect(closerReference(covid19)).toEqual({
      rms: { covid19: 0, cap: rmsDistance(covid19, cap) },
      closerTo: "covid19",
    });
    expect(closerReference(cap).closerTo).toBe("cap");
  });

  it("decides by distance: a peripheral curve, a central curve, and shares near either side of the midpoint", () => {
    expect(closerReference([0.3, 0.6, 0.8, 0.9, 0.95]).closerTo).toBe("covid19");
    expect(closerReference([0.01, 0.03, 0.06, 0.1, 0.15]).closerTo).toBe("cap");
    const mid = covid19.map((c, n) => (c + cap[n]!) / 2);
    expect(closerReference(mid.map((v) => v + 0.001)).closerTo).toBe("covid19");
    expect(closerReference(mid.map((v) => v - 0.001)).closerTo).toBe("cap");
  });

  it("puts the midpoint curve at the same distance from both references", () => {
    const mid = covid19.map((c, n) => (c + cap[n]!) / 2);
    const r = closerReference(mid);
    expect(r.rms.covid19).toBeCloseTo(r.rms.cap, 12);
  });
});
