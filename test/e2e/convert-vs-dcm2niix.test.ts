/**
 * `deepsc convert` against dcm2niix, the field's reference converter, on generated series covering the
 * geometry and encoding cases that break converters: ascending and descending z, an oblique orientation,
 * 1.0 / 1.25 / 5 mm slices, with and without rescale slope/intercept, JPEG-lossless and RLE compression,
 * and a zipped series. Both outputs are read by nibabel (an independent reader), reoriented to canonical
 * RAS and compared: HU voxel for voxel, affines within 1e-3 mm. Also the real 3-slice GE series.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { PhantomOptions } from "../../core/phantom/options.js";
import { runPhantom } from "../../core/phantom/run.js";
import { deepsc } from "../helpers/cli.js";
import { corpusPath } from "../helpers/corpus.js";
import { python, run } from "../helpers/tools.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-dcm2niix-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const COMPARE = resolve(import.meta.dirname, "../helpers/compare_nifti.py");

interface Comparison {
  shape_a: number[];
  shape_b: number[];
  max_voxel_diff: number | null;
  max_affine_diff: number;
  padding_voxels?: number;
  padding_mismatch?: number;
}

function dcm2niix(folder: string, name: string): string {
  const out = join(work, `${name}-dcm2niix`);
  mkdirSync(out, { recursive: true });
  run("dcm2niix", ["-z", "n", "-b", "n", "-f", "ref", "-o", out, folder]);
  const files = readdirSync(out).filter((f) => f.endsWith(".nii"));
  expect(files, `dcm2niix made ${files.join(", ")}`).toHaveLength(1);
  return join(out, files[0]!);
}

/**
 * Our output is a plain .nii by default: deepsc convert streams those slice by slice into the file (when the
 * headers guarantee int16 HU); a .nii.gz goes through the in-memory volume, so both writers are compared.
 */
function convertAndCompare(
  input: string,
  dicomFolder: string,
  name: string,
  extra: string[] = [],
  ext: ".nii" | ".nii.gz" = ".nii",
): Comparison {
  const ours = join(work, `${name}${ext}`);
  const r = deepsc(["convert", input, ours, "--quiet"]);
  expect(r.code, r.stderr).toBe(0);
  const reference = dcm2niix(dicomFolder, name);
  return JSON.parse(python(COMPARE, [ours, reference, ...extra])) as Comparison;
}

const CASES: Array<{ name: string; opts: Partial<PhantomOptions>; ext?: ".nii.gz" }> = [
  { name: "ascending-1.25mm", opts: { sliceThickness: 1.25, slices: 32 } },
  {
    name: "descending-5mm",
    opts: { sliceThickness: 5, slices: 24, zDirection: "descending" },
    ext: ".nii.gz",
  },
  {
    name: "oblique-1mm",
    opts: { sliceThickness: 1, slices: 32, orientation: { rotateXDeg: 12, rotateYDeg: -8 } },
  },
  { name: "signed-no-rescale", opts: { rescale: "none", slices: 20, sliceThickness: 2.5 } },
  { name: "signed-intercept0", opts: { rescale: "signed", slices: 20, sliceThickness: 2.5 } },
  { name: "jpeg-lossless", opts: { transferSyntax: "jpeg-lossless", slices: 20, sliceThickness: 2.5 } },
  { name: "rle-descending", opts: { transferSyntax: "rle", slices: 20, zDirection: "descending" } },
  { name: "big-endian", opts: { transferSyntax: "explicit-be", slices: 16 } },
];

describe("deepsc convert agrees with dcm2niix", () => {
  for (const { name, opts, ext } of CASES) {
    it(`on a generated series: ${name}${ext ? ` (${ext})` : ""}`, async () => {
      const out = join(work, name);
      await runPhantom({ class: "covid", seed: 11, size: 192, out, format: "dicom", ...opts });
      const folder = join(out, "dicom");
      const cmp = convertAndCompare(folder, folder, name, [], ext);
      expect(cmp.shape_a).toEqual(cmp.shape_b);
      expect(cmp.max_voxel_diff).toBe(0);
      expect(cmp.max_affine_diff).toBeLessThan(1e-3);
    });
  }

  it("on a zipped 512x512 series (convert reads the zip, dcm2niix the same files unzipped)", async () => {
    const zipped = join(work, "zipped");
    const plain = join(work, "zipped-plain");
    const opts = { class: "cap", seed: 5, size: 512, slices: 16, sliceThickness: 5 } as const;
    await runPhantom({ ...opts, out: zipped, format: "zip" });
    await runPhantom({ ...opts, out: plain, format: "dicom" });
    const cmp = convertAndCompare(join(zipped, "series.zip"), join(plain, "dicom"), "zipped");
    expect(cmp.shape_a).toEqual([512, 512, 16]);
    expect(cmp.max_voxel_diff).toBe(0);
    expect(cmp.max_affine_diff).toBeLessThan(1e-3);
  });

  it("on the real GE 3-slice CT of the corpus (padding outside the field of view becomes air)", () => {
    const folder = corpusPath("dicom/real/ct-3slice");
    // PixelPaddingValue -2000 with intercept -1024: dcm2niix keeps -3024 HU; we map padding to -1024 (air).
    const cmp = convertAndCompare(folder, folder, "ct-3slice", ["--padding=-1024:-3024"]);
    expect(cmp.shape_a).toEqual(cmp.shape_b);
    expect(cmp.padding_voxels).toBeGreaterThan(1000);
    expect(cmp.padding_mismatch).toBe(0);
    expect(cmp.max_voxel_diff).toBe(0);
    expect(cmp.max_affine_diff).toBeLessThan(1e-3);
  });
});
