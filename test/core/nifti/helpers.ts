/**
 * Test support for the NIfTI tests: InputEntry implementations over a file or bytes (counting the stored
 * bytes fetched, so tests can prove a reader stopped early), the corpus location and its manifest, and a
 * nibabel bridge for cross-checks.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { InputEntry } from "../../../core/input/source.js";

export const CORPUS = resolve(import.meta.dirname, "../../../../shared/corpus");

export interface CountingEntry extends InputEntry {
  bytesRead(): number;
  reads(): number;
}

export function bytesEntry(bytes: Uint8Array, path = "memory.nii"): CountingEntry {
  let read = 0;
  let calls = 0;
  return {
    path,
    size: bytes.length,
    async read(start = 0, end = bytes.length) {
      const s = Math.max(0, Math.min(start, bytes.length));
      const e = Math.max(s, Math.min(end, bytes.length));
      read += e - s;
      calls++;
      // A copy, as a real range read would return: readers must not rely on aliasing the source.
      return bytes.slice(s, e);
    },
    bytesRead: () => read,
    reads: () => calls,
  };
}

export function fileEntry(file: string): CountingEntry {
  const size = statSync(file).size;
  let read = 0;
  let calls = 0;
  return {
    path: basename(file),
    size,
    async read(start = 0, end = size) {
      const s = Math.max(0, Math.min(start, size));
      const e = Math.max(s, Math.min(end, size));
      const out = new Uint8Array(e - s);
      const fd = openSync(file, "r");
      try {
        let got = 0;
        while (got < out.length) {
          const n = readSync(fd, out, got, out.length - got, s + got);
          if (n === 0) break;
          got += n;
        }
        read += got;
        calls++;
        return out.subarray(0, got);
      } finally {
        closeSync(fd);
      }
    },
    bytesRead: () => read,
    reads: () => calls,
  };
}

export interface ManifestRow {
  file: string;
  what: string;
  expect: string;
}

export function readManifest(): ManifestRow[] {
  const lines = readFileSync(resolve(CORPUS, "MANIFEST.tsv"), "utf8").split("\n");
  const head = lines[0]!.split("\t");
  const col = (name: string) => head.indexOf(name);
  return lines
    .slice(1)
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const c = l.split("\t");
      return { file: c[col("file")]!, what: c[col("what")] ?? "", expect: c[col("expect")] ?? "" };
    });
}

export const PYTHON = "/usr/bin/python3";

export function hasNibabel(): boolean {
  const r = spawnSync(PYTHON, ["-c", "import nibabel"], { stdio: "ignore" });
  return r.status === 0;
}

/** Run a Python snippet that prints one JSON document; returns it parsed. */
export function python<T>(script: string, args: string[] = []): T {
  const out = execFileSync(PYTHON, ["-c", script, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out) as T;
}

/** Datatype codes of nifti1.h, for building test files. */
export const DT = {
  binary: 1,
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  complex64: 32,
  float64: 64,
  rgb24: 128,
  int8: 256,
  uint16: 512,
  uint32: 768,
  int64: 1024,
  uint64: 1280,
  float128: 1536,
  complex128: 1792,
  complex256: 2048,
  rgba32: 2304,
} as const;
export type DtName = keyof typeof DT;

const BYTES: Record<DtName, number> = {
  binary: 1,
  uint8: 1,
  int16: 2,
  int32: 4,
  float32: 4,
  complex64: 8,
  float64: 8,
  rgb24: 3,
  int8: 1,
  uint16: 2,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float128: 16,
  complex128: 16,
  complex256: 32,
  rgba32: 4,
};

/** Raw voxel bytes of `values` in a datatype and byte order, written independently of the reader. */
export function encodeValues(values: readonly number[], type: DtName, littleEndian: boolean): Uint8Array {
  const size = BYTES[type];
  const out = new Uint8Array(values.length * size);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => {
    const o = i * size;
    switch (type) {
      case "uint8":
        dv.setUint8(o, v);
        break;
      case "int8":
        dv.setInt8(o, v);
        break;
      case "int16":
        dv.setInt16(o, v, littleEndian);
        break;
      case "uint16":
        dv.setUint16(o, v, littleEndian);
        break;
      case "int32":
        dv.setInt32(o, v, littleEndian);
        break;
      case "uint32":
        dv.setUint32(o, v, littleEndian);
        break;
      case "int64":
        dv.setBigInt64(o, BigInt(v), littleEndian);
        break;
      case "uint64":
        dv.setBigUint64(o, BigInt(v), littleEndian);
        break;
      case "float32":
        dv.setFloat32(o, v, littleEndian);
        break;
      case "float64":
        dv.setFloat64(o, v, littleEndian);
        break;
      default:
        throw new Error(`encodeValues: ${type} not supported in tests`);
    }
  });
  return out;
}

export interface BuildOptions {
  version?: 1 | 2;
  littleEndian?: boolean;
  /** Override the magic ("n+1", "ni1", "n+2", ...). */
  magic?: string;
  /** dim[0..]; missing entries are 1. */
  dim: number[];
  datatype: DtName | number;
  pixdim?: number[];
  voxOffset?: number;
  /** Bytes placed right after the header (the 4-byte extension flag and any extensions). */
  afterHeader?: Uint8Array;
  slope?: number;
  inter?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[];
  xyztUnits?: number;
  data: Uint8Array;
}

/**
 * A NIfTI-1 or NIfTI-2 single file, laid out from the nifti1.h / nifti2.h field offsets. Kept apart from the
 * project's writer so that reader tests do not test the writer against itself; nibabel checks this builder.
 */
export function buildNifti(o: BuildOptions): Uint8Array {
  const v2 = o.version === 2;
  const le = o.littleEndian ?? true;
  const hdrSize = v2 ? 540 : 348;
  const after = o.afterHeader ?? new Uint8Array(4);
  const voxOffset = o.voxOffset ?? hdrSize + after.length;
  const dataAt = Number.isFinite(voxOffset)
    ? Math.max(voxOffset, hdrSize + after.length)
    : hdrSize + after.length;
  const total = dataAt + o.data.length;
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  const dt = typeof o.datatype === "number" ? o.datatype : DT[o.datatype];
  const bitpix = typeof o.datatype === "number" ? 0 : BYTES[o.datatype] * 8;
  const dim = Array.from({ length: 8 }, (_, i) => o.dim[i] ?? 1);
  const pixdim = Array.from({ length: 8 }, (_, i) => o.pixdim?.[i] ?? 1);
  const srow = o.srow ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const q = o.quatern ?? [0, 0, 0];
  const qo = o.qoffset ?? [0, 0, 0];
  const ascii = (off: number, s: string) => {
    for (let i = 0; i < s.length; i++) buf[off + i] = s.charCodeAt(i);
  };
  dv.setInt32(0, hdrSize, le);
  if (!v2) {
    dim.forEach((d, i) => {
      dv.setInt16(40 + 2 * i, d, le);
    });
    dv.setInt16(70, dt, le);
    dv.setInt16(72, bitpix, le);
    pixdim.forEach((p, i) => {
      dv.setFloat32(76 + 4 * i, p, le);
    });
    dv.setFloat32(108, voxOffset, le);
    dv.setFloat32(112, o.slope ?? 1, le);
    dv.setFloat32(116, o.inter ?? 0, le);
    buf[123] = o.xyztUnits ?? 2;
    dv.setInt16(252, o.qformCode ?? 0, le);
    dv.setInt16(254, o.sformCode ?? 0, le);
    q.forEach((v, i) => {
      dv.setFloat32(256 + 4 * i, v, le);
    });
    qo.forEach((v, i) => {
      dv.setFloat32(268 + 4 * i, v, le);
    });
    srow.forEach((v, i) => {
      dv.setFloat32(280 + 4 * i, v, le);
    });
    ascii(344, o.magic ?? "n+1");
  } else {
    ascii(4, o.magic ?? "n+2");
    ascii(8, "\r\n\x1a\n");
    dv.setInt16(12, dt, le);
    dv.setInt16(14, bitpix, le);
    dim.forEach((d, i) => {
      dv.setBigInt64(16 + 8 * i, BigInt(d), le);
    });
    pixdim.forEach((p, i) => {
      dv.setFloat64(104 + 8 * i, p, le);
    });
    dv.setBigInt64(168, BigInt(Number.isFinite(voxOffset) ? voxOffset : -1), le);
    dv.setFloat64(176, o.slope ?? 1, le);
    dv.setFloat64(184, o.inter ?? 0, le);
    dv.setInt32(344, o.qformCode ?? 0, le);
    dv.setInt32(348, o.sformCode ?? 0, le);
    q.forEach((v, i) => {
      dv.setFloat64(352 + 8 * i, v, le);
    });
    qo.forEach((v, i) => {
      dv.setFloat64(376 + 8 * i, v, le);
    });
    srow.forEach((v, i) => {
      dv.setFloat64(400 + 8 * i, v, le);
    });
    dv.setInt32(500, o.xyztUnits ?? 2, le);
  }
  buf.set(after, hdrSize);
  // A vox_offset inside the header (a corrupt-header test) still keeps the data after the header.
  buf.set(o.data, dataAt);
  return buf;
}

/** A deterministic sequence of n values in [lo, hi] (integers when `integer`). */
export function ramp(n: number, lo: number, hi: number, integer = true): number[] {
  let s = 987654321;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const v = lo + (s / 2 ** 31) * (hi - lo);
    return integer ? Math.round(v) + 0 : v; // + 0: no -0, which typed arrays cannot hold
  });
}
