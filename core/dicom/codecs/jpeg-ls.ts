/**
 * JPEG-LS (1.2.840.10008.1.2.4.80 lossless, .81 near-lossless) with CharLS's wasm build. JPEG-LS codes
 * unsigned samples; signed pixels travel as their two's-complement bit patterns, which the header's
 * PixelRepresentation turns back into negative values.
 */
import type { DecodedFrame } from "./frame.js";
import { decodeWithWasm, lazyWasmModule } from "./wasm.js";

const charls = lazyWasmModule("@cornerstonejs/codec-charls/decodewasmjs");

export function decodeJpegLs(codestream: Uint8Array): Promise<DecodedFrame> {
  return decodeWithWasm(charls, "JpegLSDecoder", codestream, "JPEG-LS");
}
