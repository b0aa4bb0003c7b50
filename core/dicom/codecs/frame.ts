/**
 * What every codec returns: one frame's samples exactly as the codestream holds them, before the DICOM
 * header's BitsStored / HighBit / PixelRepresentation are applied (decode-pixels.ts does that, the same way
 * for native and compressed pixels, so a codestream that disagrees with the header is read as the header says).
 */
export interface DecodedFrame {
  /** Row-major samples of the single component: 8-bit codestreams give bytes, deeper ones 16-bit words
   * holding the sample's bit pattern (two's complement when the codestream is signed). */
  samples: Uint8Array | Uint16Array | Uint32Array;
  width: number;
  height: number;
  components: number;
  /** Sample precision in bits, where the codestream records it. */
  precision?: number;
  /** Signedness, where the codestream records it (JPEG 2000 only). */
  signed?: boolean;
  /**
   * The codestream dropped information whatever its transfer syntax says: JPEG lossless with a point
   * transform (the low bits shifted out before coding).
   */
  lossy?: boolean;
}

/** A codestream that cannot be decoded (corrupt, cut short, or a coding process no codec here implements). */
export class CodecError extends Error {
  override readonly name = "CodecError";
  constructor(
    message: string,
    /** True when the codestream uses a valid process that this pipeline does not implement. */
    readonly unsupported = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
