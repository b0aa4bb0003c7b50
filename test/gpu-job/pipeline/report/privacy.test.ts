/**
 * No patient identifier leaves the system except inside lesions.seg.dcm (DESIGN.md §3). A DICOM phantom
 * gets marker strings in every identifying tag; the whole analysis then runs twice — in process with its
 * progress callback and console captured, and as the `deepsc analyze` command with stdout and stderr
 * captured — and every output file is searched: NIfTI (decompressed, header and voxels), JSON, HTML, PDF
 * (bytes and extracted text), PNG, the manifest. The markers may appear only in the SEG, and there exactly
 * where the patient and study modules hold them. The source's UIDs follow the same rule.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runPhantom } from "../../../../core/phantom/run.js";
import type { DicomSource } from "../../../../core/validation/dicom-source.js";
import { validatePath } from "../../../../core/validation/validate-path.js";
import { analyze } from "../../../../gpu-job/pipeline/analyze.js";
import { readDicom, toolAvailable } from "./dicom-helpers.js";

const REPO = resolve(import.meta.dirname, "../../../../");
const HAVE_PDFTOTEXT = toolAvailable("pdftotext", ["-v"]);
const work = mkdtempSync(join(tmpdir(), "deepsc-privacy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Marker identity: each value carries a token found nowhere else. */
const PATIENT = {
  patientName: "QXNAMEFAMILY^QXNAMEGIVEN",
  patientId: "QXPATIENTID42",
  patientBirthDate: "19230405",
  patientSex: "F",
  accessionNumber: "QXACCESSION7",
  institutionName: "QXINSTITUTION GENERAL",
  referringPhysicianName: "QXREFERRER^QXDOCTOR",
  studyDate: "20191231",
  studyTime: "235813",
  studyId: "QXSTUDYID9",
  studyDescription: "QXSTUDYDESCRIPTION",
  seriesDescription: "QXSERIESDESCRIPTION",
} as const;

/** What the SEG's patient and study modules must carry (copied from the source). */
const IN_SEG = [
  "QXNAMEFAMILY^QXNAMEGIVEN",
  "QXPATIENTID42",
  "19230405",
  "QXACCESSION7",
  "QXREFERRER^QXDOCTOR",
  "20191231",
  "235813",
  "QXSTUDYID9",
];
/** Identifying values the SEG has no reason to copy either. */
const NOWHERE = ["QXINSTITUTION", "QXSTUDYDESCRIPTION", "QXSERIESDESCRIPTION"];
/** Tokens searched in every non-SEG output and log: every part of every marker. */
const TOKENS = [
  "QXNAMEFAMILY",
  "QXNAMEGIVEN",
  "QXPATIENTID42",
  "19230405",
  "QXACCESSION7",
  "QXINSTITUTION",
  "QXREFERRER",
  "QXDOCTOR",
  "20191231",
  "235813",
  "QXSTUDYID9",
  "QXSTUDYDESCRIPTION",
  "QXSERIESDESCRIPTION",
];

let dicomDir: string;
let source: DicomSource;
let uids: string[];

beforeAll(async () => {
  dicomDir = (
    await runPhantom({
      class: "covid",
      seed: 9401,
      size: 96,
      slices: 24,
      sliceThickness: 5,
      format: "dicom",
      out: join(work, "ct"),
      patient: PATIENT,
    })
  ).ctPath;
  const o = await validatePath(dicomDir, { mode: "full", purpose: "analysis" });
  if (!o.dicomSource) throw new Error("phantom not accepted");
  source = o.dicomSource;
  uids = [
    source.studyInstanceUid,
    source.seriesInstanceUid,
    source.frameOfReferenceUid ?? "",
    ...source.sopInstanceUids,
  ].filter((u) => u !== "");
}, 120_000);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** The searchable forms of one output: its bytes, decompressed when gzip, plus the PDF's extracted text. */
function searchable(path: string): string[] {
  const bytes = readFileSync(path);
  const forms = [bytes.toString("latin1")];
  if (path.endsWith(".gz")) forms.push(gunzipSync(bytes).toString("latin1"));
  if (path.endsWith(".pdf") && HAVE_PDFTOTEXT)
    forms.push(spawnSync("pdftotext", ["-layout", path, "-"], { encoding: "utf8" }).stdout);
  return forms;
}

function leaks(text: string, needles: readonly string[]): string[] {
  return needles.filter((n) => text.includes(n));
}

function checkOutputs(out: string): void {
  const files = filesUnder(out);
  const names = files.map((f) => relative(out, f)).sort();
  expect(names).toContain("lesions.seg.dcm");
  expect(names).toContain("report.pdf");
  expect(names.filter((n) => n.endsWith(".png")).length).toBeGreaterThanOrEqual(3);
  for (const f of files) {
    const name = relative(out, f);
    const forms = searchable(f).join("\n");
    if (name === "lesions.seg.dcm") {
      expect(leaks(forms, IN_SEG), name).toEqual(IN_SEG);
      expect(leaks(forms, NOWHERE), name).toEqual([]);
      expect(
        leaks(forms, [source.studyInstanceUid, source.seriesInstanceUid, ...source.sopInstanceUids]),
      ).toHaveLength(2 + source.sopInstanceUids.length);
    } else {
      expect(leaks(forms, TOKENS), name).toEqual([]);
      expect(leaks(forms, uids), name).toEqual([]);
    }
  }
  // Where the SEG holds them: its patient and study modules, nowhere else in it.
  const seg = readDicom(join(out, "lesions.seg.dcm"));
  const name = Array.isArray(seg.PatientName) ? seg.PatientName[0]?.Alphabetic : seg.PatientName;
  expect(name).toBe(PATIENT.patientName);
  expect([
    seg.PatientID,
    seg.PatientBirthDate,
    seg.AccessionNumber,
    seg.StudyDate,
    seg.StudyTime,
    seg.StudyID,
  ]).toEqual([
    PATIENT.patientId,
    PATIENT.patientBirthDate,
    PATIENT.accessionNumber,
    PATIENT.studyDate,
    PATIENT.studyTime,
    PATIENT.studyId,
  ]);
  const rest = JSON.stringify({
    ...seg,
    PatientName: "",
    PatientID: "",
    PatientBirthDate: "",
    AccessionNumber: "",
    ReferringPhysicianName: "",
    StudyDate: "",
    StudyTime: "",
    StudyID: "",
    PixelData: "",
  });
  expect(leaks(rest, TOKENS)).toEqual([]);
}

describe("patient identifiers", () => {
  it("appear in no output but the SEG, and in no progress event or console line, in process", async () => {
    const events: string[] = [];
    const logged: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      }),
    );
    const out = join(work, "in-process");
    try {
      const r = await analyze(dicomDir, out, {
        device: "cpu",
        onProgress: (stage, done, total) => events.push(`${stage} ${done}/${total}`),
      });
      expect(leaks(JSON.stringify(r.diagnosis), [...TOKENS, ...uids])).toEqual([]);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(events).toContain("report 1/1");
    expect(leaks([...events, ...logged].join("\n"), [...TOKENS, ...uids])).toEqual([]);
    checkOutputs(out);
  }, 180_000);

  it("appear in no output but the SEG, and not on stdout or stderr, through `deepsc analyze`", () => {
    const out = join(work, "cli");
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "cli/main.ts", "analyze", dicomDir, "--out", out, "--device", "cpu"],
      {
        cwd: REPO,
        encoding: "utf8",
        timeout: 180_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    // Progress goes to stderr: it must have said something, and nothing identifying.
    expect(r.stderr).toMatch(/report: 1\/1/);
    expect(r.stdout).toContain("report.pdf");
    expect(leaks(`${r.stdout}\n${r.stderr}`, [...TOKENS, ...uids])).toEqual([]);
    checkOutputs(out);
  }, 240_000);
});
