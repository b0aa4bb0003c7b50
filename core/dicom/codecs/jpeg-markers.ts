/**
 * The frame header (SOFn) of a JPEG codestream: which coding process, precision, size and component count.
 * Used to route .50/.51 streams between the 8-bit and 12-bit DCT decoders and to refuse streams a transfer
 * syntax should not hold.
 */
import { CodecError } from "./frame.js";

export interface JpegFrameHeader {
  /** n of SOFn: 0 baseline, 1 extended sequential, 2 progressive, 3 lossless, 5-7 hierarchical, 9+ arithmetic. */
  process: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  /** Offset of the SOF segment's length field. */
  offset: number;
}

export function readJpegFrameHeader(data: Uint8Array): JpegFrameHeader {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) throw new CodecError("No JPEG SOI marker.");
  let pos = 2;
  while (pos + 4 <= data.length) {
    if (data[pos] !== 0xff) throw new CodecError("JPEG marker expected but not found.");
    const marker = data[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    const length = (data[pos + 2]! << 8) | data[pos + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (pos + 10 > data.length) break;
      return {
        process: marker - 0xc0,
        precision: data[pos + 4]!,
        height: (data[pos + 5]! << 8) | data[pos + 6]!,
        width: (data[pos + 7]! << 8) | data[pos + 8]!,
        components: data[pos + 9]!,
        offset: pos + 2,
      };
    }
    if (marker === 0xda || marker === 0xd9) break;
    pos += 2 + length;
  }
  throw new CodecError("The JPEG codestream has no frame header before its scan.");
}
