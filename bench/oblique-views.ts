/**
 * How much the engine should trust each of an oblique scan's two views (gpu-job/pipeline/infer/engine.ts:
 * the LPS-aligned grid and the scan's own grid, their lesion logits weighed on the scan's voxels by
 * model.json's segmentation.obliqueViews.alignedWeight). For each seed, issue 3's geometry phantoms
 * (bench/quality-phantoms.ts: COVID-19, DICOM) are analysed once: the axial case for its reference Dice,
 * the oblique and the descending + oblique + anisotropic cases keeping both views' logits (the engine's
 * onViews). Every weight tried is then applied to those logits, and its lesion Dice compared with the
 * axial case's; the geometry target is |Δ| ≤ 0.02. The analysis is the pipeline's own (validation, our
 * lung mask, the engine), and the manifest's own weight is checked to reproduce the engine's mask.
 *
 * Usage: npx tsx bench/oblique-views.ts [--seeds 9100-9111] [--weights 0,0.5,0.6,0.7,0.75,0.8,0.85,0.9,1]
 *          [--choose 9100-9105] [--model model.json] [--threads 2]
 * --choose names the seeds a weight is chosen on; the others show whether the choice holds on seeds it was
 * not chosen on. Writes bench/results/oblique-views.json and prints Markdown tables.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Volume } from "../core/contracts/volume.js";
import { readNiftiFile } from "../core/nifti/read.js";
import { validatePath } from "../core/validation/validate-path.js";
import { alignedViewWeight, inferScan } from "../gpu-job/pipeline/infer/engine.js";
import { binaryLungMask } from "../gpu-job/pipeline/lungs/lung-mask.js";
import { segmentLungs } from "../gpu-job/pipeline/lungs/segment-lungs.js";
import { bundledModelPath, loadModel } from "../gpu-job/pipeline/model/model-manifest.js";
import { openModelSession } from "../gpu-job/pipeline/model/session.js";
import { LOGIT_STEPS } from "../gpu-job/pipeline/postprocess/to-native.js";
import { compareVolumes } from "./masks.js";
import { cachedPhantom, GEOMETRY_VARIANTS, geometryPhantom } from "./quality-phantoms.js";
import { sweepRecord, writeBenchResults } from "./score-analysis.js";

const TARGET = 0.02;
const OBLIQUE = ["oblique", "descending+oblique+anisotropic"];

function seedRange(spec: string): number[] {
  const m = /^(\d+)-(\d+)$/.exec(spec);
  if (!m || Number(m[2]) < Number(m[1])) throw new Error(`use N-M for a seed range, got ${spec}`);
  return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
}

const r4 = (x: number) => Number(x.toFixed(4));

/** The geometry phantom of one variant and seed, read and lung-segmented as the pipeline does. */
async function load(variant: string, seed: number) {
  const v = GEOMETRY_VARIANTS.find((g) => g.variant === variant);
  if (!v) throw new Error(`no geometry variant ${variant}`);
  const { name, options } = geometryPhantom(v, seed);
  const { ct, truthDir } = await cachedPhantom(name, options);
  const { volume } = await validatePath(ct, { mode: "full", purpose: "analysis" });
  if (!volume) throw new Error(`${name}: the phantom was rejected`);
  const lungMask = binaryLungMask(segmentLungs(volume).labels);
  const { volume: truth } = await readNiftiFile(`${truthDir}/lesions.nii.gz`);
  return { name, volume, lungMask, truth };
}

const dice = (volume: Volume, mask: Uint8Array, truth: Volume, what: string) =>
  compareVolumes({ ...volume, data: mask }, truth, what).dice as number;

/** The lesion mask the engine makes at `weight` from the two views' logits (weighViews, engine.ts). */
function weighed(
  views: { aligned: Float32Array; own: Int16Array },
  lungMask: Uint8Array,
  weight: number,
  thresholdSteps: number,
): Uint8Array {
  const mask = new Uint8Array(lungMask.length);
  for (let i = 0; i < mask.length; i++) {
    const a = views.aligned[i] as number;
    // NaN: a voxel the aligned view did not reach, which the engine leaves without lesion.
    if (
      lungMask[i] &&
      !Number.isNaN(a) &&
      weight * a + (1 - weight) * (views.own[i] as number) > thresholdSteps
    )
      mask[i] = 1;
  }
  return mask;
}

async function main() {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "9100-9111" },
      weights: { type: "string", default: "0,0.5,0.6,0.7,0.75,0.8,0.85,0.9,1" },
      choose: { type: "string", default: "9100-9105" },
      model: { type: "string" },
      threads: { type: "string", default: "2" },
    },
  });
  const seeds = seedRange(values.seeds);
  const chosenOn = new Set(seedRange(values.choose));
  const weights = values.weights.split(",").map(Number);
  if (weights.some((w) => !(w >= 0 && w <= 1))) throw new Error("--weights: numbers between 0 and 1");
  const loadBefore = loadavg();
  const model = await loadModel(values.model ?? bundledModelPath());
  const shipped = alignedViewWeight(model.manifest);
  if (!weights.includes(shipped)) weights.push(shipped);
  weights.sort((a, b) => a - b);
  const thresholdSteps = model.manifest.segmentation.threshold * LOGIT_STEPS;
  const session = await openModelSession(model, { device: "cpu", threads: Number(values.threads) });
  const cases: {
    case: string;
    seed: number;
    variant: string;
    axialDice: number;
    delta: Record<string, number>;
  }[] = [];
  try {
    for (const seed of seeds) {
      const axial = await load("axial", seed);
      const axialDice = dice(
        axial.volume,
        (await inferScan(axial.volume, axial.lungMask, model, session)).lesions,
        axial.truth,
        axial.name,
      );
      for (const variant of OBLIQUE) {
        const c = await load(variant, seed);
        let views: { aligned: Float32Array; own: Int16Array } | undefined;
        const inference = await inferScan(c.volume, c.lungMask, model, session, {
          onViews: (v) => (views = v),
        });
        if (!views) throw new Error(`${c.name}: not analysed as an oblique scan`);
        const delta: Record<string, number> = {};
        for (const w of weights)
          delta[w] = r4(
            dice(c.volume, weighed(views, c.lungMask, w, thresholdSteps), c.truth, c.name) - axialDice,
          );
        // The manifest's weight here must be the engine's own mask (float32 rounding aside).
        const engineDelta = dice(c.volume, inference.lesions, c.truth, c.name) - axialDice;
        if (Math.abs(engineDelta - (delta[shipped] as number)) > 1e-3)
          throw new Error(
            `${c.name}: the engine's mask (${engineDelta}) is not the weighed views' (${delta[shipped]})`,
          );
        cases.push({ case: c.name, seed, variant, axialDice: r4(axialDice), delta });
        process.stderr.write(
          `${c.name}: axial ${axialDice.toFixed(4)}, Δ ${weights.map((w) => `${w}: ${delta[w]?.toFixed(4)}`).join(", ")}\n`,
        );
      }
    }
  } finally {
    await session.release();
  }
  const summary = (subset: typeof cases) =>
    Object.fromEntries(
      weights.map((w) => {
        const d = subset.map((c) => c.delta[w] as number);
        return [
          w,
          {
            meanDelta: r4(d.reduce((s, x) => s + x, 0) / d.length),
            meanAbsDelta: r4(d.reduce((s, x) => s + Math.abs(x), 0) / d.length),
            maxAbsDelta: r4(Math.max(...d.map(Math.abs))),
            outsideTarget: d.filter((x) => Math.abs(x) > TARGET).length,
          },
        ];
      }),
    );
  const chosen = cases.filter((c) => chosenOn.has(c.seed));
  const heldOut = cases.filter((c) => !chosenOn.has(c.seed));
  const results = {
    ...sweepRecord("oblique-views", model, loadBefore),
    manifestAlignedWeight: shipped,
    targetAbsDelta: TARGET,
    seeds,
    chosenOn: [...chosenOn].filter((s) => seeds.includes(s)),
    summary: {
      all: summary(cases),
      chosenOn: chosen.length ? summary(chosen) : null,
      heldOut: heldOut.length ? summary(heldOut) : null,
    },
    cases,
  };
  writeBenchResults("oblique-views.json", results);
  const table = (title: string, s: ReturnType<typeof summary> | null) => {
    if (!s) return [];
    return [
      `${title}`,
      "",
      "| aligned weight | mean Δ | mean \\|Δ\\| | max \\|Δ\\| | cases outside 0.02 |",
      "|---|---|---|---|---|",
      ...weights.map((w) => {
        const r = s[w]!;
        const mark = w === shipped ? " (model.json)" : "";
        return `| ${w}${mark} | ${r.meanDelta.toFixed(4)} | ${r.meanAbsDelta.toFixed(4)} | ${r.maxAbsDelta.toFixed(4)} | ${r.outsideTarget} |`;
      }),
      "",
    ];
  };
  console.log(
    [
      ...table(`All ${cases.length} cases (seeds ${values.seeds}):`, results.summary.all),
      ...table(`Seeds the weight is chosen on (${values.choose}):`, results.summary.chosenOn),
      ...table("The other seeds:", results.summary.heldOut),
    ].join("\n"),
  );
}

await main();
