/**
 * One entry point for every compressed frame: routes a codestream to its codec family. JPEG streams are
 * routed by their own frame header (SOFn and precision) rather than by the transfer syntax alone, because
 * .51 holds 8- and 12-bit streams and mislabelled files exist.
 */
import type { PixelCodec } from "../transfer-syntax.js";
import { CodecError, type DecodedFrame } from "./frame.js";
import { decodeJpegBaseline8 } from "./jpeg-baseline.js";
import { decodeJpegDct } from "./jpeg-dct.js";
import { decodeJpegLossless } from "./jpeg-lossless.js";
import { decodeJpegLs } from "./jpeg-ls.js";
import { readJpegFrameHeader } from "./jpeg-markers.js";
import { decodeJpeg2000 } from "./jpeg2000.js";
import { decodeRle } from "./rle.js";

export { CodecError, type DecodedFrame } from "./frame.js";

export async function decodeCodestream(
  codec: Exclude<PixelCodec, "native">,
  codestream: Uint8Array,
  expected: { columns: number; rows: number; bitsAllocated: number },
): Promise<DecodedFrame> {
  switch (codec) {
    case "rle":
      return decodeRle(codestream, expected.columns, expected.rows, expected.bitsAllocated);
    case "jpeg2000":
      return decodeJpeg2000(codestream);
    case "jpeg-ls":
      return decodeJpegLs(codestream);
    case "jpeg-baseline":
    case "jpeg-extended":
    case "jpeg-lossless": {
      const sof = readJpegFrameHeader(codestream);
      if (sof.process === 3) return decodeJpegLossless(codestream);
      if (sof.process === 0 || sof.process === 1) {
        if (sof.precision === 8) return decodeJpegBaseline8(codestream);
        if (sof.precision === 12) return decodeJpegDct(codestream);
        throw new CodecError(`JPEG DCT precision ${sof.precision} is not 8 or 12 bits.`);
      }
      throw new CodecError(`JPEG coding process SOF${sof.process} is not supported.`, true);
    }
  }
}
