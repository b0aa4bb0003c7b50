/**
 * The report stage inside the whole analysis (analyze on a small DICOM phantom): the key images, report.html,
 * report.pdf and lesions.seg.dcm exist, are in the manifest, and say what diagnosis.json says. The PDF's
 * text (pdftotext) holds the findings, the probabilities and the synthetic-model disclaimer; its pages
 * render (pdftoppm). A NIfTI input gets the reports but no SEG; a scan without lesions still gets all of
 * them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Diagnosis, DiagnosisSchema } from "../../../../core/contracts/diagnosis.js";
import { readNiftiFile } from "../../../../core/nifti/read.js";
import { runPhantom } from "../../../../core/phantom/run.js";
import { validatePath } from "../../../../core/validation/validate-path.js";
import { verifyResultsManifest } from "../../../../gpu-job/job/results-manifest.js";
import { type AnalyzeResult, analyze } from "../../../../gpu-job/pipeline/analyze.js";
import { compareWithReferences } from "../../../../gpu-job/pipeline/findings/references.js";
import { SYNTHETIC_BANNER, withBanner } from "../../../../gpu-job/pipeline/report/images/banner.js";
import { createRaster } from "../../../../gpu-job/pipeline/report/images/raster.js";
import {
  buildReportDocument,
  CLASS_LABELS,
  pct,
} from "../../../../gpu-job/pipeline/report/report-content.js";
import { REPORT_FILES, writeReports } from "../../../../gpu-job/pipeline/report/write-reports.js";
import {
  dciodvfy,
  HAVE_DCIODVFY,
  HAVE_PYDICOM,
  pythonSegCheck,
  readDicom,
  toolAvailable,
} from "./dicom-helpers.js";

const HAVE_POPPLER = toolAvailable("pdftotext", ["-v"]) && toolAvailable("pdftoppm", ["-v"]);
const work = mkdtempSync(join(tmpdir(), "deepsc-reports-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PHANTOM = { class: "covid", seed: 9101, size: 96, slices: 30, sliceThickness: 5 } as const;
let dicomDir: string;
let result: AnalyzeResult;
let d: Diagnosis;
let out: string;
let pdfText = "";

beforeAll(async () => {
  dicomDir = (await runPhantom({ ...PHANTOM, out: join(work, "ct"), format: "dicom" })).ctPath;
  out = join(work, "out");
  result = await analyze(dicomDir, out, { device: "cpu" });
  d = DiagnosisSchema.parse(JSON.parse(readFileSync(join(out, "diagnosis.json"), "utf8")));
  if (HAVE_POPPLER)
    pdfText = spawnSync("pdftotext", ["-layout", join(out, "report.pdf"), "-"], { encoding: "utf8" }).stdout;
}, 300_000);

const flat = (s: string) => s.replace(/\s+/g, " ");

describe("report files of a DICOM analysis", () => {
  it("writes the images, both reports and the SEG before the manifest, which lists and vouches for them", async () => {
    const images = readdirSync(join(out, "images")).sort();
    expect(images).toContain("coronal.png");
    expect(images).toContain("peripheral-distribution.png");
    expect(images.filter((f) => /^axial-[1-3]\.png$/.test(f)).length).toBeGreaterThanOrEqual(1);
    for (const f of [...images.map((i) => `images/${i}`), "report.html", "report.pdf", "lesions.seg.dcm"])
      expect(result.files, f).toContain(f);
    expect(result.files.at(-1)).toBe("manifest.json");
    const v = await verifyResultsManifest(out);
    expect(v.problems).toEqual([]);
  });

  it("renders key images as RGB PNGs of the expected size", () => {
    for (const f of readdirSync(join(out, "images"))) {
      const png = PNG.sync.read(readFileSync(join(out, "images", f)));
      expect(Math.max(png.width, png.height), f).toBeGreaterThanOrEqual(
        f.startsWith("peripheral") ? 440 : 512,
      );
    }
    // 96 x 96 at 3.75 mm in plane, 30 x 5 mm: the coronal view is 360 mm by 150 mm (below the banner).
    const coronal = PNG.sync.read(readFileSync(join(out, "images/coronal.png")));
    const band = withBanner(createRaster(coronal.width, 1), SYNTHETIC_BANNER).height - 1;
    expect(coronal.width / (coronal.height - band)).toBeCloseTo(360 / 150, 1);
  });

  it("marks every key image of the synthetic model as such in its own pixels", () => {
    expect(d.model.synthetic).toBe(true);
    for (const f of readdirSync(join(out, "images"))) {
      const png = PNG.sync.read(readFileSync(join(out, "images", f)));
      const expected = withBanner(createRaster(png.width, 1), SYNTHETIC_BANNER);
      const band = expected.height - 1;
      // The file's top rows are the banner's, pixel for pixel (pngjs reads RGBA).
      const rgb = new Uint8Array(band * png.width * 3);
      for (let p = 0; p < band * png.width; p++) rgb.set(png.data.subarray(4 * p, 4 * p + 3), 3 * p);
      expect(Buffer.from(rgb).equals(Buffer.from(expected.data.subarray(0, rgb.length))), f).toBe(true);
    }
  });

  it.skipIf(!HAVE_POPPLER)(
    "puts the findings, the probabilities and the disclaimer into the PDF's text",
    () => {
      const text = flat(pdfText);
      expect(text).toContain(flat(d.disclaimer));
      expect(text).toContain(CLASS_LABELS[d.diagnosis.predictedClass]);
      for (const c of ["covid19", "cap", "non_pneumonia"] as const)
        expect(text).toContain(`${CLASS_LABELS[c]} ${pct(d.diagnosis.probabilities[c])}`);
      const f = d.findings;
      expect(text).toContain(
        `Lesions ${f.lesions.count} (right lung ${f.lesions.right}, left lung ${f.lesions.left})`,
      );
      expect(text).toContain(`Mean lesion attenuation ${f.attenuation.meanHu?.toFixed(0)} HU`);
      expect(text).toContain(`CT severity score ${f.extent.severity.score} of 25`);
      expect(text).toContain(
        `Both lungs ${f.extent.lesionVolumeMl.toFixed(1)} ${f.extent.lungVolumeMl.toFixed(1)}`,
      );
      for (const s of f.peripheral.shells)
        expect(text).toContain(
          `${s.depthMm} mm ${pct(s.share)} ${pct(s.covid19Reference)} ${pct(s.capReference)}`,
        );
      // Findings 1-3 against their reference figures, like finding 4 against its curves.
      const refs = compareWithReferences(f);
      for (const c of [refs.lesionCount, refs.attenuation, refs.extent]) {
        expect(c.closerTo).not.toBeNull();
        expect(text).toContain(`Reference ${flat(c.text).slice(0, 40)}`);
        expect(text).toContain(flat(c.text).slice(-70));
      }
      expect(text).toContain(`Bilateral involvement ${f.distribution.bilateral ? "yes" : "no"}`);
      expect(text).toContain(`Lower-zone predominance ${f.distribution.lowerZonePredominant ? "yes" : "no"}`);
      expect(text).toContain(flat(d.impression).slice(0, 60));
      expect(pdfText.replace(/\s+/g, "")).toContain(d.model.sha256);
      expect(text).toContain(`Execution provider ${d.model.executionProvider}`);
    },
  );

  it.skipIf(!HAVE_POPPLER)("renders every PDF page with pdftoppm", () => {
    const r = spawnSync("pdftoppm", ["-png", "-r", "30", join(out, "report.pdf"), join(work, "page")]);
    expect(r.status).toBe(0);
    const pages = readdirSync(work).filter((f) => /^page-\d+\.png$/.test(f));
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(flat(pdfText)).toContain(`Page 1 of ${pages.length}`);
  });

  it("makes report.html self-contained with the same content", () => {
    const html = readFileSync(join(out, "report.html"), "utf8");
    const images = readdirSync(join(out, "images"));
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(images.length);
    expect(html).not.toMatch(/<script|src="(?!data:)|href="/);
    // Each embedded image is the PNG file byte for byte.
    const axial = readFileSync(join(out, "images/axial-1.png")).toString("base64");
    expect(html).toContain(axial);
    expect(html).toContain(d.disclaimer);
    expect(html).toContain(`<td>${CLASS_LABELS[d.diagnosis.predictedClass]}</td>`);
    expect(html).toContain(`CT severity score ${d.findings.extent.severity.score} of 25`);
    const refs = compareWithReferences(d.findings);
    for (const c of [refs.lesionCount, refs.attenuation, refs.extent])
      expect(html).toContain(`<th scope="row">Reference</th><td>${c.text.replace(/'/g, "&#39;")}</td>`);
  });

  it.skipIf(!HAVE_DCIODVFY)("writes a SEG that dciodvfy accepts", () => {
    const v = dciodvfy(join(out, "lesions.seg.dcm"));
    expect(v.errors).toEqual([]);
  });

  it.skipIf(!HAVE_PYDICOM)("writes a SEG whose frames give back lesions.nii.gz on the source slices", () => {
    const r = pythonSegCheck(join(out, "lesions.seg.dcm"), dicomDir, join(out, "lesions.nii.gz"));
    expect(r.problems).toEqual([]);
    expect(r.identical).toBe(true);
    expect(r.maskVoxels).toBeGreaterThan(0);
  });
});

describe("report files in other cases", () => {
  it("writes no SEG for a NIfTI input, the reports all the same", async () => {
    const nifti = (await runPhantom({ ...PHANTOM, slices: 24, out: join(work, "nii"), format: "nifti" }))
      .ctPath;
    const r = await analyze(nifti, join(work, "out-nii"), { device: "cpu" });
    expect(r.files).not.toContain("lesions.seg.dcm");
    expect(r.files).toContain("report.pdf");
    expect(r.files).toContain("images/coronal.png");
  }, 180_000);

  it("shows the largest lung level and writes an empty-frame SEG when there is no lesion", async () => {
    const { volume, dicomSource } = await validatePath(dicomDir, { mode: "full", purpose: "analysis" });
    if (!volume || !dicomSource) throw new Error("phantom not accepted");
    const lungs = Uint8Array.from((await readNiftiFile(join(out, "lungs.nii.gz"))).volume.data);
    const lesions = new Uint8Array(lungs.length);
    const dir = join(work, "out-empty");
    const r = await writeReports(dir, { diagnosis: d, volume, lesions, lungs, dicomSource });
    expect(r.files).toEqual([
      "images/axial-1.png",
      "images/coronal.png",
      "images/peripheral-distribution.png",
      REPORT_FILES.html,
      REPORT_FILES.pdf,
      REPORT_FILES.seg,
    ]);
    expect(r.segFrameSlices).toHaveLength(1);
    expect(Number(readDicom(join(dir, "lesions.seg.dcm")).NumberOfFrames)).toBe(1);
    expect(existsSync(join(dir, "images/axial-2.png"))).toBe(false);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain("no lesion found");
  });

  it("says there is nothing to compare with the references of findings 1-3 when the scan has no lesion", () => {
    const none = structuredClone(d);
    none.findings.lesions.count = 0;
    const doc = buildReportDocument(none, { axial: [] });
    const refs = doc.blocks.flatMap((b) =>
      b.kind === "facts" ? b.rows.filter(([k]) => k === "Reference").map(([, v]) => v) : [],
    );
    expect(refs).toHaveLength(3);
    for (const r of refs) expect(r).toMatch(/No lesion in this scan: nothing to compare\.$/);
  });

  it("shows at most three warnings of one code and counts the rest (diagnosis.json keeps them all)", () => {
    const many = Array.from({ length: 7 }, (_, i) => ({
      code: "DUPLICATES_DROPPED" as const,
      message: `Dropped a slice at ${i}.00 mm along the slice normal.`,
      file: `copy-${i}.dcm`,
    }));
    const doc = buildReportDocument({ ...d, warnings: [...d.warnings, ...many] }, { axial: [] });
    const text = doc.blocks.flatMap((b) => ("text" in b ? [b.text] : []));
    expect(text.filter((t) => t.includes("DUPLICATES_DROPPED: Dropped a slice"))).toHaveLength(3);
    expect(text).toContain("- DUPLICATES_DROPPED: 4 more warning(s) of this kind, in diagnosis.json.");
  });

  it("names what was analysed as a reader finds it: the DICOM series number, or the NIfTI volume, and its grid", () => {
    const analysed = (input: Partial<typeof d.input>) =>
      buildReportDocument({ ...d, input: { ...d.input, ...input } }, { axial: [] })
        .blocks.flatMap((b) => (b.kind === "facts" ? b.rows : []))
        .find(([k]) => k === "Analysed")?.[1];
    const grid = {
      dims: [512, 512, 60] as [number, number, number],
      spacing: [0.7, 0.7, 2.5] as [number, number, number],
    };
    expect(analysed({ format: "dicom", seriesNumber: 3, ...grid })).toBe(
      "DICOM series 3: 512 x 512 x 60 voxels of 0.70 x 0.70 x 2.50 mm",
    );
    expect(analysed({ format: "nifti", ...grid })).toBe(
      "the NIfTI volume: 512 x 512 x 60 voxels of 0.70 x 0.70 x 2.50 mm",
    );
  });

  it("flags the class as unreliable under the model result when the scan has a caveat, and only then", () => {
    const facts = (doc: ReturnType<typeof buildReportDocument>) =>
      doc.blocks.flatMap((b) => (b.kind === "facts" ? b.rows : []));
    // This phantom's 3.75 mm pixels already carry COARSE_PIXELS.
    expect(facts(buildReportDocument(d, { axial: [] }))).toContainEqual([
      "Reliability",
      "unreliable for this scan: COARSE_PIXELS (see Warnings)",
    ]);
    const clean = { ...d, warnings: d.warnings.filter((w) => w.code !== "COARSE_PIXELS") };
    expect(facts(buildReportDocument(clean, { axial: [] })).map(([k]) => k)).not.toContain("Reliability");
    const caveat = { code: "NOT_CHEST" as const, message: "Only 123 mL of lung was found." };
    const doc = buildReportDocument(
      { ...clean, warnings: [...clean.warnings, caveat, caveat] },
      { axial: [] },
    );
    expect(facts(doc)).toContainEqual(["Reliability", "unreliable for this scan: NOT_CHEST (see Warnings)"]);
  });

  it("refuses masks that do not match the volume", async () => {
    const { volume } = await validatePath(dicomDir, { mode: "full", purpose: "analysis" });
    if (!volume) throw new Error("phantom not accepted");
    await expect(
      writeReports(join(work, "bad"), {
        diagnosis: d,
        volume,
        lesions: new Uint8Array(3),
        lungs: new Uint8Array(3),
      }),
    ).rejects.toThrow(/voxels/);
  });
});
