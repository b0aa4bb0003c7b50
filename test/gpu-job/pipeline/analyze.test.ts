/**
 * The whole local analysis on small phantoms: every output exists, lies on the input's own grid (checked
 * against dcm2niix's conversion of the same DICOM series), diagnosis.json is valid and consistent with the
 * masks, the manifest is last and true, the result does not depend on slice order, and a rejected input
 * leaves no manifest behind.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiagnosisSchema } from "../../../core/contracts/diagnosis.js";
import type { Geometry, Volume } from "../../../core/contracts/volume.js";
import { InputRejected } from "../../../core/errors.js";
import { voxelToRas } from "../../../core/geometry/affine.js";
import { readNiftiFile } from "../../../core/nifti/read.js";
import { runPhantom } from "../../../core/phantom/run.js";
import { parseResultsManifest, verifyResultsManifest } from "../../../gpu-job/job/results-manifest.js";
import { type AnalyzeResult, analyze, OUTPUT_FILES } from "../../../gpu-job/pipeline/analyze.js";
import { run } from "../../helpers/tools.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-analyze-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Noise-free, so the ascending and descending renderings hold exactly the same voxels (the generator draws
// noise in storage order) and any difference in the results would be the pipeline's.
const PHANTOM = { class: "covid", seed: 9201, size: 128, slices: 40, sliceThickness: 5, noiseSd: 0 } as const;
let ascending: AnalyzeResult;
let descending: AnalyzeResult;
let dicomDir: string;
let niftiPath: string;

beforeAll(async () => {
  const up = await runPhantom({ ...PHANTOM, out: join(work, "up"), format: "dicom" });
  const down = await runPhantom({
    ...PHANTOM,
    out: join(work, "down"),
    format: "nifti",
    zDirection: "descending",
  });
  dicomDir = up.ctPath;
  niftiPath = down.ctPath;
  ascending = await analyze(up.ctPath, join(work, "out-up"), { device: "cpu" });
  descending = await analyze(down.ctPath, join(work, "out-down"), { device: "cpu" });
}, 240_000);

/**
 * Two NIfTI grids are the same set of voxel centres when one affine maps the other's indices by a signed
 * permutation plus an integer shift that keeps the index box (dcm2niix may store the rows flipped).
 */
function expectSameGrid(a: Geometry, b: Geometry): void {
  const A = voxelToRas(a);
  const B = voxelToRas(b);
  // Solve B * m = A column by column: each of A's axis steps must be +-1 step of one of B's axes.
  const axisB = [0, 1, 2].map((c) => [B[c] as number, B[4 + c] as number, B[8 + c] as number]);
  const perm: { axis: number; sign: number }[] = [];
  for (let c = 0; c < 3; c++) {
    const v = [A[c] as number, A[4 + c] as number, A[8 + c] as number];
    const hit = axisB
      .flatMap((w, axis) =>
        [1, -1].map((sign) => ({
          axis,
          sign,
          err: Math.hypot(...v.map((x, r) => x - sign * (w[r] as number))),
        })),
      )
      .sort((p, q) => p.err - q.err)[0];
    expect(hit?.err, `axis ${c}`).toBeLessThan(1e-3);
    perm.push({ axis: hit?.axis as number, sign: hit?.sign as number });
    expect(a.dims[c]).toBe(b.dims[hit?.axis as number]);
  }
  // The first and last voxel of a must be voxels of b.
  for (const corner of [
    [0, 0, 0],
    [a.dims[0] - 1, a.dims[1] - 1, a.dims[2] - 1],
  ]) {
    const p = [0, 1, 2].map(
      (r) =>
        (A[4 * r + 3] as number) +
        [0, 1, 2].reduce((s, c) => s + (A[4 * r + c] as number) * (corner[c] as number), 0),
    );
    // Index of p in b's grid: solve with b's orthogonal axes (spacing^2 normalisation).
    for (let c = 0; c < 3; c++) {
      const w = axisB[c] as number[];
      const d = p.map((x, r) => x - (B[4 * r + 3] as number));
      const idx = d.reduce((s, x, r) => s + x * (w[r] as number), 0) / w.reduce((s, x) => s + x * x, 0);
      expect(Math.abs(idx - Math.round(idx)), `corner index ${c}`).toBeLessThan(1e-3);
      expect(Math.round(idx)).toBeGreaterThanOrEqual(0);
      expect(Math.round(idx)).toBeLessThan(b.dims[c] as number);
    }
  }
}

function dice(a: Volume, b: Volume): number {
  let inter = 0;
  for (let i = 0; i < a.data.length; i++) if ((a.data[i] as number) > 0 && (b.data[i] as number) > 0) inter++;
  return (2 * inter) / (count(a) + count(b));
}

function count(v: Volume): number {
  let n = 0;
  for (const x of v.data) if (x > 0) n++;
  return n;
}

describe("analyze", () => {
  it("writes every output, manifest.json last and true", async () => {
    expect(ascending.files).toEqual(
      expect.arrayContaining([
        OUTPUT_FILES.diagnosis,
        OUTPUT_FILES.evidence,
        OUTPUT_FILES.lesions,
        OUTPUT_FILES.lungs,
      ]),
    );
    expect(ascending.files.at(-1)).toBe("manifest.json");
    const onDisk = readdirSync(ascending.outDir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(ascending.outDir.length + 1));
    expect(onDisk.sort()).toEqual([...ascending.files].sort());
    const check = await verifyResultsManifest(ascending.outDir);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });

  it("does not warn of coarse pixels at the model's own pixel size (360 mm over 128)", () => {
    // test/cli/analyze.test.ts has the warning itself, on 3.75 mm pixels.
    expect(ascending.diagnosis.warnings.map((w) => w.code)).not.toContain("COARSE_PIXELS");
  });

  it("times the reports in manifest.json, which is written after them", () => {
    const manifest = parseResultsManifest(readFileSync(join(ascending.outDir, "manifest.json"), "utf8"));
    const timings = manifest.timings;
    if (!timings) throw new Error("manifest.json has no timings");
    expect(timings.reportsMs).toBeGreaterThan(0);
    // The whole run includes diagnosis.json's stages and the reports after them.
    expect(timings.totalMs).toBeGreaterThanOrEqual(
      ascending.diagnosis.timings.totalMs + timings.reportsMs - 1,
    );
  });

  it("puts every NIfTI output on the DICOM series' own grid, as dcm2niix sees it", async () => {
    const ref = join(work, "dcm2niix");
    run("mkdir", ["-p", ref]);
    run("dcm2niix", ["-z", "y", "-f", "ct", "-o", ref, dicomDir]);
    const { volume: ct } = await readNiftiFile(join(ref, "ct.nii.gz"));
    for (const f of [OUTPUT_FILES.lesions, OUTPUT_FILES.lungs, OUTPUT_FILES.evidence]) {
      const { volume } = await readNiftiFile(join(ascending.outDir, f));
      expectSameGrid(volume, ct);
    }
  });

  it("writes a valid diagnosis.json that agrees with the masks and names the synthetic model", async () => {
    const d = DiagnosisSchema.parse(
      JSON.parse(readFileSync(join(ascending.outDir, OUTPUT_FILES.diagnosis), "utf8")),
    );
    const p = d.diagnosis.probabilities;
    expect(p.covid19 + p.cap + p.non_pneumonia).toBeCloseTo(1, 6);
    expect(d.model.synthetic).toBe(true);
    expect(d.model.executionProvider).toBe("cpu");
    expect(d.disclaimer).toMatch(/synthetic/);
    expect(d.impression).toMatch(/synthetic phantoms/);
    expect(d.input.dims).toEqual([128, 128, 40]);
    const { volume: lesions } = await readNiftiFile(join(ascending.outDir, OUTPUT_FILES.lesions));
    const { volume: lungs } = await readNiftiFile(join(ascending.outDir, OUTPUT_FILES.lungs));
    const voxelMl = (d.input.spacing[0] * d.input.spacing[1] * d.input.spacing[2]) / 1000;
    // Lesions are inside the lungs; findings measure what the mask holds (minus components below the minimum).
    let outside = 0;
    for (let i = 0; i < lesions.data.length; i++)
      if ((lesions.data[i] as number) > 0 && lungs.data[i] === 0) outside++;
    expect(outside).toBe(0);
    const maskMl = count(lesions) * voxelMl;
    expect(maskMl).toBeGreaterThan(10); // a COVID-19 phantom with hundreds of mL of lesions
    expect(d.findings.extent.lesionVolumeMl).toBeLessThanOrEqual(maskMl + 0.01);
    expect(d.findings.extent.lesionVolumeMl).toBeGreaterThan(maskMl * 0.9);
    expect(d.findings.lesions.count).toBeGreaterThan(0);
  });

  it("gives the same lesions whatever the slice order (descending NIfTI vs ascending DICOM)", async () => {
    const { volume: a } = await readNiftiFile(join(ascending.outDir, OUTPUT_FILES.lesions));
    const { volume: b } = await readNiftiFile(join(descending.outDir, OUTPUT_FILES.lesions));
    const [nx, ny, nz] = a.dims;
    expect(b.dims).toEqual(a.dims);
    let differ = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          if (a.data[i + nx * (j + ny * k)] !== b.data[i + nx * (j + ny * (nz - 1 - k))]) differ++;
    expect(differ).toBe(0);
    const pa = ascending.diagnosis.diagnosis.probabilities;
    const pb = descending.diagnosis.diagnosis.probabilities;
    expect(pb.covid19).toBeCloseTo(pa.covid19, 5);
  });

  it("straightens an oblique scan for the model and returns its results on the scan's own grid", async () => {
    const tilted = await runPhantom({
      ...PHANTOM,
      out: join(work, "oblique"),
      format: "nifti",
      orientation: { rotateXDeg: 12, rotateYDeg: -8 },
    });
    const r = await analyze(tilted.ctPath, join(work, "out-oblique"), { device: "cpu" });
    const warning = r.diagnosis.warnings.find((w) => w.code === "OBLIQUE_RESAMPLED");
    expect(warning?.message).toMatch(/14\.\d degrees off/); // acos(cos12 cos8) = 14.4
    expect(warning?.message).toMatch(/that grid \(weight 0\.8\) and its own \(0\.2\)/); // model.json's weights
    const { volume: ct } = await readNiftiFile(tilted.ctPath);
    const { volume: lesions } = await readNiftiFile(join(r.outDir, OUTPUT_FILES.lesions));
    const { volume: truth } = await readNiftiFile(tilted.truthFiles.lesions);
    expectSameGrid(lesions, ct);
    // Same seed, axial: the small noise-free grid is hard for the light model either way, so compare with it.
    const { volume: axialTruth } = await readNiftiFile(join(work, "up", "truth", "lesions.nii.gz"));
    const { volume: axial } = await readNiftiFile(join(ascending.outDir, OUTPUT_FILES.lesions));
    expect(dice(lesions, truth)).toBeGreaterThan(dice(axial, axialTruth) - 0.1);
  }, 120_000);

  it("lists only this run's files in manifest.json, and clears an earlier study's outputs from a reused folder", async () => {
    // A DICOM study (with its SEG) analysed into a folder that also holds the user's own files and a link.
    const out = join(work, "out-reused");
    mkdirSync(join(out, "images"), { recursive: true });
    writeFileSync(join(out, "notes.txt"), "the user's");
    writeFileSync(join(out, "images", "axial-9.png"), "an earlier run's key image");
    // What a run killed while writing leaves (temp-path.ts names); a live process's temporary file (here
    // this test's parent, always running) and a file merely named .tmp are not the analysis's to remove.
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid;
    const stale = `.lesions.nii.gz.${gone}-0123456789ab.tmp`;
    const live = `.ct.nii.${process.ppid}-0123456789ab.tmp`;
    writeFileSync(join(out, stale), "half a gzip");
    writeFileSync(join(out, live), "a convert still writing");
    writeFileSync(join(out, "draft.tmp"), "the user's too");
    symlinkSync("/etc/hostname", join(out, "link"));
    const fromDicom = await analyze(dicomDir, out, { device: "cpu" });
    // The series a PACS knows it by, and why it was the one analysed.
    expect(fromDicom.diagnosis.input.seriesNumber).toEqual(expect.any(Number));
    expect(fromDicom.diagnosis.input.chosenBecause).toContain("CT modality or CT SOP class");
    expect(existsSync(join(out, stale))).toBe(false);
    expect(readFileSync(join(out, live), "utf8")).toBe("a convert still writing");
    expect(readFileSync(join(out, "draft.tmp"), "utf8")).toBe("the user's too");
    expect(existsSync(join(out, "lesions.seg.dcm"))).toBe(true);
    // Then a NIfTI study: no SEG of its own, and the DICOM study's must not stay beside its results.
    const r = await analyze(niftiPath, out, { device: "cpu" });
    const manifest = parseResultsManifest(readFileSync(join(out, "manifest.json"), "utf8"));
    const listed = manifest.files.map((f) => f.path);
    expect(listed).not.toContain("lesions.seg.dcm");
    expect(listed).not.toContain("notes.txt");
    expect(listed).not.toContain("link");
    expect(listed).not.toContain("images/axial-9.png");
    expect(listed).toEqual(
      expect.arrayContaining([...Object.values(OUTPUT_FILES), "report.pdf", "report.html"]),
    );
    expect(r.files).toEqual([...listed, "manifest.json"]);
    expect(existsSync(join(out, "lesions.seg.dcm"))).toBe(false);
    expect(existsSync(join(out, "images", "axial-9.png"))).toBe(false);
    // The user's own file is theirs: neither listed nor removed.
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("the user's");
    for (const f of manifest.files)
      expect(
        createHash("sha256")
          .update(readFileSync(join(out, f.path)))
          .digest("hex"),
        f.path,
      ).toBe(f.sha256);
  }, 120_000);

  it("rejects an unusable input with reasons and leaves no manifest behind", async () => {
    const few = await runPhantom({ ...PHANTOM, slices: 3, out: join(work, "few"), format: "nifti" });
    const out = ascending.outDir; // a folder that holds a complete earlier result
    const err = await analyze(few.ctPath, out, { device: "cpu" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputRejected);
    expect((err as InputRejected).reasons.map((r) => r.code)).toContain("TOO_FEW_SLICES");
    expect(readdirSync(out)).not.toContain("manifest.json");
  });
});
