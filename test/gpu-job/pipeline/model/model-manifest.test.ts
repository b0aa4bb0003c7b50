/**
 * model.json's segmentation.obliqueViews: the weight of an oblique scan's aligned view, read by the engine
 * (infer/engine.test.ts shows it applied). Older manifests without it get the plain mean. And
 * preprocessing.inPlane.lungScale, the rule that scales the model pixel to the patient's size.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { alignedViewWeight } from "../../../../gpu-job/pipeline/infer/engine.js";
import {
  bundledModelPath,
  DEFAULT_ENVELOPE,
  ModelManifestSchema,
} from "../../../../gpu-job/pipeline/model/model-manifest.js";

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

const withLungScale = (lungScale: unknown, spacingMm: unknown = bundled.preprocessing.inPlane.spacingMm) => ({
  ...bundled,
  preprocessing: {
    ...bundled.preprocessing,
    inPlane: { ...bundled.preprocessing.inPlane, spacingMm, lungScale },
  },
});

describe("model.json preprocessing.inPlane.lungScale", () => {
  it("the bundled model carries the standard phantom body's lung spread", () => {
    const rule = ModelManifestSchema.parse(bundled).preprocessing.inPlane.lungScale;
    expect(rule?.referenceSpreadMm).toEqual([85.6, 42.7]);
    expect(rule?.range).toEqual([0.5, 1.5]);
    expect(rule?.checkedRange).toEqual([0.69, 1.41]);
    expect(rule?.tolerance).toBe(0.05);
  });

  it("rejects a rule without a fixed model pixel, a range without 1, or a missing reference", () => {
    const rule = bundled.preprocessing.inPlane.lungScale;
    expect(ModelManifestSchema.safeParse(withLungScale(rule)).success).toBe(true);
    expect(ModelManifestSchema.safeParse(withLungScale(undefined)).success).toBe(true);
    expect(ModelManifestSchema.safeParse(withLungScale(rule, null)).success).toBe(false);
    for (const bad of [
      { ...rule, range: [1.1, 1.3] },
      { ...rule, referenceSpreadMm: [85.6] },
      { ...rule, referenceSpreadMm: [0, 42.7] },
      { ...rule, tolerance: 0.9 },
      { ...rule, range: [0.7, 1.4], checkedRange: [0.6, 1.2] },
      { ...rule, checkedRange: [1.05, 1.2] },
    ])
      expect(ModelManifestSchema.safeParse(withLungScale(bad)).success).toBe(false);
  });
});

describe("model.json envelope: where the model was checked to hold", () => {
  it("the bundled model states model/weights/envelope.json, whose figures are the default of older manifests", () => {
    const shipped = JSON.parse(
      readFileSync(join(bundledModelPath(), "../../../model/weights/envelope.json"), "utf8"),
    );
    expect(ModelManifestSchema.parse(bundled).envelope).toEqual(shipped);
    const { checkedOn: _, ...figures } = shipped;
    expect(DEFAULT_ENVELOPE).toEqual(figures);
  });

  it("is optional, and refuses a warning roll below the checked roll or a slice ratio under 1", () => {
    const { envelope, ...older } = bundled;
    expect(ModelManifestSchema.parse(older).envelope).toBeUndefined();
    for (const bad of [
      { ...envelope, rollWarningDeg: 10 },
      { ...envelope, thickSliceRatio: 0.5 },
      { ...envelope, narrowestFieldOfViewMm: undefined },
    ])
      expect(ModelManifestSchema.safeParse({ ...bundled, envelope: bad }).success).toBe(false);
  });
});

describe("model.json preprocessing.normalization", () => {
  it("takes the [0, 1] range the engine scales to, and refuses any other instead of ignoring it", () => {
    const withRange = (range: unknown) => ({
      ...bundled,
      preprocessing: {
        ...bundled.preprocessing,
        normalization: { ...bundled.preprocessing.normalization, range },
      },
    });
    expect(ModelManifestSchema.safeParse(withRange([0.0, 1.0])).success).toBe(true);
    expect(ModelManifestSchema.safeParse(withRange(undefined)).success).toBe(true);
    for (const bad of [
      [-1, 1],
      [0, 255],
      [0, 1, 2],
    ])
      expect(ModelManifestSchema.safeParse(withRange(bad)).success).toBe(false);
  });
});
