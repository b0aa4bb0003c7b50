import { describe, expect, it } from "vitest";
import { STATE } from "../../../../gpu-job/pipeline/lungs/air-mask.js";
import { FIRST_ORDINAL } from "../../../../gpu-job/pipeline/lungs/components.js";
import { thinWallShares } from "../../../../gpu-job/pipeline/lungs/thin-wall.js";

/**
 * One slice drawn as text: 'c' the component, '#' tissue, 'o' outside air, 'a' other air (another
 * component), 'x' outside but out of the field of view (padding). Returns the component's share for `wallMm`.
 */
function shareOf(rows: string[], wallMm: number, spacing: [number, number] = [1, 1]): number {
  const ny = rows.length;
  const nx = rows[0]!.length;
  const state = new Uint8Array(nx * ny);
  const ordinals = new Uint8Array(nx * ny);
  const unseen = new Uint8Array(nx * ny);
  const C = FIRST_ORDINAL;
  rows.forEach((r, j) => {
    for (let i = 0; i < nx; i++) {
      const n = i + nx * j;
      const c = r[i];
      state[n] = c === "c" || c === "a" ? STATE.lung : c === "o" || c === "x" ? STATE.outside : STATE.tissue;
      if (c === "c") ordinals[n] = C;
      if (c === "a") ordinals[n] = C + 1;
      if (c === "x") unseen[n] = 1;
    }
  });
  const shares = thinWallShares(
    state,
    { dims: [nx, ny, 1], spacing: [spacing[0], spacing[1], 5], outOfView: unseen },
    ordinals,
    STATE.lung,
    wallMm,
  );
  return shares[C]!;
}

describe("thinWallShares", () => {
  it("is the whole boundary for air wrapped in a wall as thin as the limit, none for a thicker wall", () => {
    const twoMm = [
      "oooooooo",
      "o######o",
      "o######o",
      "o##cc##o",
      "o##cc##o",
      "o######o",
      "o######o",
      "oooooooo",
    ];
    // Every side of the 2 x 2 block is 2 voxels (2 mm) of tissue from outside air.
    expect(shareOf(twoMm, 2)).toBe(1);
    expect(shareOf(twoMm, 1.9)).toBe(0);
  });

  it("counts only the sides that face outside air through the thin wall (a table core: underside thin)", () => {
    const core = [
      "##########", // the patient above: thick
      "##########",
      "##########",
      "#cccccccc#",
      "##########",
      "oooooooooo",
    ];
    // 8 voxels: 16 sides up and down, 2 at the ends; thin: the 8 undersides (1 mm to the room's air below).
    expect(shareOf(core, 1)).toBeCloseTo(8 / 18, 10);
    // With a 2 mm limit the ends' walks still meet no outside air (the row runs out at the image border).
    expect(shareOf(core, 2)).toBeCloseTo(8 / 18, 10);
  });

  it("does not count padding out of the field of view or other air as outside", () => {
    expect(shareOf(["xxxxxx", "x####x", "x#cc#x", "x####x", "xxxxxx"], 5)).toBe(0);
    // Another air space behind a thin wall (a lung behind the anterior junction, stomach gas behind the
    // diaphragm) stops the walk: it is not the room's air.
    expect(shareOf(["aaaaaa", "a####a", "a#cc#a", "a####a", "aaaaaa"], 5)).toBe(0);
  });

  it("reads the wall in millimetres along each axis of an anisotropic pixel", () => {
    // One voxel of wall all round: 0.5 mm across a row, 2 mm down a column.
    const rows = ["ooooo", "o###o", "o#c#o", "o###o", "ooooo"];
    expect(shareOf(rows, 1, [0.5, 2])).toBe(0.5);
    expect(shareOf(rows, 2, [0.5, 2])).toBe(1);
  });

  it("is 0 for a component with no boundary inside the image", () => {
    expect(shareOf(["cc", "cc"], 5)).toBe(0);
  });

  it("measures each component by its ordinal: a thin-walled one beside a thick-walled one", () => {
    // 'a' (ordinal FIRST_ORDINAL + 1) lies one voxel from outside air on every side; 'c' three voxels in.
    const rows = [
      "oooooooooo",
      "o#########",
      "o#a#######",
      "o#####c###",
      "o#########",
      "o#########",
      "o#########",
    ];
    expect(shareOf(rows, 1)).toBe(0);
    const ny = rows.length;
    const nx = rows[0]!.length;
    const state = new Uint8Array(nx * ny).map((_, n) =>
      "ca".includes(rows[Math.floor(n / nx)]![n % nx]!)
        ? STATE.lung
        : rows[Math.floor(n / nx)]![n % nx] === "o"
          ? STATE.outside
          : STATE.tissue,
    );
    const ordinals = new Uint8Array(nx * ny).map((_, n) => {
      const c = rows[Math.floor(n / nx)]![n % nx];
      return c === "c" ? FIRST_ORDINAL : c === "a" ? FIRST_ORDINAL + 1 : 0;
    });
    const shares = thinWallShares(state, { dims: [nx, ny, 1], spacing: [1, 1, 1] }, ordinals, STATE.lung, 1);
    // 'a': up and left reach outside through one voxel; right and down do not.
    expect(shares[FIRST_ORDINAL + 1]).toBe(0.5);
    expect(shares[FIRST_ORDINAL]).toBe(0);
  });
});
