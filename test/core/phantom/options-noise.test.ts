import { describe, expect, it } from "vitest";
import { addNoise, HU_MAX, HU_MIN } from "../../../core/phantom/noise.js";
import {
  MAX_PHANTOM_VOXELS,
  PhantomOptionsError,
  PhantomOptionsSchema,
  resolvePhantomOptions,
} from "../../../core/phantom/options.js";

function errorOf(opts: Record<string, unknown>): PhantomOptionsError {
  try {
    resolvePhantomOptions(opts as never);
  } catch (e) {
    expect(e).toBeInstanceOf(PhantomOptionsError);
    return e as PhantomOptionsError;
  }
  throw new Error(`options were accepted: ${JSON.stringify(opts)}`);
}

describe("PhantomOptionsSchema", () => {
  it("fills documented defaults, test identity values included", () => {
    const o = resolvePhantomOptions({ out: "x" });
    expect(o).toMatchObject({
      class: "covid",
      seed: 1,
      format: "dicom",
      size: 512,
      slices: 120,
      sliceThickness: 2.5,
      zDirection: "ascending",
      orientation: "axial",
      transferSyntax: "explicit-le",
      rescale: "unsigned",
      noiseSd: 15,
      correlatedNoise: true,
      zipCompression: "deflate",
    });
    expect(o.spacing).toBeUndefined();
    expect(o.patient.patientName).toBe("PHANTOM^TEST");
    expect(o.patient.studyDate).toMatch(/^\d{8}$/);
    expect(resolvePhantomOptions({ out: "x", orientation: { rotateXDeg: 5 } }).orientation).toEqual({
      rotateXDeg: 5,
      rotateYDeg: 0,
    });
    expect(PhantomOptionsSchema.safeParse({}).success).toBe(false);
  });

  it("rejects bad options with a PhantomOptionsError naming each option", () => {
    const bad = [
      { out: "x", class: "flu" },
      { out: "x", seed: -1 },
      { out: "x", seed: 1.5 },
      { out: "x", size: 8 },
      { out: "x", sliceThickness: 0 },
      { out: "x", orientation: { rotateXDeg: 90 } },
      { out: "x", transferSyntax: "jpeg2000" },
      { out: "x", format: "nifti", transferSyntax: "rle" },
      { out: "x", size: 1024, slices: 1000 },
      { out: "x", patient: { patientName: "A\\B" } },
      { out: "x", patient: { studyDate: "2020-01-01" } },
      { out: "x", patient: { accessionNumber: "X".repeat(17) } },
      { out: "" },
    ];
    for (const opts of bad) {
      expect(() => resolvePhantomOptions(opts as never), JSON.stringify(opts)).toThrow(PhantomOptionsError);
    }
    expect(
      errorOf({ out: "x", seed: -1, noiseSd: -3 })
        .issues.map((i) => i.path)
        .sort(),
    ).toEqual(["noiseSd", "seed"]);
    const big = errorOf({ out: "x", size: 1024, slices: 1000 });
    expect(big.message).toContain(String(MAX_PHANTOM_VOXELS));
    expect(big.issues[0]!.path).toBe("slices");
  });
});

describe("addNoise", () => {
  function flat(n: number, v: number): Int16Array {
    return new Int16Array(n).fill(v);
  }
  function stats(a: Int16Array): { mean: number; sd: number } {
    let s = 0;
    let s2 = 0;
    for (const v of a) {
      s += v;
      s2 += v * v;
    }
    const mean = s / a.length;
    return { mean, sd: Math.sqrt(s2 / a.length - mean * mean) };
  }

  it("adds zero-mean noise of the requested standard deviation, white or correlated", () => {
    for (const correlated of [false, true]) {
      const data = flat(128 * 128 * 4, 40);
      addNoise(data, 128, 128, 4, 15, correlated, ["t", correlated ? "c" : "w"]);
      const { mean, sd } = stats(data);
      expect(Math.abs(mean - 40)).toBeLessThan(0.5);
      expect(Math.abs(sd - 15)).toBeLessThan(0.8);
      // Correlated noise: neighbours along a row are alike (the [1 2 1]/4 blur gives r about 0.67).
      let num = 0;
      let den = 0;
      for (let p = 0; p + 1 < 128 * 128; p++) {
        if ((p + 1) % 128 === 0) continue;
        num += (data[p]! - 40) * (data[p + 1]! - 40);
        den += (data[p]! - 40) ** 2;
      }
      const r = num / den;
      if (correlated) expect(r).toBeGreaterThan(0.5);
      else expect(Math.abs(r)).toBeLessThan(0.05);
    }
  });

  it("clamps to the 12-bit CT range and leaves data alone (but clamped) at sd 0", () => {
    const data = Int16Array.from([-1030, -1000, 0, 3071, 3100, 20000]);
    addNoise(data, 6, 1, 1, 0, false, ["z"]);
    expect(Array.from(data)).toEqual([HU_MIN, -1000, 0, HU_MAX, HU_MAX, HU_MAX]);
    const air = flat(64 * 64, -1024);
    addNoise(air, 64, 64, 1, 20, true, ["air"]);
    expect(Math.min(...air)).toBe(HU_MIN);
  });

  it("calls back once per slice and is deterministic per stream", () => {
    const a = flat(16 * 16 * 3, 0);
    const b = flat(16 * 16 * 3, 0);
    const seen: number[] = [];
    addNoise(a, 16, 16, 3, 10, true, ["s", 1], (k) => seen.push(k));
    addNoise(b, 16, 16, 3, 10, true, ["s", 1]);
    expect(seen).toEqual([0, 1, 2]);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
