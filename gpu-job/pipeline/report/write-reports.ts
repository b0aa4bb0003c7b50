/**
 * The report stage of the job: key images (images/*.png), report.html, report.pdf and, when the input was
 * DICOM, lesions.seg.dcm. Runs after diagnosis.json is written and before manifest.json; everything it
 * shows comes from diagnosis.json, the CT and the masks. The SEG alone receives the source's patient and
 * study modules (DicomSource), as DESIGN.md §3 allows.
 *
 * This is the I/O shell: rendering and encoding are pure functions elsewhere in this folder.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Diagnosis } from "../../../core/contracts/diagnosis.js";
import type { Volume } from "../../../core/contracts/volume.js";
import { writeFileAtomic } from "../../../core/util/write-file-atomic.js";
import type { DicomSource } from "../../../core/validation/dicom-source.js";
import { encodePng } from "./images/encode-png.js";
import { KEY_IMAGE_FILE, type KeyImage, renderKeyImages } from "./images/key-images.js";
import { renderHtml } from "./render-html.js";
import { renderPdf } from "./render-pdf.js";
import { buildReportDocument, type Figure } from "./report-content.js";
import { newSegUids, segBytes } from "./seg/write-seg.js";

export const REPORT_FILES = {
  html: "report.html",
  pdf: "report.pdf",
  seg: "lesions.seg.dcm",
  imagesDir: "images",
} as const;

/**
 * Remove what an earlier run of the report stage may have left in `outDir` (its key images, report and SEG),
 * and nothing else: a folder analysed twice, say first a DICOM study and then a NIfTI one, must not keep the
 * first study's SEG or key images beside the second's results.
 */
export async function removeEarlierReports(outDir: string): Promise<void> {
  for (const f of [REPORT_FILES.html, REPORT_FILES.pdf, REPORT_FILES.seg])
    await rm(join(outDir, f), { force: true });
  let names: string[];
  try {
    names = await readdir(join(outDir, REPORT_FILES.imagesDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR")
      return;
    throw e;
  }
  for (const n of names)
    if (KEY_IMAGE_FILE.test(`${REPORT_FILES.imagesDir}/${n}`))
      await rm(join(outDir, REPORT_FILES.imagesDir, n), { force: true });
}

export interface ReportInputs {
  diagnosis: Diagnosis;
  /** The CT in HU, on the grid every mask shares. */
  volume: Volume;
  /** Lesion mask (non-zero = lesion) and lung labels (0 background), on the volume grid. */
  lesions: Uint8Array;
  lungs: Uint8Array;
  /** DICOM inputs only: source references for the SEG. Without it no SEG is written. */
  dicomSource?: DicomSource;
}

export interface ReportOptions {
  /** Clock for the PDF dates and the SEG content date; default now. */
  now?: Date;
}

export interface ReportResult {
  /** Files written, relative to the results folder. */
  files: string[];
  /** Volume slices k that got a SEG frame (empty when no SEG was written). */
  segFrameSlices: number[];
  timingsMs: { images: number; html: number; pdf: number; seg: number };
}

export async function writeReports(
  outDir: string,
  inputs: ReportInputs,
  options: ReportOptions = {},
): Promise<ReportResult> {
  const now = options.now ?? new Date();
  const { diagnosis, volume } = inputs;
  const n = volume.dims[0] * volume.dims[1] * volume.dims[2];
  if (inputs.lesions.length !== n || inputs.lungs.length !== n)
    throw new RangeError(
      `masks must have ${n} voxels (lesions ${inputs.lesions.length}, lungs ${inputs.lungs.length})`,
    );

  const t0 = performance.now();
  const source = inputs.dicomSource;
  const images = renderKeyImages({
    ...inputs,
    findings: diagnosis.findings,
    synthetic: diagnosis.model.synthetic,
    origin:
      diagnosis.input.format === "nifti"
        ? { format: "nifti" }
        : {
            format: "dicom",
            ...(source?.instanceNumbers ? { instanceNumbers: source.instanceNumbers } : {}),
            ...(source ? { frameNumbers: source.frameNumbers } : {}),
          },
  });
  const pngs = new Map(images.map((im) => [im.file, new Uint8Array(encodePng(im.raster))]));
  await mkdir(join(outDir, REPORT_FILES.imagesDir), { recursive: true });
  // Each file whole or not at all (an interrupted run leaves a temporary file, which is removed, not half a
  // PDF that a viewer opens).
  for (const [file, bytes] of pngs) await writeFileAtomic(outDir, file, bytes);
  const t1 = performance.now();

  const figure = (im: KeyImage): Figure => ({
    file: im.file,
    title: im.title,
    caption: im.caption,
    width: im.raster.width,
    height: im.raster.height,
  });
  const coronal = images.find((im) => im.kind === "coronal");
  const chart = images.find((im) => im.kind === "chart");
  const doc = buildReportDocument(diagnosis, {
    axial: images.filter((im) => im.kind === "axial").map(figure),
    ...(coronal ? { coronal: figure(coronal) } : {}),
    ...(chart ? { chart: figure(chart) } : {}),
  });
  await writeFileAtomic(outDir, REPORT_FILES.html, renderHtml(doc, pngs));
  const t2 = performance.now();
  await writeFileAtomic(outDir, REPORT_FILES.pdf, await renderPdf(doc, pngs, { now }));
  const t3 = performance.now();

  const files = [...pngs.keys(), REPORT_FILES.html, REPORT_FILES.pdf];
  let segFrameSlices: number[] = [];
  if (inputs.dicomSource) {
    const { bytes, built } = segBytes({
      geometry: volume,
      lesions: inputs.lesions,
      source: inputs.dicomSource,
      model: diagnosis.model,
      uids: newSegUids(),
      now,
    });
    await writeFileAtomic(outDir, REPORT_FILES.seg, bytes);
    files.push(REPORT_FILES.seg);
    segFrameSlices = built.frameSlices;
  }
  const t4 = performance.now();
  return {
    files,
    segFrameSlices,
    timingsMs: { images: t1 - t0, html: t2 - t1, pdf: t3 - t2, seg: t4 - t3 },
  };
}
