/**
 * lesions.seg.dcm end to end at the SEG level: DICOM phantoms in ascending and descending slice order and
 * the corpus' real 3-slice CT. Each SEG must pass dciodvfy without errors, read back in pydicom, reference
 * the right source image per frame (checked independently through the source files' positions and the
 * lesion NIfTI's affine) and give back exactly the lesion voxels. On the real CT the frames must reference
 * the same instances at the same positions as the corpus' reference SEG made by dcmqi.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Volume } from "../../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../../core/geometry/affine.js";
import { writeNifti } from "../../../../../core/nifti/write.js";
import { runPhantom } from "../../../../../core/phantom/run.js";
import type { DicomSource } from "../../../../../core/validation/dicom-source.js";
import { validatePath } from "../../../../../core/validation/validate-path.js";
import {
  buildSegDataset,
  SEGMENTATION_STORAGE,
} from "../../../../../gpu-job/pipeline/report/seg/build-seg.js";
import { unpackBinaryFrame } from "../../../../../gpu-job/pipeline/report/seg/frames.js";
import { newSegUids, segBytes } from "../../../../../gpu-job/pipeline/report/seg/write-seg.js";
import { CORPUS } from "../../../../helpers/corpus.js";
import { recodeWithPydicom } from "../../../../helpers/pydicom-recode.js";
import {
  dciodvfy,
  HAVE_DCIODVFY,
  HAVE_PYDICOM,
  type Natural,
  pythonSegCheck,
  readDicom,
} from "../dicom-helpers.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-seg-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MODEL = { name: "deepsc-covid", version: "0.1.0-test", sha256: "ab".repeat(32), synthetic: true };
const NOW = new Date(Date.UTC(2024, 1, 29, 13, 5, 9));

interface Case {
  dir: string;
  volume: Volume;
  source: DicomSource;
}

async function load(dir: string, purpose: "analysis" | "convert" = "convert"): Promise<Case> {
  const o = await validatePath(dir, { mode: "full", purpose });
  if (!o.volume || !o.dicomSource) throw new Error(`not accepted: ${JSON.stringify(o.report.reasons)}`);
  return { dir, volume: o.volume, source: o.dicomSource };
}

/** A ball around an LPS point plus one voxel in the last column of the first row (bit-order canary). */
function lesionMask(
  v: Volume,
  centreMm: [number, number, number],
  radiusMm: number,
  canaryK: number,
): Uint8Array {
  const [nx, ny, nz] = v.dims;
  const m = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = voxelCentre(v, i, j, k);
        if (Math.hypot(p[0] - centreMm[0], p[1] - centreMm[1], p[2] - centreMm[2]) <= radiusMm)
          m[i + nx * (j + ny * k)] = 1;
      }
  m[nx - 1 + nx * ny * canaryK] = 1;
  return m;
}

function writeSeg(c: Case, mask: Uint8Array, name: string) {
  const { bytes, built } = segBytes({
    geometry: c.volume,
    lesions: mask,
    source: c.source,
    model: MODEL,
    uids: newSegUids(),
    now: NOW,
  });
  const path = join(work, `${name}.seg.dcm`);
  writeFileSync(path, bytes);
  return { path, built };
}

async function writeMaskNifti(c: Case, mask: Uint8Array, name: string): Promise<string> {
  const path = join(work, `${name}.nii.gz`);
  await writeNifti({ ...c.volume, data: mask }, path);
  return path;
}

/** Decode a SEG's frames (dcmjs) back onto the volume grid through frameSlices. */
function decodeToGrid(seg: Natural, c: Case): Uint8Array {
  const [nx, ny, nz] = c.volume.dims;
  const out = new Uint8Array(nx * ny * nz);
  const pixels = new Uint8Array((seg.PixelData as ArrayBuffer[])[0]!);
  const uidToK = new Map(c.source.sopInstanceUids.map((u, k) => [u, k]));
  (seg.PerFrameFunctionalGroupsSequence as Natural[]).forEach((item, f) => {
    const uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID as string;
    const k = uidToK.get(uid);
    if (k === undefined) throw new Error(`frame ${f} references an unknown instance`);
    out.set(unpackBinaryFrame(pixels, ny, nx, f), k * nx * ny);
  });
  return out;
}

const PHANTOM = { class: "covid", seed: 4242, size: 48, slices: 14, sliceThickness: 5, noiseSd: 0 } as const;
let up: Case;
let down: Case;

beforeAll(async () => {
  const a = await runPhantom({ ...PHANTOM, out: join(work, "up"), format: "dicom" });
  const b = await runPhantom({
    ...PHANTOM,
    out: join(work, "down"),
    format: "dicom",
    zDirection: "descending",
  });
  up = await load(a.ctPath);
  down = await load(b.ctPath);
}, 120_000);

describe.each([
  ["ascending", () => up],
  ["descending", () => down],
])("lesions.seg.dcm on a DICOM phantom, %s slice order", (name, get) => {
  let c: Case;
  let mask: Uint8Array;
  let seg: { path: string; built: ReturnType<typeof writeSeg>["built"] };
  let nifti: string;

  beforeAll(async () => {
    c = get();
    // A ball in the upper half of the volume plus a canary at slice 1: some slices stay empty.
    const top = voxelCentre(c.volume, 24, 24, c.volume.dims[2] - 1)[2];
    const bottom = voxelCentre(c.volume, 24, 24, 0)[2];
    const zc = bottom + 0.7 * (top - bottom);
    mask = lesionMask(
      c.volume,
      [voxelCentre(c.volume, 15, 20, 0)[0], voxelCentre(c.volume, 15, 20, 0)[1], zc],
      12,
      1,
    );
    seg = writeSeg(c, mask, name);
    nifti = await writeMaskNifti(c, mask, name);
  });

  it("holds the source instances in k (position) order, whatever the file order", () => {
    const files = readdirSync(c.dir)
      .map((f) => readDicom(join(c.dir, f)))
      .sort((a, b) => Number(a.InstanceNumber) - Number(b.InstanceNumber))
      .map((d) => d.SOPInstanceUID as string);
    expect(c.source.sopInstanceUids).toEqual(name === "ascending" ? files : [...files].reverse());
  });

  it("has one frame per slice with lesion voxels, in k order, and gives back exactly the mask", () => {
    const plane = c.volume.dims[0] * c.volume.dims[1];
    const expected = [...Array(c.volume.dims[2]).keys()].filter((k) =>
      mask.subarray(k * plane, (k + 1) * plane).some((v) => v !== 0),
    );
    expect(expected.length).toBeGreaterThan(2);
    expect(expected.length).toBeLessThan(c.volume.dims[2]);
    expect(seg.built.frameSlices).toEqual(expected);
    const ds = readDicom(seg.path);
    expect(ds.SOPClassUID).toBe(SEGMENTATION_STORAGE);
    expect(Number(ds.NumberOfFrames)).toBe(expected.length);
    expect(Buffer.from(decodeToGrid(ds, c))).toEqual(Buffer.from(mask));
  });

  it("references the source study, series, frame of reference and each frame's source image", () => {
    const ds = readDicom(seg.path);
    expect(ds.StudyInstanceUID).toBe(c.source.studyInstanceUid);
    expect(ds.FrameOfReferenceUID).toBe(c.source.frameOfReferenceUid);
    expect(ds.SeriesInstanceUID).not.toBe(c.source.seriesInstanceUid);
    expect(ds.ReferencedSeriesSequence[0].SeriesInstanceUID).toBe(c.source.seriesInstanceUid);
    expect(ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence).toHaveLength(c.volume.dims[2]);
    (ds.PerFrameFunctionalGroupsSequence as Natural[]).forEach((item, f) => {
      const k = seg.built.frameSlices[f]!;
      const src = item.DerivationImageSequence[0].SourceImageSequence[0];
      expect(src.ReferencedSOPInstanceUID).toBe(c.source.sopInstanceUids[k]);
      expect(src.ReferencedSOPClassUID).toBe(c.source.sopClassUids[k]);
      const ipp = item.PlanePositionSequence[0].ImagePositionPatient.map(Number);
      const centre = voxelCentre(c.volume, 0, 0, k);
      for (let a = 0; a < 3; a++) expect(ipp[a]).toBeCloseTo(centre[a]!, 3);
      expect(item.FrameContentSequence[0].DimensionIndexValues).toEqual([1, f + 1]);
    });
    const shared = ds.SharedFunctionalGroupsSequence[0] ?? ds.SharedFunctionalGroupsSequence;
    expect(shared.PixelMeasuresSequence[0].PixelSpacing.map(Number)).toEqual([
      c.volume.spacing[1],
      c.volume.spacing[0],
    ]);
  });

  it("copies the patient and study modules of the source (the only output allowed to)", () => {
    const ds = readDicom(seg.path);
    const name0 = ds.PatientName;
    const patientName = Array.isArray(name0) ? (name0[0]?.Alphabetic ?? name0[0]) : name0;
    expect(patientName).toBe(c.source.patientStudy.patientName);
    expect(ds.PatientID).toBe(c.source.patientStudy.patientId);
    expect(ds.PatientBirthDate).toBe(c.source.patientStudy.patientBirthDate);
    expect(ds.AccessionNumber).toBe(c.source.patientStudy.accessionNumber);
    expect(ds.StudyDate).toBe(c.source.patientStudy.studyDate);
    expect(ds.StudyID).toBe(c.source.patientStudy.studyId);
    expect(ds.ContentDate).toBe("20240229");
    expect(ds.ContentTime).toBe("130509");
  });

  it.skipIf(!HAVE_DCIODVFY)("passes dciodvfy without errors", () => {
    const v = dciodvfy(seg.path);
    expect(v.output).toContain("Segmentation");
    expect(v.errors).toEqual([]);
  });

  it.skipIf(!HAVE_PYDICOM)("reads back in pydicom onto the right source slices, voxel for voxel", () => {
    const r = pythonSegCheck(seg.path, c.dir, nifti);
    expect(r.problems).toEqual([]);
    expect(r.identical).toBe(true);
    expect(r.segVoxels).toBe(mask.reduce((n, v) => n + (v ? 1 : 0), 0));
    expect(r.frameSlices).toEqual(seg.built.frameSlices);
    expect(r).toMatchObject({
      sopClass: SEGMENTATION_STORAGE,
      modality: "SEG",
      segmentationType: "BINARY",
      sameStudy: true,
      sameFrameOfReference: true,
      referencesSourceSeries: true,
      newSeries: true,
      segmentLabel: "Lesion",
      category: "49755003",
      type: "52988006",
    });
  });
});

describe("lesions.seg.dcm without any lesion", () => {
  it("holds one empty frame that references the middle slice and still validates", () => {
    const mask = new Uint8Array(up.volume.data.length);
    const { path, built } = writeSeg(up, mask, "empty");
    expect(built.empty).toBe(true);
    expect(built.frameSlices).toEqual([Math.floor(up.volume.dims[2] / 2)]);
    const ds = readDicom(path);
    expect(Number(ds.NumberOfFrames)).toBe(1);
    expect(decodeToGrid(ds, up).every((v) => v === 0)).toBe(true);
    if (HAVE_DCIODVFY) expect(dciodvfy(path).errors).toEqual([]);
  });

  it("refuses a mask or references that do not match the grid", () => {
    expect(() =>
      segBytes({
        geometry: up.volume,
        lesions: new Uint8Array(5),
        source: up.source,
        model: MODEL,
        uids: newSegUids(),
        now: NOW,
      }),
    ).toThrow(/voxels/);
    const short = { ...up.source, sopInstanceUids: up.source.sopInstanceUids.slice(1) };
    expect(() =>
      segBytes({
        geometry: up.volume,
        lesions: new Uint8Array(up.volume.data.length),
        source: short,
        model: MODEL,
        uids: newSegUids(),
        now: NOW,
      }),
    ).toThrow(/slices/);
  });
});

describe("lesions.seg.dcm on the corpus' real CT, against dcmqi's reference SEG of the same series", () => {
  it("references the same instances at the same positions, with the same geometry and dimensions", async () => {
    const c = await load(join(CORPUS, "dicom/real/ct-3slice"), "convert");
    const [nx, ny, nz] = c.volume.dims;
    const mask = new Uint8Array(nx * ny * nz);
    for (let k = 0; k < nz; k++)
      for (let j = 200; j < 260; j++) mask.fill(1, j * nx + 100 + k * nx * ny, j * nx + 180 + k * nx * ny);
    const { path } = writeSeg(c, mask, "ct-3slice");
    const ours = readDicom(path);
    const ref = readDicom(join(CORPUS, "seg/liver.dcm"));
    expect(Number(ours.NumberOfFrames)).toBe(Number(ref.NumberOfFrames));
    for (const key of ["StudyInstanceUID", "FrameOfReferenceUID", "PatientID", "Rows", "Columns"])
      expect(ours[key], key).toEqual(ref[key]);
    expect(ours.ReferencedSeriesSequence[0].SeriesInstanceUID).toBe(
      ref.ReferencedSeriesSequence[0].SeriesInstanceUID,
    );
    const perFrame = (ds: Natural) =>
      (ds.PerFrameFunctionalGroupsSequence as Natural[]).map((item) => ({
        uid: item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID,
        ipp: item.PlanePositionSequence[0].ImagePositionPatient.map(Number),
        keys: Object.keys(item)
          .filter((k) => k !== "_vrMap")
          .sort(),
      }));
    const a = perFrame(ours);
    const b = perFrame(ref);
    a.forEach((fa, f) => {
      const fb = b[f]!;
      expect(fa.uid).toBe(fb.uid);
      expect(fa.keys).toEqual(fb.keys);
      for (let t = 0; t < 3; t++) expect(fa.ipp[t]).toBeCloseTo(fb.ipp[t], 3);
    });
    const sharedOf = (ds: Natural) =>
      ds.SharedFunctionalGroupsSequence[0] ?? ds.SharedFunctionalGroupsSequence;
    expect(sharedOf(ours).PixelMeasuresSequence[0].PixelSpacing.map(Number)).toEqual(
      sharedOf(ref).PixelMeasuresSequence[0].PixelSpacing.map(Number),
    );
    expect(sharedOf(ours).PlaneOrientationSequence[0].ImageOrientationPatient.map(Number)).toEqual(
      sharedOf(ref).PlaneOrientationSequence[0].ImageOrientationPatient.map(Number),
    );
    const pointers = (ds: Natural) =>
      (ds.DimensionIndexSequence as Natural[]).map((d) => [
        d.DimensionIndexPointer,
        d.FunctionalGroupPointer,
      ]);
    expect(pointers(ours)).toEqual(pointers(ref));
    if (HAVE_DCIODVFY) expect(dciodvfy(path).errors).toEqual([]);
  });
});

describe("lesions.seg.dcm, source variants", () => {
  it("references frames of a multi-frame source instance and lists each instance once", () => {
    const nz = up.volume.dims[2];
    const source: DicomSource = {
      ...up.source,
      sopClassUids: Array(nz).fill("1.2.840.10008.5.1.4.1.1.2.1"),
      sopInstanceUids: Array(nz).fill("1.2.3.4.5.6"),
      frameNumbers: Array.from({ length: nz }, (_, k) => k + 1),
    };
    const mask = new Uint8Array(up.volume.data.length);
    const plane = up.volume.dims[0] * up.volume.dims[1];
    mask[3 * plane + 7] = 1;
    mask[9 * plane + 8] = 1;
    const { dataset, frameSlices } = buildSegDataset({
      geometry: up.volume,
      lesions: mask,
      source,
      model: MODEL,
      uids: newSegUids(),
      now: NOW,
    });
    expect(frameSlices).toEqual([3, 9]);
    const items = dataset.PerFrameFunctionalGroupsSequence as Natural[];
    expect(
      items.map((i) => i.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber),
    ).toEqual([4, 10]);
    expect((dataset.ReferencedSeriesSequence as Natural[])[0]?.ReferencedInstanceSequence).toEqual([
      { ReferencedSOPClassUID: "1.2.840.10008.5.1.4.1.1.2.1", ReferencedSOPInstanceUID: "1.2.3.4.5.6" },
    ]);
  });

  it("leaves the whole Frame of Reference module out when the source has no FrameOfReferenceUID", () => {
    const { frameOfReferenceUid: _, ...noFor } = up.source;
    const mask = new Uint8Array(up.volume.data.length);
    mask[100] = 1;
    const { path } = writeSeg({ ...up, source: noFor }, mask, "no-for");
    const ds = readDicom(path);
    expect(ds.FrameOfReferenceUID).toBeUndefined();
    expect(ds.PositionReferenceIndicator).toBeUndefined();
    if (HAVE_DCIODVFY) {
      const v = dciodvfy(path);
      expect(v.errors).toEqual([]);
      expect(v.warnings).toEqual([]);
    }
    // With a frame of reference, the module's type 2 attribute is there (empty).
    const withFor = readDicom(writeSeg(up, mask, "with-for").path);
    expect(withFor.FrameOfReferenceUID).toBe(up.source.frameOfReferenceUid);
    expect(withFor.PositionReferenceIndicator).toBe("");
  });

  it("declares UTF-8 when a copied value is not ASCII, and the value survives", () => {
    const source: DicomSource = {
      ...up.source,
      patientStudy: { ...up.source.patientStudy, patientName: "Müller^Jürgen" },
    };
    const mask = new Uint8Array(up.volume.data.length);
    mask[100] = 1;
    const { path } = writeSeg({ ...up, source }, mask, "utf8");
    const ds = readDicom(path);
    expect(ds.SpecificCharacterSet).toBe("ISO_IR 192");
    const name = Array.isArray(ds.PatientName) ? ds.PatientName[0]?.Alphabetic : ds.PatientName;
    expect(name).toBe("Müller^Jürgen");
    if (HAVE_DCIODVFY) expect(dciodvfy(path).errors).toEqual([]);
    // ASCII values need no declaration (the default repertoire).
    expect(readDicom(writeSeg(up, mask, "ascii").path).SpecificCharacterSet).toBeUndefined();
  });
});

describe.skipIf(!HAVE_PYDICOM)("lesions.seg.dcm, names from a source with ISO 2022 code extensions", () => {
  it.each([
    [["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "Suzuki^Ichiro=鈴木^一郎"],
    [["ISO 2022 IR 100"], "Müller^Jürgen", "Ångström^Åsa"],
  ])("%j: pydicom reads the source's names back from the UTF-8 SEG", async (charset, name, referrer) => {
    const dir = join(work, `src-${charset.join("-").replace(/[^A-Za-z0-9]/g, "_")}`);
    cpSync(up.dir, dir, { recursive: true });
    recodeWithPydicom(dir, charset, name, referrer);
    const c = await load(dir);
    const mask = new Uint8Array(c.volume.data.length);
    mask[100] = 1;
    const { path } = writeSeg(c, mask, `names-${charset.length}`);
    const r = spawnSync(
      "/usr/bin/python3",
      [
        "-c",
        "import sys, json, pydicom; d = pydicom.dcmread(sys.argv[1]); " +
          "print(json.dumps([d.SpecificCharacterSet, str(d.PatientName), str(d.ReferringPhysicianName)]))",
        path,
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual(["ISO_IR 192", name, referrer]);
    if (HAVE_DCIODVFY) expect(dciodvfy(path).errors).toEqual([]);
  });
});

describe("lesions.seg.dcm, slice measures", () => {
  const mask = () => new Uint8Array(up.volume.data.length).fill(1, 0, 1);
  const measures = (source: DicomSource, geometry: Volume = up.volume) =>
    (
      (
        buildSegDataset({ geometry, lesions: mask(), source, model: MODEL, uids: newSegUids(), now: NOW })
          .dataset.SharedFunctionalGroupsSequence as Natural[]
      )[0]!.PixelMeasuresSequence as Natural[]
    )[0]!;

  it("repeats the source's SliceThickness, which may differ from the step between slices", () => {
    const m = measures({ ...up.source, sliceThickness: 2 });
    expect(Number(m.SliceThickness)).toBe(2);
    expect(Number(m.SpacingBetweenSlices)).toBeCloseTo(up.volume.spacing[2], 6);
  });

  it("gives the spacing between slice planes along their normal on a gantry-tilted (sheared) grid", () => {
    // k axis tilted 12 degrees from the normal in the y-z plane: the planes are 5 mm apart, the k step longer.
    const t = (12 * Math.PI) / 180;
    const sheared: Volume = {
      ...up.volume,
      spacing: [up.volume.spacing[0], up.volume.spacing[1], 5 / Math.cos(t)],
      direction: [1, 0, 0, 0, 1, Math.sin(t), 0, 0, Math.cos(t)],
    };
    const { sliceThickness: _, ...noThickness } = up.source;
    const m = measures(noThickness, sheared);
    expect(Number(m.SpacingBetweenSlices)).toBeCloseTo(5, 4);
    expect(Number(m.SliceThickness)).toBeCloseTo(5, 4);
  });
});
