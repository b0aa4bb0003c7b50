/**
 * diagnosis.json — the result a hospital system reads first. Versioned; validated before it is written.
 * Nothing identifying a patient: the input is described by its grid and format only (the series key is a
 * salted hash), and every file it names is relative to the results folder.
 */
import * as z from "zod";
import { FindingsSchema } from "./findings.js";
import { Mat3Schema, Vec3Schema, WarningSchema } from "./validation-report.js";

export const DIAGNOSIS_SCHEMA_VERSION = 1;
export const DIAGNOSIS_CLASSES = ["covid19", "cap", "non_pneumonia"] as const;

const probability = z.number().min(0).max(1);
const ms = z.number().nonnegative();

export const ProbabilitiesSchema = z.object({
  covid19: probability,
  cap: probability,
  non_pneumonia: probability,
});

export const DiagnosisSchema = z.object({
  schemaVersion: z.literal(DIAGNOSIS_SCHEMA_VERSION),
  /** Shown wherever the result is shown; says when the model was trained on synthetic data. */
  disclaimer: z.string().min(1),
  input: z.object({
    format: z.enum(["dicom", "nifti"]),
    container: z.enum(["file", "folder", "zip", "object-store"]),
    /** Salted hash of the chosen series (DICOM), never the UID. */
    seriesKey: z.string().optional(),
    /** The chosen series' SeriesNumber (DICOM): how the scanner and PACS name it. */
    seriesNumber: z.number().optional(),
    /** Why that series was analysed when the input held several (the selection rules it met, its tie-break). */
    chosenBecause: z.array(z.string()).default([]),
    /** The input's own voxel grid, which every NIfTI output shares: dims i, j, k; spacing mm; LPS origin and direction. */
    dims: Vec3Schema,
    spacing: Vec3Schema,
    origin: Vec3Schema,
    direction: Mat3Schema,
    orientation: z.enum(["axial", "coronal", "sagittal", "oblique", "unknown"]).optional(),
  }),
  diagnosis: z.object({
    predictedClass: z.enum(DIAGNOSIS_CLASSES),
    probabilities: ProbabilitiesSchema,
    /** How tile votes became the scan's probabilities (model.json classification.scanRule). */
    scanRule: z.object({ method: z.enum(["lesion-weighted", "mean"]), baseMl: z.number() }),
    tiles: z.number().int().positive(),
  }),
  model: z.object({
    name: z.string(),
    version: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    variant: z.string().nullable(),
    executionProvider: z.enum(["cpu", "cuda"]),
    /** Why this provider (e.g. CUDA not installed, fell back to the CPU). */
    executionProviderNote: z.string().nullable(),
    synthetic: z.boolean(),
    notForClinicalUse: z.boolean(),
    intendedUse: z.string().nullable(),
  }),
  findings: FindingsSchema,
  /** A few plain-language sentences built from the findings and the probabilities (not a diagnosis). */
  impression: z.string().min(1),
  /** Result files, relative to the results folder. */
  outputs: z.object({
    lesions: z.string(),
    lungs: z.string(),
    evidence: z.string(),
  }),
  timings: z.object({
    totalMs: ms,
    readMs: ms,
    lungsMs: ms,
    preprocessMs: ms,
    inferenceMs: ms,
    postprocessMs: ms,
    findingsMs: ms,
    writeMs: ms,
  }),
  warnings: z.array(WarningSchema),
});
export type Diagnosis = z.infer<typeof DiagnosisSchema>;

export const SYNTHETIC_MODEL_DISCLAIMER =
  "Produced by a DeepSC-COVID model trained only on synthetic phantoms: not a medical device, not for clinical use.";
export const RESEARCH_MODEL_DISCLAIMER =
  "Research software: not a medical device; results must be reviewed by a qualified radiologist.";
