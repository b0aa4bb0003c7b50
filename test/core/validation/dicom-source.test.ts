/**
 * The in-memory DICOM source references (core/validation/dicom-source.ts) that the lesion SEG copies:
 * present for accepted DICOM inputs in full mode (folder and zip), absent otherwise, never in the report.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPhantom } from "../../../core/phantom/run.js";
import { validatePath } from "../../../core/validation/validate-path.js";
import { CORPUS } from "../../helpers/corpus.js";
import { HAVE_PYDICOM, recodeWithPydicom } from "../../helpers/pydicom-recode.js";

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

describe.skipIf(!HAVE_PYDICOM)(
  "patient and physician names in other character sets (pydicom-written)",
  () => {
    it.each([
      [
        "ISO 2022 IR 87 (Japanese, PS3.5 H.3.1)",
        ["", "ISO 2022 IR 87"],
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
        "Suzuki^Ichiro",
      ],
      [
        "ISO 2022 IR 13 + IR 87 (katakana)",
        ["ISO 2022 IR 13", "ISO 2022 IR 87"],
        "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
        "ﾔﾏﾀﾞ",
      ],
      [
        "ISO 2022 IR 87 + IR 159 (JIS X 0212)",
        ["", "ISO 2022 IR 87", "ISO 2022 IR 159"],
        "Yamada=丂山田",
        "A",
      ],
      [
        "ISO 2022 IR 149 (Korean, PS3.5 I.2)",
        ["", "ISO 2022 IR 149"],
        "Hong^Gildong=洪^吉洞=홍^길동",
        "Hong",
      ],
      [
        "ISO 2022 IR 100 (Latin-1 with code extensions)",
        ["ISO 2022 IR 100"],
        "Müller^Jürgen",
        "Ångström^Åsa",
      ],
      ["ISO_IR 100", ["ISO_IR 100"], "Müller^Jürgen", "Ångström^Åsa"],
      ["ISO_IR 144 (Cyrillic)", ["ISO_IR 144"], "Люксембург^Иван", "Иванов"],
      ["GB18030", ["GB18030"], "Wang^XiaoDong=王^小東", "Wang"],
      ["ISO_IR 192", ["ISO_IR 192"], "Wang^XiaoDong=王^小東", "Müller"],
    ])("decodes %s to the names pydicom reads", async (_, charset, name, referrer) => {
      const dir = join(work, `cs-${charset.join("-").replace(/[^A-Za-z0-9]/g, "_")}`);
      cpSync(folder, dir, { recursive: true });
      const back = recodeWithPydicom(dir, charset, name, referrer);
      expect(back).toEqual({ patientName: name, referringPhysicianName: referrer });
      const o = await validatePath(dir, { mode: "full", purpose: "convert" });
      const ps = o.dicomSource?.patientStudy;
      expect(ps?.patientName).toBe(name);
      expect(ps?.referringPhysicianName).toBe(referrer);
      expect(ps?.patientId).toBe(IDENTITY.patientId);
    });

    it("reads a name of 130 000 characters (a broken or hostile writer) without overflowing the call stack", async () => {
      const dir = join(work, "cs-huge-name");
      cpSync(folder, dir, { recursive: true });
      const huge = "A".repeat(130_000);
      recodeWithPydicom(dir, ["ISO_IR 100"], huge, "B");
      const ps = (await validatePath(dir, { mode: "full", purpose: "convert" })).dicomSource?.patientStudy;
      expect(ps?.patientName).toBe(huge);
    });

    it("leaves a name empty, never mojibake, when its bytes do not fit the declared sets", async () => {
      // pydicom 2.x writes GB 2312 under ISO 2022 IR 58 without the escape sequence PS3.5 K.2 requires.
      const dir = join(work, "cs-ir58-no-escape");
      cpSync(folder, dir, { recursive: true });
      recodeWithPydicom(dir, ["", "ISO 2022 IR 58"], "Zhang^XiaoDong=张^小东", "Zhang");
      const ps = (await validatePath(dir, { mode: "full", purpose: "convert" })).dicomSource?.patientStudy;
      expect(ps?.patientName).toBeUndefined();
      expect(ps?.referringPhysicianName).toBe("Zhang");
    });
  },
);
