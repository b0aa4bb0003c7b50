/**
 * CT image noise: zero-mean Gaussian, optionally correlated in-plane by a separable [1 2 1]/4 blur (a
 * reconstruction kernel couples neighbouring pixels). The white noise is scaled so that the final standard
 * deviation is the one asked for either way. Seeded, so the same seed gives the same noise.
 */
import { FastNormal } from "./rng.js";

/** Standard deviation left by the [1 2 1]/4 blur along both axes: sqrt(0.375^2) = 0.375. */
const BLUR_SD_FACTOR = 0.375;

export const HU_MIN = -1024;
export const HU_MAX = 3071;

/**
 * Add noise to every slice of `data` (i fastest, nx * ny per slice) and clamp to the 12-bit CT range
 * [-1024, 3071] HU. `onSlice` is called after each slice.
 */
export function addNoise(
  data: Int16Array,
  nx: number,
  ny: number,
  nz: number,
  sd: number,
  correlated: boolean,
  streamName: (string | number)[],
  onSlice?: (k: number) => void,
): void {
  const plane = nx * ny;
  const white = new Float32Array(plane);
  const tmp = new Float32Array(plane);
  const gen = new FastNormal(...streamName);
  const gain = correlated ? sd / BLUR_SD_FACTOR : sd;
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    if (sd > 0) {
      gen.fillNormal(white);
      const noise = correlated ? blur121(white, tmp, nx, ny) : white;
      for (let p = 0; p < plane; p++) {
        const v = Math.round(data[base + p]! + gain * noise[p]!);
        data[base + p] = v < HU_MIN ? HU_MIN : Math.min(v, HU_MAX);
      }
    } else {
      for (let p = 0; p < plane; p++) {
        const v = data[base + p]!;
        data[base + p] = v < HU_MIN ? HU_MIN : Math.min(v, HU_MAX);
      }
    }
    onSlice?.(k);
  }
}

/** Separable [1 2 1]/4 blur in place of `src` (edges replicated); `tmp` is scratch. Returns src. */
function blur121(src: Float32Array, tmp: Float32Array, nx: number, ny: number): Float32Array {
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    for (let i = 0; i < nx; i++) {
      const l = src[row + (i > 0 ? i - 1 : i)]!;
      const r = src[row + (i < nx - 1 ? i + 1 : i)]!;
      tmp[row + i] = 0.25 * l + 0.5 * src[row + i]! + 0.25 * r;
    }
  }
  for (let j = 0; j < ny; j++) {
    const up = (j > 0 ? j - 1 : j) * nx;
    const down = (j < ny - 1 ? j + 1 : j) * nx;
    const row = j * nx;
    for (let i = 0; i < nx; i++)
      src[row + i] = 0.25 * tmp[up + i]! + 0.5 * tmp[row + i]! + 0.25 * tmp[down + i]!;
  }
  return src;
}
