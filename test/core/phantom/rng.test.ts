import { describe, expect, it } from "vitest";
import { createRng, FastNormal } from "../../../core/phantom/rng.js";

describe("createRng", () => {
  it("repeats a stream exactly and separates differently named streams", () => {
    const a = createRng(7, "lesions");
    const b = createRng(7, "lesions");
    const c = createRng(7, "vessels");
    const d = createRng(8, "lesions");
    const seqA = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(seqA);
    expect(Array.from({ length: 50 }, () => d.next())).not.toEqual(seqA);
    // Joining parts must not collide: ("ab", "c") is not ("a", "bc").
    expect(createRng("ab", "c").next()).not.toBe(createRng("a", "bc").next());
  });

  it("draws uniforms in [0, 1) with the right mean, integers within bounds, normals with mean 0 and sd 1", () => {
    const r = createRng("stats");
    const u = Array.from({ length: 20000 }, () => r.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((s, v) => s + v, 0) / u.length - 0.5)).toBeLessThan(0.01);
    const ints = Array.from({ length: 5000 }, () => r.int(2, 8));
    expect(new Set(ints)).toEqual(new Set([2, 3, 4, 5, 6, 7, 8]));
    const n = Array.from({ length: 20000 }, () => r.normal());
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });

  it("weighted draws follow the weights; pick refuses an empty list; logUniform stays in range", () => {
    const r = createRng("weights");
    const counts = [0, 0, 0];
    for (let i = 0; i < 10000; i++) counts[r.weighted([0.55, 0.3, 0.15])]!++;
    expect(counts[0]! / 10000).toBeCloseTo(0.55, 1);
    expect(counts[2]! / 10000).toBeCloseTo(0.15, 1);
    expect(r.weighted([0, 0, 1])).toBe(2);
    expect(() => r.pick([])).toThrow(RangeError);
    for (let i = 0; i < 1000; i++) {
      const v = r.logUniform(0.04, 0.35);
      expect(v).toBeGreaterThanOrEqual(0.04);
      expect(v).toBeLessThan(0.35);
    }
  });
});

describe("FastNormal", () => {
  it("is deterministic and standard normal, odd lengths included", () => {
    const a = new Float32Array(100001);
    const b = new Float32Array(100001);
    new FastNormal(3, "noise").fillNormal(a);
    new FastNormal(3, "noise").fillNormal(b);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    let s = 0;
    let s2 = 0;
    for (const v of a) {
      s += v;
      s2 += v * v;
    }
    const mean = s / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(Math.sqrt(s2 / a.length - mean * mean) - 1)).toBeLessThan(0.01);
    expect(Number.isFinite(a[a.length - 1]!)).toBe(true);
  });
});
