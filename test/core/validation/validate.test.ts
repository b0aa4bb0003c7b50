/**
 * validateSource / validatePath over small built DICOM folders: which files may sink an upload and which are
 * only ignored beside the series that is analysed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { constants, deflateRawSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { writeNifti } from "../../../core/nifti/write.js";
import { runPhantom } from "../../../core/phantom/run.js";
import { MAX_HEADER_BYTES } from "../../../core/validation/read-headers.js";
import type { ValidationMode } from "../../../core/validation/validate.js";
import { validatePath } from "../../../core/validation/validate-path.js";
import {
  buildFile,
  ctElements,
  type Element,
  encapsulate,
  nativePixels,
  TS,
} from "../dicom/dicom-builder.js";

const HTJ2K = "1.2.840.10008.1.2.4.201";
const SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7";

/** Replace (or add) elements of a built element list by tag. */
function withElements(base: Element[], changes: Element[]): Element[] {
  const byTag = new Map(base.map((e) => [e.tag, e]));
  for (const c of changes) byTag.set(c.tag, c);
  return [...byTag.values()].sort((a, b) => a.tag - b.tag);
}

/** One 2x3 CT slice of series 1.2.3.11 at z, in `ts` (native or, for other syntaxes, one fragment). */
function ctSlice(z: number, ts: string = TS.explicitLE): Uint8Array {
  const native = ts === TS.explicitLE;
  const pixels: Element = native
    ? { tag: 0x7fe00010, vr: "OW", bytes: nativePixels([1, 2, 3, 4, 5, 6], 16) }
    : { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate([new Uint8Array(12)]) };
  return buildFile({
    ts,
    elements: withElements(ctElements(), [
      { tag: 0x00080018, vr: "UI", str: `1.2.3.4.5.${z + 10}` },
      { tag: 0x00200013, vr: "IS", str: String(z + 1) },
      { tag: 0x00200032, vr: "DS", str: `0\\0\\${z}` },
      pixels,
    ]),
  });
}

/** A secondary capture (a screenshot of the same study) stored in a syntax this pipeline does not decode. */
function secondaryCaptureHtj2k(): Uint8Array {
  return buildFile({
    ts: HTJ2K,
    elements: withElements(ctElements(), [
      { tag: 0x00080008, vr: "CS", str: "DERIVED\\SECONDARY" },
      { tag: 0x00080016, vr: "UI", str: SECONDARY_CAPTURE },
      { tag: 0x00080018, vr: "UI", str: "1.2.3.4.5.99" },
      { tag: 0x00080060, vr: "CS", str: "OT" },
      { tag: 0x0020000e, vr: "UI", str: "1.2.3.99" },
      { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate([new Uint8Array(12)]) },
    ]),
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folder(files: Record<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), "deepsc-validate-"));
  dirs.push(dir);
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  return dir;
}

const MODES: ValidationMode[] = ["full", "header-only"];

describe("validatePath: files of an unsupported transfer syntax", () => {
  it.each(MODES)(
    "are ignored beside the chosen series when they belong to another one (%s)",
    async (mode) => {
      const dir = folder({
        "1.dcm": ctSlice(0),
        "2.dcm": ctSlice(1),
        "3.dcm": ctSlice(2),
        "sc.dcm": secondaryCaptureHtj2k(),
      });
      const { report, volume } = await validatePath(dir, { mode, purpose: "convert" });
      expect(report.reasons).toEqual([]);
      expect(report.accepted).toBe(true);
      expect(report.warnings.map((w) => w.code)).toContain("OTHER_SERIES_IGNORED");
      expect(report.series?.dims).toEqual([3, 2, 3]);
      expect(report.files).toEqual({ total: 4, used: 3 });
      if (mode === "full")
        expect([...volume!.data.subarray(0, 6)]).toEqual([-1023, -1022, -1021, -1020, -1019, -1018]);
    },
  );

  it.each(MODES)("reject the upload when they are part of the chosen series (%s)", async (mode) => {
    const dir = folder({ "1.dcm": ctSlice(0), "2.dcm": ctSlice(1, HTJ2K), "3.dcm": ctSlice(2) });
    const { report } = await validatePath(dir, { mode, purpose: "convert" });
    expect(report.accepted).toBe(false);
    expect(report.reasons.map((r) => [r.code, r.file])).toEqual([["UNSUPPORTED_TRANSFER_SYNTAX", "#2"]]);
    expect(report.reasons[0]!.message).toContain(HTJ2K);
  });
});

describe("validatePath: what a report says about the input's files", () => {
  it.each(MODES)(
    "names every dropped copy of a repeated slice, even when their messages match (%s)",
    async (mode) => {
      const dir = folder({
        "1.dcm": ctSlice(0),
        "2.dcm": ctSlice(1),
        "3.dcm": ctSlice(2),
        "2-copy-a.dcm": ctSlice(1),
        "2-copy-b.dcm": ctSlice(1),
      });
      const { report } = await validatePath(dir, { mode, purpose: "convert" });
      expect(report.accepted).toBe(true);
      const dropped = report.warnings.filter((w) => w.code === "DUPLICATES_DROPPED");
      // The same SOP instance three times: two copies dropped, each named, though they read alike.
      expect(dropped).toHaveLength(2);
      expect(dropped.map((w) => w.file).sort()).toEqual(["#2", "#3"]);
      expect(dropped[0]!.message).toBe(dropped[1]!.message);
      expect(report.series?.dims).toEqual([3, 2, 3]);
    },
  );

  it("names a file by its position in path order, never by its path or its UID", async () => {
    const uid = "1.2.826.0.1.3680043.8.498.77777777777777";
    const cut = ctSlice(1);
    const dir = folder({
      "DOE^JANE 19600101/1.dcm": ctSlice(0),
      [`DOE^JANE 19600101/${uid}.dcm`]: cut.subarray(0, cut.length - 5),
      "DOE^JANE 19600101/3.dcm": ctSlice(2),
    });
    const { report, inputPaths } = await validatePath(dir, {
      mode: "full",
      purpose: "convert",
      uidSalt: "s",
    });
    // In code-unit order "…/1.2.826….dcm" comes before "…/1.dcm" ('2' < 'd').
    expect(report.reasons.map((r) => [r.code, r.file])).toEqual([["TRUNCATED", "#1"]]);
    expect(inputPaths).toEqual([
      `DOE^JANE 19600101/${uid}.dcm`,
      "DOE^JANE 19600101/1.dcm",
      "DOE^JANE 19600101/3.dcm",
    ]);
    const json = JSON.stringify(report);
    expect(json).not.toContain(uid);
    expect(json).not.toContain("DOE");
    expect(json).not.toContain("1960");
  });
});

describe("validatePath: a slice cut before its header", () => {
  it.each(MODES)(
    "is TRUNCATED when the file says DICOM by its name, not ignored as not DICOM (%s)",
    async (mode) => {
      for (const size of [0, 100, 131]) {
        const dir = folder({
          "1.dcm": ctSlice(0),
          "2.dcm": ctSlice(1),
          "3.dcm": ctSlice(2),
          "4.dcm": ctSlice(3).subarray(0, size),
        });
        const { report } = await validatePath(dir, { mode, purpose: "convert" });
        expect(report.accepted, `cut to ${size} bytes`).toBe(false);
        expect(report.reasons.map((r) => [r.code, r.file])).toEqual([["TRUNCATED", "#4"]]);
        expect(report.reasons[0]!.message).toMatch(/too few for a DICOM header/);
      }
    },
  );

  it.each(MODES)(
    "still ignores a short file that does not say DICOM (a note, an empty marker) (%s)",
    async (mode) => {
      const dir = folder({
        "1.dcm": ctSlice(0),
        "2.dcm": ctSlice(1),
        "3.dcm": ctSlice(2),
        "README.txt": new TextEncoder().encode("exported by X"),
        ".complete": new Uint8Array(0),
      });
      const { report } = await validatePath(dir, { mode, purpose: "convert" });
      expect(report.accepted).toBe(true);
      expect(report.warnings.map((w) => w.code)).toContain("FILES_IGNORED");
    },
  );
});

describe("validatePath: compressed fragments under a native transfer syntax (a relabelled file)", () => {
  it.each(MODES)("are UNSUPPORTED_TRANSFER_SYNTAX in both modes, as decoding finds (%s)", async (mode) => {
    const relabelled = buildFile({
      ts: TS.explicitLE,
      elements: withElements(ctElements(), [
        { tag: 0x00080018, vr: "UI", str: "1.2.3.4.5.13" },
        { tag: 0x00200013, vr: "IS", str: "3" },
        { tag: 0x00200032, vr: "DS", str: "0\\0\\2" },
        { tag: 0x7fe00010, vr: "OB", undefinedLength: true, bytes: encapsulate([new Uint8Array(12)]) },
      ]),
    });
    const dir = folder({ "1.dcm": ctSlice(0), "2.dcm": ctSlice(1), "3.dcm": relabelled });
    const { report } = await validatePath(dir, { mode, purpose: "convert" });
    expect(report.accepted).toBe(false);
    expect(report.reasons.map((r) => [r.code, r.file])).toEqual([["UNSUPPORTED_TRANSFER_SYNTAX", "#3"]]);
  });
});

describe("validatePath: a huge element before Pixel Data", () => {
  it.each(MODES)(
    "is TOO_LARGE after reading at most the header limit, not the whole file (%s)",
    async (mode) => {
      const padded = buildFile({
        ts: TS.explicitLE,
        elements: withElements(ctElements(), [
          { tag: 0x00080018, vr: "UI", str: "1.2.3.4.5.13" },
          { tag: 0x00200013, vr: "IS", str: "3" },
          { tag: 0x00200032, vr: "DS", str: "0\\0\\2" },
          { tag: 0x00291010, vr: "OB", bytes: new Uint8Array(MAX_HEADER_BYTES + 4 * 1024 * 1024) },
          { tag: 0x7fe00010, vr: "OW", bytes: nativePixels([1, 2, 3, 4, 5, 6], 16) },
        ]),
      });
      const dir = folder({ "1.dcm": ctSlice(0), "2.dcm": ctSlice(1), "3.dcm": padded });
      const { report } = await validatePath(dir, { mode, purpose: "convert" });
      expect(report.accepted).toBe(false);
      expect(report.reasons.map((r) => [r.code, r.file])).toEqual([["TOO_LARGE", "#3"]]);
      if (mode === "header-only") expect(report.bytesRead).toBeLessThan(MAX_HEADER_BYTES + 1024 * 1024);
    },
  );
});

describe("validatePath: NOT_AXIAL follows the slices' plane, for DICOM and NIfTI alike", () => {
  it("warns of a coronal series whether it comes as DICOM or as NIfTI", async () => {
    const base = { class: "normal", seed: 3, size: 32, slices: 8, orientation: "coronal" } as const;
    const dir = mkdtempSync(join(tmpdir(), "deepsc-validate-"));
    dirs.push(dir);
    const dicom = await runPhantom({ ...base, format: "dicom", out: join(dir, "d") });
    const nifti = await runPhantom({ ...base, format: "nifti", out: join(dir, "n") });
    for (const input of [dicom.ctPath, nifti.ctPath]) {
      const { report } = await validatePath(input, { mode: "header-only", purpose: "convert" });
      expect(report.series?.orientation, input).toBe("coronal");
      expect(
        report.warnings.map((w) => w.code),
        input,
      ).toContain("NOT_AXIAL");
    }
  });

  it("does not call a gantry-tilted axial stack not axial (its shear gets GANTRY_TILT)", async () => {
    const tilt = Math.tan((15 * Math.PI) / 180);
    const slice = (k: number) =>
      buildFile({
        ts: TS.explicitLE,
        elements: withElements(ctElements(), [
          { tag: 0x00080018, vr: "UI", str: `1.2.3.4.5.${k + 10}` },
          { tag: 0x00200013, vr: "IS", str: String(k + 1) },
          { tag: 0x00200032, vr: "DS", str: `0\\${(2 * k * tilt).toFixed(4)}\\${2 * k}` },
          { tag: 0x7fe00010, vr: "OW", bytes: nativePixels([1, 2, 3, 4, 5, 6], 16) },
        ]),
      });
    const dir = folder({ "1.dcm": slice(0), "2.dcm": slice(1), "3.dcm": slice(2), "4.dcm": slice(3) });
    const { report } = await validatePath(dir, { mode: "header-only", purpose: "convert" });
    expect(report.series?.orientation).toBe("axial");
    const codes = report.warnings.map((w) => w.code);
    expect(codes).toContain("GANTRY_TILT");
    expect(codes).not.toContain("NOT_AXIAL");
  });
});

describe("validatePath: one series, several Frames of Reference", () => {
  it("warns when the slices name different FrameOfReferenceUIDs (their positions may not be comparable)", async () => {
    const slice = (k: number, frame: string) =>
      buildFile({
        ts: TS.explicitLE,
        elements: withElements(ctElements(), [
          { tag: 0x00080018, vr: "UI", str: `1.2.3.4.6.${k + 10}` },
          { tag: 0x00200013, vr: "IS", str: String(k + 1) },
          { tag: 0x00200032, vr: "DS", str: `0\\0\\${2 * k}` },
          { tag: 0x00200052, vr: "UI", str: frame },
          { tag: 0x7fe00010, vr: "OW", bytes: nativePixels([1, 2, 3, 4, 5, 6], 16) },
        ]),
      });
    const one = folder({
      "1.dcm": slice(0, "1.9.1"),
      "2.dcm": slice(1, "1.9.1"),
      "3.dcm": slice(2, "1.9.1"),
    });
    const mixed = folder({
      "1.dcm": slice(0, "1.9.1"),
      "2.dcm": slice(1, "1.9.1"),
      "3.dcm": slice(2, "1.9.2"),
    });
    const codes = async (dir: string) =>
      (await validatePath(dir, { mode: "header-only", purpose: "convert" })).report.warnings.map(
        (w) => w.code,
      );
    expect(await codes(one)).not.toContain("MIXED_FRAMES_OF_REFERENCE");
    expect(await codes(mixed)).toContain("MIXED_FRAMES_OF_REFERENCE");
  });
});

describe("validatePath: a volume larger than any body is refused before anything runs on it", () => {
  it("rejects a NIfTI whose voxel sizes make it kilometres long (units in metres read as mm) as MISSING_GEOMETRY", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deepsc-validate-"));
    dirs.push(dir);
    const path = join(dir, "scan.nii");
    await writeNifti(
      {
        dims: [16, 16, 24],
        spacing: [2812.5, 2812.5, 5000],
        origin: [0, 0, 0],
        direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        data: new Int16Array(16 * 16 * 24).fill(-1000),
      },
      path,
    );
    for (const mode of ["header-only", "full"] as const) {
      const { report } = await validatePath(path, { mode, purpose: "analysis" });
      expect(report.accepted, mode).toBe(false);
      expect(report.reasons.map((r) => r.code)).toEqual(["MISSING_GEOMETRY"]);
      expect(report.reasons[0]!.message).toContain("45000 mm along its first axis");
    }
  });
});

describe("validatePath: a .nii.gz is held to the zip's compression ratio", () => {
  it("rejects 256 MiB of zeros in 1.2 MB as ARCHIVE_UNSAFE, from the header alone (the ingest Lambda)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deepsc-validate-"));
    dirs.push(dir);
    const plain = join(dir, "header.nii");
    await writeNifti(
      {
        dims: [2, 2, 2],
        spacing: [1, 1, 1],
        origin: [0, 0, 0],
        direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        data: new Int16Array(8),
      },
      plain,
    );
    // The header of that file with dims 1024x1024x128 int16, then deflate blocks of zeros (~228:1).
    const header = readFileSync(plain).subarray(0, 352);
    new DataView(header.buffer, header.byteOffset).setInt16(42, 1024, true);
    new DataView(header.buffer, header.byteOffset).setInt16(44, 1024, true);
    new DataView(header.buffer, header.byteOffset).setInt16(46, 128, true);
    const zeros = deflateRawSync(new Uint8Array(1 << 20), { level: 1, finishFlush: constants.Z_FULL_FLUSH });
    const parts = [Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])];
    parts.push(deflateRawSync(header, { finishFlush: constants.Z_FULL_FLUSH }));
    for (let i = 0; i < 256; i++) parts.push(zeros);
    parts.push(deflateRawSync(new Uint8Array(0)), new Uint8Array(8));
    const trailer = new DataView(parts.at(-1)!.buffer);
    trailer.setUint32(4, 352 + 256 * (1 << 20), true);
    const path = join(dir, "bomb.nii.gz");
    writeFileSync(path, Buffer.concat(parts));
    for (const mode of MODES) {
      const { report } = await validatePath(path, { mode, purpose: "convert" });
      expect(
        report.reasons.map((r) => r.code),
        mode,
      ).toEqual(["ARCHIVE_UNSAFE"]);
      expect(report.reasons[0]!.message).toMatch(/ratio over 100/);
      expect(report.bytesRead).toBeLessThan(64 * 1024);
    }
  });
});

describe("validatePath: a .nii.gz of several gzip members (`cat a.gz b.gz`)", () => {
  it("is read in full mode, and header-only says why it cannot size it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deepsc-validate-"));
    dirs.push(dir);
    const plain = join(dir, "scan.nii");
    const data = new Int16Array(16 * 16 * 24).map((_, i) => -1000 + (i % 200));
    await writeNifti(
      {
        dims: [16, 16, 24],
        spacing: [1, 1, 2],
        origin: [0, 0, 0],
        direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
        data,
      },
      plain,
    );
    const raw = readFileSync(plain);
    const path = join(dir, "joined.nii.gz");
    writeFileSync(path, Buffer.concat([gzipSync(raw.subarray(0, 5000)), gzipSync(raw.subarray(5000))]));
    const full = await validatePath(path, { mode: "full", purpose: "convert" });
    expect(full.report.reasons).toEqual([]);
    expect(full.report.accepted).toBe(true);
    expect(Array.from(full.volume!.data)).toEqual(Array.from(data));
    const headerOnly = await validatePath(path, { mode: "header-only", purpose: "convert" });
    expect(headerOnly.report.reasons.map((r) => r.code)).toEqual(["TRUNCATED"]);
    expect(headerOnly.report.reasons[0]!.message).toMatch(
      /several gzip streams joined.*recompress it as one/,
    );
    // A single stream missing its last 4 bytes (the size) still reads as cut in full mode, from the trailer.
    const gz = gzipSync(raw);
    writeFileSync(path, gz.subarray(0, gz.length - 4));
    const cut = await validatePath(path, { mode: "full", purpose: "convert" });
    expect(cut.report.reasons.map((r) => r.code)).toEqual(["TRUNCATED"]);
  });
});
