/**
 * The DICOM series writer, checked by independent readers: dcmtk's dcmdump must parse every file without
 * complaint and name the transfer syntax; pydicom must return exactly our HU (stored * slope + intercept)
 * and ImagePositionPatient / ImageOrientationPatient / PixelSpacing consistent with the grid; dcm2niix
 * must convert the series to the same voxels and affine as our own NIfTI of the volume (compared through
 * nibabel). Geometry fixtures are deliberately asymmetric (non-square pixels, rows != columns) so a swap
 * of i/j or of the PixelSpacing order cannot pass.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import type { Geometry, Mat3, Volume } from "../../../core/contracts/volume.js";
import {
  type CtSeriesOptions,
  type DicomIdentity,
  EncoderUnavailable,
  encodeRleFrame,
  formatDS,
  seriesUids,
  TRANSFER_SYNTAX_UIDS,
  type TransferSyntaxName,
  uidFromHash,
  writeCtSeriesToDir,
  writeCtSeriesToZip,
} from "../../../core/dicom/write-series.js";
import { column, cross, voxelCentre } from "../../../core/geometry/affine.js";
import { writeNifti } from "../../../core/nifti/write.js";
import { obliqueRotation } from "../../../core/phantom/grid.js";
import { hasTool, python, run } from "../../helpers/tools.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-write-series-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const READ_SERIES = resolve(import.meta.dirname, "../phantom/read_series.py");
const COMPARE_NIFTI = resolve(import.meta.dirname, "../../helpers/compare_nifti.py");
const HAS_PYDICOM = spawnSync("/usr/bin/python3", ["-c", "import pydicom, numpy"]).status === 0;
const HAS_NIBABEL = spawnSync("/usr/bin/python3", ["-c", "import nibabel"]).status === 0;
const HAS_DCMDUMP = hasTool("dcmdump");
const HAS_DCMCJPEG = hasTool("dcmcjpeg");
const HAS_DCM2NIIX = hasTool("dcm2niix", ["-h"]);

const IDENTITY: DicomIdentity = {
  patientName: "PHANTOM^TEST",
  patientId: "PID-123",
  patientBirthDate: "19700101",
  patientSex: "O",
  accessionNumber: "ACC1",
  institutionName: "Test Institution",
  referringPhysicianName: "REF^DOC",
  studyDate: "20200102",
  studyTime: "101500",
  studyId: "7",
  studyDescription: "CT CHEST",
  seriesDescription: "AXIAL",
};

const AXIAL: Geometry = {
  dims: [20, 14, 5],
  spacing: [0.6, 0.9, 2],
  origin: [-6.3, -12.1, -40],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
const DESCENDING: Geometry = { ...AXIAL, direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };
const OBLIQUE: Geometry = { ...AXIAL, direction: obliqueRotation(14, -9) as Mat3 };

/** HU that differ along every axis and span the whole 12-bit range. */
function patterned(g: Geometry, lo = -1024, hi = 3071): Volume {
  const [nx, ny, nz] = g.dims;
  const data = new Int16Array(nx * ny * nz);
  let idx = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[idx++] = lo + ((i * 37 + j * 101 + k * 1009) % (hi - lo + 1));
  data[0] = lo;
  data[1] = hi;
  return { ...g, data };
}

interface SeriesRead {
  transferSyntaxes: string[];
  slices: Array<{
    file: string;
    instance: number;
    ipp: number[];
    iop: number[];
    pixelSpacing: number[];
    rows: number;
    columns: number;
    sliceThickness: number;
    spacingBetweenSlices: number;
    sliceLocation: number;
    bitsStored: number;
    pixelRepresentation: number;
    hasRescale: boolean;
    slope: number;
    intercept: number;
    modality: string;
    sopClass: string;
    sopInstance: string;
    series: string;
    study: string;
    frameOfReference: string;
    imageType: string[];
    patientName: string;
    patientId: string;
    manufacturer: string;
  }>;
  hu: string;
}

function decode(r: SeriesRead): SeriesRead & { values: Int16Array } {
  const bytes = Buffer.from(r.hu, "base64");
  return { ...r, values: new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2) };
}

/** pydicom's view of several folders at once (one Python start). */
function readSeriesMany(folders: string[]): Array<SeriesRead & { values: Int16Array }> {
  const all = JSON.parse(python(READ_SERIES, folders)) as Record<string, SeriesRead>;
  return folders.map((f) => decode(all[f]!));
}

function readSeries(folder: string): SeriesRead & { values: Int16Array } {
  return readSeriesMany([folder])[0]!;
}

/** dcmdump's names of the datasets' transfer syntaxes; fails the test on any parse error or warning. */
function dcmdumpSyntaxes(files: string[]): string[] {
  const r = spawnSync("dcmdump", files, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr.split("\n").filter((l) => /^[EWF]:/.test(l))).toEqual([]);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("# Used TransferSyntax:"));
  // Two per file: the file meta information (always explicit little endian), then the dataset.
  expect(lines).toHaveLength(2 * files.length);
  return lines.filter((_, i) => i % 2 === 1).map((l) => l.replace("# Used TransferSyntax:", "").trim());
}

const DCMDUMP_NAMES: Record<TransferSyntaxName, string> = {
  "explicit-le": "Little Endian Explicit",
  "implicit-le": "Little Endian Implicit",
  "explicit-be": "Big Endian Explicit",
  deflate: "Deflated Explicit VR Little Endian",
  rle: "RLE Lossless",
  "jpeg-lossless": "JPEG Lossless, Non-hierarchical, 1st Order Prediction",
};

const ALL_SYNTAXES = Object.keys(TRANSFER_SYNTAX_UIDS) as TransferSyntaxName[];
let seq = 0;
async function writeCase(vol: Volume, opts: Partial<CtSeriesOptions> = {}): Promise<string> {
  const dir = join(work, `case-${seq++}`);
  await writeCtSeriesToDir(vol, dir, { identity: IDENTITY, uidSeed: "test", ...opts });
  return dir;
}

function expectGeometry(read: SeriesRead, g: Geometry): void {
  expect(read.slices).toHaveLength(g.dims[2]);
  const iAxis = column(g.direction, 0);
  const jAxis = column(g.direction, 1);
  const normal = cross(iAxis, jAxis);
  read.slices.forEach((s, k) => {
    expect(s.instance).toBe(k + 1);
    expect(s.rows).toBe(g.dims[1]);
    expect(s.columns).toBe(g.dims[0]);
    // PixelSpacing is [between rows, between columns] = [j spacing, i spacing].
    expect(s.pixelSpacing).toEqual([g.spacing[1], g.spacing[0]]);
    s.iop.forEach((v, c) => {
      expect(v).toBeCloseTo([...iAxis, ...jAxis][c]!, 12);
    });
    const p = voxelCentre(g, 0, 0, k);
    s.ipp.forEach((v, c) => {
      expect(v).toBeCloseTo(p[c]!, 10);
    });
    expect(s.sliceLocation).toBeCloseTo(p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2], 10);
    expect(s.spacingBetweenSlices).toBeCloseTo(g.spacing[2], 12);
  });
}

describe.skipIf(!HAS_PYDICOM || !HAS_DCMDUMP)(
  "every transfer syntax, read back by dcmdump and pydicom",
  () => {
    for (const syntax of ALL_SYNTAXES) {
      it.skipIf(syntax === "jpeg-lossless" && !HAS_DCMCJPEG)(
        `${syntax}: exact HU with and without rescale`,
        async () => {
          const rescales = ["unsigned", "signed", "none"] as const;
          const vol = patterned(DESCENDING);
          const dirs: string[] = [];
          for (const rescale of rescales)
            dirs.push(await writeCase(vol, { transferSyntax: syntax, rescale }));
          const reads = readSeriesMany(dirs);
          rescales.forEach((rescale, n) => {
            const dir = dirs[n]!;
            const files = readdirSync(dir).sort();
            expect(files).toEqual([
              "IM000001.dcm",
              "IM000002.dcm",
              "IM000003.dcm",
              "IM000004.dcm",
              "IM000005.dcm",
            ]);
            expect(dcmdumpSyntaxes(files.map((f) => join(dir, f)))).toEqual(
              files.map(() => DCMDUMP_NAMES[syntax]),
            );
            const read = reads[n]!;
            expect(read.transferSyntaxes).toEqual([TRANSFER_SYNTAX_UIDS[syntax]]);
            expect(Array.from(read.values)).toEqual(Array.from(vol.data));
            expectGeometry(read, DESCENDING);
            const s = read.slices[0]!;
            if (rescale === "unsigned") {
              // dcmcjpeg's lossless codestreams are always 16-bit: the header says so too.
              const bits = syntax === "jpeg-lossless" ? 16 : 12;
              expect([s.pixelRepresentation, s.bitsStored, s.intercept, s.slope]).toEqual([
                0,
                bits,
                -1024,
                1,
              ]);
            } else {
              expect([s.pixelRepresentation, s.bitsStored, s.intercept, s.slope]).toEqual([1, 16, 0, 1]);
              expect(s.hasRescale).toBe(rescale === "signed");
            }
          });
        },
      );
    }
  },
);

describe.skipIf(!HAS_PYDICOM)("CT Image Storage attributes and geometry", () => {
  it("writes realistic CT attributes, identity from the caller and deterministic UIDs", async () => {
    const vol = patterned(AXIAL);
    const dir = await writeCase(vol, { uidSeed: "seed-A" });
    const read = readSeries(dir);
    const uids = seriesUids("seed-A");
    read.slices.forEach((s, k) => {
      expect(s.modality).toBe("CT");
      expect(s.sopClass).toBe("1.2.840.10008.5.1.4.1.1.2");
      expect(s.imageType).toEqual(["ORIGINAL", "PRIMARY", "AXIAL"]);
      expect(s.manufacturer).toBe("DeepSC Phantom");
      expect(s.patientName).toBe(IDENTITY.patientName);
      expect(s.patientId).toBe(IDENTITY.patientId);
      expect(s.study).toBe(uids.studyInstanceUid);
      expect(s.series).toBe(uids.seriesInstanceUid);
      expect(s.frameOfReference).toBe(uids.frameOfReferenceUid);
      expect(s.sopInstance).toBe(uids.sopInstanceUid(k));
      expect(s.sliceThickness).toBe(2);
    });
    expect(new Set(read.slices.map((s) => s.sopInstance)).size).toBe(AXIAL.dims[2]);
    expectGeometry(read, AXIAL);
    // The same call writes the same bytes; another seed, other UIDs.
    const again = await writeCase(vol, { uidSeed: "seed-A" });
    for (const f of readdirSync(dir))
      expect(readFileSync(join(again, f)).equals(readFileSync(join(dir, f)))).toBe(true);
    const other = readSeries(await writeCase(vol, { uidSeed: "seed-B" }));
    expect(other.slices[0]!.series).not.toBe(uids.seriesInstanceUid);
  });

  it("descending volumes give z falling with instance number; oblique ones their rotated axes", async () => {
    const desc = readSeries(await writeCase(patterned(DESCENDING)));
    const z = desc.slices.map((s) => s.ipp[2]!);
    for (let k = 1; k < z.length; k++) expect(z[k]! - z[k - 1]!).toBeCloseTo(-2, 10);
    const obliqueVol = patterned(OBLIQUE);
    const obl = readSeries(await writeCase(obliqueVol, { sliceThickness: 2.5 }));
    expectGeometry(obl, OBLIQUE);
    expect(obl.slices[0]!.sliceThickness).toBe(2.5);
    expect(Array.from(obl.values)).toEqual(Array.from(obliqueVol.data));
  });

  it("uses 16 stored bits when unsigned values exceed 12 bits", async () => {
    const vol = patterned(AXIAL, -1024, 5000);
    const read = readSeries(await writeCase(vol, { rescale: "unsigned" }));
    expect(read.slices[0]!.bitsStored).toBe(16);
    expect(Array.from(read.values)).toEqual(Array.from(vol.data));
  });
});

describe.skipIf(!HAS_DCM2NIIX || !HAS_NIBABEL)("dcm2niix cross-check of the writer's geometry", () => {
  const cases: Array<[string, Geometry, TransferSyntaxName]> = [
    ["axial", AXIAL, "explicit-le"],
    ["descending", DESCENDING, "explicit-le"],
    ["oblique", OBLIQUE, "explicit-le"],
    ["descending RLE", DESCENDING, "rle"],
    ["oblique big endian", OBLIQUE, "explicit-be"],
  ];
  for (const [name, g, syntax] of cases) {
    it(`${name}: same voxels and affine as our NIfTI of the volume`, async () => {
      const vol = patterned(g);
      const dir = await writeCase(vol, { transferSyntax: syntax });
      const ours = join(work, `ours-${seq++}.nii`);
      await writeNifti(vol, ours);
      const refDir = join(work, `ref-${seq++}`);
      mkdirSync(refDir);
      run("dcm2niix", ["-z", "n", "-b", "n", "-f", "ref", "-o", refDir, dir]);
      const niis = readdirSync(refDir).filter((f) => f.endsWith(".nii"));
      expect(niis).toEqual(["ref.nii"]);
      const cmp = JSON.parse(python(COMPARE_NIFTI, [ours, join(refDir, "ref.nii")])) as {
        shape_a: number[];
        shape_b: number[];
        max_voxel_diff: number | null;
        max_affine_diff: number;
      };
      expect(cmp.shape_b).toEqual(cmp.shape_a);
      expect(cmp.max_voxel_diff).toBe(0);
      expect(cmp.max_affine_diff).toBeLessThan(1e-3);
    });
  }
});

describe("zip output", () => {
  it("holds one entry per slice, identical to the folder files, and is reproducible", async () => {
    const vol = patterned(AXIAL);
    const zipA = join(work, "a", "series.zip");
    const zipB = join(work, "b", "series.zip");
    const written = await writeCtSeriesToZip(vol, zipA, { identity: IDENTITY, uidSeed: "zip" });
    await writeCtSeriesToZip(vol, zipB, { identity: IDENTITY, uidSeed: "zip" });
    expect(readFileSync(zipA).equals(readFileSync(zipB))).toBe(true);
    const entries = unzipSync(readFileSync(zipA));
    expect(Object.keys(entries).sort()).toEqual(written.files);
    const folder = await writeCase(vol, { uidSeed: "zip" });
    for (const name of written.files) {
      expect(Buffer.from(entries[name]!).equals(readFileSync(join(folder, name)))).toBe(true);
    }
    const stored = join(work, "c", "series.zip");
    await writeCtSeriesToZip(vol, stored, { identity: IDENTITY, uidSeed: "zip", compression: "stored" });
    expect(readFileSync(stored).length).toBeGreaterThan(readFileSync(zipA).length);
    expect(readdirSync(join(work, "a"))).toEqual(["series.zip"]);
  });
});

describe("RLE encoder (PS3.5 Annex G)", () => {
  /** Reference PackBits decoder of one segment; fails if a packet crosses a row boundary. */
  function unpack(seg: Uint8Array, expected: number, cols: number): Uint8Array {
    const out: number[] = [];
    let i = 0;
    const packet = (count: number) => {
      const row = Math.floor(out.length / cols);
      expect(
        Math.floor((out.length + count - 1) / cols),
        `packet at sample ${out.length} crosses a row`,
      ).toBe(row);
    };
    while (out.length < expected) {
      const h = seg[i++]!;
      if (h < 128) {
        packet(h + 1);
        for (let c = 0; c <= h; c++) out.push(seg[i++]!);
      } else if (h > 128) {
        packet(257 - h);
        const v = seg[i++]!;
        for (let c = 0; c < 257 - h; c++) out.push(v);
      }
    }
    return Uint8Array.from(out);
  }

  it("round-trips long runs, long literals and alternating data, row by row", () => {
    const rows = 4;
    const cols = 300;
    const samples = new Uint8Array(rows * cols * 2);
    for (let p = 0; p < rows * cols; p++) {
      const j = Math.floor(p / cols);
      const i = p % cols;
      // Row 0: one value (runs over 128); row 1: all different (literals over 128); row 2: alternating
      // pairs; row 3: "a a b" repeated, the pattern that inflates naive PackBits encoders.
      const v =
        j === 0
          ? 0x1234
          : j === 1
            ? (i * 7919) & 0xffff
            : j === 2
              ? i % 4 < 2
                ? 0xff00
                : 0x00ff
              : i % 3 < 2
                ? 0x0101
                : (i * 31) & 0xffff;
      samples[2 * p] = v & 0xff;
      samples[2 * p + 1] = v >>> 8;
    }
    const frame = encodeRleFrame(samples, rows, cols);
    const view = new DataView(frame.buffer, frame.byteOffset);
    expect(view.getUint32(0, true)).toBe(2);
    const o1 = view.getUint32(4, true);
    const o2 = view.getUint32(8, true);
    expect(o1).toBe(64);
    expect(o2 % 2).toBe(0);
    for (let s = 3; s < 16; s++) expect(view.getUint32(4 * s, true)).toBe(0);
    const high = unpack(frame.subarray(o1, o2), rows * cols, cols);
    const low = unpack(frame.subarray(o2), rows * cols, cols);
    for (let p = 0; p < rows * cols; p++) {
      expect(high[p]).toBe(samples[2 * p + 1]);
      expect(low[p]).toBe(samples[2 * p]);
    }
    expect(frame.length % 2).toBe(0);
    // Never larger than literal-only coding: one header byte per 128 bytes of each row.
    const bound = rows * cols + rows * Math.ceil(cols / 128) + 1;
    expect(o2 - o1).toBeLessThanOrEqual(bound);
    expect(frame.length - o2).toBeLessThanOrEqual(bound);
  });

  it("rejects a frame whose size does not match rows x columns", () => {
    expect(() => encodeRleFrame(new Uint8Array(10), 2, 3)).toThrow(RangeError);
  });
});

describe("values, UIDs and refusals", () => {
  it("formats DS within 16 characters and keeps precision", () => {
    for (const v of [
      0, 1, -1024, 0.703125, -179.6484375, 0.965925826289068, -0.25881904510252, 1e-13, 123456.789012345,
    ]) {
      const s = formatDS(v);
      expect(s.length).toBeLessThanOrEqual(16);
      expect(Math.abs(Number(s) - v)).toBeLessThanOrEqual(Math.max(1e-12, Math.abs(v) * 1e-12));
    }
    expect(() => formatDS(Number.NaN)).toThrow(RangeError);
  });

  it("derives 2.25 UIDs: digits only, no leading zeros, at most 64 characters, deterministic", () => {
    const a = uidFromHash("x", "y");
    expect(a).toMatch(/^2\.25\.[1-9]\d*$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(uidFromHash("x", "y")).toBe(a);
    expect(uidFromHash("x", "z")).not.toBe(a);
    expect(uidFromHash("xy")).not.toBe(uidFromHash("x", "y"));
  });

  it("refuses volumes it cannot represent faithfully", async () => {
    const f32: Volume = { ...AXIAL, data: new Float32Array(20 * 14 * 5) };
    await expect(writeCase(f32)).rejects.toThrow(TypeError);
    const low = patterned(AXIAL);
    low.data[3] = -2000;
    await expect(writeCase(low, { rescale: "unsigned" })).rejects.toThrow(/-2000 HU/);
    const skew: Volume = { ...patterned(AXIAL), direction: [1, 0.2, 0, 0, 1, 0, 0, 0, 1] };
    await expect(writeCase(skew)).rejects.toThrow(/orthonormal/);
    const short: Volume = { ...AXIAL, data: new Int16Array(5) };
    await expect(writeCase(short)).rejects.toThrow(RangeError);
  });

  it("says clearly when JPEG Lossless needs dcmtk and dcmcjpeg is missing", async () => {
    const saved = process.env.PATH;
    process.env.PATH = join(work, "no-tools-here");
    try {
      const err = await writeCase(patterned(AXIAL), { transferSyntax: "jpeg-lossless" }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EncoderUnavailable);
      expect(String((err as Error).message)).toMatch(/dcmcjpeg/);
    } finally {
      process.env.PATH = saved;
    }
  });

  it("leaves no partial zip behind when encoding fails", async () => {
    const saved = process.env.PATH;
    process.env.PATH = join(work, "no-tools-here");
    const zip = join(work, "failed", "series.zip");
    try {
      await expect(
        writeCtSeriesToZip(patterned(AXIAL), zip, {
          identity: IDENTITY,
          uidSeed: "z",
          transferSyntax: "jpeg-lossless",
        }),
      ).rejects.toBeInstanceOf(EncoderUnavailable);
    } finally {
      process.env.PATH = saved;
    }
    expect(readdirSync(join(work, "failed"))).toEqual([]);
  });
});

// Guard against a vacuous pass: a damaged file must make the dcmdump check fail.
describe.skipIf(!HAS_DCMDUMP)("the dcmdump check itself", () => {
  it("fails on a truncated file", async () => {
    const dir = await writeCase(patterned(AXIAL));
    const f = join(dir, "IM000001.dcm");
    const bytes = readFileSync(f);
    const cut = join(work, "cut.dcm");
    // Cut inside Pixel Data: the header parses, the value is short.
    writeFileSync(cut, bytes.subarray(0, bytes.length - 101));
    const r = spawnSync("dcmdump", [cut], { encoding: "utf8" });
    expect(r.status !== 0 || /^[EF]:/m.test(r.stderr), r.stderr).toBe(true);
  });
});
