/**
 * FindingsSchema: what it accepts (a real computeFindings output, through JSON) and what it refuses
 * (non-finite numbers, negative volumes, shares above 1, a wrong version or shell count, missing blocks),
 * and the constants it publishes (reference curves, shells, lobes).
 */
import { describe, expect, it } from "vitest";
import {
  FINDINGS_VERSION,
  type Findings,
  FindingsSchema,
  REFERENCE_PERIPHERAL_CURVES,
  SEVERITY_BANDS_PERCENT,
  SEVERITY_LOBES,
  SHELL_DEPTHS_MM,
} from "../../../core/contracts/findings.js";
import { computeFindings } from "../../../gpu-job/pipeline/findings/index.js";
import { referenceScene } from "../../gpu-job/pipeline/findings/scene.js";

const valid: Findings = computeFindings(referenceScene().input());

// biome-ignore lint/suspicious/noExplicitAny: the tests build deliberately invalid payloads.
type Loose = any;

function broken(f: (x: Loose) => void): unknown {
  const copy: Loose = structuredClone(valid);
  f(copy);
  return copy;
}

describe("FindingsSchema", () => {
  it("accepts a real output after a JSON round trip, unchanged", () => {
    const parsed = FindingsSchema.parse(JSON.parse(JSON.stringify(valid)));
    expect(parsed).toEqual(valid);
    expect(parsed.version).toBe(FINDINGS_VERSION);
  });

  const rejections: Array<[string, (x: Loose) => void]> = [
    ["NaN mean HU", (x) => (x.attenuation.meanHu = Number.NaN)],
    ["an infinite volume", (x) => (x.extent.lesionVolumeMl = Number.POSITIVE_INFINITY)],
    ["a negative volume", (x) => (x.lesions.listed[0].volumeMl = -1)],
    ["a share above 1", (x) => (x.peripheral.shells[0].share = 1.2)],
    ["a percentage above 100", (x) => (x.extent.percentOfLung = 101)],
    ["a fractional lesion count", (x) => (x.lesions.count = 1.5)],
    ["a severity score above 25", (x) => (x.extent.severity.score = 26)],
    ["a lobe score above 5", (x) => (x.extent.severity.lobes[0].score = 6)],
    ["another version", (x) => (x.version = 2)],
    ["four shells", (x) => x.peripheral.shells.pop()],
    ["an unknown side", (x) => (x.lesions.listed[0].side = "middle")],
    ["an unknown reference", (x) => (x.peripheral.closerTo = "flu")],
    ["connectivity 8", (x) => (x.method.connectivity = 8)],
    ["a missing finding", (x) => delete x.attenuation],
  ];
  for (const [name, f] of rejections) {
    it(`rejects ${name}`, () => expect(FindingsSchema.safeParse(broken(f)).success).toBe(false));
  }

  it("allows null where a ratio has no denominator", () => {
    const empty = broken((x) => {
      x.attenuation.meanHu = null;
      x.attenuation.ggoFraction = null;
      x.extent.percentOfLung = null;
      for (const s of x.peripheral.shells) s.share = null;
      x.peripheral.closerTo = null;
      x.distribution.lowerZoneShare = null;
      x.lesions.listed[0].zone = null;
    });
    expect(FindingsSchema.safeParse(empty).success).toBe(true);
  });
});

describe("findings constants", () => {
  it("publishes the five shells and the two reference curves of DESIGN.md §4", () => {
    expect(SHELL_DEPTHS_MM).toEqual([7, 14, 21, 28, 35]);
    expect(REFERENCE_PERIPHERAL_CURVES.covid19).toEqual([0.14, 0.36, 0.55, 0.7, 0.81]);
    expect(REFERENCE_PERIPHERAL_CURVES.cap).toEqual([0.04, 0.12, 0.21, 0.28, 0.34]);
    for (const curve of Object.values(REFERENCE_PERIPHERAL_CURVES)) {
      expect(curve.every((v, n) => n === 0 || v > curve[n - 1]!)).toBe(true); // cumulative shares grow
    }
  });

  it("scores five lobes 0-5 on increasing bands", () => {
    expect(SEVERITY_LOBES).toHaveLength(5);
    expect(SEVERITY_BANDS_PERCENT).toEqual([5, 25, 50, 75]);
  });
});
