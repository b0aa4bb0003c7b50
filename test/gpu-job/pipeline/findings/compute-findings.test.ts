/**
 * computeFindings on hand-built scans (test/gpu-job/pipeline/findings/scene.ts) where every number is
 * known: lesion list, attenuation, extent per lung and zone, severity, subpleural shares, distribution,
 * warnings; geometry (descending and oblique grids, sheared voxels); empty lesion and lung cases (no NaN
 * anywhere); and the failure paths.
 */
import { describe, expect, it } from "vitest";
import { FindingsSchema, REFERENCE_PERIPHERAL_CURVES } from "../../../../core/contracts/findings.js";
import type { Mat3 } from "../../../../core/contracts/volume.js";
import { voxelToLps } from "../../../../core/geometry/affine.js";
import {
  computeFindings,
  FindingsInputError,
  voxelVolumeMl,
} from "../../../../gpu-job/pipeline/findings/index.js";
import { referenceScene, Scene, zoneBySlice } from "./scene.js";

const EXACT = { pleuralSurfaceOffsetMm: 0 } as const;

/** Every number anywhere in a JSON value. */
function numbers(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.flatMap(numbers);
  if (v && typeof v === "object") return Object.values(v).flatMap(numbers);
  return [];
}

describe("computeFindings on the reference scene", () => {
  const f = computeFindings(referenceScene().input(), EXACT);

  it("finds the two lesions, largest first, with side, zone, centroid and attenuation", () => {
    expect(f.lesions.count).toBe(2);
    expect(f.lesions.right).toBe(1);
    expect(f.lesions.left).toBe(1);
    expect(f.lesions.notListed).toBe(0);
    const [b, a] = f.lesions.listed;
    expect(b).toEqual({
      rank: 1,
      volumeMl: 0.608, // 108 voxels * 5.625 µL = 0.6075 mL
      side: "left",
      zone: "upper",
      centroidMm: [26.25, 8.25, 22.5],
      centroidVoxel: [17.5, 5.5, 9],
      meanHu: -733.3, // (18 * -400 + 90 * -800) / 108
      ggoFraction: 0.1667,
      consolidationFraction: 0,
      meanPleuralDistanceMm: 26.2, // (18 * 7 + 90 * 30) / 108
    });
    expect(a).toEqual({
      rank: 2,
      volumeMl: 0.18,
      side: "right",
      zone: "lower",
      centroidMm: [5.25, 5.25, 3.75],
      centroidVoxel: [3.5, 3.5, 1.5],
      meanHu: -225,
      ggoFraction: 0.5,
      consolidationFraction: 0.5,
      meanPleuralDistanceMm: 6.5,
    });
  });

  it("reports what it left out: the speck under 0.1 mL and the lesion voxel outside the lungs", () => {
    expect(f.lesions.ignoredSmall).toEqual({ count: 1, volumeMl: 0.011 });
    expect(f.lesions.outsideLungsMl).toBe(0.006);
    expect(f.warnings).toHaveLength(2);
    expect(f.warnings.join(" ")).toMatch(/1 lesion component under 0\.1 mL \(0\.011 mL in all\) was ignored/);
    expect(f.warnings.join(" ")).toMatch(/0\.006 mL of the lesion mask lies outside the segmented lungs/);
  });

  it("measures attenuation over the kept lesions only (the +100 HU speck is not in it)", () => {
    const a = f.attenuation;
    expect(a.meanHu).toBe(-617.1); // (16*-500 + 16*50 + 18*-400 + 90*-800) / 140
    expect(a.ggoFraction).toBe(0.2429); // 34 / 140
    expect(a.consolidationFraction).toBe(0.1143); // 16 / 140
    expect(a.belowGgoFraction).toBe(0.6429); // 90 / 140
    const h = a.histogram;
    expect([h.fromHu, h.toHu, h.binWidthHu, h.bins.length]).toEqual([-1000, 200, 50, 24]);
    const filled = h.bins
      .filter((b) => b.volumeMl > 0)
      .map((b) => [b.fromHu, b.toHu, b.volumeMl, b.fraction]);
    expect(filled).toEqual([
      [-800, -750, 0.506, 0.6429],
      [-500, -450, 0.09, 0.1143],
      [-400, -350, 0.101, 0.1286],
      [50, 100, 0.09, 0.1143],
    ]);
    expect(h.below).toEqual({ volumeMl: 0, fraction: 0 });
    expect(h.above).toEqual({ volumeMl: 0, fraction: 0 });
    expect(h.peakHu).toBe(-775);
  });

  it("measures extent per scan, lung and zone", () => {
    const e = f.extent;
    expect([e.lesionVolumeMl, e.lungVolumeMl, e.percentOfLung]).toEqual([0.788, 18.9, 4.17]);
    expect([e.right.lesionVolumeMl, e.right.lungVolumeMl, e.right.percentOfLung]).toEqual([0.18, 9.45, 1.9]);
    expect([e.left.lesionVolumeMl, e.left.lungVolumeMl, e.left.percentOfLung]).toEqual([0.608, 9.45, 6.43]);
    expect(e.right.zones.lower).toEqual({ lesionVolumeMl: 0.18, lungVolumeMl: 3.15, percentOfLung: 5.71 });
    expect(e.right.zones.middle).toEqual({ lesionVolumeMl: 0, lungVolumeMl: 3.15, percentOfLung: 0 });
    expect(e.left.zones.upper).toEqual({ lesionVolumeMl: 0.608, lungVolumeMl: 3.15, percentOfLung: 19.29 });
  });

  it("scores severity by lobe (right lower 5.7 % -> 2, left upper lobe = upper + middle zones 9.6 % -> 2)", () => {
    const s = f.extent.severity;
    expect(s.lobes.map((l) => [l.lobe, l.percentOfLobe, l.score])).toEqual([
      ["RUL", 0, 0],
      ["RML", 0, 0],
      ["RLL", 5.71, 2],
      ["LUL", 9.64, 2],
      ["LLL", 0, 0],
    ]);
    expect(s.score).toBe(4);
    expect(s.maxScore).toBe(25);
  });

  it("measures subpleural shares and picks the closer reference curve", () => {
    const p = f.peripheral;
    // Within 7 mm: 16 (A, 3 mm) + 18 (B, 7 mm); within 14: + 16 (A, 10 mm); within 35: all 140.
    const shares = [34 / 140, 50 / 140, 50 / 140, 50 / 140, 1];
    expect(p.shells.map((s) => s.depthMm)).toEqual([7, 14, 21, 28, 35]);
    p.shells.forEach((s, n) => {
      expect(s.share).toBeCloseTo(shares[n]!, 4);
      expect(s.covid19Reference).toBe(REFERENCE_PERIPHERAL_CURVES.covid19[n]);
      expect(s.capReference).toBe(REFERENCE_PERIPHERAL_CURVES.cap[n]);
    });
    const rms = (ref: readonly number[]) =>
      Math.sqrt(shares.reduce((sum, v, n) => sum + (v - ref[n]!) ** 2, 0) / shares.length);
    expect(p.rmsDistance.covid19).toBeCloseTo(rms(REFERENCE_PERIPHERAL_CURVES.covid19), 4);
    expect(p.rmsDistance.cap).toBeCloseTo(rms(REFERENCE_PERIPHERAL_CURVES.cap), 4);
    expect(p.closerTo).toBe("covid19");
    expect(p.meanPleuralDistanceMm).toBe(21.7); // 3034 / 140
  });

  it("reports bilateral involvement and the lower-zone share", () => {
    expect(f.distribution).toEqual({ bilateral: true, lowerZoneShare: 0.2286, lowerZonePredominant: false });
  });

  it("records the method it used and parses against the schema", () => {
    expect(f.method).toEqual({
      connectivity: 26,
      minLesionVolumeMl: 0.1,
      ggoMinHu: -750,
      consolidationMinHu: -300,
      bilateralMinMl: 0.1,
      lowerZonePredominanceShare: 0.5,
      maxListedLesions: 50,
      pleuralSurfaceOffsetMm: 0,
    });
    expect(FindingsSchema.parse(JSON.parse(JSON.stringify(f)))).toEqual(f);
  });
});

describe("computeFindings options", () => {
  it("subtracts half the finest voxel step from pleural distances by default", () => {
    const f = computeFindings(referenceScene().input());
    expect(f.method.pleuralSurfaceOffsetMm).toBe(0.75);
    // A's 3 mm and 10 mm voxels become 2.25 and 9.25 mm; B's 7 mm row 6.25 mm: shares unchanged, mean shifts.
    expect(f.peripheral.meanPleuralDistanceMm).toBe(20.9);
    expect(f.lesions.listed[1]!.meanPleuralDistanceMm).toBe(5.8);
  });

  it("counts the speck as a lesion when the minimum volume allows it", () => {
    const f = computeFindings(referenceScene().input(), { ...EXACT, minLesionVolumeMl: 0.01 });
    expect(f.lesions.count).toBe(3);
    expect(f.lesions.listed[2]).toMatchObject({
      volumeMl: 0.011,
      side: "right",
      zone: "middle",
      meanHu: 100,
    });
    expect(f.lesions.ignoredSmall).toEqual({ count: 0, volumeMl: 0 });
    expect(f.attenuation.histogram.bins.find((b) => b.fromHu === 100)!.volumeMl).toBe(0.011);
  });

  it("joins lesions touching at a corner with 26-connectivity only", () => {
    const s = new Scene([12, 12, 8], [1, 1, 1]).lung({ i: [0, 11], j: [0, 11], k: [0, 7] }, 1, zoneBySlice);
    s.lesion(
      { i: [1, 5], j: [1, 5], k: [0, 3] },
      () => -500,
      () => 5,
    );
    s.lesion(
      { i: [6, 10], j: [6, 10], k: [4, 7] },
      () => -500,
      () => 5,
    ); // corner (5,5,3)-(6,6,4)
    expect(computeFindings(s.input(), { connectivity: 26 }).lesions.count).toBe(1);
    const six = computeFindings(s.input(), { connectivity: 6 });
    expect(six.lesions.count).toBe(2);
    expect(six.lesions.listed.map((l) => l.volumeMl)).toEqual([0.1, 0.1]);
  });

  it("lists at most maxListedLesions and says how many more there are", () => {
    const s = new Scene([40, 40, 4], [1, 1, 2.5]).lung({ i: [0, 39], j: [0, 39], k: [0, 3] }, 2, () => 2);
    // 64 separate 2x2x2 cubes (0.02 mL), every third one a little bigger (2x3x2, 0.03 mL).
    let n = 0;
    for (let a = 0; a < 8; a++) {
      for (let b = 0; b < 8; b++, n++) {
        const wide = n % 3 === 0 ? 1 : 0;
        s.lesion(
          { i: [5 * a, 5 * a + 1], j: [5 * b, 5 * b + 1 + wide], k: [1, 2] },
          () => -600,
          () => 4,
        );
      }
    }
    const f = computeFindings(s.input(), { minLesionVolumeMl: 0.01, maxListedLesions: 5 });
    expect(f.lesions.count).toBe(64);
    expect(f.lesions.left).toBe(64);
    expect(f.lesions.listed).toHaveLength(5);
    expect(f.lesions.notListed).toBe(59);
    expect(f.lesions.listed.map((l) => l.volumeMl)).toEqual([0.03, 0.03, 0.03, 0.03, 0.03]);
    expect(f.lesions.listed.map((l) => l.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(f.warnings.join(" ")).toContain("Only the 5 largest of 64 lesions are listed");
  });

  it("rejects bad options with FindingsInputError naming each", () => {
    const input = referenceScene().input();
    expect(() => computeFindings(input, { connectivity: 8 as 6 })).toThrow(FindingsInputError);
    expect(() => computeFindings(input, { minLesionVolumeMl: -1 })).toThrow(/minLesionVolumeMl/);
    expect(() => computeFindings(input, { ggoMinHu: -200 })).toThrow(/ggoMinHu must lie below/);
    expect(() => computeFindings(input, { lowerZonePredominanceShare: 2 })).toThrow(
      /lowerZonePredominanceShare/,
    );
  });
});

describe("computeFindings geometry", () => {
  it("follows a descending slice order: slice 0 is the top, zones and centroids in LPS", () => {
    // Same voxels, k running downwards from z = 27.5 mm: the zone map follows height, so slices 0-3 are
    // the upper zone now and lesion A (slices 1-2) sits in it.
    const s = referenceScene([0, 0, 27.5], [1, 0, 0, 0, 1, 0, 0, 0, -1]);
    for (let idx = 0; idx < s.n; idx++) if (s.zones[idx]) s.zones[idx] = 4 - s.zones[idx]!;
    const f = computeFindings(s.input(), EXACT);
    const [b, a] = f.lesions.listed;
    expect(a).toMatchObject({ side: "right", zone: "upper", centroidMm: [5.25, 5.25, 23.75] });
    expect(b).toMatchObject({ side: "left", zone: "lower", centroidMm: [26.25, 8.25, 5] });
    expect(f.extent.severity.lobes.map((l) => l.score)).toEqual([2, 0, 0, 0, 2]);
    expect(f.distribution.lowerZoneShare).toBe(0.7714); // B is in the lower zone now: 108 / 140
    expect(f.distribution.lowerZonePredominant).toBe(true);
  });

  it("measures an oblique grid (height varies along rows) the same way, with centroids through the affine", () => {
    const t = (10 * Math.PI) / 180;
    // Rotation about y by 10 degrees: the i axis gains a z component.
    const direction: Mat3 = [Math.cos(t), 0, Math.sin(t), 0, 1, 0, -Math.sin(t), 0, Math.cos(t)];
    const s = referenceScene([3, -2, 1], direction);
    const f = computeFindings(s.input(), EXACT);
    const axial = computeFindings(referenceScene().input(), EXACT);
    expect(f.extent).toEqual(axial.extent);
    expect(f.attenuation).toEqual(axial.attenuation);
    expect(f.peripheral).toEqual(axial.peripheral);
    const a = voxelToLps(s.volume());
    for (const l of f.lesions.listed) {
      const [i, j, k] = l.centroidVoxel;
      const lps = [0, 1, 2].map((r) => a[4 * r]! * i + a[4 * r + 1]! * j + a[4 * r + 2]! * k + a[4 * r + 3]!);
      for (const [c, v] of lps.entries()) expect(l.centroidMm[c]).toBeCloseTo(v, 2);
    }
    expect(f.lesions.listed.map((l) => [l.side, l.zone])).toEqual([
      ["left", "upper"],
      ["right", "lower"],
    ]);
  });

  it("computes the voxel volume from the grid, shear included", () => {
    expect(voxelVolumeMl({ spacing: [0.5, 0.5, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] })).toBeCloseTo(
      5e-4,
      12,
    );
    expect(voxelVolumeMl({ spacing: [1, 1, 1], direction: [1, 0, 0, 0, -1, 0, 0, 0, -1] })).toBeCloseTo(
      1e-3,
      12,
    );
    // Gantry tilt of 20 degrees: the k axis leans in y, the slab of one voxel is thinner by cos(20).
    const c = Math.cos((20 * Math.PI) / 180);
    const sn = Math.sin((20 * Math.PI) / 180);
    expect(voxelVolumeMl({ spacing: [1, 1, 2], direction: [1, 0, 0, 0, 1, sn, 0, 0, c] })).toBeCloseTo(
      (2 * c) / 1000,
      12,
    );
  });
});

describe("computeFindings with nothing to measure", () => {
  it("no lesions: zero counts and volumes, null shares, no NaN", () => {
    const s = new Scene([10, 10, 6], [2, 2, 2]).lung({ i: [1, 8], j: [1, 8], k: [0, 5] }, 1, () => 2);
    const f = computeFindings(s.input());
    expect(f.lesions).toMatchObject({ count: 0, right: 0, left: 0, listed: [], notListed: 0 });
    expect(f.attenuation.meanHu).toBeNull();
    expect(f.attenuation.ggoFraction).toBeNull();
    expect(f.attenuation.histogram.peakHu).toBeNull();
    expect(f.attenuation.histogram.bins.every((b) => b.volumeMl === 0 && b.fraction === null)).toBe(true);
    expect(f.extent.percentOfLung).toBe(0);
    expect(f.extent.left.percentOfLung).toBeNull(); // no left lung at all
    expect(f.extent.severity.score).toBe(0);
    expect(f.peripheral.shells.every((sh) => sh.share === null)).toBe(true);
    expect(f.peripheral.closerTo).toBeNull();
    expect(f.peripheral.rmsDistance).toEqual({ covid19: null, cap: null });
    expect(f.distribution).toEqual({ bilateral: false, lowerZoneShare: null, lowerZonePredominant: false });
    expect(f.warnings).toEqual([]);
    expect(numbers(f).every(Number.isFinite)).toBe(true);
    expect(JSON.stringify(f)).not.toMatch(/NaN|Infinity/);
  });

  it("no lungs: every lesion voxel is outside, lung volumes 0, percentages null, a warning", () => {
    const s = new Scene([10, 10, 6], [2, 2, 2]);
    s.lesion(
      { i: [2, 6], j: [2, 6], k: [1, 4] },
      () => -500,
      () => 0,
    );
    const f = computeFindings(s.input());
    expect(f.lesions.count).toBe(0);
    expect(f.lesions.outsideLungsMl).toBe(0.8); // 100 voxels of 8 µL
    expect(f.extent.lungVolumeMl).toBe(0);
    expect(f.extent.percentOfLung).toBeNull();
    expect(f.extent.severity.lobes.every((l) => l.percentOfLobe === null && l.score === 0)).toBe(true);
    expect(f.warnings[0]).toMatch(/lung segmentation is empty/);
    expect(numbers(f).every(Number.isFinite)).toBe(true);
    expect(FindingsSchema.safeParse(f).success).toBe(true);
  });

  it("a lung without zones: lesions get no zone, the lung volume still counts, and a warning says so", () => {
    const s = new Scene([10, 10, 6], [2, 2, 2]).lung({ i: [1, 8], j: [1, 8], k: [0, 5] }, 2, () => 0);
    s.lesion(
      { i: [2, 5], j: [2, 5], k: [1, 3] },
      () => -500,
      () => 4,
    );
    const f = computeFindings(s.input());
    expect(f.lesions.listed[0]).toMatchObject({ side: "left", zone: null });
    expect(f.extent.left.percentOfLung).toBe(12.5); // 48 of 384 voxels
    expect(f.extent.left.zones.upper.percentOfLung).toBeNull();
    expect(f.warnings.join(" ")).toMatch(/100 % of the lung volume has no zone/);
  });

  it("an all-lung volume (infinite pleural distance): beyond every shell, no mean depth, a warning", () => {
    const s = new Scene([6, 6, 6], [2, 2, 2]).lung({ i: [0, 5], j: [0, 5], k: [0, 5] }, 1, () => 2, Infinity);
    s.lesion(
      { i: [1, 4], j: [1, 4], k: [1, 4] },
      () => -500,
      () => Infinity,
    );
    const f = computeFindings(s.input());
    expect(f.lesions.count).toBe(1);
    expect(f.lesions.listed[0]!.meanPleuralDistanceMm).toBeNull();
    expect(f.peripheral.shells.map((sh) => sh.share)).toEqual([0, 0, 0, 0, 0]);
    expect(f.peripheral.meanPleuralDistanceMm).toBeNull();
    expect(f.peripheral.closerTo).toBe("cap");
    expect(f.warnings.join(" ")).toMatch(/no non-lung voxel anywhere/);
    expect(JSON.stringify(f)).not.toMatch(/NaN|Infinity/);
  });
});

describe("computeFindings input checks", () => {
  it("rejects arrays that do not match the CT's grid", () => {
    const base = referenceScene().input();
    expect(() => computeFindings({ ...base, lesions: new Uint8Array(10) })).toThrow(FindingsInputError);
    expect(() => computeFindings({ ...base, pleuralDistanceMm: new Float32Array(10) })).toThrow(
      /pleural distance has 10 voxels/,
    );
    expect(() => computeFindings({ ...base, lungs: { ...base.lungs, dims: [24, 16, 11] } })).toThrow(
      /lung segmentation dims 24x16x11 differ/,
    );
    expect(() => computeFindings({ ...base, lungs: { ...base.lungs, spacing: [1.5, 1.5, 5] } })).toThrow(
      /spacing differs/,
    );
    expect(() => computeFindings({ ...base, hu: { ...base.hu, data: new Int16Array(5) } })).toThrow(
      /hu has 5 voxels/,
    );
  });

  it("rejects label and zone values outside the contract", () => {
    const s = referenceScene();
    s.labels[s.index(3, 3, 3)] = 3;
    expect(() => computeFindings(s.input())).toThrow(/lung label 3/);
    const z = referenceScene();
    z.zones[z.index(3, 3, 3)] = 7;
    expect(() => computeFindings(z.input())).toThrow(/zone 7/);
  });

  it("rejects NaN in a lesion's HU or pleural distance, and a negative distance", () => {
    const s = referenceScene();
    const hu = new Float32Array(s.hu);
    hu[s.index(3, 3, 1)] = Number.NaN;
    expect(() => computeFindings({ ...s.input(), hu: { ...s.volume(), data: hu } })).toThrow(/non-finite HU/);
    const d = referenceScene();
    d.distance[d.index(3, 3, 1)] = Number.NaN;
    expect(() => computeFindings(d.input())).toThrow(FindingsInputError);
    d.distance[d.index(3, 3, 1)] = -1;
    expect(() => computeFindings(d.input())).toThrow(FindingsInputError);
  });

  it("is not disturbed by NaN outside the lesions (a Float32 CT with padding values)", () => {
    const s = referenceScene();
    const hu = new Float32Array(s.hu);
    hu[0] = Number.NaN;
    const f = computeFindings({ ...s.input(), hu: { ...s.volume(), data: hu } }, EXACT);
    expect(f).toEqual(computeFindings(s.input(), EXACT));
  });

  it("does not change its inputs", () => {
    const s = referenceScene();
    const before = [s.hu, s.lesions, s.labels, s.zones, s.distance].map((a) =>
      Buffer.from(a.buffer).toString("hex"),
    );
    computeFindings(s.input());
    const after = [s.hu, s.lesions, s.labels, s.zones, s.distance].map((a) =>
      Buffer.from(a.buffer).toString("hex"),
    );
    expect(after).toEqual(before);
  });
});
