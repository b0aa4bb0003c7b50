import { describe, expect, it } from "vitest";
import type { Geometry, Mat3 } from "../../../../core/contracts/volume.js";
import { tileStarts } from "../../../../gpu-job/pipeline/infer/tiling.js";
import { votingTiles } from "../../../../gpu-job/pipeline/infer/voting-tiles.js";
import { alignToLps } from "../../../../gpu-job/pipeline/preprocess/axis-align.js";
import { buildModelGrid } from "../../../../gpu-job/pipeline/preprocess/model-grid.js";
import { testPreprocessing } from "../fixtures.js";

/** Rotation about x by `deg` (a gantry tilt), as the direction matrix. */
function tilted(deg: number): Mat3 {
  const [c, s] = [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
  return [1, 0, 0, 0, c, -s, 0, s, c];
}

/** A tilted scan with "lung" in a block of its own voxels (i, j ranges, slices k0..k1). */
function scan(k0: number, k1: number) {
  const g: Geometry = { dims: [24, 24, 40], spacing: [3, 3, 2.5], origin: [0, 0, 0], direction: tilted(20) };
  const data = new Int16Array(24 * 24 * 40).fill(-50);
  const lungs = new Uint8Array(data.length);
  for (let k = k0; k <= k1; k++)
    for (let j = 4; j < 20; j++)
      for (let i = 4; i < 20; i++) {
        data[i + 24 * (j + 24 * k)] = -850;
        lungs[i + 24 * (j + 24 * k)] = 1;
      }
  return { volume: { ...g, data }, lungs };
}

const p = testPreprocessing({ size: [8, 8], tile: 4, overlap: 2, zCrop: "lung-extent" });

describe("votingTiles", () => {
  it("leaves out the aligned view's tiles where the tilted field of view cuts the lungs, and only those", () => {
    // Lungs reach both ends of the stack: its tilted end faces cut them.
    const { volume, lungs } = scan(0, 39);
    const aligned = alignToLps(volume, lungs);
    const grid = buildModelGrid(aligned.volume, aligned.lungMask, p);
    const starts = tileStarts(grid.depth, 4, 2);
    const votes = votingTiles(aligned, grid, starts, 4);
    expect(votes.length).toBe(starts.length);
    expect(votes[0]).toBe(false);
    expect(votes[votes.length - 1]).toBe(false);
    expect(votes.filter(Boolean).length).toBeGreaterThan(starts.length / 3);
    // The voters are one run in the middle: the cut only reaches in from the ends.
    const first = votes.indexOf(true);
    const last = votes.lastIndexOf(true);
    expect(votes.slice(first, last + 1).every(Boolean)).toBe(true);
  });

  it("lets every tile vote when the scan holds the lungs whole", () => {
    // Lungs well inside the stack: the tilted end faces never cut them.
    const { volume, lungs } = scan(14, 25);
    const aligned = alignToLps(volume, lungs);
    const grid = buildModelGrid(aligned.volume, aligned.lungMask, p);
    const starts = tileStarts(grid.depth, 4, 2);
    expect(votingTiles(aligned, grid, starts, 4).every(Boolean)).toBe(true);
  });

  it("lets every tile vote when none would qualify, or when there is no lung", () => {
    const { volume, lungs } = scan(0, 39);
    const aligned = alignToLps(volume, lungs);
    const grid = buildModelGrid(aligned.volume, aligned.lungMask, p);
    // One tile spanning the whole grid is cut at both ends: rather than no vote at all, everyone votes.
    expect(votingTiles(aligned, grid, [0], grid.depth)).toEqual([true]);
    const none = alignToLps(volume, new Uint8Array(lungs.length));
    const g2 = buildModelGrid(none.volume, none.lungMask, p);
    const s2 = tileStarts(g2.depth, 4, 2);
    expect(votingTiles(none, g2, s2, 4).every(Boolean)).toBe(true);
  });
});
