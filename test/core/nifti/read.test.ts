import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, crc32, deflateRawSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { GeometrySchema } from "../../../core/contracts/volume.js";
import { isInputRejected } from "../../../core/errors.js";
import { voxelToRas } from "../../../core/geometry/affine.js";
import type { InputEntry } from "../../../core/input/source.js";
import { inspectNifti, readNifti, readNiftiFile } from "../../../core/nifti/read.js";
import {
  type BuildOptions,
  buildNifti,
  bytesEntry,
  CORPUS,
  type DtName,
  encodeValues,
  fileEntry,
  hasNibabel,
  python,
  ramp,
} from "./helpers.js";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isInputRejected(e)) return e.reasons[0]!.code;
    throw e;
  }
  return "(accepted)";
}

const SFORM = [-0.8, 0, 0.1, 120.5, 0, 0.8, 0, -99.25, 0.05, 0, 2.5, -300];

/** A file of nx*ny*nz voxels holding `values` stored as `type` (scaled by slope/inter when given). */
function volumeFile(
  values: number[],
  type: DtName,
  o: Partial<BuildOptions> & { dims?: [number, number, number] } = {},
): Uint8Array {
  const dims = o.dims ?? [values.length, 1, 1];
  return buildNifti({
    dim: [3, ...dims],
    datatype: type,
    sformCode: 1,
    srow: SFORM,
    ...o,
    data: encodeValues(values, type, o.littleEndian ?? true),
  });
}

/** An entry that hands back at most `max` bytes per read, as a slow or chunked store may. */
function shortReads(e: InputEntry, max: number): InputEntry {
  return {
    path: e.path,
    size: e.size,
    read: async (start = 0, end = e.size) => e.read(start, Math.min(end, start + max)),
  };
}

describe("readNifti: datatypes, scaling and the output array type", () => {
  const cases: {
    name: string;
    type: DtName;
    stored: number[];
    slope?: number;
    inter?: number;
    out: "Int16Array" | "Float32Array";
  }[] = [
    { name: "uint8 unscaled", type: "uint8", stored: [0, 1, 127, 255], out: "Int16Array" },
    {
      name: "uint8 scaled to HU (1, -1024)",
      type: "uint8",
      stored: [0, 24, 255],
      inter: -1024,
      out: "Int16Array",
    },
    {
      name: "uint8 fractional slope",
      type: "uint8",
      stored: [0, 3, 255],
      slope: 0.5,
      inter: -1024,
      out: "Float32Array",
    },
    { name: "int8", type: "int8", stored: [-128, -1, 0, 127], out: "Int16Array" },
    { name: "int16 CT", type: "int16", stored: [-1024, -1000, 0, 40, 3071], out: "Int16Array" },
    { name: "int16 x2 that still fits", type: "int16", stored: [-500, 0, 1500], slope: 2, out: "Int16Array" },
    {
      name: "int16 x2 out of int16",
      type: "int16",
      stored: [-20000, 0, 20000],
      slope: 2,
      out: "Float32Array",
    },
    {
      name: "uint16 CT-like (raw + intercept)",
      type: "uint16",
      stored: [0, 1024, 4095],
      inter: -1024,
      out: "Int16Array",
    },
    { name: "uint16 wide", type: "uint16", stored: [0, 40000, 65535], out: "Float32Array" },
    { name: "int32 HU", type: "int32", stored: [-1024, -3, 0, 3071], out: "Int16Array" },
    { name: "int32 wide", type: "int32", stored: [-100000, 0, 2 ** 31 - 1], out: "Float32Array" },
    { name: "uint32", type: "uint32", stored: [0, 1000, 2000], inter: -1000, out: "Int16Array" },
    { name: "int64", type: "int64", stored: [-1024, 0, 1000], out: "Int16Array" },
    { name: "uint64 wide", type: "uint64", stored: [0, 1, 2 ** 40], out: "Float32Array" },
    { name: "float32 integral values", type: "float32", stored: [-1000, 0, 40], out: "Float32Array" },
    {
      name: "float32 fractional",
      type: "float32",
      stored: [-1000.5, 0.25, 40.125],
      slope: 2,
      inter: 1,
      out: "Float32Array",
    },
    { name: "float64", type: "float64", stored: [-1024.5, 0, 3071.75], out: "Float32Array" },
  ];
  for (const c of cases) {
    for (const littleEndian of [true, false]) {
      for (const gz of [false, true]) {
        it(`${c.name} (${littleEndian ? "LE" : "BE"}${gz ? ", gzip" : ""})`, async () => {
          const raw = volumeFile(c.stored, c.type, {
            littleEndian,
            slope: c.slope ?? 1,
            inter: c.inter ?? 0,
          });
          const { volume } = await readNifti(bytesEntry(gz ? gzipSync(raw) : raw, "v.nii"));
          expect(volume.data.constructor.name).toBe(c.out);
          const want = c.stored.map((v) => Math.fround(v * (c.slope ?? 1) + (c.inter ?? 0)));
          expect(Array.from(volume.data)).toEqual(want);
        });
      }
    }
  }

  it("NIfTI-2 with an extension, big endian, gzipped", async () => {
    const ext = new Uint8Array(4 + 48);
    ext[0] = 1;
    const values = ramp(60, -1024, 2000);
    const raw = volumeFile(values, "int16", {
      version: 2,
      littleEndian: false,
      afterHeader: ext,
      voxOffset: 592,
      dims: [3, 4, 5],
    });
    const { volume } = await readNifti(bytesEntry(gzipSync(raw), "v2.nii.gz"));
    expect(volume.dims).toEqual([3, 4, 5]);
    expect(Array.from(volume.data)).toEqual(values);
  });
});

describe("readNifti: streaming across chunk boundaries", () => {
  // 1.6 MB of int32 at an odd vox_offset: every voxel straddles range reads, inflate chunks and alignment.
  const dims: [number, number, number] = [200, 200, 10];
  const values = ramp(dims[0] * dims[1] * dims[2], -1024, 30000);
  const raw = volumeFile(values, "int32", {
    dims,
    littleEndian: false,
    voxOffset: 353,
    afterHeader: new Uint8Array(1),
  });
  const expectValues = (data: ArrayLike<number>) => {
    expect(data.length).toBe(values.length);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (data[i] !== Math.fround(values[i]!)) mismatches++;
    expect(mismatches).toBe(0);
  };
  it("uncompressed", async () => expectValues((await readNifti(bytesEntry(raw))).volume.data));
  it("uncompressed with short reads", async () =>
    expectValues((await readNifti(shortReads(bytesEntry(raw), 999))).volume.data));
  it("gzip with short reads", async () =>
    expectValues((await readNifti(shortReads(bytesEntry(gzipSync(raw)), 777))).volume.data));
  it("multi-member gzip", async () => {
    const cut = 100_003;
    const gz = Buffer.concat([gzipSync(raw.subarray(0, cut)), gzipSync(raw.subarray(cut))]);
    expectValues((await readNifti(bytesEntry(gz))).volume.data);
  });
});

/** One gzip member (RFC 1952) with optional header fields, built by hand. */
function gzipMember(
  data: Uint8Array,
  o: { name?: string; comment?: string; extra?: Uint8Array; headerCrc?: boolean } = {},
): Uint8Array {
  const flags = (o.headerCrc ? 2 : 0) | (o.extra ? 4 : 0) | (o.name ? 8 : 0) | (o.comment ? 16 : 0);
  const head: number[] = [0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff];
  if (o.extra) head.push(o.extra.length & 0xff, o.extra.length >> 8, ...o.extra);
  for (const text of [o.name, o.comment]) if (text) head.push(...Buffer.from(text, "latin1"), 0);
  if (o.headerCrc) head.push(0x12, 0x34); // not verified by the reader
  const trailer = new Uint8Array(8);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(0, crc32(data), true);
  dv.setUint32(4, data.length >>> 0, true);
  return Buffer.concat([Uint8Array.from(head), deflateRawSync(data), trailer]);
}

describe("gzip container variations", () => {
  const values = ramp(30 * 20 * 6, -1024, 2000);
  const raw = volumeFile(values, "int16", { dims: [30, 20, 6] });
  const readsBack = async (bytes: Uint8Array, inspect = true) => {
    const { volume } = await readNifti(bytesEntry(bytes, "v.nii.gz"));
    expect(Array.from(volume.data)).toEqual(values);
    if (inspect) expect((await inspectNifti(bytesEntry(bytes, "v.nii.gz"))).header.dims).toEqual([30, 20, 6]);
  };
  // Header-only mode reads the last 4 bytes as ISIZE, which trailing bytes replace: its verdict there
  // depends on those bytes (a documented limit of the cheap check), so only the full read is asserted.
  it("trailing garbage after the last member is ignored by the full read (as nibabel does)", () =>
    readsBack(Buffer.concat([gzipSync(raw), Buffer.from("trailing bytes!!")]), false));
  it("zero padding after the last member is ignored", () =>
    readsBack(Buffer.concat([gzipSync(raw), new Uint8Array(512)])));
  it("member headers with name, comment, extra field and header CRC", () =>
    readsBack(
      gzipMember(raw, {
        name: "scan.nii",
        comment: "c",
        extra: Uint8Array.from([65, 66, 2, 0, 1, 2]),
        headerCrc: true,
      }),
    ));
  it("BGZF-like blocks (many members with a BC extra field), the NIfTI header split across members", async () => {
    const blocks: Uint8Array[] = [];
    for (let o = 0; o < raw.length; o += o === 0 ? 100 : 3000)
      blocks.push(
        gzipMember(raw.subarray(o, Math.min(raw.length, o + (o === 0 ? 100 : 3000))), {
          extra: Uint8Array.from([66, 67, 2, 0, 0, 0]),
        }),
      );
    blocks.push(gzipMember(new Uint8Array(0), { extra: Uint8Array.from([66, 67, 2, 0, 0, 0]) })); // BGZF EOF block
    expect(blocks.length).toBeGreaterThan(3);
    await readsBack(Buffer.concat(blocks));
  });
  it("a member header cut short -> TRUNCATED", async () => {
    const m = gzipMember(raw, { name: "x".repeat(2000) });
    expect(await codeOf(readNifti(bytesEntry(m.subarray(0, 1500))))).toBe("TRUNCATED");
    expect(await codeOf(inspectNifti(bytesEntry(m.subarray(0, 1500))))).toBe("TRUNCATED");
  });
  it("an unknown compression method -> NOT_NIFTI", async () => {
    const m = gzipMember(raw);
    m[2] = 7;
    expect(await codeOf(readNifti(bytesEntry(m)))).toBe("NOT_NIFTI");
  });
});

describe("gzip is detected by magic bytes, not by name", () => {
  const raw = volumeFile([1, 2, 3], "int16");
  it("a .nii holding gzip", async () => {
    expect(Array.from((await readNifti(bytesEntry(gzipSync(raw), "scan.nii"))).volume.data)).toEqual([
      1, 2, 3,
    ]);
  });
  it("a .nii.gz holding plain NIfTI", async () => {
    expect(Array.from((await readNifti(bytesEntry(raw, "scan.nii.gz"))).volume.data)).toEqual([1, 2, 3]);
    expect((await inspectNifti(bytesEntry(raw, "scan.nii.gz"))).header.dims).toEqual([3, 1, 1]);
  });
});

describe("inspectNifti: header-only", () => {
  it("reads only a small prefix of a large compressed file", async () => {
    const e = fileEntry(join(CORPUS, "nifti/ct_shear_tilt_scaled.nii.gz"));
    const { header, geometry, warnings } = await inspectNifti(e);
    expect(header.dims).toEqual([306, 422, 54]);
    expect(geometry.dims).toEqual([306, 422, 54]);
    expect(warnings).toEqual([]);
    // prefix + one header read + the 4-byte trailer, out of 1.3 MB
    expect(e.bytesRead()).toBeLessThan(24 * 1024);
    expect(e.size).toBeGreaterThan(1_000_000);
  });

  it("reads only the header of an uncompressed file", async () => {
    const raw = volumeFile(ramp(100_000, 0, 100), "int16", { dims: [100, 100, 10] });
    const e = bytesEntry(raw);
    await inspectNifti(e);
    expect(e.bytesRead()).toBeLessThanOrEqual(544);
  });

  it("reports the same geometry as a full read", async () => {
    const raw = volumeFile(ramp(60, 0, 100), "int16", { dims: [3, 4, 5] });
    const a = await inspectNifti(bytesEntry(gzipSync(raw)));
    const b = await readNifti(bytesEntry(raw));
    expect(voxelToRas(a.geometry)).toEqual(voxelToRas(b.volume));
  });
});

describe("failure paths", () => {
  const values = ramp(4 * 5 * 7, -1024, 1000);
  const raw = volumeFile(values, "int16", { dims: [4, 5, 7] });

  it("truncated .nii -> TRUNCATED in both modes (exact size check)", async () => {
    for (const cut of [raw.length - 1, 352 + 100, 352, 300, 10]) {
      const e = bytesEntry(raw.subarray(0, cut));
      expect(await codeOf(inspectNifti(e)), `cut at ${cut}`).toBe("TRUNCATED");
      expect(await codeOf(readNifti(e)), `cut at ${cut}`).toBe("TRUNCATED");
    }
  });

  it("truncated .nii.gz -> TRUNCATED on read, and header-only from the trailer", async () => {
    const big = volumeFile(ramp(64 * 64 * 8, -1024, 3000), "int16", { dims: [64, 64, 8] });
    const gz = gzipSync(big);
    for (const fraction of [0.95, 0.9, 0.75, 0.5, 0.3, 0.1]) {
      const cut = bytesEntry(gz.subarray(0, Math.floor(gz.length * fraction)), "cut.nii.gz");
      expect(await codeOf(readNifti(cut))).toBe("TRUNCATED");
      // The last 4 bytes of a cut stream are arbitrary; they fall in the trailer's narrow window of
      // plausible sizes (the declared size, up to 1 MiB more) about once in 4000 cuts.
      expect(await codeOf(inspectNifti(cut)), `cut at ${fraction}`).toBe("TRUNCATED");
    }
    // A complete file passes, and so does one with a few bytes after the voxels.
    expect(await codeOf(inspectNifti(bytesEntry(gz, "whole.nii.gz")))).toBe("(accepted)");
    const padded = gzipSync(Buffer.concat([big, Buffer.alloc(4096)]));
    expect(await codeOf(inspectNifti(bytesEntry(padded, "padded.nii.gz")))).toBe("(accepted)");
    // Cut inside the compressed header.
    expect(await codeOf(readNifti(bytesEntry(gz.subarray(0, 40))))).toBe("TRUNCATED");
  });

  it("a complete gzip holding less than declared -> TRUNCATED in both modes", async () => {
    const gz = gzipSync(raw.subarray(0, raw.length - 10));
    expect(await codeOf(inspectNifti(bytesEntry(gz)))).toBe("TRUNCATED");
    expect(await codeOf(readNifti(bytesEntry(gz)))).toBe("TRUNCATED");
  });

  it("a gzip that cannot inflate to the declared size -> TRUNCATED before allocating", async () => {
    const header = volumeFile([0], "int16", { dims: [1000, 1000, 100] }).subarray(0, 352);
    const gz = gzipSync(header);
    expect(await codeOf(readNifti(bytesEntry(gz)))).toBe("TRUNCATED");
    expect(await codeOf(inspectNifti(bytesEntry(gz)))).toBe("TRUNCATED");
  });

  it("corrupt gzip -> NOT_NIFTI (header) or a documented code, never a crash", async () => {
    const gz = Buffer.from(gzipSync(raw));
    const header = Buffer.from(gz);
    header.fill(0xff, 10, 30);
    expect(await codeOf(readNifti(bytesEntry(header)))).toBe("NOT_NIFTI");
    expect(await codeOf(inspectNifti(bytesEntry(header)))).toBe("NOT_NIFTI");
    expect(await codeOf(readNifti(bytesEntry(Buffer.from([0x1f, 0x8b]))))).toBe("TRUNCATED");
  });

  it("gzip bomb: the stream inflates to gigabytes beyond what the header declares; the reader stops", async () => {
    // header + declared voxels, then ~6 GiB of zeros as repeated independent deflate blocks (~6 MB stored).
    const first = deflateRawSync(raw, { finishFlush: constants.Z_FULL_FLUSH });
    const zeros = deflateRawSync(new Uint8Array(1 << 20), { finishFlush: constants.Z_FULL_FLUSH });
    const parts: Uint8Array[] = [Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]), first];
    for (let i = 0; i < 6000; i++) parts.push(zeros);
    parts.push(deflateRawSync(new Uint8Array(0)));
    const trailer = new Uint8Array(8);
    new DataView(trailer.buffer).setUint32(4, raw.length, true); // ISIZE claims the declared size
    parts.push(trailer);
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeGreaterThan(5_000_000);
    const e = bytesEntry(bomb, "bomb.nii.gz");
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const { volume } = await readNifti(e);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(Array.from(volume.data)).toEqual(values);
    expect(e.bytesRead()).toBeLessThan(2 * 1024 * 1024); // stopped after the first range read
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect((await inspectNifti(bytesEntry(bomb))).header.dims).toEqual([4, 5, 7]);
  });

  it("a .nii.gz that expands over 100:1 (the zip limit) -> ARCHIVE_UNSAFE in both modes, before allocating", async () => {
    // float32 1024x1024x64 (256 MiB) of zeros as real deflate blocks at about 228:1: a small upload that
    // would make the job allocate, convert and hold a volume of a quarter gigabyte.
    const header = volumeFile([0], "float32", { dims: [1024, 1024, 64] }).subarray(0, 352);
    const zeros = deflateRawSync(new Uint8Array(1 << 20), { level: 1, finishFlush: constants.Z_FULL_FLUSH });
    const parts: Uint8Array[] = [
      Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]),
      deflateRawSync(header, { finishFlush: constants.Z_FULL_FLUSH }),
    ];
    for (let i = 0; i < 256; i++) parts.push(zeros);
    parts.push(deflateRawSync(new Uint8Array(0)));
    const trailer = new Uint8Array(8);
    new DataView(trailer.buffer).setUint32(4, (352 + 256 * (1 << 20)) >>> 0, true); // a truthful ISIZE
    parts.push(trailer);
    const bomb = Buffer.concat(parts);
    expect(bomb.length).toBeLessThan(1_300_000);
    for (const read of [inspectNifti, readNifti]) {
      const e = bytesEntry(bomb, "bomb.nii.gz");
      await expect(read(e)).rejects.toMatchObject({
        reasons: [{ code: "ARCHIVE_UNSAFE", message: expect.stringMatching(/ratio over 100/) }],
      });
      expect(e.bytesRead()).toBeLessThan(64 * 1024); // the header's range, no more
    }
    // The limit is the caller's (validation passes its InputLimits).
    expect((await inspectNifti(bytesEntry(bomb), { maxCompressionRatio: 300 })).header.dims).toEqual([
      1024, 1024, 64,
    ]);
  });

  it("the ratio limit spares small volumes and CT-like ratios", async () => {
    // 60 MiB of zeros (under the 64 MiB floor) at about 1000:1, as a small MR or mask compresses.
    const small = gzipSync(volumeFile([0], "int16", { dims: [512, 512, 120] }).subarray(0, 352));
    const padded = (gz: Uint8Array, size: number) => Buffer.concat([gz, new Uint8Array(size - gz.length)]);
    expect(await codeOf(inspectNifti(bytesEntry(padded(small, 63_000))))).toBe("(accepted)");
    // 128 MiB declared in 30 MB (4.3:1, a real CT's ratio); the zero padding stands in for the voxels.
    const ct = gzipSync(volumeFile([0], "int16", { dims: [512, 512, 256] }).subarray(0, 352));
    expect(await codeOf(inspectNifti(bytesEntry(padded(ct, 30_000_000))))).toBe("(accepted)");
  });

  it("readNiftiFile (the pipeline's own masks) has no ratio limit: an empty mask compresses ~1000:1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nifti-mask-"));
    try {
      const header = volumeFile([0], "uint8", { dims: [1024, 1024, 65] }).subarray(0, 352);
      const mask = gzipSync(Buffer.concat([header, new Uint8Array(65 * 2 ** 20)]), { level: 1 });
      expect(65 * 2 ** 20 + 352).toBeGreaterThan(100 * mask.length);
      writeFileSync(join(dir, "lesions.nii.gz"), mask);
      const { volume } = await readNiftiFile(join(dir, "lesions.nii.gz"));
      expect(volume.dims).toEqual([1024, 1024, 65]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("declared dims beyond maxVoxels -> TOO_LARGE before any allocation or data read", async () => {
    const huge = volumeFile([0], "int16", { dims: [30000, 30000, 30000] });
    for (const e of [bytesEntry(huge), bytesEntry(gzipSync(huge))]) {
      expect(await codeOf(inspectNifti(e))).toBe("TOO_LARGE");
      expect(await codeOf(readNifti(e))).toBe("TOO_LARGE");
    }
    const nifti2 = volumeFile([0], "int16", { version: 2, dims: [2 ** 40, 2 ** 40, 2 ** 40] });
    expect(await codeOf(readNifti(bytesEntry(nifti2)))).toBe("TOO_LARGE");
    expect(await codeOf(readNifti(bytesEntry(raw), { maxVoxels: 139 }))).toBe("TOO_LARGE");
    expect(await codeOf(readNifti(bytesEntry(raw), { maxVoxels: 140 }))).toBe("(accepted)");
  });

  it("a lone .hdr (its .img absent) -> UNSUPPORTED_FORMAT, in both modes", async () => {
    const e = fileEntry(join(CORPUS, "nifti/header_only.hdr"));
    expect(await codeOf(inspectNifti(e))).toBe("UNSUPPORTED_FORMAT");
    expect(await codeOf(readNifti(e))).toBe("UNSUPPORTED_FORMAT");
  });

  const ALLOWED = [
    "NOT_NIFTI",
    "TRUNCATED",
    "TOO_LARGE",
    "NOT_A_VOLUME",
    "UNSUPPORTED_DATATYPE",
    "UNSUPPORTED_FORMAT",
  ];

  /** Flip every bit of the header; each outcome must be a volume consistent with its header or a rejection. */
  async function flipEveryBit(file: Uint8Array, headerBytes: number, gz: boolean) {
    const outcomes = new Map<string, number>();
    const byField = new Map<number, Set<string>>();
    for (let bit = 0; bit < headerBytes * 8; bit++) {
      const bytes = file.slice();
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      const e = bytesEntry(gz ? gzipSync(bytes) : bytes);
      let code: string;
      try {
        const { volume } = await readNifti(e, { maxVoxels: 1_000_000 });
        GeometrySchema.parse(volume);
        expect(volume.data.length).toBe(volume.dims[0] * volume.dims[1] * volume.dims[2]);
        code = "ok";
      } catch (err) {
        if (!isInputRejected(err)) throw new Error(`bit ${bit}: ${(err as Error).stack}`);
        code = err.reasons[0]!.code;
        expect(ALLOWED, `bit ${bit}`).toContain(code);
      }
      outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
      const set = byField.get(bit >> 3) ?? new Set();
      set.add(code);
      byField.set(bit >> 3, set);
    }
    return { outcomes, byField };
  }

  it("every single-bit flip of a NIfTI-1 header: a consistent volume or a documented rejection", async () => {
    const file = volumeFile(values, "int16", {
      dims: [4, 5, 7],
      qformCode: 1,
      quatern: [0, 0, Math.SQRT1_2],
      slope: 1,
      inter: 0,
    });
    const { outcomes, byField } = await flipEveryBit(file, 348, false);
    // sizeof_hdr and magic flips are never accepted.
    for (const b of [0, 1, 2, 3, 344, 345, 346, 347]) expect([...byField.get(b)!]).toEqual(["NOT_NIFTI"]);
    // dim[1] (bytes 42-43): a high bit makes it huge (TRUNCATED / TOO_LARGE) or negative (NOT_A_VOLUME).
    expect(byField.get(43)).toEqual(new Set(["TRUNCATED", "NOT_A_VOLUME"]));
    // datatype 4 (bytes 70-71): every single-bit neighbour of int16 is an undefined code.
    expect(byField.get(70)).toEqual(new Set(["NOT_NIFTI"]));
    expect(byField.get(71)).toEqual(new Set(["NOT_NIFTI"]));
    expect(outcomes.get("ok")).toBeGreaterThan(1000); // most of the header is free text and unused fields
  });

  it("every single-bit flip of a gzipped NIfTI-2 header: a consistent volume or a documented rejection", async () => {
    const file = volumeFile(values, "int16", { version: 2, dims: [4, 5, 7], littleEndian: false });
    const { byField } = await flipEveryBit(file, 540, true);
    for (const b of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      expect([...byField.get(b)!]).toEqual(["NOT_NIFTI"]);
    // dim[1] is an int64 (bytes 24-31, big endian): its top byte flips to negative or astronomically large.
    expect(byField.get(24)).toEqual(new Set(["TOO_LARGE", "NOT_A_VOLUME"]));
  });
});

describe.skipIf(!hasNibabel())("nibabel reads the same synthetic files the same way", () => {
  const dir = mkdtempSync(join(tmpdir(), "nifti-read-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("for every datatype, both byte orders, both versions, qform and sform", async () => {
    const files: { path: string; bytes: Uint8Array }[] = [];
    const types: DtName[] = [
      "uint8",
      "int8",
      "int16",
      "uint16",
      "int32",
      "uint32",
      "int64",
      "float32",
      "float64",
    ];
    let n = 0;
    for (const type of types) {
      for (const littleEndian of [true, false]) {
        for (const version of [1, 2] as const) {
          const lo = type.startsWith("u") ? 0 : -100;
          const values = ramp(3 * 4 * 5, lo, lo + 200, !type.startsWith("float"));
          const useQform = n % 2 === 0;
          const bytes = volumeFile(values, type, {
            dims: [3, 4, 5],
            littleEndian,
            version,
            slope: n % 3 === 0 ? 1.5 : 1,
            inter: n % 3 === 0 ? -7 : 0,
            ...(useQform
              ? {
                  sformCode: 0,
                  qformCode: 1,
                  quatern: [0.1, -0.2, 0.3],
                  qoffset: [10, -20, 30],
                  pixdim: [-1, 0.7, 0.8, 2.5],
                }
              : {}),
          });
          const path = join(dir, `t${n++}_${type}_${littleEndian ? "le" : "be"}_v${version}.nii`);
          writeFileSync(path, bytes);
          files.push({ path, bytes });
        }
      }
    }
    const nib = python<Record<string, { affine: number[][]; data: number[] }>>(
      `
import json, sys, nibabel as nib, numpy as np
out = {}
for p in sys.argv[1:]:
    img = nib.load(p)
    out[p] = {"affine": img.affine.tolist(), "data": np.asarray(img.get_fdata()).ravel(order="F").tolist()}
print(json.dumps(out))
`,
      files.map((f) => f.path),
    );
    for (const f of files) {
      const { volume } = await readNifti(bytesEntry(f.bytes, f.path));
      const want = nib[f.path]!;
      const ours = voxelToRas(volume);
      want.affine.flat().forEach((v, i) => {
        expect(Math.abs(ours[i]! - v), `${f.path} affine[${i}]`).toBeLessThan(1e-5);
      });
      want.data.forEach((v, i) => {
        expect(Math.abs(volume.data[i]! - v), `${f.path} voxel ${i}`).toBeLessThanOrEqual(
          1e-5 * Math.max(1, Math.abs(v)),
        );
      });
    }
    expect(files.length).toBe(36);
  });
});

describe("voxels without a number", () => {
  it("reads NaN and infinities of float data as -1024 HU, with a warning that counts them", async () => {
    const file = volumeFile(
      [-1000, Number.NaN, 40, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 7.5],
      "float32",
      {
        dims: [3, 2, 1],
      },
    );
    const { volume, warnings } = await readNifti(bytesEntry(file, "nan.nii"));
    expect([...volume.data]).toEqual([-1000, -1024, 40, -1024, -1024, 7.5]);
    expect(warnings.map((w) => w.code)).toEqual(["NON_FINITE_VOXELS"]);
    expect(warnings[0]!.message).toMatch(/^3 voxel\(s\) held no number/);
  });

  it("rejects voxels that were numbers when stored and overflow to infinity when scaled, rather than call them padding", async () => {
    const int16 = volumeFile([0, -1, 4, 40], "int16", { slope: 1e38 });
    expect(await codeOf(readNifti(bytesEntry(int16, "huge.nii")))).toBe("HU_IMPLAUSIBLE");
    await expect(readNifti(bytesEntry(int16, "huge.nii"))).rejects.toThrow(
      /2 voxel\(s\) overflow to infinity/,
    );
    const float = volumeFile([0, Number.NaN, 4, 40.5], "float32", { slope: 1e38 });
    expect(await codeOf(readNifti(bytesEntry(float, "huge.nii")))).toBe("HU_IMPLAUSIBLE");
    // Stored NaN under a scaling that overflows nothing is still padding.
    const nan = volumeFile([-1000, Number.NaN, 40], "float32", { slope: 2, inter: 0 });
    const { volume, warnings } = await readNifti(bytesEntry(nan, "nan.nii"));
    expect([...volume.data]).toEqual([-2000, -1024, 80]);
    expect(warnings.map((w) => w.code)).toEqual(["NON_FINITE_VOXELS"]);
  });

  it("warns of nothing on finite float data", async () => {
    const { warnings } = await readNifti(bytesEntry(volumeFile([-1000, 0, 40], "float32"), "ok.nii"));
    expect(warnings.map((w) => w.code)).not.toContain("NON_FINITE_VOXELS");
  });
});
