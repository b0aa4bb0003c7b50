import { describe, expect, it } from "vitest";
import { binaryLungMask } from "../../../../gpu-job/pipeline/lungs/lung-mask.js";

describe("binaryLungMask", () => {
  it("is 1 on every labelled voxel (either lung) and 0 elsewhere", () => {
    const labels = Uint8Array.from([0, 1, 2, 0, 2, 1, 0]);
    expect([...binaryLungMask(labels)]).toEqual([0, 1, 1, 0, 1, 1, 0]);
    expect(binaryLungMask(new Uint8Array(0)).length).toBe(0);
  });
});
