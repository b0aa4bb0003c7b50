/**
 * Decoder conformance against the shared corpus (../shared/corpus/MANIFEST.tsv). Rows are read from the
 * manifest, so new rows are covered without code changes:
 *   decode=ref / decode=NAME      identical stored pixel values to NAME (lossless)
 *   decode~NAME maxdiff<=N        every stored value within N of NAME
 *   decode~NAME lossy             close to NAME: PSNR >= 30 dB after removing a constant offset (reported)
 *   decode ok (HU plausible)      decodes; "HU plausible" adds an air peak test
 *   reject:A|B, reject (any code), parse ok  (single DICOM files) parse without crashing into a header
 *                                 that the validator rejects (NOT_CT) or an InputRejected with a listed code
 * Where pydicom can decode a file (native, RLE, JPEG 2000 through Pillow), its stored values and key header
 * fields must equal ours exactly.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REASON_CODES } from "../../../core/contracts/reason-codes.js";
import { decodeFrameHu, decodeFrameStored } from "../../../core/dicom/decode-pixels.js";
import type { DicomHeader } from "../../../core/dicom/header.js";
import { parseDicomHeader } from "../../../core/dicom/parse-header.js";
import { isCtSopClass } from "../../../core/dicom/sop-classes.js";
import { InputRejected } from "../../../core/errors.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
const MANIFEST = path.join(CORPUS, "MANIFEST.tsv");
const haveCorpus = existsSync(MANIFEST);

interface Row {
  file: string;
  what: string;
  expect: string;
}

function readManifest(): Row[] {
  if (!haveCorpus) return [];
  const [head, ...lines] = readFileSync(MANIFEST, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const cols = head!.split("\t");
  const at = (name: string) => cols.indexOf(name);
  return lines.map((l) => {
    const f = l.split("\t");
    return { file: f[at("file")]!, what: f[at("what")] ?? "", expect: (f[at("expect")] ?? "").trim() };
  });
}

const rows = readManifest();
const isDicomRow = (r: Row) => r.file.startsWith("dicom/") || r.file.startsWith("seg/");
const baseName = (file: string) => path.basename(file).replace(/\.dcm$/, "");
const decodeRows = rows.filter((r) => isDicomRow(r) && r.expect.startsWith("decode"));
/** Single-file rejection rows: a reject/parse expectation that is not about a whole series. */
const rejectRows = rows.filter(
  (r) => isDicomRow(r) && !/^(series|see )/.test(r.expect) && /(^|\s)(reject|parse ok)/.test(r.expect),
);

/** `decode=NAME` / `decode~NAME`: the row named NAME in the same folder, or that group's `decode=ref` row. */
function resolveReference(row: Row, name: string): Row {
  const dir = path.dirname(row.file);
  const sameDir = rows.filter((r) => path.dirname(r.file) === dir);
  const exact = sameDir.find((r) => baseName(r.file) === name);
  if (exact) return exact;
  const group = sameDir.find((r) => r.expect === "decode=ref" && baseName(r.file).startsWith(`${name}_`));
  if (!group) throw new Error(`${row.file}: reference ${name} not found in ${dir}`);
  return group;
}

const bytesOf = (file: string) => new Uint8Array(readFileSync(path.join(CORPUS, file)));
const headerOf = (file: string): { bytes: Uint8Array; header: DicomHeader } => {
  const bytes = bytesOf(file);
  return { bytes, header: parseDicomHeader(bytes, file, bytes.length) };
};

async function allStored(
  file: string,
): Promise<{ header: DicomHeader; frames: Float64Array[]; warnings: string[] }> {
  const { bytes, header } = headerOf(file);
  const frames: Float64Array[] = [];
  const warnings = new Set<string>();
  for (let f = 0; f < header.numberOfFrames; f++) {
    const r = await decodeFrameStored(bytes, header, f);
    frames.push(r.stored);
    for (const w of r.warnings) warnings.add(w.code);
  }
  return { header, frames, warnings: [...warnings] };
}

async function allHu(file: string): Promise<Float32Array> {
  const { bytes, header } = headerOf(file);
  const n = header.rows * header.columns;
  const out = new Float32Array(n * header.numberOfFrames);
  for (let f = 0; f < header.numberOfFrames; f++) await decodeFrameHu(bytes, header, f, out, f * n);
  return out;
}

/** Share of voxels in the air band [-1100, -900] HU: CT of a body has a clear air peak there. */
function airFraction(hu: ArrayLike<number>): number {
  let air = 0;
  for (let i = 0; i < hu.length; i++) if (hu[i]! >= -1100 && hu[i]! <= -900) air++;
  return air / hu.length;
}
const MIN_AIR_FRACTION = 0.02;
const MIN_LOSSY_PSNR_DB = 30;

function differences(a: Float64Array, b: Float64Array) {
  const d = new Float64Array(a.length);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < a.length; i++) {
    d[i] = a[i]! - b[i]!;
    min = Math.min(min, b[i]!);
    max = Math.max(max, b[i]!);
  }
  const sorted = Float64Array.from(d).sort();
  const offset = sorted[sorted.length >> 1]!;
  let maxAbs = 0;
  let se = 0;
  for (const v of d) {
    maxAbs = Math.max(maxAbs, Math.abs(v));
    se += (v - offset) ** 2;
  }
  const rmse = Math.sqrt(se / d.length);
  const psnr = rmse === 0 ? Number.POSITIVE_INFINITY : 20 * Math.log10((max - min) / rmse);
  return { maxAbs, offset, psnr, differing: d.filter((v) => v !== 0).length };
}

// ---------------------------------------------------------------------------------------------------------
// pydicom as an independent reader (optional).

const PYDICOM_SCRIPT = `
import json, os, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, pydicom
out = sys.argv[1]
result = {}
for i, f in enumerate(sys.argv[2:]):
    r = {}
    try:
        ds = pydicom.dcmread(f)
        g = lambda k: ds.get(k)
        r["rows"] = int(ds.Rows); r["columns"] = int(ds.Columns)
        r["bitsStored"] = int(ds.BitsStored); r["pixelRepresentation"] = int(ds.PixelRepresentation)
        r["frames"] = int(g("NumberOfFrames") or 1)
        if g("ImagePositionPatient") is not None: r["position"] = [float(v) for v in ds.ImagePositionPatient]
        if g("RescaleSlope") is not None: r["slope"] = float(ds.RescaleSlope)
        if g("RescaleIntercept") is not None: r["intercept"] = float(ds.RescaleIntercept)
        try:
            a = ds.pixel_array.astype(np.float64)
            a.tofile(os.path.join(out, "%d.f64" % i))
            r["pixels"] = True
        except Exception as e:
            r["pixelError"] = type(e).__name__ + ": " + str(e)[:200]
    except Exception as e:
        r["error"] = type(e).__name__ + ": " + str(e)[:200]
    result[f] = r
json.dump(result, open(os.path.join(out, "result.json"), "w"))
`;

interface PydicomResult {
  rows?: number;
  columns?: number;
  bitsStored?: number;
  pixelRepresentation?: number;
  frames?: number;
  position?: number[];
  slope?: number;
  intercept?: number;
  pixels?: boolean;
  pixelError?: string;
  error?: string;
  data?: Float64Array;
}

/** dcmtk's decompressor for each compressed transfer syntax (its output is then read as native). */
const DCMTK_DECODERS: Record<string, string> = {
  "1.2.840.10008.1.2.4.50": "dcmdjpeg",
  "1.2.840.10008.1.2.4.51": "dcmdjpeg",
  "1.2.840.10008.1.2.4.57": "dcmdjpeg",
  "1.2.840.10008.1.2.4.70": "dcmdjpeg",
  "1.2.840.10008.1.2.4.80": "dcmdjpls",
  "1.2.840.10008.1.2.4.81": "dcmdjpls",
  "1.2.840.10008.1.2.5": "dcmdrle",
};

const haveTool = (tool: string) => {
  try {
    execFileSync(tool, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const havePydicom = (() => {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import pydicom, numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(!haveCorpus)("corpus: decode expectations", () => {
  it("finds decode rows in the manifest", () => {
    expect(decodeRows.length).toBeGreaterThan(10);
  });

  for (const row of decodeRows) {
    it(`${row.file}: ${row.expect}`, async () => {
      const exact = /^decode=(\S+)/.exec(row.expect);
      const close = /^decode~(\S+)/.exec(row.expect);
      const ours = await allStored(row.file);
      const { header } = ours;
      expect(ours.frames).toHaveLength(header.numberOfFrames);

      if (exact && exact[1] !== "ref") {
        const ref = await allStored(resolveReference(row, exact[1]!).file);
        expect([header.rows, header.columns, header.numberOfFrames]).toEqual([
          ref.header.rows,
          ref.header.columns,
          ref.header.numberOfFrames,
        ]);
        if (ref.header.lossy && !header.lossy) {
          // The reference itself went through lossy compression (LossyImageCompression 01) while this file
          // did not: identical values are impossible by construction, so compare as lossy and say so.
          for (let f = 0; f < ours.frames.length; f++) {
            const d = differences(ours.frames[f]!, ref.frames[f]!);
            console.warn(
              `${row.file}: reference ${exact[1]} is flagged LossyImageCompression=01 but this file is not; ` +
                `compared as lossy: max |diff| ${d.maxAbs}, PSNR ${d.psnr.toFixed(1)} dB`,
            );
            expect(d.psnr).toBeGreaterThanOrEqual(MIN_LOSSY_PSNR_DB);
          }
        } else {
          for (let f = 0; f < ours.frames.length; f++) {
            const d = differences(ours.frames[f]!, ref.frames[f]!);
            expect(d.differing, `frame ${f}: ${d.differing} values differ, max ${d.maxAbs}`).toBe(0);
          }
          const sameRescale = header.frames.every(
            (fi, i) =>
              fi.rescaleSlope === ref.header.frames[i]?.rescaleSlope &&
              fi.rescaleIntercept === ref.header.frames[i]?.rescaleIntercept,
          );
          if (sameRescale && header.pixelPaddingValue === ref.header.pixelPaddingValue) {
            const a = await allHu(row.file);
            const b = await allHu(resolveReference(row, exact[1]!).file);
            let differing = 0;
            for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
            expect(differing, "HU values differing from the reference").toBe(0);
          }
        }
      }

      if (close) {
        const ref = await allStored(resolveReference(row, close[1]!).file);
        const bound = /maxdiff<=(\d+)/.exec(row.expect);
        for (let f = 0; f < ours.frames.length; f++) {
          const d = differences(ours.frames[f]!, ref.frames[f]!);
          console.info(
            `${row.file} frame ${f}: max |diff| ${d.maxAbs}, median offset ${d.offset}, PSNR ${d.psnr.toFixed(1)} dB`,
          );
          if (bound) expect(d.maxAbs).toBeLessThanOrEqual(Number(bound[1]));
          else {
            if (d.offset !== 0)
              console.warn(
                `${row.file} frame ${f}: stored values are offset by ${d.offset} from ${close[1]} with the same rescale; ` +
                  "the file's pixels are shifted (dcmtk's dcmdjpeg decodes it the same way)",
              );
            expect(d.psnr).toBeGreaterThanOrEqual(MIN_LOSSY_PSNR_DB);
          }
        }
      }

      if (/HU plausible/.test(row.expect)) {
        const fraction = airFraction(await allHu(row.file));
        expect(fraction, `air fraction ${fraction.toFixed(3)}`).toBeGreaterThanOrEqual(MIN_AIR_FRACTION);
      }
    });
  }
});

describe.skipIf(!haveCorpus)("corpus: single-file rejections", () => {
  const documented = new Set(Object.keys(REASON_CODES));

  /** The validator rejects NOT_CT from modality/SOP class; this is the same rule, seen from the header. */
  const isNotCt = (h: DicomHeader) =>
    (h.modality !== undefined && h.modality !== "CT") ||
    (h.sopClassUid !== undefined && !isCtSopClass(h.sopClassUid)) ||
    (h.modality === undefined && h.sopClassUid === undefined);

  for (const row of rejectRows) {
    it(`${row.file}: ${row.expect}`, async () => {
      const listed = /reject:([A-Z_|]+)/.exec(row.expect)?.[1]?.split("|") ?? [];
      const anyCode = /reject \(any code\)/.test(row.expect) || listed.length === 0;
      const mustParse = /^parse ok/.test(row.expect);
      const bytes = bytesOf(row.file);
      let header: DicomHeader | undefined;
      try {
        header = parseDicomHeader(bytes, row.file, bytes.length);
      } catch (e) {
        if (!(e instanceof InputRejected)) throw e;
        const codes = e.reasons.map((r) => r.code);
        expect(mustParse, `${row.file} must parse but was rejected ${codes}`).toBe(false);
        for (const c of codes) {
          expect(documented.has(c)).toBe(true);
          if (!anyCode) expect(listed).toContain(c);
        }
        return;
      }
      // A header: decoding (if there are pixels) must end in pixels or a documented rejection, never a crash.
      let decodeCodes: string[] = [];
      if (header.pixelData) {
        try {
          await decodeFrameStored(bytes, header, 0);
        } catch (e) {
          if (!(e instanceof InputRejected)) throw e;
          decodeCodes = e.reasons.map((r) => r.code);
        }
      }
      if (anyCode) return;
      const explained =
        (listed.includes("NOT_CT") && isNotCt(header)) || decodeCodes.some((c) => listed.includes(c));
      expect(
        explained,
        `header modality ${header.modality} sop ${header.sopClassUid}, decode ${decodeCodes}`,
      ).toBe(true);
    });
  }
});

describe.skipIf(!haveCorpus)("corpus: cross-check with pydicom", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "deepsc-pydicom-"));
  const files = decodeRows.map((r) => r.file);
  const results: Record<string, PydicomResult> = {};
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(() => {
    if (!havePydicom) return;
    execFileSync("/usr/bin/python3", ["-c", PYDICOM_SCRIPT, dir, ...files.map((f) => path.join(CORPUS, f))], {
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 120_000,
    });
    const raw = JSON.parse(readFileSync(path.join(dir, "result.json"), "utf8")) as Record<
      string,
      PydicomResult
    >;
    files.forEach((f, i) => {
      const r = raw[path.join(CORPUS, f)] ?? { error: "missing" };
      if (r.pixels) r.data = new Float64Array(readFileSync(path.join(dir, `${i}.f64`)).buffer.slice(0));
      results[f] = r;
    });
  }, 180_000);

  it.skipIf(!havePydicom)("pydicom decoded the uncompressed references", () => {
    const refs = decodeRows.filter((r) => r.expect === "decode=ref").map((r) => r.file);
    expect(refs.length).toBeGreaterThan(0);
    for (const f of refs)
      expect(results[f]?.pixels, `${f}: ${results[f]?.pixelError ?? results[f]?.error}`).toBe(true);
  });

  for (const file of files) {
    it.skipIf(!havePydicom)(`${file}: header and stored pixels equal pydicom's`, async (ctx) => {
      const py = results[file];
      if (!py || py.error) return ctx.skip(`pydicom cannot read it: ${py?.error}`);
      const { header } = headerOf(file);
      expect([
        header.rows,
        header.columns,
        header.bitsStored,
        header.pixelRepresentation,
        header.numberOfFrames,
      ]).toEqual([py.rows, py.columns, py.bitsStored, py.pixelRepresentation, py.frames]);
      if (py.position) expect(header.frames[0]?.position).toEqual(py.position);
      if (py.slope !== undefined) expect(header.frames[0]?.rescaleSlope).toBe(py.slope);
      if (py.intercept !== undefined) expect(header.frames[0]?.rescaleIntercept).toBe(py.intercept);
      if (!py.data) return ctx.skip(`pydicom has no decoder for it here (${py.pixelError})`);
      const ours = await allStored(file);
      const n = header.rows * header.columns;
      for (let f = 0; f < header.numberOfFrames; f++) {
        const theirs = py.data.subarray(f * n, (f + 1) * n);
        const d = differences(ours.frames[f]!, Float64Array.from(theirs));
        expect(d.differing, `frame ${f}: ${d.differing} values differ from pydicom, max ${d.maxAbs}`).toBe(0);
      }
    });
  }
});

describe.skipIf(!haveCorpus)("corpus: cross-check with dcmtk", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "deepsc-dcmtk-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Only compressed rows: native ones are already what dcmtk would write.
  const compressed = decodeRows.flatMap((row) => {
    const tool = DCMTK_DECODERS[headerOf(row.file).header.transferSyntax];
    return tool ? [{ row, tool }] : [];
  });
  for (const { row, tool } of compressed) {
    it(`${row.file}: stored pixels equal ${tool}'s`, async (ctx) => {
      if (!haveTool(tool)) return ctx.skip(`${tool} (dcmtk) is not installed`);
      const out = path.join(dir, `${baseName(row.file)}.dcm`);
      execFileSync(tool, [path.join(CORPUS, row.file), out], { stdio: "ignore" });
      const ours = await allStored(row.file);
      const bytes = new Uint8Array(readFileSync(out));
      const theirs = parseDicomHeader(bytes, out, bytes.length);
      expect(theirs.numberOfFrames).toBe(ours.header.numberOfFrames);
      for (let f = 0; f < theirs.numberOfFrames; f++) {
        const d = differences(ours.frames[f]!, (await decodeFrameStored(bytes, theirs, f)).stored);
        expect(d.differing, `frame ${f}: ${d.differing} values differ from ${tool}, max ${d.maxAbs}`).toBe(0);
      }
    });
  }
});
