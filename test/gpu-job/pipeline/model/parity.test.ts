/**
 * Issue 3's parity check: onnxruntime-node (here, CPU) against the outputs PyTorch produced for the same
 * inputs when the model was exported (gpu-job/models/parity-*.json). The inputs come from a formula both
 * languages compute exactly, so no tensors are stored.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import {
  bundledModelPath,
  type LoadedModel,
  loadModel,
} from "../../../../gpu-job/pipeline/model/model-manifest.js";
import { type ModelSession, openModelSession } from "../../../../gpu-job/pipeline/model/session.js";

const Tolerance = z.object({ abs: z.number(), rel: z.number() });
const Output = z.object({
  shape: z.array(z.number().int()),
  values: z.array(z.number()).optional(),
  sum: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  sampleStride: z.number().int().positive().optional(),
  samples: z.array(z.number()).optional(),
});
const ParityFixture = z.object({
  sha256: z.string(),
  generator: z.object({
    name: z.literal("u32hash"),
    inputs: z.record(z.string(), z.object({ seed: z.number().int(), shape: z.array(z.number().int()) })),
  }),
  tolerance: z.record(z.string(), Tolerance),
  outputs: z.record(z.string(), Output),
});

/** x[i] = ((i * 2654435761 + seed) mod 2^32) / 2^32 as float32, i the flat C-order index. */
function u32hash(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = ((Math.imul(i, 2654435761) + seed) >>> 0) / 4294967296;
  return out;
}

/** The fixture's inputs, from its formula. */
function fixtureInputs(): { feeds: Record<string, Float32Array>; shapes: Record<string, number[]> } {
  const feeds: Record<string, Float32Array> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, spec] of Object.entries(fixture.generator.inputs)) {
    feeds[name] = u32hash(
      spec.shape.reduce((a, b) => a * b, 1),
      spec.seed,
    );
    shapes[name] = spec.shape;
  }
  return { feeds, shapes };
}

let model: LoadedModel;
let session: ModelSession;
let fixture: z.infer<typeof ParityFixture>;

beforeAll(async () => {
  model = await loadModel(bundledModelPath());
  const file = model.manifest.parityFixture;
  if (!file) throw new Error("the bundled model.json names no parity fixture");
  fixture = ParityFixture.parse(JSON.parse(readFileSync(resolve(dirname(model.manifestPath), file), "utf8")));
  session = await openModelSession(model, { device: "cpu" });
});
afterAll(() => session?.release());

describe("onnxruntime-node vs PyTorch on the parity fixture", () => {
  it("is a fixture of this exact model", () => {
    expect(fixture.sha256).toBe(model.sha256);
  });

  it("reproduces class logits, lesion logits and evidence within the stated tolerance", async () => {
    const { feeds, shapes } = fixtureInputs();
    const out = await session.run(feeds, shapes);
    for (const [name, ref] of Object.entries(fixture.outputs)) {
      const got = out[name];
      if (!got) throw new Error(`no output ${name}`);
      expect(got.length).toBe(ref.shape.reduce((a, b) => a * b, 1));
      const tol = fixture.tolerance[name] ?? { abs: 1e-4, rel: 0 };
      const pairs: [number, number][] = [];
      for (const [i, v] of (ref.values ?? []).entries()) pairs.push([got[i] as number, v]);
      const stride = ref.sampleStride ?? 0;
      for (const [i, v] of (ref.samples ?? []).entries()) pairs.push([got[i * stride] as number, v]);
      expect(pairs.length).toBeGreaterThan(0);
      let worst = 0;
      for (const [g, r] of pairs) worst = Math.max(worst, Math.abs(g - r) - tol.rel * Math.abs(r));
      expect(worst, `${name}: worst excess over ${tol.abs}`).toBeLessThanOrEqual(tol.abs);
      if (ref.min !== undefined && ref.max !== undefined) {
        let min = Infinity;
        let max = -Infinity;
        for (const v of got) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        expect(Math.abs(min - ref.min)).toBeLessThanOrEqual(tol.abs + tol.rel * Math.abs(ref.min));
        expect(Math.abs(max - ref.max)).toBeLessThanOrEqual(tol.abs + tol.rel * Math.abs(ref.max));
      }
      if (ref.sum !== undefined) {
        let sum = 0;
        for (const v of got) sum += v;
        // A sum of n values each within abs + rel|v| of the reference.
        const bound = got.length * tol.abs + tol.rel * (Math.abs(ref.sum) + got.length);
        expect(Math.abs(sum - ref.sum)).toBeLessThanOrEqual(bound);
      }
    }
  });

  it("holds every output to issue 3's 1e-4, absolute (a regenerated fixture cannot loosen it)", () => {
    for (const name of Object.keys(fixture.outputs)) {
      const tol = fixture.tolerance[name];
      expect(tol, name).toBeDefined();
      expect(tol?.abs, name).toBeLessThanOrEqual(1e-4);
      expect(tol?.rel, name).toBe(0);
    }
  });
});

/**
 * The fp16 variant (mixed precision, model/deepsc/mixed_precision.py) on the same fixture, on the CPU
 * provider: every output finite and close to PyTorch's float32 values. Measured 2.83e-3 on the class logits
 * (|logit| up to 77) and 2.8e-2 on the lesion logits (up to 47) (model/MODEL_CARD.md). The class bound, 4e-3,
 * separates this graph from an all-float16 one (6.7e-3: statistics rounded to float16) and from mis-wired
 * Casts (errors of order 1); the lesion bound only catches gross errors (all-float16 gives 2.5e-2 there too).
 * The CPU provider computes many float16 operators in float32, so a float16 overflow (what made the old
 * variant give Inf on the GPU) does not show here: bench/gpu/ checks that on a card. The fixture's evidence
 * is ~1e-35 (noise inputs give none): that bound only says the output stays at zero.
 */
describe("the fp16 variant on the parity fixture", () => {
  const bounds: Record<string, number> = { class_logits: 4e-3, lesion_logits: 5e-2, evidence: 1e-6 };

  it("is finite and within float16's precision of PyTorch float32", async () => {
    const fp16 = await loadModel(bundledModelPath(), { variant: "fp16" });
    const s = await openModelSession(fp16, { device: "cpu" });
    try {
      const { feeds, shapes } = fixtureInputs();
      const out = await s.run(feeds, shapes);
      expect(Object.keys(fixture.outputs).sort()).toEqual(Object.keys(bounds).sort());
      for (const [name, ref] of Object.entries(fixture.outputs)) {
        const got = out[name];
        if (!got) throw new Error(`no output ${name}`);
        expect(got.every(Number.isFinite), `${name} finite`).toBe(true);
        let worst = 0;
        for (const [i, v] of (ref.values ?? []).entries())
          worst = Math.max(worst, Math.abs((got[i] as number) - v));
        const stride = ref.sampleStride ?? 0;
        for (const [i, v] of (ref.samples ?? []).entries())
          worst = Math.max(worst, Math.abs((got[i * stride] as number) - v));
        expect(worst, name).toBeLessThanOrEqual(bounds[name] as number);
      }
    } finally {
      await s.release();
    }
  });
});
