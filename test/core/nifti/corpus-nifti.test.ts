/**
 * Every nifti/ row of ../shared/corpus/MANIFEST.tsv, checked against its `expect` column (read from the
 * manifest, so new rows are covered without code changes), and every readable file cross-checked with
 * nibabel: same RAS affine (1e-4) and the same scaled voxel values.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { GeometrySchema, type Volume } from "../../../core/contracts/volume.js";
import { isInputRejected } from "../../../core/errors.js";
import { column, norm, shearAngleDeg, voxelToRas } from "../../../core/geometry/affine.js";
import { decodeNiftiHeader } from "../../../core/nifti/header.js";
import { inspectNifti, readNifti } from "../../../core/nifti/read.js";
import { checkHuPlausible } from "../../../core/volume/hu-check.js";
import { CORPUS, fileEntry, hasNibabel, type ManifestRow, python, readManifest } from "./helpers.js";

/**
 * Rows where this reader knowingly differs from the manifest, each with its reason. The brief for the reader
 * says a dim[4] > 1 is NOT_A_VOLUME; nifti2_example holds two time points (dim = [4, 32, 20, 12, 2]).
 * Its NIfTI-2 header is still decoded and its geometry cross-checked against nibabel below.
 */
const DEVIATIONS: Record<string, { expect: string; why: string }> = {
  "nifti/nifti2_example.nii.gz": {
    expect: "reject:NOT_A_VOLUME",
    why: "4-D with dim[4] = 2 (two volumes): NOT_A_VOLUME by the reader's contract, although the manifest says 'read ok'",
  },
};

interface Expectation {
  read: boolean;
  /** Codes the reader (or checkHuPlausible for HU_IMPLAUSIBLE) must give; "any" for any documented code. */
  reject?: string[] | "any";
  huPlausible?: boolean;
  fallback: boolean;
  sformPreferred: boolean;
  scaled: boolean;
  tilt: boolean;
  oblique: boolean;
  exactAffine: boolean;
}

function parseExpect(text: string): Expectation {
  const codes = /reject:([A-Z_|]+)/.exec(text)?.[1]?.split("|");
  const e: Expectation = {
    read: /^read ok/.test(text),
    fallback: /fallback geometry/.test(text),
    sformPreferred: /sform preferred/.test(text),
    scaled: /with scaling/.test(text),
    tilt: /GANTRY_TILT/.test(text),
    oblique: /oblique affine/.test(text),
    exactAffine: /affine exactly as nibabel/.test(text),
  };
  if (codes !== undefined) e.reject = codes;
  else if (/reject \(any code\)/.test(text)) e.reject = "any";
  // "reject (too small)" is the analysis' slice-count rule (core/validation), not this reader's business.
  if (/HU plausible/.test(text) && !codes?.includes("HU_IMPLAUSIBLE")) e.huPlausible = true;
  if (codes?.includes("HU_IMPLAUSIBLE")) e.huPlausible = false;
  return e;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isInputRejected(e)) return e.reasons[0]!.code;
    throw e;
  }
  return "(accepted)";
}

const rows = readManifest().filter((r) => r.file.startsWith("nifti/"));
const present = rows.filter((r) => existsSync(resolve(CORPUS, r.file)));
const absent = rows.filter((r) => !existsSync(resolve(CORPUS, r.file)));
let checks = 0;
let checkedRows = 0;
const read = new Map<string, Volume>();

describe("corpus NIfTI rows (MANIFEST.tsv)", () => {
  it("lists NIfTI rows and reports any absent file", () => {
    expect(rows.length).toBeGreaterThanOrEqual(18);
    if (absent.length > 0)
      console.warn(
        `corpus files named in MANIFEST.tsv but absent, skipped: ${absent.map((r) => r.file).join(", ")}`,
      );
    expect(present.length).toBeGreaterThan(0);
  });

  it.each(present.map((r) => [r.file, r] as [string, ManifestRow]))("%s", async (file, row) => {
    checkedRows++;
    const deviation = DEVIATIONS[file];
    const exp = parseExpect(deviation?.expect ?? row.expect);
    const path = resolve(CORPUS, file);
    if (exp.reject !== undefined && !(exp.reject.length === 1 && exp.reject[0] === "HU_IMPLAUSIBLE")) {
      // Header-level rejections: both the header-only and the full read must give the code.
      const a = await rejection(inspectNifti(fileEntry(path)));
      const b = await rejection(readNifti(fileEntry(path)));
      for (const got of [a, b]) {
        if (exp.reject === "any") expect(got).not.toBe("(accepted)");
        else expect(exp.reject).toContain(got);
        checks++;
      }
      return;
    }
    expect(exp.read).toBe(true);
    const inspected = await inspectNifti(fileEntry(path));
    const { volume, warnings } = await readNifti(fileEntry(path));
    checks += 2;
    read.set(file, volume);
    GeometrySchema.parse(volume);
    expect(volume.data.length).toBe(volume.dims[0] * volume.dims[1] * volume.dims[2]);
    for (let c = 0; c < 3; c++) expect(norm(column(volume.direction, c))).toBeCloseTo(1, 9);
    // Header-only and full reads agree on the geometry.
    expect(inspected.geometry).toEqual({
      dims: volume.dims,
      spacing: volume.spacing,
      origin: volume.origin,
      direction: volume.direction,
    });
    expect(warnings.some((w) => w.code === "FALLBACK_GEOMETRY")).toBe(exp.fallback);
    if (exp.sformPreferred) expect(inspected.header.geometrySource).toBe("sform");
    if (exp.scaled) {
      expect(inspected.header.scaled).toBe(true);
      expect(volume.data).toBeInstanceOf(Float32Array);
    }
    if (exp.tilt) expect(shearAngleDeg(volume.direction)).toBeGreaterThan(1);
    if (exp.oblique) {
      // At least one axis leans more than 5 degrees off every cardinal direction.
      const maxCos = [0, 1, 2].map((c) => Math.max(...column(volume.direction, c).map(Math.abs)));
      expect(Math.min(...maxCos)).toBeLessThan(Math.cos((5 * Math.PI) / 180));
    }
    if (exp.huPlausible !== undefined) {
      const hu = checkHuPlausible(volume);
      expect(hu.ok).toBe(exp.huPlausible);
      if (!hu.ok) expect(hu.reason.code).toBe("HU_IMPLAUSIBLE");
      checks++;
    }
  });

  it("checked every present row, more than 20 checks in all", () => {
    // Runs after the rows above (tests in a file run in order). 18 rows today; each makes at least two checks
    // (header-only and full read).
    expect(checks).toBeGreaterThan(20);
    expect(checkedRows).toBe(present.length);
  });
});

const nibabel = hasNibabel();
if (!nibabel) console.warn("python3-nibabel is missing: the nibabel cross-checks are SKIPPED");

interface NibabelFile {
  affine: number[][];
  shape: number[];
  zooms: number[];
  values: number[];
}

/** Affine, shape and scaled values at the given (i, j, k) of each file, as nibabel reads them. */
const NIBABEL_SCRIPT = `
import json, sys, nibabel as nib, numpy as np
req = json.loads(sys.argv[1])
out = {}
for path, idx in req.items():
    img = nib.load(path)
    vals = []
    if idx:
        d = np.asarray(img.get_fdata(dtype=np.float64))
        while d.ndim > 3: d = d[..., 0]
        vals = [float(d[i, j, k]) for i, j, k in idx]
    out[path] = {"affine": img.affine.tolist(), "shape": list(img.shape), "zooms": [float(z) for z in img.header.get_zooms()[:3]], "values": vals}
print(json.dumps(out))
`;

/** Corners, centre and a fixed pseudo-random spread of voxel indices. */
function sampleIndices(dims: number[]): [number, number, number][] {
  const [nx, ny, nz] = dims as [number, number, number];
  const out: [number, number, number][] = [
    [0, 0, 0],
    [nx - 1, ny - 1, nz - 1],
    [nx - 1, 0, 0],
    [0, ny - 1, 0],
    [0, 0, nz - 1],
    [nx >> 1, ny >> 1, nz >> 1],
  ];
  let s = 12345;
  const next = (n: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % n;
  };
  for (let t = 0; t < 40; t++) out.push([next(nx), next(ny), next(nz)]);
  return out;
}

describe.skipIf(!nibabel)("nibabel cross-check of corpus geometry and voxels", () => {
  it("matches nibabel's affine (1e-4) and scaled voxel values for every readable file", async () => {
    // Make sure the rows above ran (vitest runs describes in order within a file).
    expect(read.size).toBeGreaterThan(5);
    const req: Record<string, [number, number, number][]> = {};
    for (const [file, vol] of read) req[resolve(CORPUS, file)] = sampleIndices(vol.dims);
    const nib = python<Record<string, NibabelFile>>(NIBABEL_SCRIPT, [JSON.stringify(req)]);
    let compared = 0;
    for (const [file, vol] of read) {
      const n = nib[resolve(CORPUS, file)]!;
      expect(n.shape.slice(0, 3), file).toEqual(vol.dims);
      const ours = voxelToRas(vol);
      const header = (await inspectNifti(fileEntry(resolve(CORPUS, file)))).header;
      if (header.geometrySource === "fallback") {
        // nibabel falls back to Analyze's centred, x-flipped base affine; NIfTI "method 1" (followed here)
        // is diag(pixdim) at the origin. Voxel sizes must still agree.
        expect(
          vol.spacing.map((s) => +s.toFixed(6)),
          file,
        ).toEqual(n.zooms);
        expect(ours.slice(0, 12).filter((_, i) => i % 4 === 3)).toEqual([0, 0, 0]);
      } else {
        const flat = n.affine.flat();
        for (let i = 0; i < 16; i++)
          expect(Math.abs(ours[i]! - flat[i]!), `${file} affine[${i}]`).toBeLessThan(1e-4);
        compared++;
      }
      const idx = req[resolve(CORPUS, file)]!;
      idx.forEach(([i, j, k], t) => {
        const got = vol.data[i + vol.dims[0] * (j + vol.dims[1] * k)]!;
        const want = n.values[t]!;
        expect(Math.abs(got - want), `${file} voxel (${i},${j},${k})`).toBeLessThanOrEqual(
          1e-4 + 1e-6 * Math.abs(want),
        );
      });
    }
    expect(compared).toBeGreaterThanOrEqual(8);
  });

  it("standard_tiny.nii.gz: the affine is exactly nibabel's", () => {
    const file = "nifti/standard_tiny.nii.gz";
    const vol = read.get(file);
    expect(vol).toBeDefined();
    const n = python<Record<string, NibabelFile>>(NIBABEL_SCRIPT, [
      JSON.stringify({ [resolve(CORPUS, file)]: [] }),
    ]);
    const plusZero = (a: number[]) => a.map((v) => v + 0); // -0 and 0 are the same affine entry
    expect(plusZero(voxelToRas(vol!))).toEqual(plusZero(n[resolve(CORPUS, file)]!.affine.flat()));
    expect(plusZero(voxelToRas(vol!))).toEqual([1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
  });

  it("nifti2_example.nii.gz: the NIfTI-2 header decodes to nibabel's affine although the file is 4-D", async () => {
    const path = resolve(CORPUS, "nifti/nifti2_example.nii.gz");
    if (!existsSync(path)) return;
    const { gunzipSync } = await import("node:zlib");
    const { readFileSync } = await import("node:fs");
    const h = decodeNiftiHeader(gunzipSync(readFileSync(path)), "nifti2_example.nii.gz");
    expect(h.version).toBe(2);
    expect(h.dim.slice(0, 5)).toEqual([4, 32, 20, 12, 2]);
    const n = python<Record<string, NibabelFile>>(NIBABEL_SCRIPT, [JSON.stringify({ [path]: [] })]);
    const flat = n[path]!.affine.flat();
    for (let i = 0; i < 16; i++) expect(Math.abs(h.rasAffine[i]! - flat[i]!)).toBeLessThan(1e-4);
  });
});
