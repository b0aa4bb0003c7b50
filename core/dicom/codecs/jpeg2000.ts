/**
 * JPEG 2000 (1.2.840.10008.1.2.4.90 lossless-only, .91 lossless or lossy) with OpenJPEG's wasm build.
 * The codestream records precision and signedness; decode-pixels compares them with the header.
 */
import type { DecodedFrame } from "./frame.js";
import { decodeWithWasm, lazyWasmModule } from "./wasm.js";

const openjpeg = lazyWasmModule("@cornerstonejs/codec-openjpeg/decodewasmjs");

export function decodeJpeg2000(codestream: Uint8Array): Promise<DecodedFrame> {
  return decodeWithWasm(openjpeg, "J2KDecoder", codestream, "JPEG 2000");
}
