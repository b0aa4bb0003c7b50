import { describe, expect, it } from "vitest";
import {
  ModelOutputError,
  slidingWindow,
  type TileRunner,
} from "../../../../gpu-job/pipeline/infer/sliding-window.js";
import type { ModelManifest } from "../../../../gpu-job/pipeline/model/model-manifest.js";
import type { ModelGrid } from "../../../../gpu-job/pipeline/preprocess/model-grid.js";
import { orientedView } from "../../../../gpu-job/pipeline/preprocess/orientation.js";

const T = 4;
const S = 2; // in-plane size

function manifest(scanRule: { method: "lesion-weighted" | "mean"; baseMl: number }): ModelManifest {
  return {
    inputs: [
      { name: "stack", shape: [1, 1, 3, S, S], dtype: "float32" },
      { name: "tile", shape: [1, 1, T, S, S], dtype: "float32" },
    ],
    classes: ["covid19", "cap", "non_pneumonia"],
    classification: { output: "class_logits", activation: "softmax", scanRule },
    segmentation: {
      output: "lesion_logits",
      activation: "sigmoid",
      threshold: 0,
      thresholdOn: "blended logits",
    },
    evidenceMap: { output: "evidence", range: [0, 1] },
    preprocessing: {
      stack: { slices: 3 },
      tile: { slices: T, overlap: 2, padValue: 0, blending: "gaussian", gaussianSigmaFraction: 0.125 },
    },
  } as unknown as ModelManifest;
}

function grid(depth: number, value: (z: number, i: number) => number): ModelGrid {
  const image = new Float32Array(depth * S * S);
  for (let z = 0; z < depth; z++) for (let i = 0; i < S * S; i++) image[z * S * S + i] = value(z, i);
  return {
    image,
    depth,
    height: S,
    width: S,
    zPositions: Float64Array.from({ length: depth }, (_, i) => i),
    zRange: [0, depth - 1],
    view: orientedView({
      dims: [S, S, depth],
      spacing: [1, 1, 1],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    }),
    voxelMl: 0.5,
    columns: { n: S, size: S, start: -0.5, step: 1 },
    rows: { n: S, size: S, start: -0.5, step: 1 },
  };
}

/**
 * A stand-in network: lesion logits and evidence are the tile's own input (so blending any number of
 * overlapping tiles must give the input back), class logits favour covid19 when the tile holds a positive
 * voxel, else non_pneumonia.
 */
const echo: TileRunner = async (feeds, shapes) => {
  const tile = feeds.tile as Float32Array;
  const n = (shapes.tile as number[])[0] as number;
  const per = tile.length / n;
  const logits = new Float32Array(n * 3);
  for (let t = 0; t < n; t++) {
    const any = tile.subarray(t * per, (t + 1) * per).some((v) => v > 0);
    logits.set(any ? [4, 0, 0] : [0, 0, 4], t * 3);
  }
  return {
    class_logits: logits,
    lesion_logits: tile.slice(),
    evidence: tile.map((v) => Math.min(Math.abs(v), 1)),
  };
};

describe("slidingWindow", () => {
  it("blends overlapping tiles back to exactly what each tile saw", async () => {
    const g = grid(11, (z, i) => Math.sin(z * 0.7 + i) * 3);
    for (const batch of [1, 2, 3]) {
      const r = await slidingWindow(g, manifest({ method: "mean", baseMl: 0 }), echo, { batch });
      expect(r.tileStarts).toEqual([0, 2, 4, 6, 7]);
      for (let i = 0; i < g.image.length; i++) expect(r.lesionLogits[i]).toBeCloseTo(g.image[i] as number, 5);
    }
  });

  it("pads a scan shorter than a tile and excludes the padding from lesion volumes", async () => {
    const g = grid(2, () => 1);
    const shapes: number[][] = [];
    const spy: TileRunner = (feeds, s) => {
      shapes.push([...(s.tile as number[])]);
      return echo(feeds, s);
    };
    const r = await slidingWindow(g, manifest({ method: "lesion-weighted", baseMl: 5 }), spy);
    expect(shapes).toEqual([[1, 1, T, S, S]]);
    expect(r.lesionLogits.length).toBe(2 * S * S);
    expect(r.tileLesionMl).toEqual([2 * S * S * 0.5]);
  });

  it("feeds every tile its own slices and padding, though the input buffers are reused between calls", async () => {
    // 9 slices: tiles at 0, 2, 4, 5 (the last tile ends at the scan's end); 2 slices: one tile, half padding.
    const m = manifest({ method: "mean", baseMl: 0 });
    m.preprocessing.tile.padValue = -7;
    for (const [depth, batch] of [
      [9, 1],
      [9, 3],
      [2, 1],
    ] as const) {
      const g = grid(depth, (z, i) => z * 10 + i + 1);
      const seen: number[][] = [];
      const copy: TileRunner = (feeds, s) => {
        const tiles = feeds.tile as Float32Array;
        const n = (s.tile as number[])[0] as number;
        for (let t = 0; t < n; t++)
          seen.push([...tiles.subarray((t * tiles.length) / n, ((t + 1) * tiles.length) / n)]);
        return echo(feeds, s);
      };
      const r = await slidingWindow(g, m, copy, { batch });
      expect(seen.length).toBe(r.tileStarts.length);
      r.tileStarts.forEach((start, t) => {
        const expected: number[] = [];
        for (let z = start; z < start + T; z++)
          for (let i = 0; i < S * S; i++)
            expected.push(z < g.depth ? (g.image[z * S * S + i] as number) : -7);
        expect(seen[t], `tile ${t} (depth ${depth}, batch ${batch})`).toEqual(expected);
      });
    }
  });

  it("weights the scan vote by each tile's lesion volume", async () => {
    // Lesion only in slices 9-11: tile 6 (slices 6-9) holds 2 mL, tile 8 holds 6 mL and both vote covid19;
    // the three lesion-free tiles vote non_pneumonia with the base weight 5 each.
    const g = grid(12, (z) => (z >= 9 ? 1 : -1));
    const r = await slidingWindow(g, manifest({ method: "lesion-weighted", baseMl: 5 }), echo);
    expect(r.tileStarts).toEqual([0, 2, 4, 6, 8]);
    expect(r.tileLesionMl).toEqual([0, 0, 0, 1 * S * S * 0.5, 3 * S * S * 0.5]);
    const mean = await slidingWindow(g, manifest({ method: "mean", baseMl: 5 }), echo);
    expect(r.probabilities[0]).toBeGreaterThan(mean.probabilities[0] as number);
    const p = 0.9643; // softmax([4, 0, 0])[0]
    const expected = ((3 * 5 * (1 - p)) / 2 + (7 + 11) * p) / (3 * 5 + 7 + 11);
    expect(r.probabilities[0]).toBeCloseTo(expected, 3);
  });

  it("refuses a model whose outputs are missing or mis-sized", async () => {
    const g = grid(4, () => 0);
    const bad: TileRunner = async (f, s) => ({ ...(await echo(f, s)), lesion_logits: new Float32Array(3) });
    await expect(slidingWindow(g, manifest({ method: "mean", baseMl: 0 }), bad)).rejects.toThrow(
      /lesion_logits has 3 values/,
    );
    const none: TileRunner = async () => ({});
    await expect(slidingWindow(g, manifest({ method: "mean", baseMl: 0 }), none)).rejects.toThrow(
      /no output named class_logits/,
    );
  });

  it.each([
    ["class_logits", Number.POSITIVE_INFINITY],
    ["lesion_logits", Number.NaN],
    ["evidence", Number.NEGATIVE_INFINITY],
  ])(
    "refuses a tile whose %s holds %s (an overflowed fp16 model), naming the output",
    async (name, value) => {
      const g = grid(40, (z) => (z === 20 ? 1 : 0));
      let call = 0;
      const overflowing: TileRunner = async (f, s) => {
        const out = await echo(f, s);
        // The second call only: one bad tile among good ones is enough to refuse the whole scan.
        if (++call === 2) (out[name] as Float32Array)[1] = value;
        return out;
      };
      const error = await slidingWindow(g, manifest({ method: "mean", baseMl: 0 }), overflowing).catch(
        (e) => e,
      );
      expect(call).toBe(2); // stopped at the bad tile
      expect(error).toBeInstanceOf(ModelOutputError);
      expect((error as Error).message).toContain(`model output ${name} holds ${value}`);
    },
  );
});
