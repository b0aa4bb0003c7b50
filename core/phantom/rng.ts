/**
 * Seeded pseudo-random numbers for the phantom. Everything random in a phantom (vessel trees, lesions,
 * noise) comes from here, never from Math.random, so one seed always gives byte-identical output.
 *
 * Streams are named: `createRng(seed, "vessels", "right")` and `createRng(seed, "lesions")` are
 * independent, so adding a lesion never changes the vessel tree, and two classes rendered with the same
 * seed share their anatomy.
 */

/** cyrb128: a fast 128-bit string hash, good enough to spread a seed over sfc32's four words. */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ c, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ c, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ c, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ c, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [a, b). */
  uniform(a: number, b: number): number;
  /** Integer uniform in [a, b], both inclusive. */
  int(a: number, b: number): number;
  /** Normal deviate. */
  normal(mean?: number, sd?: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** Index drawn with probability proportional to weights[i]. */
  weighted(weights: readonly number[]): number;
  /** Uniformly chosen element; the array must not be empty. */
  pick<T>(items: readonly T[]): T;
  /** Log-uniform in [a, b) (a, b > 0): every factor of two equally likely. */
  logUniform(a: number, b: number): number;
}

/** sfc32 (Small Fast Counting, PractRand-clean) seeded from the hash of the stream name. */
export function createRng(...streamName: (string | number)[]): Rng {
  let [a, b, c, d] = cyrb128(streamName.map(String).join("\u0001"));
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Discard the first outputs: they still correlate with the raw hash words.
  for (let i = 0; i < 12; i++) next();

  let spare: number | undefined;
  const normal = (mean = 0, sd = 1): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return mean + sd * s;
    }
    // Box-Muller; 1 - next() is in (0, 1], so the log is finite.
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  };

  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    normal,
    chance: (p) => next() < p,
    weighted: (weights) => {
      const total = weights.reduce((s, w) => s + Math.max(0, w), 0);
      let x = next() * total;
      for (let i = 0; i < weights.length; i++) {
        x -= Math.max(0, weights[i]!);
        if (x < 0) return i;
      }
      return weights.length - 1;
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return items[Math.floor(next() * items.length)]!;
    },
    logUniform: (lo, hi) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * next()),
  };
}

/**
 * A bare sfc32 state for hot loops (noise): the same generator as createRng without closures per call
 * site. `fillNormal` writes standard normal deviates.
 */
export class FastNormal {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...streamName: (string | number)[]) {
    [this.a, this.b, this.c, this.d] = cyrb128(streamName.map(String).join("\u0001"));
    for (let i = 0; i < 12; i++) this.uint();
  }

  private uint(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Fill `out` with N(0, 1) deviates (Box-Muller, both outputs used). */
  fillNormal(out: Float32Array): void {
    const n = out.length;
    let i = 0;
    while (i < n) {
      const u = 1 - this.uint() / 4294967296;
      const v = this.uint() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u));
      const th = 2 * Math.PI * v;
      out[i++] = r * Math.cos(th);
      if (i < n) out[i++] = r * Math.sin(th);
    }
  }
}
