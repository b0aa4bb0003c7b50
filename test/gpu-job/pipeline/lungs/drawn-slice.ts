/** One slice drawn as text for the lung-stage tests: a character per pixel, 1 mm pixels. */
import type { Volume } from "../../../../core/contracts/volume.js";
import { STATE } from "../../../../gpu-job/pipeline/lungs/air-mask.js";

/** The slice's HU volume, each character's value from `hu`. */
export function drawnSlice(rows: string[], hu: Record<string, number>): Volume {
  const ny = rows.length;
  const nx = rows[0]!.length;
  const data = new Int16Array(nx * ny);
  rows.forEach((r, j) => {
    for (let i = 0; i < nx; i++) {
      const v = hu[r[i]!];
      if (v === undefined) throw new Error(`no HU for "${r[i]}" in the drawing`);
      data[i + nx * j] = v;
    }
  });
  return {
    dims: [nx, ny, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    data,
  };
}

/** A state slice (air-mask STATE) as text: a air, o outside, # anything else. */
export function stateRows(state: Uint8Array, nx: number, ny: number): string[] {
  const code = (v: number) => (v === STATE.air ? "a" : v === STATE.outside ? "o" : "#");
  return Array.from({ length: ny }, (_, j) =>
    Array.from(state.subarray(j * nx, (j + 1) * nx), code).join(""),
  );
}
