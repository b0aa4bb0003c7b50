/**
 * The engine's handling of an oblique scan: two views (the LPS-aligned grid and the scan's own grid), their
 * lesion logits and class probabilities averaged. A fake session tells the views apart by their whole-scan
 * stack (the same for every tile of one view) and answers each with its own constant outputs, so what the
 * engine does with them is visible in the result.
 */
import { describe, expect, it } from "vitest";
import { inferScan } from "../../../../gpu-job/pipeline/infer/engine.js";
import { bundledModelPath, loadModel } from "../../../../gpu-job/pipeline/model/model-manifest.js";
import { renderSmall, SMALL_GRID } from "../lungs/phantom-fixture.js";

interface ViewAnswer {
  lesionLogit: number;
  classLogits: [number, number, number];
}

/** A session answering the first view it sees with `first`, any other with `second`; counts calls per view. */
function twoViewSession(first: ViewAnswer, second: ViewAnswer) {
  let firstStack: Float32Array | undefined;
  const calls = [0, 0];
  const session = {
    run: async (feeds: Record<string, Float32Array>, shapes: Record<string, readonly number[]>) => {
      const stack = feeds.stack as Float32Array;
      firstStack ??= Float32Array.from(stack);
      const isFirst = stack.length === firstStack.length && stack.every((v, i) => v === firstStack?.[i]);
      const answer = isFirst ? first : second;
      calls[isFirst ? 0 : 1]! += 1;
      const tile = (shapes.tile as number[]).reduce((a, b) => a * b, 1);
      return {
        class_logits: Float32Array.from(answer.classLogits),
        lesion_logits: new Float32Array(tile).fill(answer.lesionLogit),
        evidence: new Float32Array(tile),
      };
    },
  };
  return { session, calls };
}

const oblique = renderSmall("normal", 77, {
  ...SMALL_GRID,
  slices: 40,
  orientation: { rotateXDeg: 12, rotateYDeg: -8 },
});
const axial = renderSmall("normal", 77, { ...SMALL_GRID, slices: 40 });
const lungVoxels = (m: Uint8Array) => m.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);

describe("inferScan on an oblique scan", () => {
  it("runs both views and thresholds the mean of their lesion logits", async () => {
    const model = await loadModel(bundledModelPath());
    const lungs = oblique.lungs.data;
    // +3 and -1 average to +1: lesion wherever the scan's own lung mask is (either view alone would differ
    // from the other).
    const up = twoViewSession(
      { lesionLogit: 3, classLogits: [2, 0, 0] },
      { lesionLogit: -1, classLogits: [0, 2, 0] },
    );
    const r = await inferScan(oblique.ct, lungs, model, up.session);
    expect(r.resampled).not.toBeNull();
    expect(up.calls[0]).toBeGreaterThan(0);
    expect(up.calls[1]).toBeGreaterThan(0);
    expect(r.lesionVoxels).toBe(lungVoxels(lungs));
    // The class probabilities are the mean of the two views' (softmax of 2,0,0 and of 0,2,0).
    const p = Math.exp(2) / (Math.exp(2) + 2);
    const q = 1 / (Math.exp(2) + 2);
    expect(r.probabilities.covid19).toBeCloseTo((p + q) / 2, 6);
    expect(r.probabilities.cap).toBeCloseTo((q + p) / 2, 6);

    // +1 and -3 average to -1: no lesion at all.
    const down = twoViewSession(
      { lesionLogit: 1, classLogits: [0, 0, 2] },
      { lesionLogit: -3, classLogits: [0, 0, 2] },
    );
    expect((await inferScan(oblique.ct, lungs, model, down.session)).lesionVoxels).toBe(0);
  }, 60_000);

  it("runs one view on an axis-aligned scan", async () => {
    const model = await loadModel(bundledModelPath());
    const s = twoViewSession(
      { lesionLogit: 1, classLogits: [2, 0, 0] },
      { lesionLogit: -5, classLogits: [0, 2, 0] },
    );
    const r = await inferScan(axial.ct, axial.lungs.data, model, s.session);
    expect(r.resampled).toBeNull();
    expect(s.calls[1]).toBe(0);
    expect(r.lesionVoxels).toBe(lungVoxels(axial.lungs.data));
  }, 60_000);
});
