import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Mat3, Vec3 } from "../../../core/contracts/volume.js";
import { runPhantom } from "../../../core/phantom/run.js";
import { analyze } from "../../../gpu-job/pipeline/analyze.js";
import { bundledModelPath, DEFAULT_ENVELOPE } from "../../../gpu-job/pipeline/model/model-manifest.js";
import { thickerThanModel } from "../../../gpu-job/pipeline/preprocess/model-grid.js";
import {
  EFFUSION_WARNING_ML,
  MIN_CHEST_LUNG_ML,
  scanCaveats,
  UNRELIABLE_CLASS_CODES,
} from "../../../gpu-job/pipeline/scan-caveats.js";
import { corpusPath } from "../../helpers/corpus.js";
import { testPreprocessing } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-caveats-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("scanCaveats", () => {
  it("says nothing for a chest's worth of lung at the model's pixel size", () => {
    expect(scanCaveats({ lungMl: 4800, coarse: null })).toEqual({ warnings: [], impression: [] });
    expect(scanCaveats({ lungMl: MIN_CHEST_LUNG_ML, coarse: null }).warnings).toEqual([]);
  });

  it("warns, and tells the impression, when there is less lung than a chest CT holds", () => {
    const c = scanCaveats({ lungMl: 122.6, coarse: null });
    expect(c.warnings.map((w) => w.code)).toEqual(["NOT_CHEST"]);
    expect(c.warnings[0]?.message).toMatch(/^Only 123 mL of lung was found/);
    expect(c.impression).toEqual([
      "Only 123 mL of lung lies in this scan, so it may not be a chest CT: the model's class is unreliable.",
    ]);
    expect(scanCaveats({ lungMl: 0, coarse: null }).warnings[0]?.message).toMatch(/^No lung was found/);
  });

  it("warns of coarse pixels with both sizes, after the lung caveat", () => {
    const c = scanCaveats({ lungMl: 500, coarse: { nativeMm: 3.75, modelMm: 2.8125 } });
    expect(c.warnings.map((w) => w.code)).toEqual(["NOT_CHEST", "COARSE_PIXELS"]);
    expect(c.warnings[1]?.message).toMatch(
      /^In-plane pixels of 3\.75 mm are coarser than the model's 2\.81 mm/,
    );
    expect(c.impression[1]).toMatch(/pixels \(3\.8 mm\) are coarser than the model's input/);
  });
});

describe("scanCaveats: a rolled patient", () => {
  it("warns from the envelope's rollWarningDeg on, either way, and says so in the impression", () => {
    const { rollWarningDeg } = DEFAULT_ENVELOPE;
    expect(scanCaveats({ lungMl: 4800, coarse: null, rollDeg: rollWarningDeg - 0.5 }).warnings).toEqual([]);
    expect(scanCaveats({ lungMl: 4800, coarse: null, rollDeg: null }).warnings).toEqual([]);
    for (const roll of [-31.3, 26.03]) {
      const c = scanCaveats({ lungMl: 4800, coarse: null, rollDeg: roll });
      expect(c.warnings.map((w) => w.code)).toEqual(["PATIENT_ROLLED"]);
      expect(c.warnings[0]?.message).toContain(`about ${Math.abs(roll).toFixed(0)} degrees rolled`);
      expect(c.impression[0]).toMatch(/^The patient lies about \d+ degrees rolled/);
    }
  });
});

describe("scanCaveats: a narrow field of view", () => {
  it("warns when a view narrower than the envelope's cuts the lungs, not when it holds them or is wide enough", () => {
    const NARROW_VIEW_MM = DEFAULT_ENVELOPE.narrowestFieldOfViewMm;
    const base = { lungMl: 4800, coarse: null };
    const c = scanCaveats({ ...base, view: { acrossMm: 219.8, cutsLungs: true } });
    expect(c.warnings.map((w) => w.code)).toEqual(["NARROW_FIELD_OF_VIEW"]);
    expect(c.warnings[0]?.message).toMatch(/^The field of view is 220 mm across and cuts the lungs/);
    expect(c.impression).toEqual([
      "The field of view (220 mm) cuts the lungs, which the model was not trained on: its class is unreliable.",
    ]);
    expect(UNRELIABLE_CLASS_CODES).toContain("NARROW_FIELD_OF_VIEW");
    expect(scanCaveats({ ...base, view: { acrossMm: 219.8, cutsLungs: false } }).warnings).toEqual([]);
    expect(scanCaveats({ ...base, view: { acrossMm: NARROW_VIEW_MM, cutsLungs: true } }).warnings).toEqual(
      [],
    );
  });
});

describe("scanCaveats: the model's own envelope", () => {
  it("judges roll and field of view by the envelope the model states, and names its figures", () => {
    const own = {
      ...DEFAULT_ENVELOPE,
      trainingFieldOfViewMm: 400,
      narrowestFieldOfViewMm: 200,
      rollCheckedDeg: 35,
      rollWarningDeg: 40,
    };
    const facts = { lungMl: 4800, coarse: null, rollDeg: 30, view: { acrossMm: 220, cutsLungs: true } };
    expect(scanCaveats(facts).warnings.map((w) => w.code)).toEqual([
      "PATIENT_ROLLED",
      "NARROW_FIELD_OF_VIEW",
    ]);
    expect(scanCaveats(facts, own).warnings).toEqual([]);
    const wider = scanCaveats({ ...facts, rollDeg: 41, view: { acrossMm: 190, cutsLungs: true } }, own);
    expect(wider.warnings[0]?.message).toContain("checked up to 35 degrees of roll");
    expect(wider.warnings[1]?.message).toContain(
      "trained on 400 mm views of whole lungs and checked down to 200 mm",
    );
  });
});

describe("scanCaveats: lungs beyond the size rule's checked range", () => {
  const base = { lungMl: 2400, coarse: null };
  const checkedRange: [number, number] = [0.7, 1.4];

  it("warns that a smaller or larger chest than the model was checked on makes its class unreliable", () => {
    const child = scanCaveats({
      ...base,
      lungSizeBeyondRange: { ratios: [0.6, 0.62], checkedRange, clamped: false },
    });
    expect(child.warnings.map((w) => w.code)).toEqual(["LUNG_SIZE_OUT_OF_RANGE"]);
    const message = child.warnings[0]?.message;
    expect(message).toMatch(/^The lungs spread 0\.60 x 0\.62 times the model's training bodies'/);
    expect(message).toContain("beyond the 0.7-1.4 its size rule");
    expect(message).toContain("resampled to its training size further than it was checked");
    expect(message).toContain("A child's chest is this small");
    expect(child.impression).toEqual([
      "The lungs are smaller than any the model was checked on, so its class is unreliable.",
    ]);
    const large = scanCaveats({
      ...base,
      lungSizeBeyondRange: { ratios: [1.61, 1.2], checkedRange, clamped: true },
    });
    expect(large.warnings[0]?.message).toContain(
      "at the end of its size rule's range, larger than any chest",
    );
    expect(large.warnings[0]?.message).not.toContain("child");
    expect(large.impression[0]).toMatch(/^The lungs are larger than any/);
    expect(UNRELIABLE_CLASS_CODES).toContain("LUNG_SIZE_OUT_OF_RANGE");
    expect(scanCaveats({ ...base, lungSizeBeyondRange: null }).warnings).toEqual([]);
  });
});

describe("scanCaveats: pleural fluid", () => {
  const base = { lungMl: 4000, coarse: null };
  const fluid = (right: number, left: number) => ({
    ml: { right, left },
    depthMm: { right: right / 10, left: left / 10 },
  });

  it("says nothing below EFFUSION_WARNING_ML on either side, or when the fluid was not measured", () => {
    const below = EFFUSION_WARNING_ML - 0.5;
    expect(scanCaveats({ ...base, pleuralFluid: fluid(below, below) }).warnings).toEqual([]);
    expect(scanCaveats({ ...base, pleuralFluid: null }).warnings).toEqual([]);
  });

  it("names each side over the limit with its volume and depth, and tells the impression", () => {
    const c = scanCaveats({ ...base, pleuralFluid: fluid(432.4, 40) });
    expect(c.warnings.map((w) => w.code)).toEqual(["PLEURAL_EFFUSION"]);
    expect(c.warnings[0]?.message).toMatch(
      /^About 432 mL beneath the right lung \(43 mm deep\) is water-density/,
    );
    expect(c.warnings[0]?.message).not.toContain("left lung");
    expect(c.impression).toEqual([
      "Pleural fluid (about 432 mL on the right) lies beneath the lungs, which the model was not trained on: lesions along it may be false.",
    ]);
    const both = scanCaveats({ ...base, pleuralFluid: fluid(520, EFFUSION_WARNING_ML) });
    expect(both.warnings[0]?.message).toMatch(
      /^About 520 mL beneath the right lung \(52 mm deep\) and 100 mL beneath the left lung \(10 mm deep\)/,
    );
    expect(both.impression[0]).toContain("about 520 mL on the right and 100 mL on the left");
  });

  it("leaves the class's reliability alone: on phantoms every class stayed right with fluid", () => {
    expect(UNRELIABLE_CLASS_CODES).not.toContain("PLEURAL_EFFUSION");
  });
});

describe("scanCaveats: slices thicker than the model was trained on", () => {
  it("says nothing without thickerThanModel's answer, and names both spacings with it", () => {
    expect(scanCaveats({ lungMl: 4800, coarse: null, thick: null }).warnings).toEqual([]);
    const c = scanCaveats({ lungMl: 4800, coarse: null, thick: { nativeMm: 10, modelMm: 2.5, ratio: 2 } });
    expect(c.warnings.map((w) => w.code)).toEqual(["THICK_SLICES"]);
    expect(c.warnings[0]?.message).toMatch(
      /^The slices are 10\.0 mm apart, more than twice the model's 2\.5 mm/,
    );
    const loose = scanCaveats({
      lungMl: 4800,
      coarse: null,
      thick: { nativeMm: 10, modelMm: 2.5, ratio: 3 },
    });
    expect(loose.warnings[0]?.message).toMatch(/more than 3 times the model's 2\.5 mm/);
    expect(c.impression).toEqual([
      "The slices are 10.0 mm apart, thicker than the model was trained on: lesions may be false.",
    ]);
  });

  it("leaves the class's reliability alone: the class held on 10 mm phantoms", () => {
    expect(UNRELIABLE_CLASS_CODES).not.toContain("THICK_SLICES");
  });
});

describe("thickerThanModel", () => {
  const geometry = (k: number, direction = [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3) => ({
    dims: [64, 64, 30] as Vec3,
    spacing: [1, 1, k] as Vec3,
    origin: [0, 0, 0] as Vec3,
    direction,
  });
  const p = testPreprocessing({ size: [64, 64] });

  it("is null up to the envelope's ratio to the model's slice grid, set beyond", () => {
    expect(p.zResampling.spacingMm).toBe(2.5);
    expect(thickerThanModel(geometry(5), p, 2)).toBeNull();
    expect(thickerThanModel(geometry(7.5), p, 2)).toEqual({ nativeMm: 7.5, modelMm: 2.5, ratio: 2 });
    expect(thickerThanModel(geometry(7.5), p, 3)).toBeNull();
  });

  it("reads the step along the body, whatever axis the slices are stored on, and nothing without a z grid", () => {
    // Coronal slices 8 mm apart: the body axis is native j (1 mm pixels), so nothing is thick.
    expect(thickerThanModel(geometry(8, [1, 0, 0, 0, 0, 1, 0, -1, 0]), p, 2)).toBeNull();
    const native = { ...p, zResampling: { ...p.zResampling, spacingMm: null } };
    expect(thickerThanModel(geometry(10), native, 2)).toBeNull();
  });
});

describe("analyze on a 211 mm field of view that cuts the lungs (phantom)", () => {
  it("says the class is unreliable, in the warnings and the impression", async () => {
    const phantom = await runPhantom({
      class: "normal",
      seed: 9107,
      size: 96,
      pixelSpacing: 2.2,
      slices: 40,
      sliceThickness: 7.5,
      format: "nifti",
      out: join(work, "narrow"),
    });
    const { diagnosis } = await analyze(phantom.ctPath, join(work, "narrow-out"), { device: "cpu" });
    const codes = diagnosis.warnings.map((w) => w.code);
    expect(codes).toContain("NARROW_FIELD_OF_VIEW");
    expect(codes).not.toContain("COARSE_PIXELS");
    expect(diagnosis.impression).toContain("The field of view (211 mm) cuts the lungs");
    expect(codes).toContain("THICK_SLICES");

    // A model whose manifest says it was checked down to 200 mm and on slices 4 times its grid apart.
    const models = join(work, "own-envelope");
    cpSync(dirname(bundledModelPath()), models, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(models, "model.json"), "utf8"));
    manifest.envelope = { ...manifest.envelope, narrowestFieldOfViewMm: 200, thickSliceRatio: 4 };
    writeFileSync(join(models, "model.json"), JSON.stringify(manifest));
    const own = await analyze(phantom.ctPath, join(work, "narrow-own"), {
      device: "cpu",
      model: join(models, "model.json"),
    });
    expect(own.diagnosis.warnings.map((w) => w.code)).not.toContain("NARROW_FIELD_OF_VIEW");
    expect(own.diagnosis.warnings.map((w) => w.code)).not.toContain("THICK_SLICES");
  }, 180_000);
});

describe("analyze on an abdominal CT with a sliver of lung bases (corpus)", () => {
  it("still analyses it, but says it may not be a chest CT, in the warnings and the impression", async () => {
    const { diagnosis } = await analyze(corpusPath("nifti/ct_abdomen_3mm.nii.gz"), join(work, "abdomen"), {
      device: "cpu",
    });
    const lungMl = diagnosis.findings.extent.lungVolumeMl;
    expect(lungMl).toBeGreaterThan(50);
    expect(lungMl).toBeLessThan(MIN_CHEST_LUNG_ML);
    expect(diagnosis.warnings.map((w) => w.code)).toContain("NOT_CHEST");
    expect(diagnosis.impression).toContain("so it may not be a chest CT: the model's class is unreliable.");
  }, 120_000);
});
