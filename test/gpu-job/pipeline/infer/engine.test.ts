/**
 * The engine's handling of the model pixel scaled to the chest (model.json's inPlane.lungScale), and of an
 * oblique scan: two views (the LPS-aligned grid and the scan's own grid), their
 * lesion logits and evidence weighed on the scan's voxels (model.json's segmentation.obliqueViews), the class from the aligned view. A fake session
 * tells the views apart by their whole-scan stack (the same for every tile of one view) and answers each in
 * its own way, so what the engine does with the answers shows in the result.
 */
import { describe, expect, it } from "vitest";
import { inferScan } from "../../../../gpu-job/pipeline/infer/engine.js";
import { bundledModelPath, loadModel } from "../../../../gpu-job/pipeline/model/model-manifest.js";
import { renderSmall, SMALL_GRID } from "../lungs/phantom-fixture.js";

/** What one view answers for a tile: its lesion logit and evidence per voxel of the tile input. */
interface ViewAnswer {
  lesionLogit: (input: number) => number;
  evidence: number;
  classLogits: [number, number, number];
}

/** A session answering the first view it sees with `first`, any other with `second`; counts calls per view. */
function twoViewSession(first: ViewAnswer, second: ViewAnswer) {
  let firstStack: Float32Array | undefined;
  const calls = [0, 0];
  const session = {
    run: async (feeds: Record<string, Float32Array>, shapes: Record<string, readonly number[]>) => {
      const stack = feeds.stack as Float32Array;
      const tile = feeds.tile as Float32Array;
      // One tile per call (batch 1): the stack of a call is one view's whole-scan stack.
      firstStack ??= Float32Array.from(stack);
      const isFirst = stack.length === firstStack.length && stack.every((v, i) => v === firstStack?.[i]);
      const answer = isFirst ? first : second;
      calls[isFirst ? 0 : 1]! += 1;
      expect((shapes.tile as number[])[0]).toBe(1);
      return {
        class_logits: Float32Array.from(answer.classLogits),
        lesion_logits: tile.map(answer.lesionLogit),
        evidence: new Float32Array(tile.length).fill(answer.evidence),
      };
    },
  };
  return { session, calls };
}

const oblique = renderSmall("normal", 77, {
  ...SMALL_GRID,
  slices: 40,
  orientation: { rotateXDeg: 12, rotateYDeg: -8 },
});
const axial = renderSmall("normal", 77, { ...SMALL_GRID, slices: 40 });
const count = (m: Uint8Array) => m.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
function dice(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && b[i] !== 0) both++;
  return (2 * both) / (count(a) + count(b));
}

/** The bundled model with its manifest's weight of the aligned view set, or removed (older manifests). */
async function modelWithAlignedWeight(alignedWeight: number | undefined) {
  const model = await loadModel(bundledModelPath());
  const { obliqueViews: _, ...segmentation } = model.manifest.segmentation;
  return {
    ...model,
    manifest: {
      ...model.manifest,
      segmentation:
        alignedWeight === undefined ? segmentation : { ...segmentation, obliqueViews: { alignedWeight } },
    },
  };
}

const voxelAtCentre = (dims: readonly number[]) => {
  const [cx, cy, cz] = dims.map((d) => Math.floor(d / 2)) as [number, number, number];
  return cx + (dims[0] as number) * (cy + (dims[1] as number) * cz);
};

describe("inferScan on an oblique scan", () => {
  it("segments with the manifest's weighted mean of both views' logits, voxel by voxel, and classifies with the aligned view", async () => {
    const model = await modelWithAlignedWeight(0.8);
    const lungs = oblique.lungs.data;
    // The aligned view says "no lesion" everywhere (-1); the own-grid view says "lesion" (+5) on lung tissue
    // in its input (lung-masked, so non-zero only in the lungs) and -5 elsewhere. 0.8 x -1 + 0.2 x 5 is
    // positive on the lungs only, so the lesion mask must fall on the lungs — where the own grid's answers land.
    const s = twoViewSession(
      { lesionLogit: () => -1, evidence: 0.2, classLogits: [2, 0, 0] },
      { lesionLogit: (x) => (x > 0.05 ? 5 : -5), evidence: 0.6, classLogits: [0, 0, 2] },
    );
    let views: { aligned: Float32Array; own: Int16Array } | undefined;
    const r = await inferScan(oblique.ct, lungs, model, s.session, { onViews: (v) => (views = v) });
    expect(r.resampled).not.toBeNull();
    expect(s.calls[0]).toBeGreaterThan(0);
    expect(s.calls[1]).toBeGreaterThan(0);
    const lesions = r.lesions;
    expect(count(lesions)).toBe(r.lesionVoxels);
    expect(dice(lesions, lungs)).toBeGreaterThan(0.97); // > 0.999 here; the own-grid logits read backwards: 0.87
    // Evidence: 0.8 x 0.2 + 0.2 x 0.6 = 0.28 on the 0..255 scale.
    const centre = voxelAtCentre(oblique.ct.dims);
    expect(r.evidence[centre]).toBeCloseTo(0.28 * 255, -0.5);
    // The class from the aligned view alone (softmax of 2, 0, 0).
    const p = Math.exp(2) / (Math.exp(2) + 2);
    expect(r.probabilities.covid19).toBeCloseTo(p, 6);
    expect(r.predictedClass).toBe("covid19");
    // What onViews hands a benchmark: each view's logits on the scan's voxels (256 steps per unit).
    expect(views?.aligned.length).toBe(lungs.length);
    expect(views?.aligned[centre]).toBeCloseTo(-256, -1);
    expect(views?.own[centre]).toBe(lungs[centre] ? 5 * 256 : -5 * 256);
  }, 60_000);

  it("weighs the views by the manifest: the same answers give no lesion at 0.8, lesion on the lungs at the plain mean", async () => {
    // 0.8 x -1 + 0.2 x 3 < 0 everywhere; (-1 + 3) / 2 > 0 on the lungs.
    const answers = () =>
      twoViewSession(
        { lesionLogit: () => -1, evidence: 0.2, classLogits: [2, 0, 0] },
        { lesionLogit: (x) => (x > 0.05 ? 3 : -3), evidence: 0.6, classLogits: [0, 0, 2] },
      ).session;
    const lungs = oblique.lungs.data;
    const weighted = await inferScan(oblique.ct, lungs, await modelWithAlignedWeight(0.8), answers());
    expect(weighted.lesionVoxels).toBe(0);
    // A manifest without segmentation.obliqueViews (before 0.3.6) gets the plain mean.
    const plain = await inferScan(oblique.ct, lungs, await modelWithAlignedWeight(undefined), answers());
    expect(dice(plain.lesions, lungs)).toBeGreaterThan(0.97);
    expect(plain.evidence[voxelAtCentre(oblique.ct.dims)]).toBeCloseTo(0.4 * 255, -0.5);
  }, 60_000);

  it("runs one view on an axis-aligned scan", async () => {
    const model = await loadModel(bundledModelPath());
    const s = twoViewSession(
      { lesionLogit: () => 1, evidence: 0, classLogits: [2, 0, 0] },
      { lesionLogit: () => -5, evidence: 0, classLogits: [0, 2, 0] },
    );
    const r = await inferScan(axial.ct, axial.lungs.data, model, s.session);
    expect(r.resampled).toBeNull();
    expect(s.calls[1]).toBe(0);
    expect(r.lesionVoxels).toBe(count(axial.lungs.data));
  }, 60_000);
});

describe("inferScan with the manifest's lungScale rule", () => {
  const small = renderSmall("normal", 77, {
    ...SMALL_GRID,
    slices: 40,
    habitus: { widthScale: 0.8, depthScale: 0.8, heightScale: 0.8 },
  });
  // Lesion wherever the tile input holds lung: the lesion mask then shows where the model grid landed.
  const onLungs = () =>
    twoViewSession(
      { lesionLogit: (x) => (x > 0.05 ? 5 : -5), evidence: 0, classLogits: [0, 0, 2] },
      { lesionLogit: () => -5, evidence: 0, classLogits: [0, 0, 2] },
    ).session;

  it("resamples a smaller chest to the training bodies' size, and maps its lesions back onto its own voxels", async () => {
    const model = await loadModel(bundledModelPath());
    const lungs = small.lungs.data;
    const r = await inferScan(small.ct, lungs, model, onLungs(), { lungScaling: true });
    expect(r.lungScale).not.toBeNull();
    const [fx, fy] = r.lungScale!.factors;
    expect(fx).toBeCloseTo(0.8, 1);
    expect(fy).toBeCloseTo(0.8, 1);
    expect(dice(r.lesions, lungs)).toBeGreaterThan(0.97);
    // The model voxel shrank with the pixel.
    const plain = await inferScan(small.ct, lungs, model, onLungs());
    expect(plain.lungScale).toBeNull();
    expect(r.modelGrid.voxelMl).toBeCloseTo(plain.modelGrid.voxelMl * fx * fy, 9);
  }, 60_000);

  it("leaves a chest of the training bodies' size on the model's own pixel", async () => {
    const model = await loadModel(bundledModelPath());
    const r = await inferScan(axial.ct, axial.lungs.data, model, onLungs(), { lungScaling: true });
    expect(r.lungScale).toBeNull();
  }, 60_000);
});
