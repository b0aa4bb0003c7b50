/**
 * runPhantom end to end: the files it writes, their agreement with each other (DICOM series, NIfTI CT and
 * truth masks on one grid, checked through dcm2niix and nibabel), truth.json against its schema, the
 * progress callback, and that the patient identity written into the DICOM headers never reaches the
 * truth files or the summary.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDicomHeader } from "../../../core/dicom/parse-header.js";
import { EncoderUnavailable } from "../../../core/dicom/write-series.js";
import { readNiftiFile } from "../../../core/nifti/read.js";
import { PhantomOptionsError } from "../../../core/phantom/options.js";
import { type PhantomResult, runPhantom } from "../../../core/phantom/run.js";
import { PhantomTruthSchema } from "../../../core/phantom/truth.js";
import { lungRollDeg } from "../../../gpu-job/pipeline/lungs/lung-axis.js";
import { hasTool, python, run } from "../../helpers/tools.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-phantom-run-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const COMPARE_NIFTI = resolve(import.meta.dirname, "../../helpers/compare_nifti.py");
const READ_SERIES = resolve(import.meta.dirname, "read_series.py");
const HAS_NIBABEL = spawnSync("/usr/bin/python3", ["-c", "import nibabel, pydicom"]).status === 0;
const HAS_DCM2NIIX = hasTool("dcm2niix", ["-h"]);

const MARKERS = {
  patientName: "LEAKNAME^ZQX",
  patientId: "LEAKID-77731",
  patientBirthDate: "19321123",
  accessionNumber: "LEAKACC9931",
  institutionName: "LEAKINST Hospital",
  referringPhysicianName: "LEAKREF^DOC",
  studyDate: "20190417",
  studyDescription: "LEAKDESC study",
};
const BASE = { class: "covid", seed: 4, size: 96, slices: 24, sliceThickness: 10, patient: MARKERS } as const;

/** nibabel view of the truth masks: value sets, voxel counts, affines. */
const MASK_SCRIPT = `
import json, sys
import nibabel as nib, numpy as np
out = {}
for name in sys.argv[1:]:
    img = nib.load(name)
    a = np.asanyarray(img.dataobj)
    out[name] = {"shape": list(a.shape), "dtype": str(a.dtype), "values": sorted(int(v) for v in np.unique(a)),
                 "counts": {int(v): int((a == v).sum()) for v in np.unique(a)}, "affine": img.affine.tolist()}
print(json.dumps(out))
`;

interface MaskInfo {
  shape: number[];
  dtype: string;
  values: number[];
  counts: Record<string, number>;
  affine: number[][];
}

function masks(...files: string[]): Record<string, MaskInfo> {
  const script = join(work, "masks.py");
  writeFileSync(script, MASK_SCRIPT);
  return JSON.parse(python(script, files)) as Record<string, MaskInfo>;
}

describe("runPhantom, DICOM folder", () => {
  let result: PhantomResult;
  let nifti: PhantomResult;
  const progress: Array<[number, number]> = [];
  beforeAll(async () => {
    result = await runPhantom({ ...BASE, out: join(work, "dicom-run") }, (d, t) => progress.push([d, t]));
    nifti = await runPhantom({ ...BASE, out: join(work, "nifti-run"), format: "nifti" });
  });

  it("writes the series, the truth masks and truth.json (last)", () => {
    const out = join(work, "dicom-run");
    expect(result.ctPath).toBe(join(out, "dicom"));
    expect(readdirSync(result.ctPath)).toEqual(
      Array.from({ length: 24 }, (_, k) => `IM${String(k + 1).padStart(6, "0")}.dcm`),
    );
    expect(readdirSync(join(out, "truth")).sort()).toEqual([
      "lesion-instances.nii.gz",
      "lesions.nii.gz",
      "lungs.nii.gz",
      "truth.json",
    ]);
    expect(result.paths).toHaveLength(24 + 4);
    expect(result.paths[result.paths.length - 1]).toBe(join(out, "truth", "truth.json"));
    expect(result.transferSyntaxUid).toBe("1.2.840.10008.1.2.1");
    const truth = PhantomTruthSchema.parse(JSON.parse(readFileSync(result.truthFiles.json, "utf8")));
    expect(truth).toEqual(result.truth);
    expect(truth.synthetic).toBe(true);
    expect(truth.class).toBe("covid");
    expect(truth.seed).toBe(4);
    expect(truth.generator.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(truth.files.ct).toBe("dicom");
    expect(truth.totals.lesionCount).toBe(truth.lesions.length);
    expect(result.summary).toContain("synthetic covid phantom, seed 4");
  });

  it("reports progress monotonically up to its total", () => {
    expect(progress.length).toBeGreaterThan(24);
    const total = progress[0]![1];
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]![1]).toBe(total);
      expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    }
    expect(progress[progress.length - 1]).toEqual([total, total]);
  });

  it("keeps the patient identity in the DICOM headers only", () => {
    const dicom = readFileSync(join(result.ctPath, "IM000001.dcm")).toString("latin1");
    for (const v of Object.values(MARKERS)) expect(dicom).toContain(v);
    const texts = [
      readFileSync(result.truthFiles.json, "utf8"),
      JSON.stringify(result.truth),
      result.summary,
      ...[result.truthFiles.lesions, result.truthFiles.lesionInstances, result.truthFiles.lungs].map((f) =>
        gunzipSync(readFileSync(f)).toString("latin1"),
      ),
      gunzipSync(readFileSync(nifti.ctPath)).toString("latin1"),
    ];
    for (const text of texts) {
      for (const v of Object.values(MARKERS)) expect(text).not.toContain(v);
      expect(text).not.toContain("LEAK");
    }
  });

  it.skipIf(!HAS_NIBABEL)("writes masks consistent with truth.json, on the CT's grid", () => {
    const info = masks(
      result.truthFiles.lesions,
      result.truthFiles.lesionInstances,
      result.truthFiles.lungs,
      nifti.ctPath,
    );
    const lesions = info[result.truthFiles.lesions]!;
    const instances = info[result.truthFiles.lesionInstances]!;
    const lungs = info[result.truthFiles.lungs]!;
    const ct = info[nifti.ctPath]!;
    for (const m of [lesions, instances, lungs]) {
      expect(m.shape).toEqual([96, 96, 24]);
      expect(m.dtype).toBe("uint8");
      expect(m.affine).toEqual(ct.affine);
    }
    expect(ct.dtype).toBe("int16");
    expect(lesions.values).toEqual([0, 1]);
    expect(lungs.values).toEqual([0, 1, 2]);
    const t = result.truth;
    expect(instances.values).toEqual([0, ...t.lesions.map((l) => l.id)]);
    for (const l of t.lesions) expect(instances.counts[l.id]).toBe(l.voxels);
    expect(lesions.counts[1]).toBe(t.lesions.reduce((s, l) => s + l.voxels, 0));
    const voxelMl = (t.grid.spacing[0] * t.grid.spacing[1] * t.grid.spacing[2]) / 1000;
    expect(lungs.counts[1]! * voxelMl).toBeCloseTo(t.lungs.rightMl, 2);
    expect(lungs.counts[2]! * voxelMl).toBeCloseTo(t.lungs.leftMl, 2);
  });

  it.skipIf(!HAS_NIBABEL || !HAS_DCM2NIIX)(
    "dcm2niix reads the series as exactly our NIfTI CT (voxels and affine)",
    () => {
      const ref = join(work, "dcm2niix-dicom-run");
      mkdirSync(ref);
      run("dcm2niix", ["-z", "n", "-b", "n", "-f", "ref", "-o", ref, result.ctPath]);
      const cmp = JSON.parse(python(COMPARE_NIFTI, [nifti.ctPath, join(ref, "ref.nii")])) as {
        shape_a: number[];
        shape_b: number[];
        max_voxel_diff: number | null;
        max_affine_diff: number;
      };
      expect(cmp.shape_b).toEqual(cmp.shape_a);
      expect(cmp.max_voxel_diff).toBe(0);
      expect(cmp.max_affine_diff).toBeLessThan(1e-3);
      // And the masks' affine is the CT's (so it is dcm2niix's too).
      const lungs = JSON.parse(python(COMPARE_NIFTI, [result.truthFiles.lungs, nifti.truthFiles.lungs])) as {
        max_voxel_diff: number;
        max_affine_diff: number;
      };
      expect(lungs.max_voxel_diff).toBe(0);
      expect(lungs.max_affine_diff).toBe(0);
    },
  );

  it.skipIf(!HAS_NIBABEL)("pydicom reads the HU the NIfTI holds", () => {
    const read = (JSON.parse(python(READ_SERIES, [result.ctPath])) as Record<string, { hu: string }>)[
      result.ctPath
    ]!;
    const dicomHu = Buffer.from(read.hu, "base64");
    const niftiBytes = gunzipSync(readFileSync(nifti.ctPath));
    // 352-byte NIfTI-1 header, then int16 little endian in the same i-fastest order as the slices.
    expect(dicomHu.equals(niftiBytes.subarray(352))).toBe(true);
  });
});

describe("runPhantom, other outputs and geometry", () => {
  it("zip: the same files as the folder output, in series.zip", async () => {
    const zipped = await runPhantom({ ...BASE, slices: 8, out: join(work, "zip-run"), format: "zip" });
    const folder = await runPhantom({ ...BASE, slices: 8, out: join(work, "zip-twin") });
    expect(zipped.ctPath).toBe(join(work, "zip-run", "series.zip"));
    expect(readdirSync(join(work, "zip-run")).sort()).toEqual(["series.zip", "truth"]);
    const entries = unzipSync(readFileSync(zipped.ctPath));
    expect(Object.keys(entries).sort()).toEqual(readdirSync(folder.ctPath));
    for (const [name, bytes] of Object.entries(entries)) {
      expect(Buffer.from(bytes).equals(readFileSync(join(folder.ctPath, name)))).toBe(true);
    }
    expect(zipped.truth.files.ct).toBe("series.zip");
  });

  it.skipIf(!HAS_NIBABEL || !HAS_DCM2NIIX)(
    "descending oblique RLE series: dcm2niix agrees with the NIfTI of the same phantom",
    async () => {
      const opts = {
        ...BASE,
        class: "cap" as const,
        slices: 16,
        zDirection: "descending" as const,
        orientation: { rotateXDeg: 12, rotateYDeg: -7 },
      };
      const dicom = await runPhantom({
        ...opts,
        out: join(work, "obl-dicom"),
        transferSyntax: "rle",
        rescale: "signed",
      });
      const nii = await runPhantom({ ...opts, out: join(work, "obl-nifti"), format: "nifti" });
      expect(dicom.truth.grid.orientation).toBe("oblique");
      const ref = join(work, "dcm2niix-obl");
      mkdirSync(ref);
      run("dcm2niix", ["-z", "n", "-b", "n", "-f", "ref", "-o", ref, dicom.ctPath]);
      const cmp = JSON.parse(python(COMPARE_NIFTI, [nii.ctPath, join(ref, "ref.nii")])) as {
        shape_a: number[];
        shape_b: number[];
        max_voxel_diff: number | null;
        max_affine_diff: number;
      };
      expect(cmp.shape_b).toEqual(cmp.shape_a);
      expect(cmp.max_voxel_diff).toBe(0);
      expect(cmp.max_affine_diff).toBeLessThan(1e-3);
    },
  );

  it("replaces an earlier series in the same folder, leaving foreign files alone", async () => {
    const out = join(work, "rerun");
    await runPhantom({ ...BASE, slices: 10, out });
    writeFileSync(join(out, "dicom", "notes.txt"), "mine");
    await runPhantom({ ...BASE, slices: 6, out });
    expect(readdirSync(join(out, "dicom")).sort()).toEqual([
      "IM000001.dcm",
      "IM000002.dcm",
      "IM000003.dcm",
      "IM000004.dcm",
      "IM000005.dcm",
      "IM000006.dcm",
      "notes.txt",
    ]);
  });

  it("a run that fails leaves no truth.json, not even an earlier one", async () => {
    const out = join(work, "failing");
    await runPhantom({ ...BASE, slices: 4, out });
    expect(existsSync(join(out, "truth", "truth.json"))).toBe(true);
    const saved = process.env.PATH;
    process.env.PATH = join(work, "no-tools-here");
    try {
      await expect(
        runPhantom({ ...BASE, slices: 4, out, transferSyntax: "jpeg-lossless" }),
      ).rejects.toBeInstanceOf(EncoderUnavailable);
    } finally {
      process.env.PATH = saved;
    }
    expect(existsSync(join(out, "truth", "truth.json"))).toBe(false);
  });

  it("gives a phantom moved off centre its own series UID, and a centred one the same as before", async () => {
    const uid = async (name: string, extra: object) => {
      const r = await runPhantom({
        class: "normal",
        seed: 5,
        size: 16,
        slices: 3,
        out: join(work, name),
        ...extra,
      });
      const file = join(r.ctPath, "IM000001.dcm");
      return parseDicomHeader(readFileSync(file), file, statSync(file).size).seriesInstanceUid;
    };
    const centred = await uid("uid-centred", {});
    expect(await uid("uid-zero", { offCentreMm: [0, 0] })).toBe(centred);
    expect(await uid("uid-moved", { offCentreMm: [30, 0] })).not.toBe(centred);
    expect(await uid("uid-roll-zero", { patientRollDeg: 0 })).toBe(centred);
    expect(await uid("uid-rolled", { patientRollDeg: 10 })).not.toBe(centred);
    expect(await uid("uid-square", { reconstructionCircle: false })).toBe(centred);
    expect(await uid("uid-round", { reconstructionCircle: true })).not.toBe(centred);
    expect(await uid("uid-habitus-one", { habitus: { widthScale: 1 } })).toBe(centred);
    expect(await uid("uid-habitus", { habitus: { heightScale: 1.1 } })).not.toBe(centred);
  });

  it("declares a round reconstruction's padding in DICOM as Pixel Padding Value, in the pixels' own storage", async () => {
    for (const [rescale, stored] of [
      ["unsigned", 0],
      ["signed", -1024],
    ] as const) {
      const r = await runPhantom({
        class: "normal",
        seed: 5,
        size: 16,
        slices: 3,
        rescale,
        reconstructionCircle: true,
        out: join(work, `ppv-${rescale}`),
      });
      const file = join(r.ctPath, "IM000002.dcm");
      const header = parseDicomHeader(readFileSync(file), file, statSync(file).size);
      expect(header.pixelPaddingValue).toBe(stored);
    }
    const square = await runPhantom({
      class: "normal",
      seed: 5,
      size: 16,
      slices: 3,
      out: join(work, "ppv-none"),
    });
    const file = join(square.ctPath, "IM000002.dcm");
    expect(parseDicomHeader(readFileSync(file), file, statSync(file).size).pixelPaddingValue).toBeUndefined();
  });

  it("pads the pixels outside a round reconstruction in every slice and leaves them out of the truth", async () => {
    const make = (round: boolean) =>
      runPhantom({
        class: "covid",
        seed: 9,
        size: 100,
        pixelSpacing: 2.5,
        slices: 30,
        sliceThickness: 10,
        format: "nifti",
        reconstructionCircle: round,
        out: join(work, round ? "round" : "square"),
      });
    const square = await make(false);
    const round = await make(true);
    expect(round.truth.grid.reconstructionCircle).toBe(true);
    expect(square.truth.grid.reconstructionCircle).toBeUndefined();
    const { volume: ct } = await readNiftiFile(round.ctPath);
    const { volume: lungs } = await readNiftiFile(round.truthFiles.lungs);
    const { volume: lesions } = await readNiftiFile(round.truthFiles.lesions);
    const { volume: squareCt } = await readNiftiFile(square.ctPath);
    let outside = 0;
    for (let k = 0; k < 30; k++)
      for (let j = 0; j < 100; j++)
        for (let i = 0; i < 100; i++) {
          const v = i + 100 * (j + 100 * k);
          if ((i - 49.5) ** 2 + (j - 49.5) ** 2 > 50 ** 2) {
            outside++;
            expect(ct.data[v]).toBe(-1024);
            expect(lungs.data[v]).toBe(0);
            expect(lesions.data[v]).toBe(0);
          } else expect(ct.data[v]).toBe(squareCt.data[v]);
        }
    expect(outside / 30).toBeGreaterThan(0.2 * 100 * 100); // 1 - pi/4 of the image
    // 250 mm: the circle cuts the lungs (and the square image less so).
    expect(round.truth.lungs.totalMl).toBeLessThan(square.truth.lungs.totalMl * 0.97);
    expect(round.truth.totals.lesionVolumeMl).toBeLessThanOrEqual(square.truth.totals.lesionVolumeMl);
  });

  it("rolls the patient under an axial header (patientRollDeg): the lungs' axis turns, the header and the lungs' size do not", async () => {
    const rolled = async (deg: number) => {
      const r = await runPhantom({
        class: "normal",
        seed: 5,
        size: 128,
        slices: 40,
        sliceThickness: 7.5,
        format: "nifti",
        patientRollDeg: deg,
        out: join(work, `roll${deg}`),
      });
      const { volume: lungs } = await readNiftiFile(r.truthFiles.lungs);
      const { volume: ct } = await readNiftiFile(r.ctPath);
      expect(ct.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
      expect([...ct.dims]).toEqual([128, 128, 40]);
      return {
        roll: lungRollDeg(Uint8Array.from(lungs.data), lungs) as number,
        truth: r.truth,
        origin: ct.origin,
      };
    };
    const upright = await rolled(0);
    expect(upright.truth.grid.patientRollDeg).toBeUndefined();
    for (const deg of [15, -25]) {
      const r = await rolled(deg);
      expect(r.origin).toEqual(upright.origin);
      // The lungs' left-right axis turns by the roll, towards posterior for a positive one.
      expect(r.roll - upright.roll).toBeCloseTo(deg, 0);
      expect(r.truth.grid.patientRollDeg).toBe(deg);
      expect(r.truth.lungs.totalMl).toBeGreaterThan(upright.truth.lungs.totalMl * 0.98);
      expect(r.truth.lungs.totalMl).toBeLessThan(upright.truth.lungs.totalMl * 1.02);
    }
    await expect(
      runPhantom({
        class: "normal",
        seed: 5,
        size: 16,
        slices: 3,
        out: join(work, "roll-bad"),
        patientRollDeg: 60,
      }),
    ).rejects.toThrow(/patientRollDeg/);
  });

  it("reads a rolled patient's pleural depths and zones in the anatomy: the lesions' are the upright ones'", async () => {
    const truth = async (deg: number) =>
      (
        await runPhantom({
          class: "covid",
          seed: 5,
          size: 128,
          slices: 40,
          sliceThickness: 7.5,
          format: "nifti",
          patientRollDeg: deg,
          out: join(work, `roll-lesions${deg}`),
        })
      ).truth;
    const upright = await truth(0);
    const rolled = await truth(20);
    expect(rolled.lesions.length).toBe(upright.lesions.length);
    expect(upright.lesions.length).toBeGreaterThan(0);
    for (const [n, l] of rolled.lesions.entries()) {
      const u = upright.lesions[n]!;
      expect(l.id).toBe(u.id);
      expect(l.zone).toBe(u.zone);
      expect(l.placedPleuralDepthMm).toBe(u.placedPleuralDepthMm);
      // The same lesion on turned voxels: its mean depth within a fraction of a 2.8 mm pixel.
      expect(Math.abs(l.meanPleuralDepthMm - u.meanPleuralDepthMm)).toBeLessThan(1);
    }
    expect(Math.abs(rolled.totals.subpleuralShare["14"] - upright.totals.subpleuralShare["14"])).toBeLessThan(
      0.03,
    );
  });

  it("scales the body (habitus): lung extents and volume by the scales, pleural depths in the scaled body", async () => {
    const scaled = async (name: string, habitus?: object) => {
      const r = await runPhantom({
        class: "covid",
        seed: 5,
        size: 128,
        slices: 80,
        sliceThickness: 5,
        format: "nifti",
        out: join(work, `habitus-${name}`),
        ...(habitus ? { habitus } : {}),
      });
      const { volume: lungs } = await readNiftiFile(r.truthFiles.lungs);
      // The lungs' extent along each LPS axis (the grid is axial and ascending: i, j, k are x, y, z).
      const lo = [Infinity, Infinity, Infinity];
      const hi = [-Infinity, -Infinity, -Infinity];
      const [nx, ny] = lungs.dims;
      for (let v = 0; v < lungs.data.length; v++) {
        if (!lungs.data[v]) continue;
        const ijk = [v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny))];
        for (let c = 0; c < 3; c++) {
          lo[c] = Math.min(lo[c]!, ijk[c]!);
          hi[c] = Math.max(hi[c]!, ijk[c]!);
        }
      }
      const extent = [0, 1, 2].map((c) => (hi[c]! - lo[c]! + 1) * lungs.spacing[c]!);
      return { truth: r.truth, extent, ctPath: r.ctPath };
    };
    const base = await scaled("unit", { widthScale: 1, depthScale: 1, heightScale: 1 });
    expect(base.truth.grid.habitus).toBeUndefined();
    const h = { widthScale: 1.2, depthScale: 0.85, heightScale: 1.1 };
    const s = await scaled("wide", h);
    expect(s.truth.grid.habitus).toEqual(h);
    const ratio = [0, 1, 2].map((c) => s.extent[c]! / base.extent[c]!);
    expect(ratio[0]).toBeCloseTo(1.2, 1);
    expect(ratio[1]).toBeCloseTo(0.85, 1);
    expect(ratio[2]).toBeCloseTo(1.1, 1);
    const volumeRatio = s.truth.lungs.totalMl / base.truth.lungs.totalMl;
    expect(Math.abs(volumeRatio - 1.2 * 0.85 * 1.1)).toBeLessThan(0.03);
    // The same lesions, scaled with the body: depths lie between the smallest and largest scale's.
    expect(s.truth.lesions.map((l) => l.id)).toEqual(base.truth.lesions.map((l) => l.id));
    for (const [n, l] of s.truth.lesions.entries()) {
      const u = base.truth.lesions[n]!;
      expect(l.zone).toBe(u.zone);
      expect(l.meanPleuralDepthMm).toBeGreaterThan(0.8 * u.meanPleuralDepthMm);
      expect(l.meanPleuralDepthMm).toBeLessThan(1.25 * u.meanPleuralDepthMm);
    }
    // A uniformly larger body: every distance 1.15 times as long.
    const big = await scaled("big", { widthScale: 1.15, depthScale: 1.15, heightScale: 1.15 });
    const depthRatio = big.truth.totals.meanPleuralDepthMm! / base.truth.totals.meanPleuralDepthMm!;
    expect(depthRatio).toBeGreaterThan(1.1);
    expect(depthRatio).toBeLessThan(1.2);
    for (const [n, l] of big.truth.lesions.entries())
      expect(l.placedPleuralDepthMm / base.truth.lesions[n]!.placedPleuralDepthMm).toBeCloseTo(1.15, 2);
    await expect(
      runPhantom({ ...BASE, out: join(work, "habitus-bad"), habitus: { widthScale: 2 } }),
    ).rejects.toThrow(/habitus/);
  });

  it("draws a pleural effusion: the asked volume of fluid in place of lung, its surface level with the table", async () => {
    const fluid = async (name: string, extra: object) => {
      const r = await runPhantom({
        class: "normal",
        seed: 5,
        size: 192,
        slices: 60,
        sliceThickness: 5,
        noiseSd: 0,
        format: "nifti",
        out: join(work, `effusion-${name}`),
        ...extra,
      });
      const { volume: ct } = await readNiftiFile(r.ctPath);
      const { volume: lungs } = await readNiftiFile(r.truthFiles.lungs);
      // Per column (i, k) of the right lung's side, the first row of fluid four voxels deep (vessel edges
      // blur to 12 HU now and then, never over four rows).
      const [nx, ny, nz] = ct.dims;
      const tops: number[] = [];
      for (let k = 0; k < nz; k++)
        for (let i = 0; i < nx / 2; i++)
          for (let j = 0; j + 3 < ny; j++) {
            const o = i + nx * (j + ny * k);
            if ([0, 1, 2, 3].every((d) => ct.data[o + d * nx] === 12)) {
              tops.push(j);
              break;
            }
          }
      // Right lung below the fluid's surface (the surface: the topmost of those rows).
      const top = Math.min(...tops);
      let lungBelow = 0;
      for (let k = 0; k < nz; k++)
        for (let j = top + 1; j < ny; j++)
          for (let i = 0; i < nx / 2; i++) if (lungs.data[i + nx * (j + ny * k)] === 1) lungBelow++;
      return { truth: r.truth, tops, top, lungBelow };
    };
    const none = await fluid("none", {});
    expect(none.truth.effusion).toBeUndefined();
    expect(none.tops).toEqual([]);
    for (const [name, extra] of [
      ["upright", {}],
      ["rolled", { patientRollDeg: 20 }],
    ] as const) {
      const e = await fluid(name, { ...extra, effusionMl: { right: 500, left: 0 } });
      expect(Math.abs(e.truth.effusion!.rightMl / 500 - 1)).toBeLessThan(0.04);
      expect(e.truth.effusion!.leftMl).toBe(0);
      expect(e.lungBelow).toBe(0);
      if (name === "upright") {
        // The lung it replaced: the right lung smaller by the fluid, the left untouched.
        expect(none.truth.lungs.rightMl - e.truth.lungs.rightMl).toBeCloseTo(e.truth.effusion!.rightMl, -1);
        expect(e.truth.lungs.leftMl).toBe(none.truth.lungs.leftMl);
      }
      // Level with the table on the image's rows, rolled patient or not: most columns reach the same top row
      // (the others run into the chest wall below it), and it lies posterior (rows grow towards posterior).
      expect(e.tops.filter((t) => t <= e.top + 1).length / e.tops.length).toBeGreaterThan(0.8);
      expect(e.top).toBeGreaterThan(192 / 2);
    }
  });

  it("writes nothing for invalid options", async () => {
    const out = join(work, "invalid");
    await expect(runPhantom({ ...BASE, size: 4, out })).rejects.toBeInstanceOf(PhantomOptionsError);
    await expect(runPhantom({ ...BASE, out, format: "nifti", transferSyntax: "rle" })).rejects.toThrow(
      /transferSyntax/,
    );
    expect(() => readdirSync(out)).toThrow();
  });
});
