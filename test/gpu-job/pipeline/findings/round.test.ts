/** Rounding of findings numbers: decimal half-way cases, no -0, null ratios. */
import { describe, expect, it } from "vitest";
import { ml, percent, ratio, round, share } from "../../../../gpu-job/pipeline/findings/round.js";

describe("round", () => {
  it("rounds decimal half-way values up even when binary holds them a hair below", () => {
    expect(108 * 0.005625).toBeLessThan(0.6075); // the binary product
    expect(ml(108 * 0.005625)).toBe(0.608);
    expect(round(1.005, 2)).toBe(1.01);
    expect(percent((100 * 1) / 3)).toBe(33.33);
    expect(share(2 / 3)).toBe(0.6667);
  });
  it("never returns -0", () => {
    expect(Object.is(round(-0.00001, 3), 0)).toBe(true);
  });
  it("gives null for a share of nothing", () => {
    expect(ratio(0, 0)).toBeNull();
    expect(ratio(1, 4)).toBe(0.25);
  });
});
