/** Zone at a height from the zone map's height ranges: boundaries, missing zones, no zones. */
import { describe, expect, it } from "vitest";
import { REGIONS, regionIndex } from "../../../../gpu-job/pipeline/findings/measure.js";
import { zoneAtHeight } from "../../../../gpu-job/pipeline/findings/zone-of-height.js";

function ranges(entries: Array<[side: 1 | 2, zone: number, lo: number, hi: number]>) {
  const min = new Float64Array(REGIONS).fill(Infinity);
  const max = new Float64Array(REGIONS).fill(-Infinity);
  for (const [side, zone, lo, hi] of entries) {
    min[regionIndex(side, zone)] = lo;
    max[regionIndex(side, zone)] = hi;
  }
  return [min, max] as const;
}

describe("zoneAtHeight", () => {
  // Right lung: lower -200..-150, middle -148..-100, upper -98..-50 (2 mm slices); left lung empty.
  const [min, max] = ranges([
    [1, 3, -200, -150],
    [1, 2, -148, -100],
    [1, 1, -98, -50],
  ]);
  it("reads the zone whose height range holds the point", () => {
    expect(zoneAtHeight(min, max, 1, -180)).toBe("lower");
    expect(zoneAtHeight(min, max, 1, -120)).toBe("middle");
    expect(zoneAtHeight(min, max, 1, -60)).toBe("upper");
  });
  it("splits the gap between two zones at its midpoint", () => {
    expect(zoneAtHeight(min, max, 1, -149.01)).toBe("lower");
    expect(zoneAtHeight(min, max, 1, -149)).toBe("middle");
    expect(zoneAtHeight(min, max, 1, -99.01)).toBe("middle");
    expect(zoneAtHeight(min, max, 1, -99)).toBe("upper");
  });
  it("clamps beyond the lung's ends", () => {
    expect(zoneAtHeight(min, max, 1, -500)).toBe("lower");
    expect(zoneAtHeight(min, max, 1, 500)).toBe("upper");
  });
  it("is null for a lung without zones", () => {
    expect(zoneAtHeight(min, max, 2, -120)).toBeNull();
  });
  it("skips a zone the lung lacks (a lung cut by the field of view)", () => {
    const [a, b] = ranges([
      [2, 3, -100, -60],
      [2, 1, -20, 0],
    ]);
    expect(zoneAtHeight(a, b, 2, -41)).toBe("lower");
    expect(zoneAtHeight(a, b, 2, -39)).toBe("upper");
  });
});
