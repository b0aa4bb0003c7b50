/**
 * model.json's segmentation.obliqueViews: the weight of an oblique scan's aligned view, read by the engine
 * (infer/engine.test.ts shows it applied). Older manifests without it get the plain mean.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { alignedViewWeight } from "../../../../gpu-job/pipeline/infer/engine.js";
import { bundledModelPath, ModelManifestSchema } from "../../../../gpu-job/pipeline/model/model-manifest.js";

const bundled = JSON.parse(readFileSync(bundledModelPath(), "utf8"));
const withViews = (obliqueViews: unknown) => ({
  ...bundled,
  segmentation: { ...bundled.segmentation, obliqueViews },
});

describe("model.json segmentation.obliqueViews", () => {
  it("the bundled model weighs the aligned view 0.8 (chosen with bench/oblique-views.ts)", () => {
    expect(alignedViewWeight(ModelManifestSchema.parse(bundled))).toBe(0.8);
  });

  it("absent, the two views get equal weight", () => {
    const { obliqueViews: _, ...segmentation } = bundled.segmentation;
    expect(alignedViewWeight(ModelManifestSchema.parse({ ...bundled, segmentation }))).toBe(0.5);
  });

  it("rejects a weight outside [0, 1] or missing", () => {
    for (const bad of [{ alignedWeight: 1.5 }, { alignedWeight: -0.1 }, {}, { alignedWeight: "0.8" }])
      expect(ModelManifestSchema.safeParse(withViews(bad)).success).toBe(false);
    for (const ok of [{ alignedWeight: 0 }, { alignedWeight: 1 }])
      expect(ModelManifestSchema.safeParse(withViews(ok)).success).toBe(true);
  });
});
