/**
 * Lesion plans over many seeds (no rendering): the per-class distributions of DESIGN.md §4 — lesion
 * count, side, depth from the pleura, zone, attenuation — and the field functions.
 */
import { describe, expect, it } from "vitest";
import { lungSideAt } from "../../../core/phantom/anatomy.js";
import {
  LESION_BOUNDARY,
  LESION_HALO,
  type LesionPlan,
  lesionBounds,
  lesionField,
  lesionLevel,
  lesionWeight,
  planLesions,
} from "../../../core/phantom/lesions.js";

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 100);
const covid = SEEDS.map((s) => planLesions("covid", s));
const cap = SEEDS.map((s) => planLesions("cap", s));
const share = (plans: LesionPlan[][], pred: (p: LesionPlan[]) => boolean) =>
  plans.filter(pred).length / plans.length;
const all = (plans: LesionPlan[][]) => plans.flat();
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe("planLesions", () => {
  it("is deterministic per class and seed; normal has none", () => {
    expect(planLesions("covid", 100)).toEqual(covid[0]);
    expect(planLesions("covid", 101)).not.toEqual(covid[0]);
    expect(planLesions("normal", 100)).toEqual([]);
  });

  it("covid: 1-8 lesions, about 90 % multi-focal, bilateral whenever multi-focal", () => {
    for (const p of covid) {
      expect(p.length).toBeGreaterThanOrEqual(1);
      expect(p.length).toBeLessThanOrEqual(8);
      if (p.length >= 2) expect(new Set(p.map((l) => l.side)).size).toBe(2);
    }
    expect(share(covid, (p) => p.length >= 2)).toBeGreaterThan(0.75);
  });

  it("cap: one lesion in about half the cases, never more than two", () => {
    for (const p of cap) expect([1, 2]).toContain(p.length);
    const single = share(cap, (p) => p.length === 1);
    expect(single).toBeGreaterThan(0.35);
    expect(single).toBeLessThan(0.75);
  });

  it("places centres inside their lung: covid 5-25 mm from the pleura, cap deeper", () => {
    for (const l of [...all(covid), ...all(cap)]) expect(lungSideAt(...l.centre)).toBe(l.side);
    const covidDepths = all(covid).map((l) => l.pleuralDepthMm);
    const capDepths = all(cap).map((l) => l.pleuralDepthMm);
    // The 2 mm model and the jitter blur the range edges by a voxel or so.
    for (const d of covidDepths) expect(d).toBeLessThan(29);
    expect(mean(covidDepths)).toBeGreaterThan(8);
    expect(mean(covidDepths)).toBeLessThan(20);
    expect(mean(capDepths)).toBeGreaterThan(mean(covidDepths) + 10);
  });

  it("covid favours the lower zones; cap lesions have consolidated cores, covid mostly none", () => {
    const zones = all(covid).map((l) => l.zone);
    expect(zones.filter((z) => z === "lower").length / zones.length).toBeGreaterThan(0.35);
    expect(zones.filter((z) => z === "upper").length / zones.length).toBeLessThan(0.3);
    for (const l of all(cap)) {
      expect(l.coreFraction).toBeGreaterThan(0.4);
      expect(l.consolidationHu).toBeGreaterThanOrEqual(0);
      expect(l.consolidationHu).toBeLessThanOrEqual(100);
    }
    const covidCores = all(covid).filter((l) => l.coreFraction > 0).length / all(covid).length;
    expect(covidCores).toBeLessThan(0.45);
    for (const l of all(covid)) {
      expect(l.ggoHu).toBeGreaterThanOrEqual(-700);
      expect(l.ggoHu).toBeLessThanOrEqual(-300);
    }
  });
});

describe("lesion field", () => {
  const lesion = covid.flat()[0]!;

  it("is below the boundary at the centre, and beyond the halo outside its bounds", () => {
    expect(lesionField(lesion, ...lesion.centre)).toBeLessThan(LESION_BOUNDARY);
    const { lo, hi } = lesionBounds(lesion);
    for (const corner of [lo, hi, [lo[0], hi[1], lo[2]] as const]) {
      expect(lesionField(lesion, corner[0], corner[1], corner[2])).toBeGreaterThan(LESION_HALO);
    }
  });

  it("fades attenuation from full to none across the boundary, half-way on it", () => {
    expect(lesionWeight(0)).toBe(1);
    expect(lesionWeight(0.75)).toBe(1);
    expect(lesionWeight(LESION_BOUNDARY)).toBeCloseTo(0.5, 12);
    expect(lesionWeight(LESION_HALO)).toBe(0);
    for (let f = 0.7; f < 1.3; f += 0.01) expect(lesionWeight(f + 0.01)).toBeLessThanOrEqual(lesionWeight(f));
  });

  it("blends a consolidated core into a ground-glass rim", () => {
    const mixed: LesionPlan = { ...lesion, coreFraction: 0.5, consolidationHu: 60, ggoHu: -500 };
    expect(lesionLevel(mixed, 0)).toBe(60);
    expect(lesionLevel(mixed, 0.9)).toBe(-500);
    expect(lesionLevel(mixed, 0.5)).toBeCloseTo(-220, 6);
    expect(lesionLevel({ ...mixed, coreFraction: 0 }, 0)).toBe(-500);
  });
});
