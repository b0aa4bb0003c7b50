import { describe, expect, it } from "vitest";
import { isInputRejected } from "../../../core/errors.js";
import { voxelToRas } from "../../../core/geometry/affine.js";
import {
  decodeNiftiHeader,
  type NiftiHeader,
  niftiGeometry,
  parseNiftiHeader,
  qformAffine,
} from "../../../core/nifti/header.js";
import { type BuildOptions, buildNifti, encodeValues } from "./helpers.js";

const tiny = (o: Partial<BuildOptions> = {}): Uint8Array =>
  buildNifti({
    dim: [3, 2, 3, 4],
    datatype: "int16",
    data: encodeValues(new Array(24).fill(0), "int16", o.littleEndian ?? true),
    ...o,
  });

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isInputRejected(e)) return e.reasons[0]!.code;
    throw e;
  }
  return "(accepted)";
}

const near = (a: number[], b: number[], tol = 1e-9) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]!), `entry ${i}: ${v} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  });
};

const SFORM = [0.9, 0.1, 0, -10.5, -0.1, 0.9, 0.2, 20.25, 0, -0.2, 2.5, 30.125];

describe("parseNiftiHeader: versions and byte order", () => {
  const variants: [string, Partial<BuildOptions>][] = [
    ["NIfTI-1 little endian", { version: 1, littleEndian: true }],
    ["NIfTI-1 big endian", { version: 1, littleEndian: false }],
    ["NIfTI-2 little endian", { version: 2, littleEndian: true }],
    ["NIfTI-2 big endian", { version: 2, littleEndian: false }],
  ];
  it.each(variants)("%s decodes the same fields", (_, v) => {
    const h = parseNiftiHeader(
      tiny({ ...v, sformCode: 2, srow: SFORM, slope: 2, inter: -1024, pixdim: [1, 0.9, 0.9, 2.5] }),
      "x.nii",
    );
    expect(h.version).toBe(v.version);
    expect(h.littleEndian).toBe(v.littleEndian);
    expect(h.sizeofHdr).toBe(v.version === 2 ? 540 : 348);
    expect(h.voxOffset).toBe(v.version === 2 ? 544 : 352);
    expect(h.dims).toEqual([2, 3, 4]);
    expect(h.datatypeName).toBe("int16");
    expect(h.bytesPerVoxel).toBe(2);
    expect(h.dataBytes).toBe(48);
    expect([h.sclSlope, h.sclInter, h.scaled]).toEqual([2, -1024, true]);
    expect(h.geometrySource).toBe("sform");
    // NIfTI-1 stores the sform as float32.
    near(h.rasAffine, [...SFORM, 0, 0, 0, 1], v.version === 2 ? 0 : 1e-5);
  });

  it("honours vox_offset past a header extension", () => {
    const ext = new Uint8Array(4 + 32);
    ext[0] = 1; // extension flag: one extension follows
    const h = parseNiftiHeader(tiny({ afterHeader: ext, voxOffset: 384 }), "x.nii");
    expect(h.voxOffset).toBe(384);
  });

  it("takes vox_offset 0 in a single file as 'right after the header' and rejects one inside the header", () => {
    expect(parseNiftiHeader(tiny({ voxOffset: 0 }), "x.nii").voxOffset).toBe(352);
    expect(parseNiftiHeader(tiny({ version: 2, voxOffset: 0 }), "x.nii").voxOffset).toBe(544);
    expect(codeOf(() => parseNiftiHeader(tiny({ voxOffset: 100 }), "x.nii"))).toBe("NOT_NIFTI");
    expect(codeOf(() => parseNiftiHeader(tiny({ voxOffset: -352 }), "x.nii"))).toBe("NOT_NIFTI");
    expect(codeOf(() => parseNiftiHeader(tiny({ voxOffset: Number.NaN }), "x.nii"))).toBe("NOT_NIFTI");
  });

  it("parses a .hdr of a pair (magic ni1) and marks it as not single-file", () => {
    const h = parseNiftiHeader(tiny({ magic: "ni1", voxOffset: 0 }), "x.hdr");
    expect(h.magic).toBe("ni1");
    expect(h.singleFile).toBe(false);
  });
});

describe("parseNiftiHeader: scaling", () => {
  it.each([
    ["slope 0", 0, 5, false],
    ["slope NaN", Number.NaN, 5, false],
    ["slope 1 inter 0", 1, 0, false],
    ["slope 1 inter -1024", 1, -1024, true],
    ["slope 7.109804 inter -1024", 7.109804, -1024, true],
  ])("%s", (_, slope, inter, scaled) => {
    const h = parseNiftiHeader(tiny({ slope, inter }), "x.nii");
    expect(h.scaled).toBe(scaled);
    if (!scaled) expect([h.sclSlope, h.sclInter]).toEqual([1, 0]);
    else expect(h.sclSlope).toBeCloseTo(slope, 5);
  });

  it("reads a NaN intercept with a valid slope as 0 and rejects infinite scaling", () => {
    const h = parseNiftiHeader(tiny({ slope: 2, inter: Number.NaN }), "x.nii");
    expect([h.sclSlope, h.sclInter]).toEqual([2, 0]);
    expect(codeOf(() => parseNiftiHeader(tiny({ slope: Number.POSITIVE_INFINITY }), "x.nii"))).toBe(
      "NOT_NIFTI",
    );
    expect(codeOf(() => parseNiftiHeader(tiny({ slope: 1, inter: -Infinity }), "x.nii"))).toBe("NOT_NIFTI");
  });
});

describe("parseNiftiHeader: geometry (sform > qform > fallback)", () => {
  // Rotation of 90 degrees about z: quaternion (a, b, c, d) = (cos 45, 0, 0, sin 45).
  const s45 = Math.SQRT1_2;
  const rotZ90 = {
    quatern: [0, 0, s45] as [number, number, number],
    qoffset: [5, -6, 7] as [number, number, number],
  };

  it("builds the qform from the quaternion, pixdim and offsets (hand-computed)", () => {
    const h = parseNiftiHeader(tiny({ qformCode: 1, ...rotZ90, pixdim: [1, 2, 3, 4] }), "x.nii");
    expect(h.geometrySource).toBe("qform");
    // R = [[0,-1,0],[1,0,0],[0,0,1]] times diag(2,3,4), translation (5,-6,7).
    near(h.rasAffine, [0, -3, 0, 5, 2, 0, 0, -6, 0, 0, 4, 7, 0, 0, 0, 1], 1e-6);
  });

  it("flips the third column when qfac = pixdim[0] = -1, and treats pixdim[0] = 0 as 1", () => {
    const neg = parseNiftiHeader(tiny({ qformCode: 1, ...rotZ90, pixdim: [-1, 2, 3, 4] }), "x.nii");
    near(neg.rasAffine, [0, -3, 0, 5, 2, 0, 0, -6, 0, 0, -4, 7, 0, 0, 0, 1], 1e-6);
    const zero = parseNiftiHeader(tiny({ qformCode: 1, ...rotZ90, pixdim: [0, 2, 3, 4] }), "x.nii");
    near(zero.rasAffine, [0, -3, 0, 5, 2, 0, 0, -6, 0, 0, 4, 7, 0, 0, 0, 1], 1e-6);
  });

  it("matches nifti1_io for a general rotation (quaternion renormalised when b^2+c^2+d^2 slightly exceeds 1)", () => {
    // b^2 + c^2 + d^2 = 1 + 1e-8: a is taken as 0 and (b, c, d) renormalised, a rotation of 180 degrees.
    const n = Math.sqrt(1 + 1e-8);
    const a = qformAffine([n, 0, 0], [0, 0, 0], [1, 1, 1, 1])!;
    near(a, [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1], 1e-12);
    expect(qformAffine([2, 0, 0], [0, 0, 0], [1, 1, 1, 1])).toBeUndefined();
  });

  it("prefers the sform when both codes are set", () => {
    const h = parseNiftiHeader(tiny({ qformCode: 1, sformCode: 4, srow: SFORM, ...rotZ90 }), "x.nii");
    expect(h.geometrySource).toBe("sform");
    near(h.rasAffine, [...SFORM, 0, 0, 0, 1], 1e-5);
  });

  it("falls back to the qform when the sform is singular, and to pixdim when neither is usable", () => {
    const singular = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    const q = parseNiftiHeader(tiny({ qformCode: 1, sformCode: 1, srow: singular, ...rotZ90 }), "x.nii");
    expect(q.geometrySource).toBe("qform");
    const f = parseNiftiHeader(tiny({ sformCode: 1, srow: singular, pixdim: [1, 0.7, 0.8, 3] }), "x.nii");
    expect(f.geometrySource).toBe("fallback");
    expect(f.geometryNotes.join()).toMatch(/singular/);
  });

  it("without codes: voxel sizes from pixdim, identity RAS orientation at the origin, FALLBACK_GEOMETRY", () => {
    const h = parseNiftiHeader(tiny({ pixdim: [1, 0.7, 0.8, -3] }), "scan.nii");
    expect(h.geometrySource).toBe("fallback");
    near(h.rasAffine, [0.7, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1], 1e-6);
    const { geometry, warnings } = niftiGeometry(h, "scan.nii");
    // RAS identity is LPS diag(-1, -1, 1).
    expect(geometry.direction.map((v) => v + 0)).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: "FALLBACK_GEOMETRY", file: "scan.nii" });
  });

  it("rejects a qform or fallback whose voxel size is 0 or not a number, rather than assume 1 mm", () => {
    for (const dz of [0, Number.NaN]) {
      for (const codes of [{ qformCode: 1, ...rotZ90 }, {}]) {
        const h = parseNiftiHeader(tiny({ ...codes, pixdim: [1, 0.7, 0.8, dz] }), "scan.nii");
        expect(codeOf(() => niftiGeometry(h, "scan.nii"))).toBe("MISSING_GEOMETRY");
        expect(() => niftiGeometry(h, "scan.nii")).toThrow(/pixdim\[3\] is (0|NaN)/);
      }
      // The sform carries its own voxel sizes; an axis of one voxel needs none.
      const s = parseNiftiHeader(tiny({ sformCode: 1, srow: SFORM, pixdim: [1, dz, dz, dz] }), "x.nii");
      expect(niftiGeometry(s, "x.nii").warnings).toEqual([]);
      const flat = parseNiftiHeader(
        buildNifti({
          dim: [3, 2, 3, 1],
          datatype: "int16",
          data: encodeValues(new Array(6).fill(0), "int16", true),
          qformCode: 1,
          ...rotZ90,
          pixdim: [1, 2, 3, dz],
        }),
        "x.nii",
      );
      near(niftiGeometry(flat, "x.nii").geometry.spacing, [2, 3, 1], 1e-9);
    }
    // A negative pixdim is a voxel size with a sign, read as its magnitude as before.
    const neg = parseNiftiHeader(tiny({ qformCode: 1, ...rotZ90, pixdim: [1, 2, 3, -4] }), "x.nii");
    near(niftiGeometry(neg, "x.nii").geometry.spacing, [2, 3, 4], 1e-9);
  });

  it("converts the geometry to LPS: voxelToRas of the geometry gives back the RAS affine", () => {
    const h = parseNiftiHeader(tiny({ version: 2, sformCode: 1, srow: SFORM }), "x.nii");
    const { geometry, warnings } = niftiGeometry(h, "x.nii");
    expect(warnings).toEqual([]);
    near(voxelToRas(geometry), [...SFORM, 0, 0, 0, 1], 1e-12);
    // LPS origin: x and y negated.
    near(geometry.origin, [10.5, -20.25, 30.125], 1e-12);
  });

  it("converts metres and microns to millimetres (xyzt_units)", () => {
    // 0.5 mm voxels in metres: the determinant is only tested after conversion (1.25e-10 m^3 would look singular).
    const halfMm = [0.0005, 0, 0, 0.1, 0, 0.0005, 0, 0.2, 0, 0, 0.0005, 0.3];
    const hm = parseNiftiHeader(tiny({ version: 2, sformCode: 1, srow: halfMm, xyztUnits: 1 }), "x.nii");
    expect(hm.geometrySource).toBe("sform");
    near(hm.rasAffine, [0.5, 0, 0, 100, 0, 0.5, 0, 200, 0, 0, 0.5, 300, 0, 0, 0, 1], 1e-9);
    const diag = [0.001, 0, 0, 0.1, 0, 0.001, 0, 0.2, 0, 0, 0.002, 0.3];
    const m = parseNiftiHeader(tiny({ version: 2, sformCode: 1, srow: diag, xyztUnits: 1 }), "x.nii");
    near(m.rasAffine, [1, 0, 0, 100, 0, 1, 0, 200, 0, 0, 2, 300, 0, 0, 0, 1], 1e-9);
    const um = parseNiftiHeader(
      tiny({ version: 2, sformCode: 1, srow: [1000, 0, 0, 0, 0, 1000, 0, 0, 0, 0, 1000, 0], xyztUnits: 3 }),
      "x.nii",
    );
    near(um.rasAffine, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], 1e-12);
    const unknown = parseNiftiHeader(tiny({ version: 2, sformCode: 1, srow: SFORM, xyztUnits: 0 }), "x.nii");
    near(unknown.rasAffine, [...SFORM, 0, 0, 0, 1], 0);
  });
});

describe("parseNiftiHeader: datatypes", () => {
  it.each([
    "uint8",
    "int8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
  ] as const)("accepts %s", (dt) => {
    const h = parseNiftiHeader(tiny({ datatype: dt }), "x.nii");
    expect(h.scalarType).toBe(dt);
  });
  it.each(["binary", "complex64", "rgb24", "rgba32", "complex128", "complex256", "float128"] as const)(
    "rejects %s with UNSUPPORTED_DATATYPE",
    (dt) => {
      expect(codeOf(() => parseNiftiHeader(tiny({ datatype: dt }), "x.nii"))).toBe("UNSUPPORTED_DATATYPE");
    },
  );
  it.each([0, 3, 6, 2305, -4])("rejects undefined datatype code %d with NOT_NIFTI", (dt) => {
    expect(codeOf(() => parseNiftiHeader(tiny({ datatype: dt }), "x.nii"))).toBe("NOT_NIFTI");
  });
});

describe("parseNiftiHeader: volume shape", () => {
  const shape = (dim: number[], version: 1 | 2 = 1) =>
    codeOf(() => parseNiftiHeader(tiny({ dim, version }), "x.nii"));
  it("accepts 3-D, a singleton 4th (or 5th) dim, and 2-D", () => {
    expect(shape([3, 2, 3, 4])).toBe("(accepted)");
    expect(shape([4, 2, 3, 4, 1])).toBe("(accepted)");
    expect(shape([5, 2, 3, 4, 1, 1], 2)).toBe("(accepted)");
    const h2d = parseNiftiHeader(tiny({ dim: [2, 5, 6, 9] }), "x.nii");
    expect(h2d.dims).toEqual([5, 6, 1]); // dim[3] is unused when dim[0] = 2
  });
  it("ignores garbage in dims beyond dim[0]", () => {
    expect(parseNiftiHeader(tiny({ dim: [3, 2, 3, 4, 0, -7, 99, 3] }), "x.nii").voxels).toBe(24);
  });
  it.each([
    ["time series", [4, 2, 3, 4, 20]],
    ["5-D vector", [5, 2, 3, 4, 1, 3]],
    ["1-D", [1, 24]],
    ["zero dim", [3, 2, 0, 4]],
    ["negative dim", [3, 2, -3, 4]],
    ["zero 4th dim", [4, 2, 3, 4, 0]],
  ])("%s -> NOT_A_VOLUME", (_, dim) => {
    expect(shape(dim)).toBe("NOT_A_VOLUME");
    expect(shape(dim, 2)).toBe("NOT_A_VOLUME");
  });
  it.each([[[0, 2, 3, 4]], [[8, 2, 3, 4]], [[-1, 2, 3, 4]]])(
    "dim[0] out of 1..7 (%j) -> NOT_NIFTI",
    (dim) => {
      expect(shape(dim)).toBe("NOT_NIFTI");
    },
  );
  it("keeps huge NIfTI-2 dims as numbers (the readers' voxel limit rejects them)", () => {
    const h = parseNiftiHeader(tiny({ version: 2, dim: [3, 100000, 100000, 100000] }), "x.nii");
    expect(h.voxels).toBe(1e15);
  });
});

describe("parseNiftiHeader: not NIfTI", () => {
  it("rejects empty, short, random and Analyze 7.5 bytes with NOT_NIFTI", () => {
    expect(codeOf(() => parseNiftiHeader(new Uint8Array(0), "x.nii"))).toBe("NOT_NIFTI");
    expect(codeOf(() => parseNiftiHeader(new Uint8Array([1, 2]), "x.nii"))).toBe("NOT_NIFTI");
    const random = new Uint8Array(600).map((_, i) => (i * 7919 + 13) % 251);
    expect(codeOf(() => parseNiftiHeader(random, "x.nii"))).toBe("NOT_NIFTI");
    const analyze = tiny();
    analyze.fill(0, 344, 348);
    expect(codeOf(() => parseNiftiHeader(analyze, "x.img"))).toBe("NOT_NIFTI");
    const wrongMagic = tiny({ version: 2 });
    wrongMagic[9] = 0; // break the \r\n\x1a\n part of the NIfTI-2 magic
    expect(codeOf(() => parseNiftiHeader(wrongMagic, "x.nii"))).toBe("NOT_NIFTI");
  });

  it("rejects a recognisable header cut short with TRUNCATED", () => {
    expect(codeOf(() => parseNiftiHeader(tiny().subarray(0, 200), "x.nii"))).toBe("TRUNCATED");
    expect(codeOf(() => parseNiftiHeader(tiny({ version: 2 }).subarray(0, 500), "x.nii"))).toBe("TRUNCATED");
  });

  it("names the file in the reason and never copies descrip", () => {
    const bytes = tiny();
    const secret = "Doe^Jane 1970-01-01";
    for (let i = 0; i < secret.length; i++) bytes[148 + i] = secret.charCodeAt(i);
    const h: NiftiHeader = decodeNiftiHeader(bytes, "x.nii");
    expect(JSON.stringify(h)).not.toContain("Doe");
    try {
      parseNiftiHeader(new Uint8Array(10), "dir/scan.nii");
    } catch (e) {
      expect(isInputRejected(e) && e.reasons[0]!.file).toBe("dir/scan.nii");
    }
  });
});
