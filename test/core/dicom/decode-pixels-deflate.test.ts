/**
 * A deflated multi-frame file is inflated once for all its frames (not once per frame, which was quadratic
 * in the frame count). Its own file: the spy on parse-header's inflater replaces that module for this file.
 */
import { describe, expect, it, vi } from "vitest";
import { decodeFrameHu } from "../../../core/dicom/decode-pixels.js";
import * as parseHeader from "../../../core/dicom/parse-header.js";
import { ctFile, TS } from "./dicom-builder.js";

vi.mock("../../../core/dicom/parse-header.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../../core/dicom/parse-header.js")>();
  return { ...original, inflateDeflatedFile: vi.fn(original.inflateDeflatedFile) };
});

describe("decodeFrameHu on a deflated multi-frame file", () => {
  it("inflates the file's dataset once for all its frames, and again only for other file bytes", async () => {
    const frames = 8;
    const samples = Array.from({ length: frames * 6 }, (_, i) => (i * 53) % 4096);
    const file = ctFile({ ts: TS.deflated, rows: 2, columns: 3, frames, samples, pixelRepresentation: 0 });
    const header = parseHeader.parseDicomHeader(file, "mf.dcm", file.length);
    const inflate = vi.mocked(parseHeader.inflateDeflatedFile);
    inflate.mockClear();
    const out = new Float32Array(6);
    for (let f = 0; f < frames; f++) {
      await decodeFrameHu(file, header, f, out, 0);
      expect([...out]).toEqual(samples.slice(f * 6, f * 6 + 6).map((s) => s - 1024));
    }
    expect(inflate).toHaveBeenCalledTimes(1);
    // The same content in other bytes (another read of the file) is inflated for itself.
    await decodeFrameHu(file.slice(), header, 0, out, 0);
    expect(inflate).toHaveBeenCalledTimes(2);
  });
});
