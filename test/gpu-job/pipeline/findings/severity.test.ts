/**
 * The CT severity score: lobe bands at and around their bounds, the lobe-to-zone mapping, and the total on
 * constructed lesion/lung voxel counts.
 */
import { describe, expect, it } from "vitest";
import { SEVERITY_LOBES } from "../../../../core/contracts/findings.js";
import { type Measurements, REGIONS, regionIndex } from "../../../../gpu-job/pipeline/findings/measure.js";
import { lobeScore, severityScore } from "../../../../gpu-job/pipeline/findings/severity.js";

/** Measurements with only the per-region voxel counts set (all severity reads). */
function regions(lung: number[], lesion: number[]): Measurements {
  return { lungVoxels: Float64Array.from(lung), lesionVoxels: Float64Array.from(lesion) } as Measurements;
}

describe("lobeScore", () => {
  const cases: Array<[number | null, number]> = [
    [null, 0],
    [0, 0],
    [0.001, 1],
    [4.99, 1],
    [5, 2],
    [25, 2],
    [25.01, 3],
    [50, 3],
    [50.5, 4],
    [75, 4],
    [75.01, 5],
    [100, 5],
  ];
  for (const [pct, score] of cases) it(`${pct} % -> ${score}`, () => expect(lobeScore(pct)).toBe(score));
});

describe("severityScore", () => {
  it("maps the six zones onto five lobes, the left upper lobe taking the upper and middle zones", () => {
    expect(SEVERITY_LOBES.map((l) => `${l.lobe}:${l.side}:${l.zones.join("+")}`)).toEqual([
      "RUL:right:upper",
      "RML:right:middle",
      "RLL:right:lower",
      "LUL:left:upper+middle",
      "LLL:left:lower",
    ]);
    // Every zone of both lungs belongs to exactly one lobe.
    const zones = SEVERITY_LOBES.flatMap((l) => l.zones.map((z) => `${l.side}.${z}`)).sort();
    expect(zones).toEqual([
      "left.lower",
      "left.middle",
      "left.upper",
      "right.lower",
      "right.middle",
      "right.upper",
    ]);
  });

  it("scores every band once across a constructed scan (total 0 + 1 + 3 + 4 + 5 = 13)", () => {
    const lung = new Array(REGIONS).fill(0);
    const lesion = new Array(REGIONS).fill(0);
    const set = (side: 1 | 2, zone: number, lungVoxels: number, lesionVoxels: number) => {
      lung[regionIndex(side, zone)] = lungVoxels;
      lesion[regionIndex(side, zone)] = lesionVoxels;
    };
    set(1, 1, 1000, 0); // RUL 0 %
    set(1, 2, 1000, 30); // RML 3 %
    set(1, 3, 1000, 400); // RLL 40 %
    set(2, 1, 1000, 500); // LUL: (500 + 800) / 2000 = 65 %
    set(2, 2, 1000, 800);
    set(2, 3, 1000, 900); // LLL 90 %
    set(2, 0, 5000, 5000); // unzoned voxels belong to no lobe
    const s = severityScore(regions(lung, lesion));
    expect(s.lobes.map((l) => [l.lobe, l.percentOfLobe, l.score])).toEqual([
      ["RUL", 0, 0],
      ["RML", 3, 1],
      ["RLL", 40, 3],
      ["LUL", 65, 4],
      ["LLL", 90, 5],
    ]);
    expect(s.score).toBe(13);
  });

  it("scores the percentage it reports: 25.0025 % reads 25 % and scores 2, 4.9999 % reads 5 % and scores 2", () => {
    const lung = new Array(REGIONS).fill(0);
    const lesion = new Array(REGIONS).fill(0);
    lung[regionIndex(1, 3)] = 40000; // RLL
    lesion[regionIndex(1, 3)] = 10001;
    lung[regionIndex(1, 1)] = 39981; // RUL
    lesion[regionIndex(1, 1)] = 1999;
    const s = severityScore(regions(lung, lesion));
    const byLobe = Object.fromEntries(s.lobes.map((l) => [l.lobe, [l.percentOfLobe, l.score]]));
    expect(byLobe.RLL).toEqual([25, 2]);
    expect(byLobe.RUL).toEqual([5, 2]);
  });

  it("never reads a lobe holding lesion as 0 %: 80 voxels in 2,000,000 read 0.01 % and score 1", () => {
    const lung = new Array(REGIONS).fill(0);
    const lesion = new Array(REGIONS).fill(0);
    lung[regionIndex(1, 1)] = 2_000_000;
    lesion[regionIndex(1, 1)] = 80; // 0.004 %
    const rul = severityScore(regions(lung, lesion)).lobes.find((l) => l.lobe === "RUL")!;
    expect([rul.percentOfLobe, rul.score]).toEqual([0.01, 1]);
  });

  it("reaches 25 when every lobe is fully involved, and gives null percentages to lobes without lung", () => {
    const full = severityScore(regions(new Array(REGIONS).fill(10), new Array(REGIONS).fill(10)));
    expect(full.score).toBe(25);
    const none = severityScore(regions(new Array(REGIONS).fill(0), new Array(REGIONS).fill(0)));
    expect(none.lobes.every((l) => l.percentOfLobe === null && l.score === 0)).toBe(true);
    expect(none.score).toBe(0);
  });
});
