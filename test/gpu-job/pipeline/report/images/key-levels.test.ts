import { describe, expect, it } from "vitest";
import type { Geometry, Vec3 } from "../../../../../core/contracts/volume.js";
import { orientedView } from "../../../../../gpu-job/pipeline/preprocess/orientation.js";
import { chooseKeyLevels, maskProfile } from "../../../../../gpu-job/pipeline/report/images/key-levels.js";

const dims: Vec3 = [4, 4, 20];
const plane = 16;
const geometry = (kSign: 1 | -1, dz = 2): Geometry => ({
  dims,
  spacing: [1, 1, dz],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, kSign],
});

/** A mask with `area[k]` voxels on slice k. */
function withAreas(areas: Record<number, number>): Uint8Array {
  const m = new Uint8Array(plane * dims[2]);
  for (const [k, a] of Object.entries(areas)) m.fill(1, Number(k) * plane, Number(k) * plane + a);
  return m;
}

describe("key levels", () => {
  it("takes the largest lesion areas, each at least 15 mm from the levels already taken", () => {
    // 2 mm slices: 8 slices apart at least. Slice 11 (next to 10) and 5 (5 from 10) are skipped.
    const m = withAreas({ 10: 16, 11: 15, 5: 14, 1: 3, 19: 2, 18: 1 });
    const view = orientedView(geometry(1));
    const levels = chooseKeyLevels(
      maskProfile(m, dims),
      () => {
        throw new Error("lungs are not needed when there are lesions");
      },
      view,
    );
    expect(levels.axial).toEqual([
      { index: 10, lesionVoxels: 16 },
      { index: 1, lesionVoxels: 3 },
      { index: 19, lesionVoxels: 2 },
    ]);
    expect(levels.coronalThrough).toBe("lesions");
  });

  it("reports levels along patient z, inferior first, when the stack runs head to feet", () => {
    const m = withAreas({ 2: 9 });
    const up = chooseKeyLevels(maskProfile(m, dims), () => maskProfile(m, dims), orientedView(geometry(1)));
    const down = chooseKeyLevels(
      maskProfile(m, dims),
      () => maskProfile(m, dims),
      orientedView(geometry(-1)),
    );
    expect(up.axial[0]?.index).toBe(2);
    // k = 2 of a descending stack is the third level from the top: oriented index 17.
    expect(down.axial[0]?.index).toBe(17);
  });

  it("falls back to the largest lung level and the lungs' centroid without lesions", () => {
    const lungs = withAreas({ 4: 5, 7: 12, 8: 3 });
    const levels = chooseKeyLevels(
      maskProfile(new Uint8Array(plane * 20), dims),
      () => maskProfile(lungs, dims),
      orientedView(geometry(1)),
    );
    expect(levels.axial).toEqual([{ index: 7, lesionVoxels: 0 }]);
    expect(levels.coronalThrough).toBe("lungs");
    const none = chooseKeyLevels(
      maskProfile(new Uint8Array(plane * 20), dims),
      () => maskProfile(new Uint8Array(plane * 20), dims),
      orientedView(geometry(1)),
    );
    expect(none).toEqual({ axial: [{ index: 10, lesionVoxels: 0 }], coronal: 2, coronalThrough: "centre" });
  });

  it("counts voxels per axis", () => {
    const m = new Uint8Array(plane * 20);
    m[1 + 4 * 2 + plane * 3] = 1;
    m[1 + 4 * 3 + plane * 3] = 7;
    const p = maskProfile(m, dims);
    expect(p.total).toBe(2);
    expect([...p.counts[0]]).toEqual([0, 2, 0, 0]);
    expect([...p.counts[1]]).toEqual([0, 0, 1, 1]);
    expect(p.counts[2][3]).toBe(2);
  });
});
