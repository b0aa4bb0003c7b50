/**
 * The reconstruction circle: which pixels are out of view (padding constant through the slices, connected
 * to the border), which are not (air, clipped air that varies, a constant blob inside the image), and the
 * run-edge test the air mask uses.
 */
import { describe, expect, it } from "vitest";
import type { Volume } from "../../../../core/contracts/volume.js";
import { outOfViewMask, ViewEdge } from "../../../../gpu-job/pipeline/lungs/field-of-view.js";

function volumeOf(
  nx: number,
  ny: number,
  nz: number,
  hu: (i: number, j: number, k: number) => number,
): Volume {
  const data = new Int16Array(nx * ny * nz);
  for (let k = 0, v = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[v++] = hu(i, j, k);
  return {
    dims: [nx, ny, nz],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
  };
}

const N = 32;
const outsideDisc = (i: number, j: number): boolean => (i - 15.5) ** 2 + (j - 15.5) ** 2 > 16 ** 2;
/** Air with noise that changes per slice, a body in the middle. */
const scene = (i: number, j: number, k: number): number =>
  (i - 15.5) ** 2 + (j - 15.5) ** 2 < 100 ? 40 : -1000 + ((i * 7 + j * 13 + k * 29) % 41) - 20;

describe("outOfViewMask", () => {
  for (const padding of [-1024, -2000, -3024]) {
    it(`finds the pixels outside a round reconstruction padded with ${padding} HU`, () => {
      const v = volumeOf(N, N, 5, (i, j, k) => (outsideDisc(i, j) ? padding : scene(i, j, k)));
      const mask = outOfViewMask(v)!;
      expect(mask).toBeDefined();
      for (let j = 0; j < N; j++)
        for (let i = 0; i < N; i++) expect(mask[i + N * j]).toBe(outsideDisc(i, j) ? 1 : 0);
    });
  }

  it("finds none in a square image without padding", () => {
    expect(outOfViewMask(volumeOf(N, N, 5, scene))).toBeUndefined();
  });

  it("leaves out air clipped to -1024 in some slices only, and a constant blob not reaching the border", () => {
    const v = volumeOf(N, N, 4, (i, j, k) => {
      if (i < 3 && k % 2 === 0) return -1024; // clipped air, every other slice
      if (i >= 12 && i < 16 && j >= 12 && j < 16) return -2000; // constant, enclosed by the body
      return scene(i, j, k);
    });
    expect(outOfViewMask(v)).toBeUndefined();
  });

  it("counts only padding below -1024 HU in a single slice (no constancy to go by)", () => {
    expect(
      outOfViewMask(volumeOf(N, N, 1, (i, j) => (outsideDisc(i, j) ? -1024 : scene(i, j, 0)))),
    ).toBeUndefined();
    const mask = outOfViewMask(volumeOf(N, N, 1, (i, j) => (outsideDisc(i, j) ? -3024 : scene(i, j, 0))))!;
    expect(mask.reduce((a, b) => a + b, 0)).toBe(
      [...Array(N * N).keys()].filter((p) => outsideDisc(p % N, Math.floor(p / N))).length,
    );
  });
});

describe("ViewEdge", () => {
  // 6 x 4; out of view: (0, 1) and (4, 3).
  const mask = new Uint8Array(24);
  mask[0 + 6 * 1] = 1;
  mask[4 + 6 * 3] = 1;
  const edge = new ViewEdge(6, 4, mask);

  it("takes the image's border for an edge", () => {
    expect(edge.touches(0, 2, 3)).toBe(true);
    expect(edge.touches(3, 1, 2)).toBe(true);
    expect(edge.touches(2, 0, 1)).toBe(true);
    expect(edge.touches(2, 3, 6)).toBe(true);
    expect(new ViewEdge(6, 4, undefined).touches(1, 1, 5)).toBe(false);
  });

  it("takes an out-of-view pixel beside, above or below a run for an edge", () => {
    expect(edge.touches(1, 1, 3)).toBe(true); // beside (0, 1)
    expect(edge.touches(2, 3, 5)).toBe(true); // above (4, 3)
    expect(edge.touches(2, 1, 3)).toBe(false);
    expect(edge.touches(2, 1, 4)).toBe(false); // (4, 3) is diagonal to its end (3, 2)
  });
});
