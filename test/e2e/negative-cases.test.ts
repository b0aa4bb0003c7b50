/**
 * The documented rejections, end to end through `deepsc validate --json` (exit 2, the code in the report),
 * on a generated series broken the way real uploads break. DICOM edits use dcmtk's dcmodify, a real tool,
 * rather than our own writer. Each case runs in full and in header-only mode (what the Lambda does).
 */
import { spawn } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  watch,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ValidationReport, ValidationReportSchema } from "../../core/contracts/validation-report.js";
import { runPhantom } from "../../core/phantom/run.js";
import { DEEPSC, deepsc } from "../helpers/cli.js";
import { craftZip } from "../helpers/input-fixtures.js";
import { run } from "../helpers/tools.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-negative-"));
let base = "";
let other = "";
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  await runPhantom({
    class: "covid",
    seed: 3,
    size: 96,
    slices: 24,
    sliceThickness: 2.5,
    out: join(work, "a"),
  });
  await runPhantom({
    class: "normal",
    seed: 4,
    size: 96,
    slices: 24,
    sliceThickness: 2.5,
    out: join(work, "b"),
  });
  base = join(work, "a", "dicom");
  other = join(work, "b", "dicom");
});

let n = 0;
function copySeries(from = base): { dir: string; files: string[] } {
  const dir = join(work, `case-${n++}`);
  cpSync(from, dir, { recursive: true });
  return {
    dir,
    files: readdirSync(dir)
      .sort()
      .map((f) => join(dir, f)),
  };
}

function validate(input: string, headerOnly: boolean): { code: number; report: ValidationReport } {
  const r = deepsc(["validate", input, "--json", ...(headerOnly ? ["--header-only"] : [])]);
  return { code: r.code, report: ValidationReportSchema.parse(JSON.parse(r.stdout)) };
}

function expectRejected(
  input: string,
  code: string,
  modes: Array<"full" | "header-only"> = ["full", "header-only"],
) {
  for (const mode of modes) {
    const { code: exit, report } = validate(input, mode === "header-only");
    expect(report.accepted, `${mode}: ${JSON.stringify(report.reasons)}`).toBe(false);
    expect(exit).toBe(2);
    expect(
      report.reasons.map((r) => r.code),
      mode,
    ).toContain(code);
  }
}

describe("documented rejections of broken uploads", () => {
  it("accepts the intact series (the control case) in both modes", () => {
    for (const headerOnly of [false, true]) {
      const { code, report } = validate(base, headerOnly);
      expect(report.reasons).toEqual([]);
      expect(code).toBe(0);
    }
  });

  it("a missing slice in the middle: SLICE_GAP, naming where", () => {
    const { dir, files } = copySeries();
    rmSync(files[10]!);
    expectRejected(dir, "SLICE_GAP");
  });

  it("a second image at an existing position in the same acquisition: DUPLICATE_SLICES", () => {
    const { dir, files } = copySeries();
    const dup = join(dir, "dup.dcm");
    copyFileSync(files[5]!, dup);
    run("dcmodify", ["-nb", "-m", "(0008,0018)=2.25.999999", "-m", "(0020,0013)=999", dup]);
    expectRejected(dir, "DUPLICATE_SLICES");
  });

  it("two equally good series mixed in one folder: INCONSISTENT_SERIES", () => {
    const { dir } = copySeries();
    for (const f of readdirSync(other)) copyFileSync(join(other, f), join(dir, `other-${f}`));
    expectRejected(dir, "INCONSISTENT_SERIES");
  });

  it("a non-CT modality: NOT_CT", () => {
    const { dir, files } = copySeries();
    run("dcmodify", ["-nb", "-m", "(0008,0060)=MR", "-m", "(0008,0016)=1.2.840.10008.5.1.4.1.1.4", ...files]);
    expectRejected(dir, "NOT_CT");
  });

  it("localizers only: NO_CT_SERIES", () => {
    const { dir, files } = copySeries();
    run("dcmodify", ["-nb", "-m", "(0008,0008)=ORIGINAL\\PRIMARY\\LOCALIZER", ...files.slice(0, 3)]);
    for (const f of files.slice(3)) rmSync(f);
    expectRejected(dir, "NO_CT_SERIES");
  });

  it("missing geometry on one slice: MISSING_GEOMETRY naming the file", () => {
    const { dir, files } = copySeries();
    run("dcmodify", ["-nb", "-e", "(0020,0032)", files[7]!]);
    expectRejected(dir, "MISSING_GEOMETRY");
    const { report } = validate(dir, true);
    // The JSON names the file by its position in path order (names can be the patient's); only the
    // operator's own terminal gets the path back.
    expect(report.reasons[0]!.file).toBe("#8");
    const name = files[7]!.split("/").pop()!;
    expect(JSON.stringify(report)).not.toContain(name);
    expect(deepsc(["validate", dir, "--header-only"]).stdout).toContain(`[file #8: ${name}]`);
  });

  it("a truncated file: TRUNCATED (the header-only mode sees it from the file size)", () => {
    const { dir, files } = copySeries();
    truncateSync(files[12]!, statSync(files[12]!).size - 5000);
    expectRejected(dir, "TRUNCATED");
  });

  it("Pixel Data shorter than the matrix (file consistent, data short): TRUNCATED, also from headers", () => {
    const { dir, files } = copySeries();
    const bytes = new Uint8Array(readFileSync(files[9]!));
    // Explicit VR little endian (7FE0,0010) OW: tag, VR, 2 reserved bytes, then the 32-bit length.
    const tag = [0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0x00, 0x00];
    const at = bytes.findIndex((_, i) => tag.every((b, k) => bytes[i + k] === b));
    expect(at).toBeGreaterThan(0);
    const view = new DataView(bytes.buffer);
    const half = view.getUint32(at + 8, true) / 2;
    view.setUint32(at + 8, half, true);
    writeFileSync(files[9]!, bytes.subarray(0, at + 12 + half));
    expectRejected(dir, "TRUNCATED");
  });

  it("a 1 KB zip declaring 10 GB: TOO_LARGE, without inflating", () => {
    const bomb = join(work, "bomb.zip");
    const bytes = craftZip(
      [{ name: "bomb.dcm", content: new Uint8Array(500), declaredSize: 10e9, zip64: true }],
      { zip64: true },
    );
    expect(bytes.length).toBeLessThan(1024);
    writeFileSync(bomb, bytes);
    expectRejected(bomb, "TOO_LARGE");
  });

  it("a path-traversal entry: ARCHIVE_UNSAFE", () => {
    const files = Object.fromEntries(
      readdirSync(base).map((f) => [f, new Uint8Array(readFileSync(join(base, f)))]),
    );
    const evil = join(work, "traversal.zip");
    writeFileSync(
      evil,
      zipSync({ ...files, "../../etc/cron.d/evil": new TextEncoder().encode("* * * * * root x") }),
    );
    expectRejected(evil, "ARCHIVE_UNSAFE");
  });

  it("an empty zip: EMPTY_INPUT", () => {
    const empty = join(work, "empty.zip");
    writeFileSync(empty, zipSync({}));
    expectRejected(empty, "EMPTY_INPUT");
  });

  it("deepsc convert of a broken series exits 2 with the reason and leaves nothing in the output folder", () => {
    const { dir, files } = copySeries();
    truncateSync(files[12]!, statSync(files[12]!).size - 5000);
    const outDir = join(work, "convert-out");
    mkdirSync(outDir);
    for (const name of ["ct.nii", "ct.nii.gz"]) {
      const r = deepsc(["convert", dir, join(outDir, name), "--quiet"]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/TRUNCATED/);
    }
    expect(readdirSync(outDir)).toEqual([]); // no output, no temporary file
    const ok = deepsc(["convert", base, join(outDir, "ct.nii"), "--quiet"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readdirSync(outDir)).toEqual(["ct.nii"]);
    expect(statSync(join(outDir, "ct.nii")).size).toBe(352 + 96 * 96 * 24 * 2);
  });

  it("deepsc convert interrupted (SIGINT, SIGTERM) removes its temporary file and exits 130 / 143", async () => {
    for (const [signal, status] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const) {
      const outDir = join(work, `interrupted-${signal}`);
      mkdirSync(outDir);
      const child = spawn(process.execPath, [DEEPSC, "convert", base, join(outDir, "ct.nii"), "--quiet"]);
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      // Frozen the moment its temporary file appears, so the signal lands mid-conversion however fast it is.
      await new Promise<void>((started) => {
        const watcher = watch(outDir, () => {
          if (readdirSync(outDir).some((f) => f.endsWith(".tmp"))) {
            child.kill("SIGSTOP");
            watcher.close();
            started();
          }
        });
      });
      child.kill(signal);
      child.kill("SIGCONT");
      expect(await exited).toBe(status);
      expect(readdirSync(outDir)).toEqual([]);
    }
  });

  it("usage errors and missing paths exit 1 with a message, not a stack trace", () => {
    const missing = deepsc(["validate", join(work, "nope")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope/);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
    const folderNamedNii = join(work, "a-folder.nii");
    mkdirSync(folderNamedNii);
    const intoFolder = deepsc(["convert", base, folderNamedNii]);
    expect(intoFolder.code).toBe(1);
    expect(intoFolder.stderr).toMatch(/a-folder\.nii is a folder/);
    expect(readdirSync(work).filter((f) => f.includes("a-folder"))).toEqual(["a-folder.nii"]);
    // The file system's refusals are named as such, not reported as bugs (here: a file where a folder goes).
    const plainFile = join(work, "plain-file");
    writeFileSync(plainFile, "not a folder");
    const blocked = deepsc(["analyze", base, "--out", join(plainFile, "results")]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/a file is in the way of a folder.*plain-file/);
    expect(blocked.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    const onAFile = deepsc(["analyze", base, "--out", plainFile]);
    expect(onAFile.code).toBe(1);
    expect(onAFile.stderr).toMatch(/a file already exists where a folder goes.*plain-file/);
    expect(readFileSync(plainFile, "utf8")).toBe("not a folder");
    const noFolder = deepsc(["convert", base, join(work, "no-such-folder", "ct.nii")]);
    expect(noFolder.code).toBe(1);
    expect(noFolder.stderr).toMatch(/output folder .*no-such-folder does not exist/);
    expect(noFolder.stderr).not.toMatch(/at .*\.js:\d+/);
    const unknown = deepsc(["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
