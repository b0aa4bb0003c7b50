import { describe, expect, it } from "vitest";
import type { Geometry, Mat3 } from "../../../../core/contracts/volume.js";
import {
  beyondLungScaleRange,
  type LungScaleRule,
  lungScaleFactors,
  lungSpreadMm,
  spreadMeasuresBody,
} from "../../../../gpu-job/pipeline/preprocess/lung-scale.js";

const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/**
 * Two elliptic "lungs" side by side (centres +-cx mm, semi-axes a x b mm) in 1 mm pixels, `slices` deep,
 * turned in plane by `rollDeg` and scaled by `scale`.
 */
function lungs(opts: { rollDeg?: number; scale?: [number, number]; slices?: number } = {}) {
  const n = 400;
  const [sx, sy] = opts.scale ?? [1, 1];
  const slices = opts.slices ?? 3;
  const t = ((opts.rollDeg ?? 0) * Math.PI) / 180;
  const g: Geometry = {
    dims: [n, n, slices],
    spacing: [1, 1, 2],
    origin: [-200, -200, 0],
    direction: IDENTITY,
  };
  const mask = new Uint8Array(n * n * slices);
  for (let k = 0; k < slices; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        // Back into the upright unscaled body.
        const x0 = i - 200;
        const y0 = j - 200;
        const x = (Math.cos(t) * x0 + Math.sin(t) * y0) / sx;
        const y = (-Math.sin(t) * x0 + Math.cos(t) * y0) / sy;
        for (const cx of [-70, 70])
          if (((x - cx) / 55) ** 2 + (y / 80) ** 2 <= 1) mask[i + n * (j + n * k)] = 1;
      }
  return { mask, g };
}

describe("lungSpreadMm", () => {
  const upright = lungSpreadMm(lungs().mask, lungs().g)!;

  it("is the two lungs' standard deviation along left-right, then front-back", () => {
    // Left-right: the centres at +-70 mm and each ellipse's own x spread (55/2); front-back: 80/2.
    expect(upright[0]).toBeCloseTo(Math.sqrt(70 ** 2 + (55 / 2) ** 2), 0);
    expect(upright[1]).toBeCloseTo(80 / 2, 0);
  });

  it("does not change when the patient lies rolled, and scales with the body", () => {
    for (const roll of [15, -30]) {
      const r = lungs({ rollDeg: roll });
      const s = lungSpreadMm(r.mask, r.g)!;
      expect(s[0] / upright[0]).toBeCloseTo(1, 2);
      expect(s[1] / upright[1]).toBeCloseTo(1, 2);
    }
    const big = lungs({ scale: [1.2, 0.9] });
    const s = lungSpreadMm(big.mask, big.g)!;
    expect(s[0] / upright[0]).toBeCloseTo(1.2, 2);
    expect(s[1] / upright[1]).toBeCloseTo(0.9, 2);
  });

  it("is null without lung", () => {
    const { g } = lungs();
    expect(lungSpreadMm(new Uint8Array(400 * 400 * 3), g)).toBeNull();
  });
});

describe("lungScaleFactors", () => {
  const rule: LungScaleRule = { referenceSpreadMm: [80, 40], range: [0.75, 1.33], tolerance: 0.05 };

  it("is 1 within the tolerance: a body like the training's sees the training's grid", () => {
    expect(lungScaleFactors([80, 40], rule)).toEqual([1, 1]);
    expect(lungScaleFactors([83.9, 38.1], rule)).toEqual([1, 1]);
  });

  it("is the ratio to the reference beyond it, per axis, clamped to the range", () => {
    const [x, y] = lungScaleFactors([96, 34], rule);
    expect(x).toBeCloseTo(1.2, 12);
    expect(y).toBeCloseTo(0.85, 12);
    expect(lungScaleFactors([200, 10], rule)).toEqual([1.33, 0.75]);
  });

  it("is 1 and 1 without a spread to read", () => {
    expect(lungScaleFactors(null, rule)).toEqual([1, 1]);
    expect(lungScaleFactors([0, Number.NaN], rule)).toEqual([1, 1]);
  });
});

describe("beyondLungScaleRange", () => {
  const rule: LungScaleRule = { referenceSpreadMm: [80, 40], range: [0.75, 1.33], tolerance: 0.05 };
  const checked: LungScaleRule = { ...rule, range: [0.5, 1.5], checkedRange: [0.75, 1.33] };

  it("is null within the range, at its ends, and without a spread or a rule", () => {
    for (const r of [rule, checked]) {
      expect(beyondLungScaleRange([96, 34], r)).toBeNull();
      expect(beyondLungScaleRange([60, 30], r)).toBeNull();
      expect(beyondLungScaleRange([80 * 1.33, 40 * 1.33], r)).toBeNull();
      expect(beyondLungScaleRange(null, r)).toBeNull();
    }
    expect(beyondLungScaleRange([40, 20], undefined)).toBeNull();
  });

  it("gives the unclamped ratios and the checked range when either axis lies beyond it", () => {
    const child = beyondLungScaleRange([48, 25], rule);
    expect(child?.checkedRange).toEqual([0.75, 1.33]);
    expect(child?.ratios[0]).toBeCloseTo(0.6, 12);
    expect(child?.ratios[1]).toBeCloseTo(0.625, 12);
    expect(child?.clamped).toBe(true);
    // One axis is enough: a very deep chest of ordinary width.
    expect(beyondLungScaleRange([80, 56], rule)?.ratios[1]).toBeCloseTo(1.4, 12);
  });

  it("reads checkedRange where the manifest has one: beyond it, resampled but not clamped", () => {
    const child = beyondLungScaleRange([48, 25], checked);
    expect(child?.checkedRange).toEqual([0.75, 1.33]);
    expect(child?.clamped).toBe(false);
    expect(lungScaleFactors([48, 25], checked)[0]).toBeCloseTo(0.6, 12);
    expect(beyondLungScaleRange([32, 16], checked)?.clamped).toBe(true);
  });
});

describe("spreadMeasuresBody", () => {
  const lungs = (right: number, left: number, cutInPlane = false) => ({
    volumeMl: { right, left },
    cutInPlane,
  });
  it("takes two whole lungs of comparable size", () => {
    expect(spreadMeasuresBody(lungs(3000, 2550))).toBe(true);
    expect(spreadMeasuresBody(lungs(1200, 3000))).toBe(true);
  });
  it("refuses one lung, a lung mostly lost, or lungs cut by the field of view", () => {
    expect(spreadMeasuresBody(lungs(3000, 0))).toBe(false);
    expect(spreadMeasuresBody(lungs(0, 2500))).toBe(false);
    expect(spreadMeasuresBody(lungs(3000, 800))).toBe(false);
    expect(spreadMeasuresBody(lungs(3000, 2550, true))).toBe(false);
  });
});
