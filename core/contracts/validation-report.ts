/**
 * The ValidationReport: what `deepsc validate --json` prints, what the ingest Lambda stores with a REJECTED
 * study, and what the job checks before inference. It never carries a patient identifier: series and
 * study UIDs appear only as salted hashes (see core/privacy.ts).
 */
import * as z from "zod";
import { FileRefSchema } from "./file-ref.js";
import { ReasonCodeSchema, WarningCodeSchema } from "./reason-codes.js";

export const ReasonSchema = z.object({
  code: ReasonCodeSchema,
  message: z.string(),
  /** The offending file as `#<n>`, its position in path order (file-ref.ts); messages never name files. */
  file: FileRefSchema.optional(),
  /** 0-based index of the offending slice along the sorted stack, where one applies. */
  slice: z.number().int().nonnegative().optional(),
});
export type Reason = z.infer<typeof ReasonSchema>;

export const WarningSchema = z.object({
  code: WarningCodeSchema,
  message: z.string(),
  file: FileRefSchema.optional(),
  slice: z.number().int().nonnegative().optional(),
});
export type Warning = z.infer<typeof WarningSchema>;

export const Vec3Schema = z.tuple([z.number(), z.number(), z.number()]);
export const Mat3Schema = z.array(z.number()).length(9);

/**
 * One candidate series, as ranked by the selection rules (core/validation/series-rules.ts). Its
 * SeriesDescription is not here: it is free text that PS3.15's Basic Confidentiality Profile removes.
 */
export const SeriesCandidateSchema = z.object({
  /** Salted hash of SeriesInstanceUID (+ acquisition/orientation split), never the UID itself. */
  seriesKey: z.string(),
  modality: z.string().optional(),
  seriesNumber: z.number().optional(),
  slices: z.number().int().nonnegative(),
  imageType: z.array(z.string()),
  orientation: z.enum(["axial", "coronal", "sagittal", "oblique", "unknown"]),
  score: z.number(),
  /** Why this series ranks where it does (rules that matched or failed). */
  notes: z.array(z.string()),
});
export type SeriesCandidate = z.infer<typeof SeriesCandidateSchema>;

export const SeriesSummarySchema = z.object({
  format: z.enum(["dicom", "nifti"]),
  container: z.enum(["file", "folder", "zip", "object-store"]),
  seriesKey: z.string().optional(),
  /** The chosen series' SeriesNumber (0020,0011): how the scanner and PACS name it. */
  seriesNumber: z.number().optional(),
  modality: z.string().optional(),
  sopClass: z.string().optional(),
  manufacturer: z.string().optional(),
  transferSyntaxes: z.array(z.string()),
  /** Voxel grid: columns (i), rows (j), slices (k). */
  dims: Vec3Schema.optional(),
  /** mm, along i, j, k; k is the measured centre-to-centre spacing. */
  spacing: Vec3Schema.optional(),
  sliceThickness: z.number().optional(),
  /** LPS origin (centre of the first voxel) and direction cosines, column-major axis vectors. */
  origin: Vec3Schema.optional(),
  direction: Mat3Schema.optional(),
  orientation: z.enum(["axial", "coronal", "sagittal", "oblique", "unknown"]).optional(),
  zDirection: z.enum(["ascending", "descending"]).optional(),
  huRange: z.tuple([z.number(), z.number()]).optional(),
  chosenBecause: z.array(z.string()).default([]),
  runnersUp: z.array(SeriesCandidateSchema).default([]),
  droppedSlices: z.number().int().nonnegative().default(0),
});
export type SeriesSummary = z.infer<typeof SeriesSummarySchema>;

export const ValidationReportSchema = z.object({
  schemaVersion: z.literal("1.0"),
  accepted: z.boolean(),
  mode: z.enum(["full", "header-only"]),
  reasons: z.array(ReasonSchema),
  warnings: z.array(WarningSchema),
  series: SeriesSummarySchema.nullable(),
  files: z.object({ total: z.number().int().nonnegative(), used: z.number().int().nonnegative() }),
  /**
   * Bytes fetched from storage, every read counted (compressed bytes for a zip). Full validation reads the
   * headers and then the pixel data, so it can exceed bytesTotal; header-only validation reads a fraction.
   */
  bytesRead: z.number().int().nonnegative(),
  /** Stored size of the input: the zip's or NIfTI's size, or the sum of the files' sizes. */
  bytesTotal: z.number().int().nonnegative(),
});
export type ValidationReport = z.infer<typeof ValidationReportSchema>;
