/**
 * The whole analysis of one study, as `deepsc analyze` runs it locally and the Batch job runs it in the
 * container: read and validate the input, segment the lungs, run DeepSC-COVID, compute the findings,
 * write every result file, then manifest.json last (no manifest, no result).
 *
 * Stages are composed here and nowhere else (MONAI-Deploy style); each is a small typed function elsewhere.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type Diagnosis,
  DiagnosisSchema,
  RESEARCH_MODEL_DISCLAIMER,
  SYNTHETIC_MODEL_DISCLAIMER,
} from "../../core/contracts/diagnosis.js";
import { RESULTS_MANIFEST_FILE } from "../../core/contracts/results-manifest.js";
import type { Warning } from "../../core/contracts/validation-report.js";
import type { LabelVolume, Volume } from "../../core/contracts/volume.js";
import { InputRejected } from "../../core/errors.js";
import { writeNifti } from "../../core/nifti/write.js";
import { removeStaleTempFilesSync } from "../../core/util/temp-path.js";
import { validatePath } from "../../core/validation/validate-path.js";
import { writeResultFile, writeResultsManifest } from "../job/results-manifest.js";
import { computeFindings } from "./findings/compute-findings.js";
import { impression } from "./findings/impression.js";
import { alignedViewWeight, inferScan } from "./infer/engine.js";
import { lungRollDeg } from "./lungs/lung-axis.js";
import { binaryLungMask } from "./lungs/lung-mask.js";
import { pleuralDistanceMm } from "./lungs/pleural-distance.js";
import { pleuralFluid } from "./lungs/pleural-fluid.js";
import { segmentLungs } from "./lungs/segment-lungs.js";
import { bundledModelPath, DEFAULT_ENVELOPE, type LoadedModel, loadModel } from "./model/model-manifest.js";
import { type DeviceRequest, type ModelSession, openModelSession } from "./model/session.js";
import { beyondLungScaleRange, spreadMeasuresBody } from "./preprocess/lung-scale.js";
import { coarserThanModel, thickerThanModel } from "./preprocess/model-grid.js";
import { inPlaneFieldOfViewMm } from "./preprocess/orientation.js";
import { REPORT_FILES, removeEarlierReports, writeReports } from "./report/write-reports.js";
import { scanCaveats } from "./scan-caveats.js";

export const OUTPUT_FILES = {
  diagnosis: "diagnosis.json",
  lesions: "lesions.nii.gz",
  lungs: "lungs.nii.gz",
  evidence: "evidence.nii.gz",
} as const;

export interface AnalyzeOptions {
  /** model.json to use; default the bundled gpu-job/models/model.json. */
  model?: string;
  /** A model.json variant (e.g. "fp16" for CUDA); default the fp32 file. */
  variant?: string;
  device?: DeviceRequest;
  /** CPU threads for ONNX Runtime; default its own choice. */
  threads?: number;
  /** Salt of the hashed series key in diagnosis.json (the job passes DEEPSC_UID_SALT; default core/privacy's). */
  uidSalt?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** A session already open on the same model (the local stack reuses one across studies). */
  session?: { model: LoadedModel; session: ModelSession };
}

export interface AnalyzeResult {
  outDir: string;
  /** Paths relative to outDir, manifest.json last. */
  files: string[];
  diagnosis: Diagnosis;
}

/** Throws InputRejected when the input is rejected; any other error is internal. */
export async function analyze(
  input: string,
  outDir: string,
  options: AnalyzeOptions = {},
): Promise<AnalyzeResult> {
  const progress = options.onProgress ?? (() => {});
  const t0 = performance.now();
  // A previous run's manifest must not vouch for the files this run is about to replace, and the outputs of
  // an earlier study analysed into this folder (its SEG, key images, masks) must not outlive it here.
  await mkdir(outDir, { recursive: true });
  await rm(join(outDir, RESULTS_MANIFEST_FILE), { force: true });
  for (const f of Object.values(OUTPUT_FILES)) await rm(join(outDir, f), { force: true });
  await removeEarlierReports(outDir);
  // A run killed while writing (SIGKILL, a crash) leaves its temporary files; they are no output of anyone's.
  for (const dir of resultsFolders(outDir)) removeStaleTempFilesSync(dir);

  // The model first: a missing or tampered model fails before minutes of decoding.
  const { model, session } = options.session ?? (await openDefault(options));
  try {
    const tRead = performance.now();
    const { report, volume, dicomSource } = await validatePath(input, {
      mode: "full",
      purpose: "analysis",
      onProgress: progress,
      ...(options.uidSalt !== undefined ? { uidSalt: options.uidSalt } : {}),
    });
    if (!report.accepted || !volume || !report.series) throw new InputRejected(report.reasons);
    const t1 = performance.now();

    progress("lungs", 0, 1);
    const lungs = segmentLungs(volume);
    const lungMask = binaryLungMask(lungs.labels);
    progress("lungs", 1, 1);
    const t2 = performance.now();

    const inference = await inferScan(volume, lungMask, model, session, {
      onTile: (d, t) => progress("inference", d, t),
      lungScaling: spreadMeasuresBody(lungs),
    });
    const t3 = performance.now();

    progress("findings", 0, 1);
    const findings = computeFindings({
      hu: volume,
      lesions: inference.lesions,
      lungs,
      pleuralDistanceMm: pleuralDistanceMm(lungs.labels, volume.dims, volume.spacing, volume.direction),
    });
    // Measured here so that its time counts with the findings' (0.3-3.4 s on a 512x512x120 scan).
    const fluid = pleuralFluid(volume, lungs.labels);
    progress("findings", 1, 1);
    const t4 = performance.now();

    const m = model.manifest;
    const synthetic = m.synthetic;
    const [evMin, evMax] = m.evidenceMap.range;
    const label = (data: Uint8Array): LabelVolume => ({ ...geometryOf(volume), data });
    const description = synthetic ? "DeepSC-COVID (synthetic model, not for clinical use)" : "DeepSC-COVID";
    progress("write", 0, 4);
    // gzip level 1: on these mostly-zero 8-bit volumes about 5x faster than the default 6 for files still
    // about 1 MB (measured on a 512x512x300 lung mask: 0.09 s vs 0.46 s CPU, 0.94 MB vs 0.50 MB).
    const gzipLevel = 1;
    await writeNifti(label(inference.lesions), join(outDir, OUTPUT_FILES.lesions), {
      description,
      gzipLevel,
    });
    progress("write", 1, 4);
    await writeNifti(label(lungs.labels), join(outDir, OUTPUT_FILES.lungs), { description, gzipLevel });
    progress("write", 2, 4);
    await writeNifti(label(inference.evidence), join(outDir, OUTPUT_FILES.evidence), {
      description,
      gzipLevel,
      scaling: { slope: (evMax - evMin) / 255, inter: evMin },
    });
    progress("write", 3, 4);
    const t5 = performance.now();

    const warnings: Warning[] = [
      ...report.warnings,
      ...lungs.warnings.map((message: string) => ({ code: "LUNG_SEGMENTATION" as const, message })),
    ];
    if (inference.resampled)
      warnings.push({
        code: "OBLIQUE_RESAMPLED",
        message: `The scan's axes are ${inference.resampled.obliquityDeg.toFixed(1)} degrees off the patient's axes; it was analysed on an axis-aligned ${inference.resampled.alignedDims.join("x")} grid, and its lesions segmented on both that grid (weight ${alignedViewWeight(m)}) and its own (${Number((1 - alignedViewWeight(m)).toFixed(2))}), combined on its own voxels.`,
      });
    const sizeBeyondRange = beyondLungScaleRange(
      inference.lungScale?.spreadMm,
      m.preprocessing.inPlane.lungScale,
    );
    if (inference.lungScale) {
      const { factors, spreadMm } = inference.lungScale;
      const reference = m.preprocessing.inPlane.lungScale?.referenceSpreadMm ?? spreadMm;
      const pixel = m.preprocessing.inPlane.spacingMm ?? 0;
      const mm = (v: number) => v.toFixed(1);
      warnings.push({
        code: "LUNGS_RESCALED",
        message: `The lungs spread ${mm(spreadMm[0])} x ${mm(spreadMm[1])} mm (left-right x front-back, standard deviation) against the model's training bodies' ${mm(reference[0])} x ${mm(reference[1])} mm; the model saw them at ${sizeBeyondRange?.clamped ? "the nearest size its range allows" : "its training size"}, on pixels of ${(pixel * factors[0]).toFixed(2)} x ${(pixel * factors[1]).toFixed(2)} mm instead of ${pixel.toFixed(2)} mm.`,
      });
    }
    const envelope = m.envelope ?? DEFAULT_ENVELOPE;
    const caveats = scanCaveats(
      {
        lungMl: lungs.volumeMl.right + lungs.volumeMl.left,
        coarse: coarserThanModel(volume, m.preprocessing, inference.lungScale?.factors),
        rollDeg: lungRollDeg(lungs.labels, volume),
        view: {
          acrossMm: inPlaneFieldOfViewMm(volume),
          cutsLungs: lungs.cutInPlane,
        },
        lungSizeBeyondRange: sizeBeyondRange,
        pleuralFluid: fluid,
        thick: thickerThanModel(volume, m.preprocessing, envelope.thickSliceRatio),
      },
      envelope,
    );
    warnings.push(...caveats.warnings);
    // Only when CUDA was installed and failed: a CPU-only install or --device cpu is not a warning.
    if (session.fellBack && session.providerNote)
      warnings.push({ code: "CPU_FALLBACK", message: session.providerNote });
    const diagnosis = DiagnosisSchema.parse({
      schemaVersion: 1,
      disclaimer: synthetic ? SYNTHETIC_MODEL_DISCLAIMER : RESEARCH_MODEL_DISCLAIMER,
      input: {
        format: report.series.format,
        container: report.series.container,
        ...(report.series.seriesKey !== undefined ? { seriesKey: report.series.seriesKey } : {}),
        ...(report.series.seriesNumber !== undefined ? { seriesNumber: report.series.seriesNumber } : {}),
        chosenBecause: report.series.chosenBecause,
        dims: volume.dims,
        spacing: volume.spacing,
        origin: volume.origin,
        direction: volume.direction,
        ...(report.series.orientation !== undefined ? { orientation: report.series.orientation } : {}),
      },
      diagnosis: {
        predictedClass: inference.predictedClass,
        probabilities: inference.probabilities,
        scanRule: m.classification.scanRule,
        tiles: inference.tiles.length,
      },
      model: {
        name: m.name,
        version: m.version,
        sha256: model.sha256,
        variant: model.variant,
        executionProvider: session.provider,
        executionProviderNote: session.providerNote,
        synthetic,
        notForClinicalUse: m.notForClinicalUse ?? synthetic,
        intendedUse: m.intendedUse ?? null,
      },
      findings,
      impression: impression(findings, inference.probabilities, { synthetic }, caveats.impression),
      outputs: { lesions: OUTPUT_FILES.lesions, lungs: OUTPUT_FILES.lungs, evidence: OUTPUT_FILES.evidence },
      timings: {
        totalMs: round(performance.now() - t0),
        readMs: round(t1 - tRead),
        lungsMs: round(t2 - t1),
        preprocessMs: round(inference.timingsMs.preprocess),
        inferenceMs: round(inference.timingsMs.inference),
        postprocessMs: round(inference.timingsMs.postprocess),
        findingsMs: round(t4 - t3),
        writeMs: round(t5 - t4),
      },
      warnings,
    } satisfies Diagnosis);
    await writeResultFile(outDir, OUTPUT_FILES.diagnosis, `${JSON.stringify(diagnosis, null, 2)}\n`);
    progress("write", 4, 4);
    // Key images, report.html/.pdf and (DICOM input) lesions.seg.dcm: before the manifest, which lists them.
    progress("report", 0, 1);
    const tReports = performance.now();
    const reports = await writeReports(outDir, {
      diagnosis,
      volume,
      lesions: inference.lesions,
      lungs: lungs.labels,
      ...(dicomSource ? { dicomSource } : {}),
    });
    const tEnd = performance.now();
    progress("report", 1, 1);

    // Exactly the files this run wrote: whatever else lies in the folder (the user's own files, the input
    // itself) is neither vouched for nor published.
    const manifest = await writeResultsManifest(
      outDir,
      {
        model: {
          name: m.name,
          version: m.version,
          sha256: model.sha256,
          executionProvider: session.provider,
        },
        timings: { reportsMs: round(tEnd - tReports), totalMs: round(tEnd - t0) },
      },
      [...Object.values(OUTPUT_FILES), ...reports.files],
    );
    return { outDir, files: [...manifest.files.map((f) => f.path), RESULTS_MANIFEST_FILE], diagnosis };
  } finally {
    if (!options.session) await session.release();
  }
}

async function openDefault(options: AnalyzeOptions): Promise<{ model: LoadedModel; session: ModelSession }> {
  const model = await loadModel(options.model ?? bundledModelPath(), {
    ...(options.variant !== undefined ? { variant: options.variant } : {}),
  });
  const session = await openModelSession(model, {
    device: options.device ?? "auto",
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  return { model, session };
}

function geometryOf(v: Volume) {
  return { dims: v.dims, spacing: v.spacing, origin: v.origin, direction: v.direction };
}

const round = (ms: number) => Math.round(ms);

/** The folders an analysis writes files into (the results folder and its key images' folder). */
export function resultsFolders(outDir: string): string[] {
  return [outDir, join(outDir, REPORT_FILES.imagesDir)];
}
