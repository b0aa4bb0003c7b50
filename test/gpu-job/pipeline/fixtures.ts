/** Small hand-built scans and preprocessing settings shared by the engine's unit tests. */
import type { Mat3, Vec3, Volume } from "../../../core/contracts/volume.js";
import type { Preprocessing } from "../../../gpu-job/pipeline/preprocess/model-grid.js";

/** An int16 scan whose HU at (i, j, k) is f(i, j, k); origin at 0. */
export function functionVolume(
  dims: Vec3,
  spacing: Vec3,
  direction: Mat3,
  f: (i: number, j: number, k: number) => number,
): Volume {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) data[i + dims[0] * (j + dims[1] * k)] = f(i, j, k);
  return { dims, spacing, origin: [0, 0, 0], direction, data };
}

/** The bundled model's preprocessing, shrunk to test sizes. */
export function testPreprocessing(
  over: Partial<{
    size: [number, number];
    spacing: number | null;
    mask: boolean;
    stack: number;
    tile: number;
    overlap: number;
    zCrop: "none" | "lung-extent";
  }> = {},
): Preprocessing {
  return {
    orientation: { axes: "LPS", arrayOrder: "zyx" },
    huWindow: [-1400, 200],
    normalization: { method: "clip-then-minmax" },
    lungMasking: { enabled: over.mask ?? true },
    ...(over.zCrop ? { zCrop: { method: over.zCrop } } : {}),
    zResampling: { spacingMm: over.spacing === undefined ? 2.5 : over.spacing, method: "linear" },
    inPlane: { size: over.size ?? [4, 4], method: "area" },
    stack: { slices: over.stack ?? 3 },
    tile: {
      slices: over.tile ?? 4,
      overlap: over.overlap ?? 2,
      padValue: 0,
      blending: "gaussian",
      gaussianSigmaFraction: 0.125,
    },
  };
}
