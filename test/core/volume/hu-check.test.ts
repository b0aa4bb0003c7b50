import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../../../core/contracts/reason-codes.js";
import type { Volume } from "../../../core/contracts/volume.js";
import { readNifti } from "../../../core/nifti/read.js";
import { checkHuPlausible, HU_CHECK, sampleStride } from "../../../core/volume/hu-check.js";
import { CORPUS, fileEntry } from "../nifti/helpers.js";

const GEOM = { spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } as Pick<
  Volume,
  "spacing" | "origin" | "direction"
>;

/** A volume whose voxels are `count` copies of each value (shuffled deterministically so strides see all). */
function mix(parts: [value: number, count: number][], float = false): Volume {
  const values: number[] = [];
  for (const [v, n] of parts) for (let i = 0; i < n; i++) values.push(v);
  let s = 42;
  for (let i = values.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  const data = float ? Float32Array.from(values) : Int16Array.from(values);
  return { ...GEOM, dims: [values.length, 1, 1], data };
}

describe("checkHuPlausible on synthetic volumes", () => {
  it("accepts a chest-like CT: air, lung and soft tissue", () => {
    const r = checkHuPlausible(
      mix([
        [-1000, 3000],
        [-850, 4000],
        [40, 3000],
        [700, 100],
      ]),
    );
    expect(r).toEqual({ ok: true, huRange: [-1000, 700] });
  });

  it("accepts little air below -900 when the histogram has a peak in [-1100, -850]", () => {
    // 0.1 % below -900 (under the 0.2 % fraction) but a clear lung peak at -870.
    const r = checkHuPlausible(
      mix([
        [-950, 10],
        [-870, 1500],
        [40, 8490],
      ]),
    );
    expect(r.ok).toBe(true);
  });

  it("rejects negative-valued data with neither air fraction nor air peak", () => {
    const r = checkHuPlausible(
      mix([
        [-950, 10],
        [-600, 1500],
        [40, 8490],
      ]),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason.code).toBe("HU_IMPLAUSIBLE");
      expect(r.reason.message).toMatch(/0\.10 % of voxels are in \[-1200, -900\) HU/);
      expect(r.huRange).toEqual([-950, 40]);
    }
  });

  it("rejects an unscaled CT (raw stored values, air at 0 or 24) and MR-like data (>= 0)", () => {
    const raw = checkHuPlausible(
      mix([
        [24, 5000],
        [1064, 5000],
      ]),
    );
    expect(raw.ok).toBe(false);
    if (!raw.ok) expect(raw.reason.message).toMatch(/No voxel is below 0/);
  });

  it("rejects a tiny range (normalised or probability images), even when it dips below 0", () => {
    const r = checkHuPlausible(
      mix(
        [
          [-8.7, 10],
          [0, 100],
          [18.5, 10],
        ],
        true,
      ),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.message).toMatch(/span only 27\.2/);
  });

  it("rejects values on another scale: scl_slope 1000 puts air at -1,024,000 and soft tissue above 4000 HU", () => {
    const chest: [number, number][] = [
      [-1024, 3000],
      [-850, 4000],
      [40, 2900],
      [700, 100],
    ];
    const scaled = chest.map(([v, n]) => [v * 1000, n] as [number, number]);
    const r = checkHuPlausible(mix(scaled, true));
    expect(r).toMatchObject({ ok: false, reason: { code: "HU_IMPLAUSIBLE" } });
    if (!r.ok) expect(r.reason.message).toMatch(/30\.00 % of voxels lie above 4000 HU/);
    // Air scaled out of its window is no air, even where nothing lies above 4000 HU.
    const negative = checkHuPlausible(
      mix(
        [
          [-1_024_000, 3000],
          [-5, 7000],
        ],
        true,
      ),
    );
    expect(negative.ok).toBe(false);
    if (!negative.ok)
      expect(negative.reason.message).toMatch(/No air: 0\.00 % of voxels are in \[-1200, -900\)/);
    // Infinite voxels (an overflowing rescale) are off the scale too.
    const inf = mix(chest, true);
    for (let i = 0; i < 500; i++) inf.data[i] = Number.POSITIVE_INFINITY;
    expect(checkHuPlausible(inf).ok).toBe(false);
  });

  it("rejects negated values (slope -1): air and lungs at +1000, dense bone where air should be", () => {
    const negated = mix([
      [1024, 3000],
      [850, 1000],
      [950, 3000],
      [-40, 2900],
      [-1000, 100],
    ]);
    const r = checkHuPlausible(negated);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.message).toMatch(/look negated/);
    // DICOM slope -1 with intercept -1024: air stays at -1024 and the body goes below it.
    const below = mix([
      [-1024, 3000],
      [-1874, 4000],
      [-2088, 2900],
      [-2748, 100],
    ]);
    const b = checkHuPlausible(below);
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.reason.message).toMatch(/Only 0\.00 % of voxels lie at or above -500 HU/);
  });

  it("accepts a CT masked to its lungs (the rest set to air): no body, but nothing below air either", () => {
    const masked = mix([
      [-1024, 8500],
      [-860, 1400],
      [-620, 80],
      [-1500, 20], // a little padding
    ]);
    expect(checkHuPlausible(masked).ok).toBe(true);
  });

  it("accepts real CT's extremes: metal to 3071 HU and beyond, padding at -2048 or -3024, dense bone", () => {
    const r = checkHuPlausible(
      mix([
        [-3024, 2100], // outside the reconstruction circle: ~21 % of a slice
        [-1000, 2000],
        [-860, 1500],
        [40, 3500],
        [1000, 500], // cortical bone
        [3071, 100], // metal, clipped
        [15000, 100], // metal on an extended scale
      ]),
    );
    expect(r.ok).toBe(true);
    expect(
      checkHuPlausible(
        mix([
          [-2048, 2100],
          [-1000, 2000],
          [40, 5900],
        ]),
      ).ok,
    ).toBe(true);
  });

  it("quotes its scale limits in HU_IMPLAUSIBLE's documented meaning", () => {
    expect(REASON_CODES.HU_IMPLAUSIBLE).toContain(`no body above ${HU_CHECK.tissueFromHu} HU`);
    expect(REASON_CODES.HU_IMPLAUSIBLE).toContain(
      `over ${HU_CHECK.maxOffScaleFraction * 100} % of voxels above ${HU_CHECK.offScaleAboveHu} HU`,
    );
  });

  it("ignores non-finite voxels, and rejects a volume without any finite value", () => {
    const v = mix(
      [
        [-1000, 500],
        [40, 500],
      ],
      true,
    );
    v.data[3] = Number.NaN;
    v.data[7] = Number.POSITIVE_INFINITY;
    v.data[9] = Number.NEGATIVE_INFINITY;
    const r = checkHuPlausible(v);
    expect(r.ok).toBe(true);
    expect(r.huRange).toEqual([-1000, 40]);
    const none = checkHuPlausible({ ...GEOM, dims: [3, 1, 1], data: new Float32Array(3).fill(Number.NaN) });
    expect(none).toMatchObject({ ok: false, huRange: [0, 0] });
  });

  it("reports the exact range over every voxel, not just the samples", () => {
    const n = 5_000_003;
    const data = new Int16Array(n).fill(40);
    for (let i = 0; i < n; i += 10) data[i] = -1000;
    data[n - 2] = 3071; // not on the sampling stride
    data[1] = -2048;
    const r = checkHuPlausible({ ...GEOM, dims: [n, 1, 1], data });
    expect(r).toEqual({ ok: true, huRange: [-2048, 3071] });
  });

  it("samples with a stride coprime with the slice size, so air in some columns only is still seen", () => {
    // 512 x 512 x 40: air only in columns i < 40 (a thin rim of the field of view), ~8 % of voxels.
    const [nx, ny, nz] = [512, 512, 40];
    const data = new Int16Array(nx * ny * nz).fill(40);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++) for (let i = 0; i < 40; i++) data[i + nx * (j + ny * k)] = -1000;
    const stride = sampleStride(data.length, nx * ny);
    expect(stride).toBeGreaterThan(1);
    expect(Math.ceil(data.length / stride)).toBeLessThanOrEqual(HU_CHECK.maxSamples);
    expect(checkHuPlausible({ ...GEOM, dims: [nx, ny, nz], data }).ok).toBe(true);
  });
});

describe("sampleStride", () => {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  it.each([
    [512 * 512 * 300, 512 * 512],
    [512 * 512 * 30, 512 * 512],
    [600 * 600 * 1000, 600 * 600],
    [333 * 333 * 77, 333 * 333],
  ])("%d voxels, slice %d: at most ~2 M samples, coprime with the slice", (voxels, slice) => {
    const s = sampleStride(voxels, slice);
    expect(gcd(s, slice)).toBe(1);
    expect(Math.ceil(voxels / s)).toBeLessThanOrEqual(HU_CHECK.maxSamples);
    expect(Math.ceil(voxels / s)).toBeGreaterThan(HU_CHECK.maxSamples / 2);
  });
  it("is 1 for volumes under the sample budget", () => {
    expect(sampleStride(1_999_999, 512 * 512)).toBe(1);
  });
});

describe("checkHuPlausible on the corpus", () => {
  const cases: [string, boolean][] = [
    ["ct_abdomen_3mm.nii.gz", true],
    ["ct_abdomen_int32.nii.gz", true],
    ["ct_shear_tilt_scaled.nii.gz", true],
    ["big_endian.nii.gz", false],
    ["little_endian_4d1.nii.gz", false],
    ["be_extension.nii.gz", false],
    ["anatomical_be.nii", false],
    ["nifti2_float.nii.gz", false],
    ["minimal_be_nocodes.nii.gz", false],
    // Stored uint8 0..255 with scl_slope 1 / scl_inter 0 (a windowed export, not HU): air is 0, not -1000.
    ["ct_head_oblique.nii.gz", false],
  ];
  it.each(cases)("%s -> plausible: %s", async (file, ok) => {
    const path = join(CORPUS, "nifti", file);
    if (!existsSync(path)) {
      console.warn(`corpus file ${file} absent: skipped`);
      return;
    }
    const { volume } = await readNifti(fileEntry(path));
    const r = checkHuPlausible(volume);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.reason.code).toBe("HU_IMPLAUSIBLE");
    if (file === "ct_shear_tilt_scaled.nii.gz") {
      expect(r.huRange[0]).toBe(-1024);
      expect(r.huRange[1]).toBeCloseTo(789, 3);
    }
  });
});
