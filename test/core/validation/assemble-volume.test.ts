import { mkdtemp, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputRejected, isInputRejected, reason } from "../../../core/errors.js";
import { canReadInto, type DirectReadEntry } from "../../../core/input/file-source.js";
import { openFolderSource } from "../../../core/input/folder-source.js";
import { openLocalInput } from "../../../core/input/open-local.js";
import { DEFAULT_LIMITS, type InputEntry } from "../../../core/input/source.js";
import { runPhantom } from "../../../core/phantom/run.js";
import { assembleVolume } from "../../../core/validation/assemble-volume.js";
import { validateSource } from "../../../core/validation/validate.js";
import { corpusPath } from "../../helpers/corpus.js";

let work: string;
let series: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "assemble-volume-"));
  // Unsigned 12-bit samples with intercept -1024, as the phantom (and most CT) writes them.
  const r = await runPhantom({
    class: "covid",
    seed: 7,
    size: 48,
    slices: 12,
    sliceThickness: 5,
    format: "dicom",
    out: path.join(work, "ct"),
  });
  series = r.ctPath;
}, 120_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The header pass of a full validation: the stack to assemble and the folder's entries by path. */
async function prepare(dir: string) {
  const source = await openFolderSource(dir, DEFAULT_LIMITS);
  const { stack, report } = await validateSource(source, { mode: "header-only", purpose: "convert" });
  expect(report.accepted).toBe(true);
  return { stack: stack!, entries: source.entries };
}

/** Entries as a zip or S3 source presents them: whole-file reads only. */
const readOnly = (e: InputEntry): InputEntry => ({
  path: e.path,
  size: e.size,
  read: (s, t) => e.read(s, t),
});

/** Counts how each entry is read. */
function counted(entries: readonly InputEntry[]) {
  const calls = { read: 0, readInto: 0 };
  const wrapped = entries.map((e): InputEntry => {
    const w: InputEntry & Partial<DirectReadEntry> = {
      path: e.path,
      size: e.size,
      read: (s, t) => {
        calls.read++;
        return e.read(s, t);
      },
    };
    if (canReadInto(e))
      w.readInto = (start, target) => {
        calls.readInto++;
        return e.readInto(start, target);
      };
    return w;
  });
  return { calls, wrapped };
}

const byPath = (entries: readonly InputEntry[]) => new Map(entries.map((e) => [e.path, e]));
const limits = { maxVoxels: DEFAULT_LIMITS.maxVoxels };

async function rejectionOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    if (isInputRejected(e)) return e.reasons;
    throw e;
  }
  throw new Error("expected a rejection");
}

describe("assembleVolume", () => {
  it("reads local files straight into the volume, with the same voxels as whole-file reads", async () => {
    const { stack, entries } = await prepare(series);
    const direct = counted(entries);
    const progress: number[] = [];
    const a = await assembleVolume(stack, byPath(direct.wrapped), {
      ...limits,
      onProgress: (d) => progress.push(d),
    });
    expect(direct.calls).toEqual({ read: 0, readInto: 12 });
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const b = await assembleVolume(stack, byPath(entries.map(readOnly)), limits);
    expect(a.volume.data).toBeInstanceOf(Int16Array);
    expect(a.volume.dims).toEqual([48, 48, 12]);
    expect(Buffer.from(a.volume.data.buffer).equals(Buffer.from(b.volume.data.buffer))).toBe(true);
    expect(a.warnings).toEqual(b.warnings);
    // Real CT values, not an untouched buffer: air outside the body, soft tissue inside.
    const data = a.volume.data;
    const centre = data[6 * 48 * 48 + 24 * 48 + 24]!;
    expect(data[6 * 48 * 48]).toBeLessThan(-900);
    expect(centre).toBeGreaterThan(-1100);
    expect(new Set(data).size).toBeGreaterThan(100);
  });

  it("mixes direct and whole-file reads file by file, in stack order", async () => {
    const { stack, entries } = await prepare(series);
    // Every third file without readInto: direct reads stop planning at it and resume after it.
    const mixed = entries.map((e, i) => (i % 3 === 1 ? readOnly(e) : e));
    const a = await assembleVolume(stack, byPath(mixed), limits);
    const b = await assembleVolume(stack, byPath(entries.map(readOnly)), limits);
    expect(Buffer.from(a.volume.data.buffer).equals(Buffer.from(b.volume.data.buffer))).toBe(true);
  });

  it("reports the first failing file in stack order, however far ahead reads were issued", async () => {
    const { stack, entries } = await prepare(series);
    const fileAt = (k: number) => stack.slices[k]!.header.file;
    const third = fileAt(2);
    const fourth = fileAt(3);
    const broken = entries.map((e): InputEntry => {
      if (e.path === third) {
        const failing = reason("TRUNCATED", `${e.path} became shorter while it was being read.`, {
          file: e.path,
        });
        const fail = async (): Promise<never> => {
          throw new InputRejected([failing]);
        };
        const unreadable: DirectReadEntry = { ...readOnly(e), read: fail, readInto: fail };
        return unreadable;
      }
      // The fourth file claims fewer bytes than its pixels need: its header check fails when planned,
      // which is while the third file's read is still in flight.
      if (e.path === fourth) {
        const shorter: InputEntry = { ...e, size: e.size - 100 };
        return shorter;
      }
      return e;
    });
    const direct = await rejectionOf(assembleVolume(stack, byPath(broken), limits));
    expect(direct.map((r) => [r.code, r.file])).toEqual([["TRUNCATED", third]]);
    const whole = await rejectionOf(assembleVolume(stack, byPath(broken.map(readOnly)), limits));
    expect(whole).toEqual(direct);
  });

  /** A sink that keeps what it is given (copies: the buffers are reused), and the order it came in. */
  function collectingSink() {
    const slices = new Map<number, Int16Array>();
    const order: number[] = [];
    return {
      slices,
      order,
      sink: {
        async write(k: number, slice: Int16Array) {
          expect(slices.has(k)).toBe(false);
          slices.set(k, slice.slice());
          order.push(k);
        },
      },
    };
  }

  it("streams every slice to a sink instead of holding a volume, on both read paths", async () => {
    const { stack, entries } = await prepare(series);
    const { volume } = await assembleVolume(stack, byPath(entries), limits);
    for (const es of [entries, entries.map(readOnly)]) {
      const c = collectingSink();
      const progress: number[] = [];
      const streamed = await assembleVolume(stack, byPath(es), {
        ...limits,
        sink: c.sink,
        onProgress: (d) => progress.push(d),
      });
      expect(streamed.volume).toBeUndefined();
      expect(c.order).toEqual([...Array(12).keys()]);
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      for (let k = 0; k < 12; k++)
        expect(c.slices.get(k)).toEqual(volume.data.subarray(k * 48 * 48, (k + 1) * 48 * 48));
    }
  });

  it("streams the same slices when direct and whole-file reads mix, and stops at a sink that fails", async () => {
    const { stack, entries } = await prepare(series);
    const { volume } = await assembleVolume(stack, byPath(entries), limits);
    const mixed = entries.map((e, i) => (i % 3 === 1 ? readOnly(e) : e));
    const c = collectingSink();
    await assembleVolume(stack, byPath(mixed), { ...limits, sink: c.sink });
    expect(c.order).toEqual([...Array(12).keys()]);
    for (let k = 0; k < 12; k++)
      expect(c.slices.get(k)).toEqual(volume.data.subarray(k * 48 * 48, (k + 1) * 48 * 48));
    // A write that fails (a full disk) ends the assembly with that error, not a report and not a hang.
    let writes = 0;
    const failing = {
      async write() {
        if (++writes === 5) throw new Error("ENOSPC: no space left on device");
      },
    };
    await expect(assembleVolume(stack, byPath(mixed), { ...limits, sink: failing })).rejects.toThrow(
      /ENOSPC/,
    );
    expect(writes).toBe(5);
  });

  it("streams a multi-frame file's frames (direct read and RLE decode) as the in-memory path decodes them", async () => {
    for (const file of ["dicom/syntax/CT0012_ELE.dcm", "dicom/syntax/CT0012_RLE.dcm"]) {
      const source = await openLocalInput(corpusPath(file));
      try {
        const { stack } = await validateSource(source, { mode: "header-only", purpose: "convert" });
        // Its 16-bit unsigned samples with their rescale may not fit int16; a shifted rescale does, so the
        // file can stream at all (both paths then decode the same, shifted, values).
        for (const s of stack!.slices) {
          const shift = s.header.pixelRepresentation === 0 && s.header.bitsStored > 15 ? -32768 : 0;
          for (const f of s.header.frames) Object.assign(f, { rescaleSlope: 1, rescaleIntercept: shift });
        }
        const entries = byPath(source.entries);
        const { volume } = await assembleVolume(stack!, entries, limits);
        const [nx, ny, nz] = volume.dims;
        expect(nz).toBeGreaterThan(1);
        const c = collectingSink();
        const streamed = await assembleVolume(stack!, entries, { ...limits, sink: c.sink });
        expect(streamed.volume, file).toBeUndefined();
        expect([...c.slices.keys()].sort((a, b) => a - b)).toEqual([...Array(nz).keys()]);
        // Byte comparison: toEqual walks 262 144 elements per slice one by one (seconds).
        const bytes = (a: Int16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
        for (let k = 0; k < nz; k++)
          expect(
            bytes(c.slices.get(k)!).equals(
              bytes(volume.data.subarray(k * nx * ny, (k + 1) * nx * ny) as Int16Array),
            ),
            `${file} slice ${k}`,
          ).toBe(true);
      } finally {
        await source.close();
      }
    }
  });

  it("assembles in memory, ignoring the sink, when the headers cannot promise int16 HU", async () => {
    const { stack, entries } = await prepare(series);
    // A fractional slope (as if the files said RescaleSlope 0.5): HU are not integers, so the volume is
    // float32 and cannot stream as int16.
    for (const s of stack.slices) for (const f of s.header.frames) f.rescaleSlope = 0.5;
    const c = collectingSink();
    const { volume } = await assembleVolume(stack, byPath(entries), { ...limits, sink: c.sink });
    expect(volume?.data).toBeInstanceOf(Float32Array);
    expect(volume?.data.some((v) => !Number.isInteger(v))).toBe(true);
    expect(c.order).toEqual([]);
  });

  it("answers TOO_LARGE, not an internal error, when the volume cannot be allocated below maxVoxels", async () => {
    const { stack, entries } = await prepare(series);
    // 2^41 voxels: more than any machine here can allocate, with no voxel limit to stop it first.
    const huge = { ...stack, geometry: { ...stack.geometry, dims: [2 ** 14, 2 ** 14, 2 ** 13] as const } };
    const reasons = await rejectionOf(
      assembleVolume(huge as typeof stack, byPath(entries), { maxVoxels: Number.POSITIVE_INFINITY }),
    );
    expect(reasons.map((r) => r.code)).toEqual(["TOO_LARGE"]);
    expect(reasons[0]!.message).toMatch(/more than this machine can allocate/);
  });

  it("rejects a file that lost its pixels after the header pass as TRUNCATED, on both paths", async () => {
    const copy = path.join(work, "shrunk");
    await runPhantom({
      class: "normal",
      seed: 8,
      size: 32,
      slices: 6,
      sliceThickness: 5,
      format: "dicom",
      out: copy,
    });
    const dir = path.join(copy, "dicom");
    const { stack, entries } = await prepare(dir);
    const victim = stack.slices[4]!.header.file;
    const victimEntry = entries.find((e) => e.path === victim)!;
    await truncate(path.join(dir, victim), victimEntry.size - 64);
    for (const es of [entries, entries.map(readOnly)])
      for (const sink of [undefined, collectingSink().sink]) {
        const reasons = await rejectionOf(
          assembleVolume(stack, byPath(es), { ...limits, ...(sink ? { sink } : {}) }),
        );
        expect(reasons.map((r) => [r.code, r.file])).toEqual([["TRUNCATED", victim]]);
      }
  });
});
