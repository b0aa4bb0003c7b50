/**
 * Rounding for findings JSON: enough digits for the quantity (volumes to 1 µL, percentages to 0.01,
 * shares to 1e-4, HU and mm to 0.1), never -0, and a ratio of nothing is null rather than NaN.
 */
export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  // Decide half-way cases on 12 significant digits: 108 voxels of 5.625 µL is 0.6075 mL, which binary
  // arithmetic holds as 0.60749999...; it must round to 0.608 like the decimal value does.
  const r = Math.round(Number((value * f).toPrecision(12))) / f;
  return r === 0 ? 0 : r;
}

export const ml = (v: number): number => round(v, 3);
export const percent = (v: number): number => round(v, 2);
export const share = (v: number): number => round(v, 4);
export const hu = (v: number): number => round(v, 1);
export const mm = (v: number): number => round(v, 1);

/** part / whole, or null when whole is 0 (nothing to take a share of). */
export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export function mapNullable<T, U>(v: T | null, f: (v: T) => U): U | null {
  return v === null ? null : f(v);
}
