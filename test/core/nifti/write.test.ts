import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { Geometry, LabelVolume, Mat3, Vec3, Volume } from "../../../core/contracts/volume.js";
import { cross, fromColumns, normalize, shearAngleDeg, voxelToRas } from "../../../core/geometry/affine.js";
import { parseNiftiHeader, qformAffine } from "../../../core/nifti/header.js";
import { readNifti } from "../../../core/nifti/read.js";
import { encodeNifti, openNiftiSliceWriter, qformOf, writeNifti } from "../../../core/nifti/write.js";
import { bytesEntry, fileEntry, hasNibabel, python, ramp } from "./helpers.js";

/** Rotation about a unit axis by an angle (Rodrigues), row-major, columns are the rotated axes. */
function rotation(axis: Vec3, deg: number): Mat3 {
  const [x, y, z] = normalize(axis);
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  return [
    c + x * x * C,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    c + y * y * C,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    c + z * z * C,
  ];
}

const AXIAL: Geometry = {
  dims: [6, 5, 4],
  spacing: [0.75, 0.8, 2.5],
  origin: [-120.25, -99.5, -300.125],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
const OBLIQUE: Geometry = { ...AXIAL, direction: rotation([0.3, -0.5, 0.8], 23) };
/** Gantry tilt: the k axis leans 15 degrees towards y while i and j stay axial. */
const SHEARED: Geometry = {
  ...AXIAL,
  direction: fromColumns(
    [1, 0, 0],
    [0, 1, 0],
    [0, Math.sin((15 * Math.PI) / 180), Math.cos((15 * Math.PI) / 180)],
  ),
};
/** Left-handed grid (k reversed relative to i x j): needs qfac = -1. */
const LEFT: Geometry = { ...AXIAL, direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] };

const hu = (g: Geometry): Volume => ({
  ...g,
  data: Int16Array.from(ramp(g.dims[0] * g.dims[1] * g.dims[2], -1024, 3071)),
});

const f32 = (a: number[]) => a.map((v) => Math.fround(v));
const within = (a: number[], b: number[], tol: number, what = "") => {
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]!), `${what}[${i}] ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};

describe("encodeNifti header", () => {
  it("writes a little-endian NIfTI-1 with vox_offset 352, codes 1, mm units and unit scaling", () => {
    const bytes = encodeNifti(hu(AXIAL));
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect(dv.getInt32(0, true)).toBe(348);
    expect(String.fromCharCode(...bytes.subarray(344, 348))).toBe("n+1\0");
    expect(dv.getFloat32(108, true)).toBe(352);
    expect(bytes[123]).toBe(2);
    expect(dv.getInt16(252, true)).toBe(1);
    expect(dv.getInt16(254, true)).toBe(1);
    expect([dv.getFloat32(112, true), dv.getFloat32(116, true)]).toEqual([1, 0]);
    expect(Array.from(bytes.subarray(348, 352))).toEqual([0, 0, 0, 0]);
    expect(bytes.length).toBe(352 + 2 * 120);
    const h = parseNiftiHeader(bytes, "x.nii");
    expect(h.littleEndian).toBe(true);
    expect(h.datatypeName).toBe("int16");
    expect(h.dim.slice(0, 4)).toEqual([3, 6, 5, 4]);
    expect(h.pixdim.slice(1, 4)).toEqual(f32([0.75, 0.8, 2.5]));
  });

  it("puts only the given description in descrip, printable ASCII, at most 79 characters", () => {
    const text = (b: Uint8Array) => String.fromCharCode(...b.subarray(148, 228)).replace(/\0+$/, "");
    expect(text(encodeNifti(hu(AXIAL)))).toBe("DeepSC-COVID");
    expect(text(encodeNifti(hu(AXIAL), { description: "lesions v1 é\n" }))).toBe("lesions v1 ??");
    expect(text(encodeNifti(hu(AXIAL), { description: "x".repeat(200) })).length).toBe(79);
    expect(text(encodeNifti(hu(SHEARED)))).toMatch(/^DeepSC-COVID; qform 0: grid axes not orthogonal/);
  });

  it("refuses geometry NIfTI-1 cannot hold", () => {
    expect(() => encodeNifti({ ...hu(AXIAL), dims: [40000, 1, 1], data: new Int16Array(40000) })).toThrow(
      RangeError,
    );
    expect(() => encodeNifti({ ...hu(AXIAL), spacing: [0, 1, 1] })).toThrow(RangeError);
    expect(() => encodeNifti({ ...hu(AXIAL), origin: [Number.NaN, 0, 0] })).toThrow(RangeError);
  });
});

describe("round trip encodeNifti -> parse/read", () => {
  for (const [name, g] of [
    ["axial", AXIAL],
    ["oblique", OBLIQUE],
    ["sheared (gantry tilt)", SHEARED],
    ["left-handed", LEFT],
  ] as const) {
    it(`${name}: same dims, affine (float32 sform, 1e-6) and voxels`, async () => {
      const vol = hu(g);
      const bytes = encodeNifti(vol);
      const { volume, warnings } = await readNifti(bytesEntry(bytes));
      expect(warnings).toEqual([]);
      expect(volume.dims).toEqual(vol.dims);
      expect(volume.data).toBeInstanceOf(Int16Array);
      expect(Array.from(volume.data)).toEqual(Array.from(vol.data));
      // The sform is float32: exact to float32 rounding of the original, and within float32 precision of it.
      within(voxelToRas(volume), f32(voxelToRas(vol)), 1e-6, "sform");
      within(voxelToRas(volume), voxelToRas(vol), 3e-5, "original");
      expect(shearAngleDeg(volume.direction)).toBeCloseTo(shearAngleDeg(vol.direction), 4);
    });
  }

  it("stores scl_slope/scl_inter when asked, so readers see the scaled values", async () => {
    const data = Uint8Array.from(
      { length: AXIAL.dims[0] * AXIAL.dims[1] * AXIAL.dims[2] },
      (_, i) => (i * 37) % 256,
    );
    const bytes = encodeNifti({ ...AXIAL, data }, { scaling: { slope: 1 / 255, inter: 0 } });
    const { volume } = await readNifti(bytesEntry(bytes));
    expect(volume.data).toBeInstanceOf(Float32Array);
    expect(data.length).toBeGreaterThan(7);
    for (const [i, q] of data.entries()) expect(volume.data[i]).toBeCloseTo(q / 255, 6);
    expect(() => encodeNifti({ ...AXIAL, data }, { scaling: { slope: 0, inter: 0 } })).toThrow(RangeError);
  });

  it("the qform encodes the same rotation when the axes are orthonormal (incl. qfac -1)", () => {
    for (const g of [AXIAL, OBLIQUE, LEFT, { ...AXIAL, direction: rotation([0, 0, 1], 180) }]) {
      const bytes = encodeNifti(hu(g));
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      const quatern: Vec3 = [dv.getFloat32(256, true), dv.getFloat32(260, true), dv.getFloat32(264, true)];
      const qoffset: Vec3 = [dv.getFloat32(268, true), dv.getFloat32(272, true), dv.getFloat32(276, true)];
      const pixdim = Array.from({ length: 4 }, (_, i) => dv.getFloat32(76 + 4 * i, true));
      expect(pixdim[0]).toBe(g === LEFT ? -1 : 1);
      within(qformAffine(quatern, qoffset, pixdim)!, voxelToRas(g), 3e-5, "qform");
    }
  });

  it("a sheared grid has no qform (qform_code 0) and keeps its shear in the sform", () => {
    expect(qformOf(SHEARED.direction)).toHaveProperty("why");
    const bytes = encodeNifti(hu(SHEARED));
    const h = parseNiftiHeader(bytes, "x.nii");
    expect([h.qformCode, h.sformCode, h.geometrySource]).toEqual([0, 1, "sform"]);
  });

  it("label volumes as uint8, float volumes as float32, and int16 from float by rounding", async () => {
    const labels: LabelVolume = { ...OBLIQUE, data: Uint8Array.from(ramp(120, 0, 3)) };
    const l = await readNifti(bytesEntry(encodeNifti(labels)));
    expect(parseNiftiHeader(encodeNifti(labels), "l.nii").datatypeName).toBe("uint8");
    expect(Array.from(l.volume.data)).toEqual(Array.from(labels.data));

    const fl: Volume = { ...AXIAL, data: Float32Array.from(ramp(120, -1000, 1000, false)) };
    const f = await readNifti(bytesEntry(encodeNifti(fl)));
    expect(f.volume.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f.volume.data)).toEqual(Array.from(fl.data));

    const i = await readNifti(bytesEntry(encodeNifti(fl, { datatype: "int16" })));
    expect(Array.from(i.volume.data)).toEqual(Array.from(fl.data).map(Math.round));
  });

  it("refuses values the chosen datatype cannot hold instead of wrapping them", () => {
    const v: Volume = { ...AXIAL, data: new Float32Array(120).fill(40000) };
    expect(() => encodeNifti(v, { datatype: "int16" })).toThrow(RangeError);
    expect(() => encodeNifti(hu(AXIAL), { datatype: "uint8" })).toThrow(RangeError);
    expect(() =>
      encodeNifti({ ...AXIAL, data: new Float32Array(120).fill(Number.NaN) }, { datatype: "int16" }),
    ).toThrow(RangeError);
  });
});

describe("writeNifti", () => {
  const dir = mkdtempSync(join(tmpdir(), "nifti-write-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes .nii.gz (gzip) and .nii (plain) by extension, atomically, readable back", async () => {
    const vol = hu(OBLIQUE);
    for (const name of ["out.nii.gz", "out.nii"]) {
      const path = join(dir, name);
      await writeNifti(vol, path);
      const bytes = readFileSync(path);
      const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
      expect(gz).toBe(name.endsWith(".gz"));
      expect(Buffer.compare(gz ? gunzipSync(bytes) : bytes, Buffer.from(encodeNifti(vol)))).toBe(0);
      const { volume } = await readNifti(fileEntry(path));
      expect(Array.from(volume.data)).toEqual(Array.from(vol.data));
    }
    expect(readdirSync(dir).sort()).toEqual(["out.nii", "out.nii.gz"]); // no temporary files left
  });

  it("streams a volume larger than one chunk", async () => {
    const g: Geometry = { ...AXIAL, dims: [128, 128, 80] };
    const vol = hu(g);
    const path = join(dir, "big.nii.gz");
    await writeNifti(vol, path, { gzipLevel: 1 });
    const { volume } = await readNifti(fileEntry(path));
    expect(volume.data.length).toBe(128 * 128 * 80);
    expect(Buffer.compare(Buffer.from(volume.data.buffer), Buffer.from(vol.data.buffer))).toBe(0);
  });

  it("leaves neither a partial file nor an old file damaged when encoding fails", async () => {
    const path = join(dir, "keep.nii.gz");
    writeFileSync(path, "previous");
    const bad: Volume = { ...AXIAL, dims: [1024, 1024, 2], data: new Float32Array(1024 * 1024 * 2) };
    bad.data[1024 * 1024 * 2 - 1] = 1e9; // fails in the last chunk, after earlier chunks were written
    await expect(writeNifti(bad, path, { datatype: "int16" })).rejects.toThrow(RangeError);
    expect(readFileSync(path, "utf8")).toBe("previous");
    expect(readdirSync(dir).filter((f) => f.includes("keep"))).toEqual(["keep.nii.gz"]);
    await expect(writeNifti(hu(AXIAL), join(dir, "x.img"))).rejects.toThrow(/\.nii or \.nii\.gz/);
    expect(existsSync(join(dir, "x.img"))).toBe(false);
  });
});

describe("openNiftiSliceWriter", () => {
  const dir = mkdtempSync(join(tmpdir(), "nifti-slices-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const vol = () => {
    const v = hu(OBLIQUE);
    if (!(v.data instanceof Int16Array)) throw new Error("hu() gives int16");
    return v as Volume & { data: Int16Array };
  };
  const plane = OBLIQUE.dims[0] * OBLIQUE.dims[1];
  const sliceOf = (v: { data: Int16Array }, k: number) => v.data.slice(k * plane, (k + 1) * plane);

  it("writes slices in any order, then the header: the same bytes as writeNifti", async () => {
    const v = vol();
    const path = join(dir, "slices.nii");
    const w = await openNiftiSliceWriter(path);
    for (const k of [2, 0, 3, 1]) await w.write(k, sliceOf(v, k));
    expect(existsSync(path)).toBe(false); // not in place before commit
    await w.commit(v);
    await w.abort(); // after commit: nothing to remove, the file stays
    expect(Buffer.compare(readFileSync(path), Buffer.from(encodeNifti(v)))).toBe(0);
    expect(readdirSync(dir)).toEqual(["slices.nii"]);
  });

  it("refuses to commit a volume with a slice missing, and abort leaves nothing behind", async () => {
    const v = vol();
    const path = join(dir, "partial.nii");
    writeFileSync(path, "previous");
    const w = await openNiftiSliceWriter(path);
    for (const k of [0, 1, 3]) await w.write(k, sliceOf(v, k));
    await expect(w.commit(v)).rejects.toThrow(/3 slices written for a volume of 4/);
    await expect(w.write(2, new Int16Array(plane - 1))).rejects.toThrow(/does not fit/);
    await w.abort();
    expect(readFileSync(path, "utf8")).toBe("previous");
    expect(readdirSync(dir).filter((f) => f.includes("partial"))).toEqual(["partial.nii"]);
  });

  it("takes only a plain .nii", async () => {
    await expect(openNiftiSliceWriter(join(dir, "x.nii.gz"))).rejects.toThrow(/must end in \.nii/);
  });
});

describe.skipIf(!hasNibabel())("nibabel reads our files", () => {
  const dir = mkdtempSync(join(tmpdir(), "nifti-nib-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("with the same affine (sform and, where written, qform) and the same voxels", async () => {
    const cases = { axial: AXIAL, oblique: OBLIQUE, sheared: SHEARED, left: LEFT };
    const paths: Record<string, string> = {};
    for (const [name, g] of Object.entries(cases)) {
      paths[name] = join(dir, `${name}.nii.gz`);
      await writeNifti(hu(g), paths[name]!);
    }
    const nib = python<
      Record<string, { affine: number[][]; qform: number[][] | null; sum: number; v: number[] }>
    >(
      `
import json, sys, nibabel as nib, numpy as np
out = {}
for p in sys.argv[1:]:
    img = nib.load(p)
    q, code = img.get_qform(coded=True)
    d = np.asarray(img.dataobj)
    out[p] = {"affine": img.affine.tolist(), "qform": None if code == 0 else q.tolist(),
              "sum": float(d.sum()), "v": [float(d[0,0,0]), float(d[5,4,3]), float(d[2,3,1])]}
print(json.dumps(out))
`,
      Object.values(paths),
    );
    for (const [name, g] of Object.entries(cases)) {
      const n = nib[paths[name]!]!;
      const vol = hu(g);
      within(n.affine.flat(), voxelToRas(g), 3e-5, `${name} affine`);
      if (name === "sheared") expect(n.qform).toBeNull();
      else within(n.qform!.flat(), voxelToRas(g), 3e-5, `${name} qform`);
      expect(n.sum).toBe(Array.from(vol.data).reduce((a, b) => a + b, 0));
      const at = (i: number, j: number, k: number) => vol.data[i + 6 * (j + 5 * k)]!;
      expect(n.v).toEqual([at(0, 0, 0), at(5, 4, 3), at(2, 3, 1)]);
    }
    // Sanity: the oblique case really is oblique and right-handed.
    const d = OBLIQUE.direction;
    expect(cross([d[0], d[3], d[6]], [d[1], d[4], d[7]])[2]).toBeGreaterThan(0.5);
  });
});
