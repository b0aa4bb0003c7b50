/**
 * Validation entry point shared by the ingest Lambda (header-only, over S3 range reads), `deepsc validate`,
 * `deepsc convert` and the job (full: decoded HU volume). Expected rejections come back as a report;
 * only real failures (I/O, bugs) throw.
 */

import { type ReasonCode, WARNING_CODES } from "../contracts/reason-codes.js";
import type { Reason, SeriesSummary, ValidationReport, Warning } from "../contracts/validation-report.js";
import { ValidationReportSchema } from "../contracts/validation-report.js";
import type { Geometry, Volume } from "../contracts/volume.js";
import { checkPixelFormat } from "../dicom/decode-pixels.js";
import type { DicomHeader } from "../dicom/header.js";
import { InputRejected, isInputRejected, reason } from "../errors.js";
import { column, cross, planeOf, shearAngleDeg } from "../geometry/affine.js";
import { DEFAULT_LIMITS, type InputEntry, type InputLimits, type InputSource } from "../input/source.js";
import { inspectNifti, readNifti } from "../nifti/read.js";
import { hashUid, pseudonymiseFiles, redactUids } from "../privacy.js";
import { checkHuPlausible } from "../volume/hu-check.js";
import { assembleVolume, type SliceSink } from "./assemble-volume.js";
import { type DicomSource, readDicomSource } from "./dicom-source.js";
import { policyFor, type ValidationPolicy } from "./policy.js";
import { type EntryResult, readHeaders } from "./read-headers.js";
import { groupSeries, selectSeries } from "./select-series.js";
import { buildStack, judgeExtent, judgeSliceCount, judgeTilt, type Stack } from "./stack-geometry.js";

export type ValidationMode = "full" | "header-only";

export interface ValidateOptions {
  mode: ValidationMode;
  purpose: "analysis" | "convert";
  policy?: Partial<ValidationPolicy>;
  limits?: Partial<InputLimits>;
  onProgress?: (stage: "headers" | "pixels", done: number, total: number) => void;
  /** Salt of hashed UIDs in the report (default: DEEPSC_UID_SALT or the local default, core/privacy.ts). */
  uidSalt?: string;
  /**
   * Full mode, DICOM input whose headers guarantee int16 HU, a purpose that needs no HU check (convert):
   * the slices go to this sink as they are decoded and the outcome holds no volume (`streamed` is true);
   * anything else is assembled in memory as usual.
   */
  sliceSink?: SliceSink;
}

export interface ValidationOutcome {
  report: ValidationReport;
  /** Present when mode is full and the input was accepted, unless its slices were streamed. */
  volume?: Volume;
  /** The accepted volume's slices all went to opts.sliceSink; its geometry is stack.geometry. */
  streamed?: true;
  /** The DICOM stack behind the volume (source references for DICOM SEG), when the input was DICOM. */
  stack?: Stack;
  /**
   * Full mode, accepted DICOM input: the source references and patient/study modules a DICOM SEG copies.
   * Holds patient identification: in memory only, never in the report, JSON or logs.
   */
  dicomSource?: DicomSource;
  /**
   * The input's entry paths in path order, which the report's `#<n>` file references index (1-based). In
   * memory only, for the local CLI's own terminal: paths can name the patient, so no report carries them.
   */
  inputPaths?: readonly string[];
}

/** Files that are part of a DICOM export but hold no image: ignored when they sit beside a series. */
const MEDIA_DIRECTORY_SOP = "1.2.840.10008.1.3.10";
const isIndexFile = (h: DicomHeader) =>
  h.sopClassUid === MEDIA_DIRECTORY_SOP || /(^|\/)DICOMDIR$/i.test(h.file);

interface Working {
  source: InputSource;
  /** The source's entry paths, in its (path) order: what reports' `#<n>` file references index. */
  paths: readonly string[];
  opts: ValidateOptions;
  policy: ValidationPolicy;
  limits: InputLimits;
  warnings: Warning[];
  filesUsed: number;
}

export async function validateSource(source: InputSource, opts: ValidateOptions): Promise<ValidationOutcome> {
  const w: Working = {
    source,
    paths: source.entries.map((e) => e.path),
    opts,
    policy: { ...policyFor(opts.purpose), ...opts.policy },
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    warnings: [],
    filesUsed: 0,
  };
  if (opts.mode === "header-only")
    w.warnings.push({
      code: "HEADER_ONLY",
      message: "Validated from headers only; pixel values were not decoded.",
    });
  try {
    const outcome = await validateEntries(w);
    return { ...outcome, report: finish(w, true, [], outcome.series), inputPaths: w.paths };
  } catch (e) {
    if (!isInputRejected(e)) throw e;
    return { report: finish(w, false, e.reasons, null), inputPaths: w.paths };
  }
}

/** A rejection raised before a source exists (limits while opening a zip, say) as a report; nothing was read. */
export function rejectionReport(reasons: Reason[], mode: ValidationMode, uidSalt?: string): ValidationReport {
  return ValidationReportSchema.parse({
    schemaVersion: "1.0",
    accepted: false,
    mode,
    reasons: redactFileMentions(reasons, [], uidSalt),
    warnings: [],
    series: null,
    files: { total: 0, used: 0 },
    bytesRead: 0,
    bytesTotal: 0,
  });
}

function finish(
  w: Working,
  accepted: boolean,
  reasons: Reason[],
  series: SeriesSummary | null,
): ValidationReport {
  return ValidationReportSchema.parse({
    schemaVersion: "1.0",
    accepted,
    mode: w.opts.mode,
    reasons: redactFileMentions(reasons, w.paths, w.opts.uidSalt),
    warnings: redactFileMentions(dedupeWarnings(w.warnings), w.paths, w.opts.uidSalt),
    series,
    files: { total: w.source.entries.length, used: w.filesUsed },
    bytesRead: w.source.bytesRead(),
    bytesTotal: w.source.bytesTotal,
  });
}

/**
 * Reasons and warnings point at the input's files by position, never by path (a PACS export's folders are
 * often the patient's name; core/contracts/file-ref.ts), and messages never name files. Messages can still
 * quote a UID (a file named by its SOPInstanceUID, say): those become salted hashes like every UID a report
 * carries.
 */
function redactFileMentions<T extends Reason | Warning>(
  items: T[],
  sortedPaths: readonly string[],
  salt: string | undefined,
): T[] {
  return pseudonymiseFiles(items, sortedPaths).map((x) => ({ ...x, message: redactUids(x.message, salt) }));
}

function dedupeWarnings(ws: Warning[]): Warning[] {
  const seen = new Set<string>();
  return ws.filter((x) => {
    // The file is part of it: two dropped copies at one position say the same but name different files.
    const k = `${x.code}|${x.message}|${x.file ?? ""}|${x.slice ?? ""}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

type EntriesOutcome = {
  series: SeriesSummary;
  volume?: Volume;
  streamed?: true;
  stack?: Stack;
  dicomSource?: DicomSource;
};

/** File names that say DICOM (a .dcm, .dic or .dicom extension). */
const DICOM_FILE_NAME = /\.(dcm|dic|dicom)$/i;
/** A Part 10 file's preamble and "DICM" alone take 132 bytes; no DICOM image fits in fewer. */
const DICOM_HEADER_MIN_BYTES = 132;

async function validateEntries(w: Working): Promise<EntriesOutcome> {
  const entries = w.source.entries;
  if (entries.length === 0) throw rejection("EMPTY_INPUT", "The input holds no files.");
  if (entries.length > w.limits.maxEntries)
    throw rejection(
      "TOO_LARGE",
      `The input holds ${entries.length} files; the limit is ${w.limits.maxEntries}.`,
    );

  const results = await readHeaders(entries, (d, t) => w.opts.onProgress?.("headers", d, t));
  const niftis = results.filter((r) => r.kind === "nifti" || r.kind === "gzip");
  const dicoms = results.filter((r): r is Extract<EntryResult, { kind: "dicom" }> => r.kind === "dicom");
  const failed = results.filter(
    (r): r is Extract<EntryResult, { kind: "rejected" }> => r.kind === "rejected",
  );

  if (niftis.length > 0 && dicoms.length === 0) {
    if (niftis.length > 1 || failed.length > 0)
      throw rejection("UNSUPPORTED_FORMAT", "Upload one NIfTI volume on its own, or one DICOM series.");
    return validateNifti(w, niftis[0]!.entry, niftis[0]!.kind as "nifti" | "gzip");
  }
  if (results.some((r) => r.kind === "zip"))
    throw rejection(
      "ARCHIVE_UNSAFE",
      "Archives inside the input are not expanded; upload one zip of the series.",
    );

  // Files that are not DICOM at all are ignored beside a series (README, thumbnails); any other failure
  // (truncated, unsupported transfer syntax) may hit the series itself, so it rejects. So does a file named
  // as DICOM too short to hold a DICOM header: a slice cut before its header (an interrupted copy), which
  // ignored would vanish from the end of the stack unnoticed.
  for (const r of failed)
    if (r.entry.size < DICOM_HEADER_MIN_BYTES && DICOM_FILE_NAME.test(r.entry.path))
      r.reasons = [
        reason(
          "TRUNCATED",
          `${r.entry.size === 0 ? "The file is empty" : `The file holds only ${r.entry.size} bytes`}, too few for a DICOM header: it was cut (an interrupted copy?). Upload the series again.`,
          { file: r.entry.path },
        ),
      ];
  const notDicom = failed.filter((r) => r.reasons.every((x) => x.code === "NOT_DICOM"));
  const hardFailures = failed.filter((r) => !notDicom.includes(r));
  if (hardFailures.length > 0) throw new InputRejected(hardFailures.flatMap((r) => r.reasons).slice(0, 20));
  const images = dicoms.filter((r) => !isIndexFile(r.header));
  if (images.length === 0) {
    if (notDicom.length > 0 && dicoms.length === 0) throw new InputRejected(notDicom[0]!.reasons);
    throw rejection(
      "UNSUPPORTED_FORMAT",
      "The input holds only a DICOMDIR index and no images; upload the image files of the series.",
    );
  }
  const ignored = notDicom.length + (dicoms.length - images.length) + niftis.length;
  if (ignored > 0)
    w.warnings.push({
      code: "FILES_IGNORED",
      message: `${ignored} file(s) were not DICOM images (index, text or other files) and were ignored.`,
    });
  return validateDicom(
    w,
    images.map((r) => r.header),
    new Map(entries.map((e) => [e.path, e])),
  );
}

async function validateDicom(
  w: Working,
  headers: DicomHeader[],
  entryByPath: ReadonlyMap<string, InputEntry>,
): Promise<EntriesOutcome> {
  const selection = selectSeries(groupSeries(headers), w.opts.uidSalt);
  w.warnings.push(...selection.warnings);
  const chosenHeaders = selection.chosen.headers;
  // The decoder's own header checks, run here too so header-only validation refuses what decoding would.
  for (const h of chosenHeaders) checkPixelFormat(h);
  const stack = buildStack(selection.chosen.slices, w.policy);
  w.warnings.push(...stack.warnings);
  w.filesUsed = new Set(stack.slices.map((s) => s.header)).size;
  if (chosenHeaders.some((h) => h.lossy))
    w.warnings.push({
      code: "LOSSY_COMPRESSION",
      message: "Pixels were lossy-compressed; HU values are approximate.",
    });
  warnIfNotAxial(w, stack.geometry);
  // Positions are comparable only within one Frame of Reference; a scanner writes one per acquisition, but
  // a series re-assembled by hand or a careless anonymiser may mix them.
  const frames = new Set(stack.slices.map((s) => s.header.frameOfReferenceUid ?? ""));
  if (frames.size > 1)
    w.warnings.push({
      code: "MIXED_FRAMES_OF_REFERENCE",
      message: `The series' slices name ${frames.size} Frames of Reference${frames.has("") ? " (some none)" : ""}; their positions were taken as one patient coordinate system and the SEG names the first slice's. Check the series was not assembled from several acquisitions.`,
    });

  const first = chosenHeaders[0]!;
  const series: SeriesSummary = {
    format: "dicom",
    container: w.source.container,
    seriesKey: hashUid(selection.chosen.key, w.opts.uidSalt),
    transferSyntaxes: [...new Set(chosenHeaders.map((h) => h.transferSyntax))].sort(),
    dims: stack.geometry.dims,
    spacing: stack.geometry.spacing,
    origin: stack.geometry.origin,
    direction: stack.geometry.direction,
    orientation: planeOf(cross(column(stack.geometry.direction, 0), column(stack.geometry.direction, 1))),
    zDirection: stack.zDirection,
    chosenBecause: selection.chosenBecause,
    runnersUp: selection.runnersUp,
    droppedSlices: stack.dropped.length,
  };
  if (first.seriesNumber !== undefined) series.seriesNumber = first.seriesNumber;
  if (first.modality) series.modality = first.modality;
  if (first.sopClassUid) series.sopClass = first.sopClassUid;
  if (first.manufacturer) series.manufacturer = first.manufacturer;
  const thickness = stack.slices[0]!.info.sliceThickness;
  if (thickness !== undefined) series.sliceThickness = thickness;

  if (w.opts.mode === "header-only") return { series, stack };
  // The HU check reads the whole volume, so a purpose that runs it never streams.
  const sink = w.policy.checkHu ? undefined : w.opts.sliceSink;
  const { volume, warnings } = await assembleVolume(stack, entryByPath, {
    maxVoxels: w.limits.maxVoxels,
    onProgress: (d, t) => w.opts.onProgress?.("pixels", d, t),
    ...(sink ? { sink } : {}),
  });
  w.warnings.push(...warnings);
  if (volume) checkHu(w, volume, series);
  const dicomSource = await readDicomSource(stack, entryByPath);
  return {
    series,
    ...(volume ? { volume } : { streamed: true as const }),
    stack,
    ...(dicomSource ? { dicomSource } : {}),
  };
}

/** A gzip stream that is not NIfTI (a gzipped DICOM, a tarball) is a format we do not take. */
async function inspectGzipOrNifti(w: Working, entry: InputEntry, kind: "nifti" | "gzip") {
  try {
    return await inspectNifti(entry, {
      maxVoxels: w.limits.maxVoxels,
      maxCompressionRatio: w.limits.maxCompressionRatio,
      // The gzip trailer sizes only the last member; the full read sizes them all (`cat a.gz b.gz`).
      fullReadFollows: w.opts.mode === "full",
    });
  } catch (e) {
    if (kind === "gzip" && isInputRejected(e) && e.reasons.every((r) => r.code === "NOT_NIFTI"))
      throw rejection(
        "UNSUPPORTED_FORMAT",
        "A gzip-compressed file that is not a NIfTI volume; upload DICOM files, a zip of them, or .nii/.nii.gz.",
        entry.path,
      );
    throw e;
  }
}

async function validateNifti(w: Working, entry: InputEntry, kind: "nifti" | "gzip"): Promise<EntriesOutcome> {
  w.filesUsed = 1;
  const inspected = await inspectGzipOrNifti(w, entry, kind);
  w.warnings.push(...inspected.warnings);
  const g = inspected.geometry;
  const problems: Reason[] = [];
  judgeTilt(shearAngleDeg(g.direction), w.policy, problems, w.warnings);
  judgeSliceCount(g.dims[2], w.policy, problems);
  judgeExtent(g.dims, g.spacing, w.policy, problems);
  if (problems.length > 0) throw new InputRejected(problems);
  warnIfNotAxial(w, g);
  const series: SeriesSummary = {
    format: "nifti",
    container: w.source.container,
    transferSyntaxes: [],
    dims: g.dims,
    spacing: g.spacing,
    origin: g.origin,
    direction: g.direction,
    orientation: planeOf(cross(column(g.direction, 0), column(g.direction, 1))),
    chosenBecause: ["single NIfTI volume"],
    runnersUp: [],
    droppedSlices: 0,
  };
  if (w.opts.mode === "header-only") return { series };
  const { volume, warnings } = await readNifti(entry, {
    maxVoxels: w.limits.maxVoxels,
    maxCompressionRatio: w.limits.maxCompressionRatio,
  });
  w.warnings.push(...warnings);
  checkHu(w, volume, series);
  return { series, volume };
}

/**
 * NOT_AXIAL when the slices' plane (i x j) is not axial, for DICOM and NIfTI alike: the plane the series
 * reports as its orientation. A gantry-tilted axial stack is axial (its shear has GANTRY_TILT); the slice
 * step's direction, tested before, called it not axial while its orientation read axial.
 */
function warnIfNotAxial(w: Working, g: Geometry): void {
  if (g.dims[2] > 1 && planeOf(cross(column(g.direction, 0), column(g.direction, 1))) !== "axial")
    w.warnings.push({ code: "NOT_AXIAL", message: WARNING_CODES.NOT_AXIAL });
}

function checkHu(w: Working, volume: Volume, series: SeriesSummary): void {
  // Conversion only needs geometry; the histogram costs a pass over every voxel.
  if (!w.policy.checkHu) return;
  const hu = checkHuPlausible(volume);
  series.huRange = hu.huRange;
  if (!hu.ok) throw new InputRejected([hu.reason]);
}

function rejection(code: ReasonCode, message: string, file?: string): InputRejected {
  return new InputRejected([reason(code, message, file === undefined ? undefined : { file })]);
}
