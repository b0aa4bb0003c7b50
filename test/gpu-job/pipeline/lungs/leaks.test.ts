import { describe, expect, it } from "vitest";
import { airState } from "../../../../gpu-job/pipeline/lungs/air-mask.js";
import { outOfViewMask } from "../../../../gpu-job/pipeline/lungs/field-of-view.js";
import { reclaimLeakedCavities } from "../../../../gpu-job/pipeline/lungs/leaks.js";
import { drawnSlice, stateRows } from "./drawn-slice.js";

/**
 * One slice drawn as text, 1 mm pixels: '#' tissue (40 HU), '.' room air (-1000 HU), 'l' lung (-850 HU),
 * 'x' padding out of the reconstructed view (-2000 HU). Returns the state after airState and the reclaim
 * as text (o outside, a air, # tissue) and the slices reclaimed.
 */
function reclaim(rows: string[], neckMm = 3, minAreaMm2 = 4): { state: string[]; slices: number[] } {
  const volume = drawnSlice(rows, { "#": 40, ".": -1000, l: -850, x: -2000 });
  const unseen = rows.some((r) => r.includes("x")) ? outOfViewMask(volume) : undefined;
  const state = airState(volume, -320, unseen);
  const slices = reclaimLeakedCavities(state, volume, unseen, { neckMm, minAreaMm2, gasMedianHu: -950 });
  return { state: stateRows(state, rows[0]!.length, rows.length), slices };
}

// A body (the room's air all round it) with a 6 x 4 lung under a two-row chest wall; `wall` draws that wall.
const slice = (wall: string, lung = "l"): string[] => [
  "..............",
  `.${wall}.`,
  `.${wall}.`,
  `.##${lung.repeat(6)}####.`,
  `.##${lung.repeat(6)}####.`,
  `.##${lung.repeat(6)}####.`,
  `.##${lung.repeat(6)}####.`,
  ".############.",
  "..............",
];
const SOLID = "############";
const STREAK = "#####.######";

describe("reclaimLeakedCavities", () => {
  it("takes back a lung that a one-pixel streak joins to the room's air", () => {
    const { state, slices } = reclaim(slice(STREAK));
    expect(slices).toEqual([0]);
    expect(state[3]).toBe("o##aaaaaa####o");
    expect(state[6]).toBe("o##aaaaaa####o");
    // The room's air stays outside, and so does the streak where it is within a neck's half of the room.
    expect(state[0]).toBe("oooooooooooooo");
    expect(state[1]![6]).toBe("o");
  });

  it("does nothing without a leak, and leaves an opening as wide as the neck alone", () => {
    expect(reclaim(slice(SOLID)).slices).toEqual([]);
    // A gap of 3 pixels is no neck for neckMm 3 (a square of 3 x 3 passes it).
    const { state, slices } = reclaim(slice("####...#####"));
    expect(slices).toEqual([]);
    expect(state[4]).toBe("o##oooooo####o");
  });

  it("leaves room air behind a neck outside (gas, not lung), and a cavity under the area floor", () => {
    const pocket = reclaim(slice(STREAK, "."));
    expect(pocket.slices).toEqual([]);
    expect(pocket.state[4]).toBe("o##oooooo####o");
    expect(reclaim(slice(STREAK), 3, 25).slices).toEqual([]);
  });

  it("reads out-of-view padding as the room's air, not as a wall", () => {
    // A round reconstruction's padding ('x') in the corners: the leak reaches the border through the room's
    // air and the padding both, and the lung behind the streak is taken back all the same.
    const rows = ["xxx........xxx", ...slice(STREAK), "xxx........xxx"];
    const { state, slices } = reclaim(rows);
    expect(slices).toEqual([0]);
    expect(state[6]).toBe("o##aaaaaa####o");
  });

  it("is off at pixels coarser than half the neck", () => {
    expect(reclaim(slice(STREAK), 1.9).slices).toEqual([]);
  });
});
