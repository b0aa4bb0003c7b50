import { describe, expect, it } from "vitest";
import { airState } from "../../../../gpu-job/pipeline/lungs/air-mask.js";
import { drawnSlice, stateRows } from "./drawn-slice.js";

/**
 * One slice drawn as text: '#' tissue (40 HU), '.' air (-1000 HU), 'x' out of the reconstructed view
 * (padding, -2000 HU, passed as the out-of-view mask); returns the state as text (a air, o outside).
 */
function stateOf(rows: string[]): string[] {
  const volume = drawnSlice(rows, { "#": 40, ".": -1000, x: -2000 });
  const unseen = Uint8Array.from(rows.join(""), (c) => (c === "x" ? 1 : 0));
  const s = airState(volume, -320, unseen.includes(1) ? unseen : undefined);
  return stateRows(s, rows[0]!.length, rows.length);
}

describe("airState", () => {
  it("takes every border-reaching air region for outside when the body lies inside the field of view", () => {
    expect(
      stateOf(["..........", ".########.", ".#..#..##.", ".#..#..##.", ".########.", ".........."]),
    ).toEqual(["oooooooooo", "o########o", "o#aa#aa##o", "o#aa#aa##o", "o########o", "oooooooooo"]);
  });

  it("keeps air that reaches the border inside the body's hull when the body is cut by the field of view", () => {
    // A chest wider than the image: the lungs run off both sides, outside air lies in front and behind.
    expect(
      stateOf([
        "...........",
        "..#######..",
        "###########",
        "...##.##...",
        "...##.##...",
        "###########",
        "..#######..",
        "...........",
      ]),
    ).toEqual([
      "ooooooooooo",
      "oo#######oo",
      "###########",
      "aaa##a##aaa",
      "aaa##a##aaa",
      "###########",
      "oo#######oo",
      "ooooooooooo",
    ]);
  });

  it("finds the hull of a cut body low in a tall slice (more rows above it than runs in it)", () => {
    const above = Array.from({ length: 16 }, () => "...........");
    const body = ["###########", "...##.##...", "...##.##...", "###########", "..#######.."];
    const state = stateOf([...above, ...body, "..........."]);
    expect(state.slice(16)).toEqual([
      "###########",
      "aaa##a##aaa",
      "aaa##a##aaa",
      "###########",
      "oo#######oo",
      "ooooooooooo",
    ]);
    expect(state.slice(0, 16).every((r) => r === "ooooooooooo")).toBe(true);
  });

  it("still takes air outside the hull of a cut body for outside, whatever touches the border", () => {
    // The body reaches the left border only; the air on its right and the notch in its top (mostly above the
    // hull's chord) are outside; the air pocket within is not.
    expect(
      stateOf([
        "......................",
        "####.......###........",
        "#####.....####........",
        "##############........",
        "####...#######........",
        "####...#######........",
        "##############........",
        "......................",
      ]),
    ).toEqual([
      "oooooooooooooooooooooo",
      "####ooooooo###oooooooo",
      "#####ooooo####oooooooo",
      "##############oooooooo",
      "####aaa#######oooooooo",
      "####aaa#######oooooooo",
      "##############oooooooo",
      "oooooooooooooooooooooo",
    ]);
  });

  it("takes a reconstruction circle's edge for the edge of the view: lungs it cuts stay air", () => {
    // The round field of view cuts the chest at both sides; the air in front of and behind the body reaches
    // the padding, the lungs reach it too.
    expect(
      stateOf([
        "xxxx.....xxxx",
        "xx.........xx",
        "x..#######..x",
        "#############",
        "x..##.#.##..x",
        "x..##...##..x",
        "x############",
        "xx..#####..xx",
        "xxxx.....xxxx",
      ]),
    ).toEqual([
      "ooooooooooooo",
      "ooooooooooooo",
      "ooo#######ooo",
      "#############",
      "oaa##a#a##aao",
      "oaa##aaa##aao",
      "o############",
      "oooo#####oooo",
      "ooooooooooooo",
    ]);
  });
});
