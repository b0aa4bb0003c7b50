/**
 * The in-memory DICOM source references (core/validation/dicom-source.ts) that the lesion SEG copies:
 * present for accepted DICOM inputs in full mode (folder and zip), absent otherwise, never in the report.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPhantom } from "../../../core/phantom/run.js";
import { validatePath } from "../../../core/validation/validate-path.js";
import { CORPUS } from "../../helpers/corpus.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-dicom-source-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const IDENTITY = {
  patientName: "SOURCETEST^NAME",
  patientId: "SRC-ID-77",
  patientBirthDate: "19450203",
  patientSex: "F",
  accessionNumber: "ACC-SRC-1",
  referringPhysicianName: "REFERRER^SRC",
  studyDate: "20210304",
  studyTime: "081502",
  studyId: "STUDY-9",
} as const;

const base = {
  class: "normal",
  seed: 31,
  size: 32,
  slices: 6,
  sliceThickness: 5,
  noiseSd: 0,
  patient: IDENTITY,
} as const;
let folder: string;
let zip: string;
let nifti: string;
let uids: string[];

beforeAll(async () => {
  const a = await runPhantom({ ...base, out: join(work, "dicom"), format: "dicom" });
  folder = a.ctPath;
  zip = (await runPhantom({ ...base, out: join(work, "zip"), format: "zip" })).ctPath;
  nifti = (await runPhantom({ ...base, out: join(work, "nifti"), format: "nifti" })).ctPath;
  uids =
    (await validatePath(folder, { mode: "full", purpose: "convert" })).dicomSource?.sopInstanceUids ?? [];
}, 120_000);

describe("dicomSource on the validation outcome", () => {
  it.each([
    ["a folder", () => folder],
    ["a zip", () => zip],
  ])("holds the UIDs per slice and the patient/study modules for %s", async (_, input) => {
    const o = await validatePath(input(), { mode: "full", purpose: "convert" });
    expect(o.report.accepted).toBe(true);
    const s = o.dicomSource;
    expect(s).toBeDefined();
    expect(s?.sopInstanceUids).toHaveLength(6);
    expect(new Set(s?.sopInstanceUids).size).toBe(6);
    expect(s?.sopClassUids.every((c) => c === "1.2.840.10008.5.1.4.1.1.2")).toBe(true);
    expect(s?.frameNumbers.every((f) => f === undefined)).toBe(true);
    expect(s?.studyInstanceUid).toMatch(/^[0-9.]+$/);
    expect(s?.seriesInstanceUid).toMatch(/^[0-9.]+$/);
    expect(s?.frameOfReferenceUid).toMatch(/^[0-9.]+$/);
    expect(s?.patientStudy).toEqual(IDENTITY);
    // The k order is the stack's: the same for both containers of the same series.
    expect(s?.sopInstanceUids).toEqual(uids);
    // Never in the report (the JSON that `deepsc validate --json` prints and the Lambda stores).
    const json = JSON.stringify(o.report);
    for (const v of [...Object.values(IDENTITY).filter((v) => v.length > 2), s?.studyInstanceUid ?? "?"])
      expect(json).not.toContain(v);
  });

  it("reads a real implicit-VR CT (the corpus' 3 GE slices), type 2 values left out when empty", async () => {
    const o = await validatePath(join(CORPUS, "dicom/real/ct-3slice"), { mode: "full", purpose: "convert" });
    const s = o.dicomSource;
    expect(s?.sopInstanceUids).toEqual([
      "1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.23433.1",
      "1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.23432.1",
      "1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.23431.1",
    ]);
    expect(s?.patientStudy).toEqual({
      patientName: "JANCT000",
      patientId: "99000",
      patientSex: "M",
      studyDate: "20030417",
      studyTime: "104607",
      studyId: "1",
      accessionNumber: "03086212",
    });
  });

  it("is absent for NIfTI input, header-only validation and rejected input", async () => {
    expect((await validatePath(nifti, { mode: "full", purpose: "convert" })).dicomSource).toBeUndefined();
    expect(
      (await validatePath(folder, { mode: "header-only", purpose: "convert" })).dicomSource,
    ).toBeUndefined();
    const rejected = await validatePath(folder, { mode: "full", purpose: "analysis" });
    expect(rejected.report.accepted).toBe(false);
    expect(rejected.dicomSource).toBeUndefined();
  });
});
