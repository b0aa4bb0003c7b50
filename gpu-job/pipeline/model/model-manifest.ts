/**
 * model.json — the manifest that ships beside every DeepSC-COVID ONNX export (model/export.py writes it).
 * The engine takes every preprocessing and post-processing constant from here, so a model trained on real
 * data with other sizes or windows runs without code changes. Only the fields the engine reads are
 * required; the rest (training records, metrics) pass through untouched.
 */
import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import * as z from "zod";
import { findUpwards } from "../../../core/util/find-upwards.js";

export const CLASS_NAMES = ["covid19", "cap", "non_pneumonia"] as const;
export type ClassName = (typeof CLASS_NAMES)[number];

const positiveInt = z.number().int().positive();
const Shape5 = z.tuple([positiveInt, z.literal(1), positiveInt, positiveInt, positiveInt]);

/**
 * Where the model's answers were checked to hold; beyond it the analysis warns (pipeline/scan-caveats.ts).
 * Measured per model: a model trained on other data should state its own from its own checks.
 */
const EnvelopeSchema = z
  .object({
    /** The in-plane field of view of the training scans (mm across). */
    trainingFieldOfViewMm: z.number().positive(),
    /** A view narrower than this (mm across) that cuts the lungs at the side: NARROW_FIELD_OF_VIEW. */
    narrowestFieldOfViewMm: z.number().positive(),
    /** Patient roll (degrees either way) up to which every figure was checked to hold. */
    rollCheckedDeg: z.number().min(0).max(90),
    /** From this roll on, PATIENT_ROLLED. */
    rollWarningDeg: z.number().min(0).max(90),
    /** Slices more than this many times the model's z grid apart: THICK_SLICES. */
    thickSliceRatio: z.number().min(1),
    /** Where the figures come from (benchmarks, data). */
    checkedOn: z.string().optional(),
  })
  .refine(
    (e) => e.rollWarningDeg >= e.rollCheckedDeg,
    "envelope.rollWarningDeg must be at least rollCheckedDeg",
  );
export type ModelEnvelope = z.infer<typeof EnvelopeSchema>;

/**
 * The envelope of a manifest that states none (those exported before the field): the shipped synthetic
 * model's, from bench/scan-kinds.ts and bench/patient-roll.ts (model/MODEL_CARD.md).
 */
export const DEFAULT_ENVELOPE: ModelEnvelope = {
  trainingFieldOfViewMm: 360,
  narrowestFieldOfViewMm: 250,
  rollCheckedDeg: 20,
  rollWarningDeg: 25,
  thickSliceRatio: 2,
};

/** Gaussian tile weights never fall below this share of their peak unless the manifest says otherwise. */
export const DEFAULT_BLENDING_FLOOR = 1e-3;

const TensorSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(positiveInt).min(2),
  dtype: z.literal("float32"),
});

/** A [low, high] range of lungScale ratios: positive and holding 1. */
const scaleRange = (name: string) =>
  z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= 1 && b >= 1, `lungScale.${name} must hold 1`);

export const ModelManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    version: z.string().min(1),
    config: z.string().optional(),
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    inputs: z.tuple([
      TensorSpecSchema.extend({ name: z.literal("stack"), shape: Shape5 }),
      TensorSpecSchema.extend({ name: z.literal("tile"), shape: Shape5 }),
    ]),
    outputs: z.array(TensorSpecSchema).min(3),
    /** Class order of `class_logits`; the engine requires the three DeepSC-COVID classes. */
    classes: z
      .array(z.enum(CLASS_NAMES))
      .length(3)
      .refine((c) => new Set(c).size === 3, "classes must be distinct"),
    classification: z.object({
      output: z.string(),
      activation: z.literal("softmax"),
      scanRule: z.object({
        method: z.enum(["lesion-weighted", "mean"]),
        baseMl: z.number().nonnegative().default(0),
      }),
    }),
    segmentation: z.object({
      output: z.string(),
      activation: z.literal("sigmoid"),
      threshold: z.number(),
      thresholdOn: z.literal("blended logits"),
      /**
       * An oblique scan is segmented on two grids (gpu-job/README.md): the weight of the LPS-aligned view's
       * lesion logits and evidence in their weighted mean, the scan's own grid having the rest. Chosen per
       * model by measuring (bench/oblique-views.ts). Absent (older manifests): 0.5, the plain mean.
       */
      obliqueViews: z.object({ alignedWeight: z.number().min(0).max(1) }).optional(),
    }),
    evidenceMap: z.object({ output: z.string(), range: z.tuple([z.number(), z.number()]) }),
    preprocessing: z.object({
      orientation: z.object({ axes: z.literal("LPS"), arrayOrder: z.literal("zyx") }),
      huWindow: z.tuple([z.number(), z.number()]).refine(([a, b]) => b > a, "huWindow must be [min, max]"),
      // The engine scales the window to [0, 1] (preprocess/model-grid.ts); a manifest asking for another range
      // must be refused, not fed [0, 1] input it never expected.
      normalization: z.object({
        method: z.literal("clip-then-minmax"),
        range: z.tuple([z.literal(0), z.literal(1)]).optional(),
      }),
      lungMasking: z.object({ enabled: z.boolean() }),
      /**
       * Which slices the model sees. "lung-extent": only those from the first to the last slice holding lung
       * (the model was trained on stacks the lungs fill; slices beyond them become lesion-free background).
       * Absent (older manifests): the whole scan.
       */
      zCrop: z.object({ method: z.enum(["none", "lung-extent"]) }).optional(),
      /** null: keep the scan's own slices. */
      zResampling: z.object({ spacingMm: z.number().positive().nullable(), method: z.literal("linear") }),
      inPlane: z.object({
        size: z.tuple([positiveInt, positiveInt]),
        method: z.literal("area"),
        /**
         * Model pixel size in mm: the model grid is `size` pixels of this size centred on the scan's field
         * of view (area-weighted, zero beyond the field of view), so anatomy appears at the scale the model
         * was trained at whatever the scan's pixel size. Absent or null: the whole field of view is
         * area-resized to `size` (the training code's own step, identical when the field of view is
         * size x spacingMm).
         */
        spacingMm: z.number().positive().nullable().optional(),
        /**
         * An engine rule for a model trained on one body size (preprocess/lung-scale.ts): the model pixel
         * along x and y is spacingMm times the ratio of the lungs' spread (standard deviation of the lung
         * voxels' LPS positions along the lungs' own left-right and front-back axes) to the training
         * bodies' `referenceSpreadMm`, clamped to `range`, and 1 while within `tolerance` of 1, so that a
         * larger or smaller chest reaches the model at the size it was trained on. Needs spacingMm.
         * `checkedRange` (within `range`; `range` when absent): the ratios the rule was checked on; lungs
         * beyond it are resampled all the same, but the analysis warns LUNG_SIZE_OUT_OF_RANGE.
         * Absent: the model pixel is spacingMm whatever the body.
         */
        lungScale: z
          .object({
            referenceSpreadMm: z.tuple([z.number().positive(), z.number().positive()]),
            range: scaleRange("range"),
            checkedRange: scaleRange("checkedRange").optional(),
            tolerance: z.number().min(0).max(0.5),
          })
          .refine(
            (r) => !r.checkedRange || (r.checkedRange[0] >= r.range[0] && r.checkedRange[1] <= r.range[1]),
            "lungScale.checkedRange must lie within lungScale.range",
          )
          .optional(),
      }),
      stack: z.object({ slices: positiveInt }),
      tile: z.object({
        slices: positiveInt,
        overlap: z.number().int().nonnegative(),
        padValue: z.number(),
        blending: z.literal("gaussian"),
        gaussianSigmaFraction: z.number().positive(),
        /**
         * The least weight (share of the peak) a tile gives its slices: edge slices that only one tile covers
         * still count. Default DEFAULT_BLENDING_FLOOR.
         */
        blendingFloor: z.number().positive().max(1).optional(),
      }),
    }),
    /** Default DEFAULT_ENVELOPE. */
    envelope: EnvelopeSchema.optional(),
    synthetic: z.boolean(),
    notForClinicalUse: z.boolean().optional(),
    intendedUse: z.string().optional(),
    license: z.string().optional(),
    parityFixture: z.string().optional(),
    variants: z
      .record(
        z.string(),
        z.object({ file: z.string(), sha256: z.string(), intendedProvider: z.string().optional() }),
      )
      .optional(),
  })
  .passthrough()
  .superRefine((m, ctx) => {
    const [stack, tile] = m.inputs;
    const p = m.preprocessing;
    if (stack.shape[2] !== p.stack.slices || tile.shape[2] !== p.tile.slices)
      ctx.addIssue({ code: "custom", message: "input depths must match preprocessing.stack/tile slices" });
    for (const s of [stack.shape, tile.shape])
      if (s[3] !== p.inPlane.size[0] || s[4] !== p.inPlane.size[1])
        ctx.addIssue({
          code: "custom",
          message: "input in-plane size must match preprocessing.inPlane.size",
        });
    if (p.inPlane.lungScale && !p.inPlane.spacingMm)
      ctx.addIssue({ code: "custom", message: "preprocessing.inPlane.lungScale needs inPlane.spacingMm" });
    if (p.tile.overlap >= p.tile.slices)
      ctx.addIssue({ code: "custom", message: "tile overlap must be smaller than the tile" });
    const names = new Set(m.outputs.map((o) => o.name));
    for (const o of [m.classification.output, m.segmentation.output, m.evidenceMap.output])
      if (!names.has(o)) ctx.addIssue({ code: "custom", message: `output ${o} is not among outputs` });
  });
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** A manifest with the resolved path of the ONNX file it describes. */
export interface LoadedModel {
  manifest: ModelManifest;
  /** Absolute path of model.json. */
  manifestPath: string;
  /** Absolute path of the .onnx actually used (the fp32 file, or a variant). */
  onnxPath: string;
  /** sha256 of that .onnx, checked against the manifest. */
  sha256: string;
  variant: string | null;
}

export class ModelManifestError extends Error {
  override readonly name = "ModelManifestError";
}

/**
 * The model shipped with the package, <root>/gpu-job/models/model.json, found from wherever this code runs:
 * the sources (gpu-job/pipeline/model), tsc's output (dist/gpu-job/pipeline/model), the CLI bundle (dist/bin)
 * or the container (/app/dist/...). models/ is never copied into dist/.
 */
export function bundledModelPath(): string {
  return (
    findUpwards(import.meta.dirname, join("gpu-job", "models", "model.json")) ??
    resolve(import.meta.dirname, "../../models/model.json")
  );
}

/**
 * What names the model a deployment analyses with, for study ids (core/studies/study-id.ts): the model in
 * the image (its manifest's name, version and ONNX sha256), or the S3 URI of a model.json (whose key should
 * change with the model: an object replaced in place keeps its name). "image" alone named every model the
 * same, so after an upgrade a re-sent upload was taken for a study already analysed.
 */
export function modelIdentity(modelUri: string, manifestPath: string = bundledModelPath()): string {
  if (modelUri !== "image") return modelUri;
  const m = ModelManifestSchema.parse(JSON.parse(readFileSync(manifestPath, "utf8")));
  return `image:${m.name}@${m.version}#${m.sha256}`;
}

/**
 * Read model.json, validate it, and check the ONNX file's sha256 — a model that is not the one its manifest
 * describes must never run (the diagnosis would name the wrong weights).
 */
export async function loadModel(manifestPath: string, opts: { variant?: string } = {}): Promise<LoadedModel> {
  const abs = resolve(manifestPath);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(abs, "utf8"));
  } catch (e) {
    throw new ModelManifestError(`cannot read model manifest ${abs}: ${(e as Error).message}`, { cause: e });
  }
  const parsed = ModelManifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new ModelManifestError(`invalid model manifest ${abs}: ${z.prettifyError(parsed.error)}`);
  const manifest = parsed.data;
  let file = manifest.file;
  let expected = manifest.sha256;
  if (opts.variant !== undefined) {
    const v = manifest.variants?.[opts.variant];
    if (!v) throw new ModelManifestError(`model manifest ${abs} has no variant "${opts.variant}"`);
    file = v.file;
    expected = v.sha256;
  }
  const onnxPath = resolve(dirname(abs), file);
  const sha256 = await sha256File(onnxPath).catch((e: unknown) => {
    throw new ModelManifestError(`cannot read model file ${onnxPath}: ${(e as Error).message}`, { cause: e });
  });
  if (sha256 !== expected)
    throw new ModelManifestError(
      `model file ${onnxPath} has sha256 ${sha256}, but ${abs} says ${expected}: the weights are not the ones the manifest describes`,
    );
  return { manifest, manifestPath: abs, onnxPath, sha256, variant: opts.variant ?? null };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
