/**
 * The plain-language impression: exact text for the reference scene, the wording rules one by one, the
 * no-lesion and no-lung cases, the synthetic-model disclaimer, and invalid probabilities.
 */
import { describe, expect, it } from "vitest";
import type { Findings } from "../../../../core/contracts/findings.js";
import { SUBPLEURAL_SHARE } from "../../../../gpu-job/pipeline/findings/impression.js";
import {
  computeFindings,
  FindingsInputError,
  impression,
} from "../../../../gpu-job/pipeline/findings/index.js";
import { referenceScene, Scene } from "./scene.js";

const COVID = { covid19: 0.82, cap: 0.12, non_pneumonia: 0.06 };
const CAP = { covid19: 0.2, cap: 0.7, non_pneumonia: 0.1 };
const NORMAL = { covid19: 0.05, cap: 0.05, non_pneumonia: 0.9 };
const base = computeFindings(referenceScene().input(), { pleuralSurfaceOffsetMm: 0 });

function patched(f: (x: Findings) => void): Findings {
  const copy = structuredClone(base);
  f(copy);
  return copy;
}

describe("impression", () => {
  it("describes the reference scene in full", () => {
    expect(impression(base, COVID, { synthetic: true })).toBe(
      "Multi-focal ground-glass opacities, peripheral (subpleural), in both lungs. " +
        "The 2 lesions occupy 0.8 mL, 4.2 % of the lung volume (CT severity score 4 of 25, lobes approximated by thirds of each lung). " +
        "Their depth under the pleura is closer to the COVID-19 reference curve. " +
        "Findings are more similar to the COVID-19 pneumonia pattern " +
        "(model probabilities: COVID-19 82 %, CAP 12 %, non-pneumonia 6 %). " +
        "This summary is not a diagnosis and must be reviewed by a radiologist. " +
        "The model was trained on synthetic phantoms only: these results are not for clinical use.",
    );
  });

  it("says 'lower-zone predominant' only when the lower zones hold most of the lesion", () => {
    expect(impression(base, COVID, { synthetic: false })).not.toContain("lower-zone");
    const lower = patched((f) => {
      f.distribution.lowerZonePredominant = true;
    });
    expect(impression(lower, COVID, { synthetic: false })).toContain(
      "Multi-focal ground-glass opacities, peripheral (subpleural), lower-zone predominant, in both lungs.",
    );
  });

  it("describes a single consolidative, deeper lesion in one lung zone, and the CAP pattern", () => {
    const cap = patched((f) => {
      f.lesions.count = 1;
      f.lesions.left = 0;
      f.lesions.listed = f.lesions.listed.slice(1); // lesion A: right lower zone
      f.attenuation.consolidationFraction = 0.6;
      f.peripheral.closerTo = "cap";
      f.distribution.bilateral = false;
      f.extent.left.lesionVolumeMl = 0;
      f.extent.lesionVolumeMl = 12.345;
      f.extent.percentOfLung = 0.5;
    });
    const text = impression(cap, CAP, { synthetic: false });
    expect(text).toContain(
      "A single predominantly consolidative opacity, not predominantly subpleural, in the lower zone of the right lung.",
    );
    expect(text).toContain("It occupies 12 mL, 0.5 % of the lung volume");
    expect(text).toContain("closer to the CAP reference curve");
    expect(text).toContain("Findings are more similar to the community-acquired pneumonia (CAP) pattern");
    expect(text).not.toContain("synthetic");
  });

  it("says 'subpleural' only when enough lesion lies near the pleura, whatever curve fits better", () => {
    // Wholly 14-35 mm deep: nearer the COVID-19 curve than CAP's (rms 0.31 v 0.57), yet not subpleural.
    const deep = patched((f) => {
      f.peripheral.closerTo = "covid19";
      for (const [s, share] of [0, 0, 1, 1, 1].entries()) f.peripheral.shells[s]!.share = share;
    });
    const text = impression(deep, COVID, { synthetic: false });
    expect(text).not.toContain("subpleural");
    expect(text).toContain("closer to the COVID-19 reference curve");
    // At the bound (halfway between the curves at 14 mm), it may be said.
    const near = patched((f) => {
      f.peripheral.closerTo = "covid19";
      f.peripheral.shells[1]!.share = SUBPLEURAL_SHARE;
    });
    expect(SUBPLEURAL_SHARE).toBeCloseTo(0.24, 10);
    expect(impression(near, COVID, { synthetic: false })).toContain("peripheral (subpleural)");
  });

  it("uses 'mixed' between 0.15 and 0.5 consolidation", () => {
    const mixed = patched((f) => {
      f.attenuation.consolidationFraction = 0.3;
    });
    expect(impression(mixed, COVID, { synthetic: false })).toMatch(
      /^Multi-focal mixed ground-glass and consolidative/,
    );
  });

  it("reports no opacities and a non-pneumonia lean on a clean scan", () => {
    const s = new Scene([10, 10, 6], [2, 2, 2]).lung({ i: [1, 8], j: [1, 8], k: [0, 5] }, 1, () => 2);
    const text = impression(computeFindings(s.input()), NORMAL, { synthetic: true });
    expect(text).toMatch(/^No lung opacities of 0\.1 mL or more were found\. /);
    expect(text).toContain("Findings are more similar to scans without pneumonia");
    expect(text).toContain("not for clinical use");
  });

  it("says when the lungs could not be found", () => {
    const text = impression(computeFindings(new Scene([6, 6, 6], [2, 2, 2]).input()), NORMAL, {
      synthetic: false,
    });
    expect(text).toMatch(/^The lungs could not be segmented, so no findings were measured\. /);
  });

  it("puts the scan's caveats right after the model's lean, before the review sentence", () => {
    const caveat =
      "Only 123 mL of lung lies in this scan, so it may not be a chest CT: the model's class is unreliable.";
    const text = impression(base, COVID, { synthetic: false }, [caveat]);
    const at = text.indexOf(caveat);
    expect(at).toBeGreaterThan(text.indexOf("model probabilities"));
    expect(text.slice(at + caveat.length)).toBe(
      " This summary is not a diagnosis and must be reviewed by a radiologist.",
    );
  });

  it("never claims a diagnosis", () => {
    for (const p of [COVID, CAP, NORMAL]) {
      const text = impression(base, p, { synthetic: false });
      expect(text).toContain("not a diagnosis");
      expect(text).not.toMatch(/diagnosed|confirm|positive for|patient has/i);
    }
  });

  it("rejects probabilities that are not numbers in [0, 1]", () => {
    expect(() => impression(base, { ...COVID, cap: Number.NaN }, { synthetic: true })).toThrow(
      FindingsInputError,
    );
    expect(() => impression(base, { ...COVID, covid19: 1.5 }, { synthetic: true })).toThrow(/covid19/);
    expect(() => impression(base, { ...COVID, non_pneumonia: -0.1 }, { synthetic: true })).toThrow(
      /non_pneumonia/,
    );
  });
});
