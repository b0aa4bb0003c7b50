/**
 * What the per-tile benchmarks (tile-speed.ts on the CPU, gpu/tiles.ts on the GPU machine) share: the parity
 * fixture's input formula, the warm-up-then-time loop and the statistics they report.
 */

/** The parity fixture's stack seed (model/export.py --parity-seed); the tile's is this + 1. */
export const PARITY_INPUT_SEED = 12345;

/** The parity fixture's input generator (model/export.py hash_input), as float32. */
export function parityInput(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((Math.imul(i, 2654435761) + seed) >>> 0) / 4294967296;
  return out;
}

/** Largest absolute difference of two equally long, non-empty lists; NaN otherwise. */
export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length || a.length === 0) return Number.NaN;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
};

/** `warmup` untimed calls, then `runs` timed ones (ms each); the last call's result comes back too. */
export async function timeCalls<T>(
  call: () => Promise<T>,
  runs: number,
  warmup: number,
): Promise<{ callMs: number[]; last: T | undefined }> {
  let last: T | undefined;
  for (let i = 0; i < warmup; i++) last = await call();
  const callMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = await call();
    callMs.push(performance.now() - t0);
  }
  return { callMs, last };
}
