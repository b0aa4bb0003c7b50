/**
 * 8-bit sequential DCT JPEG (1.2.840.10008.1.2.4.50 baseline, and .51 streams at 8-bit precision) with
 * libjpeg-turbo's wasm build. 12-bit .51 streams go to jpeg-dct.ts: this build only handles 8 bits.
 */
import type { DecodedFrame } from "./frame.js";
import { decodeWithWasm, lazyWasmModule } from "./wasm.js";

const libjpegTurbo = lazyWasmModule("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs");

export function decodeJpegBaseline8(codestream: Uint8Array): Promise<DecodedFrame> {
  return decodeWithWasm(libjpegTurbo, "JPEGDecoder", codestream, "JPEG baseline");
}
