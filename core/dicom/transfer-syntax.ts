/**
 * The transfer syntaxes this pipeline reads, as data. Anything not listed is rejected with
 * UNSUPPORTED_TRANSFER_SYNTAX before a single pixel is touched, so the list is the contract.
 *
 * A Part 10 file whose File Meta Information lacks TransferSyntaxUID (0002,0010) is rejected with NOT_DICOM:
 * without it the encoding of the dataset (VR, byte order, compression) is unknown, and guessing it from the
 * bytes (as pydicom does) risks reading the wrong pixels from a file that does not follow Part 10 anyway.
 */

/** How the pixels of a transfer syntax are stored; each encapsulated family has its own codec module. */
export type PixelCodec =
  | "native"
  | "rle"
  | "jpeg-baseline"
  | "jpeg-extended"
  | "jpeg-lossless"
  | "jpeg-ls"
  | "jpeg2000";

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  /** Dataset byte order. */
  littleEndian: boolean;
  /** Explicit VR dataset encoding (every syntax except Implicit VR Little Endian). */
  explicitVr: boolean;
  /** The dataset after the meta group is a raw deflate stream (PS3.5 A.5). */
  deflated: boolean;
  /** Pixel Data is a sequence of fragments (undefined length) rather than a flat value. */
  encapsulated: boolean;
  codec: PixelCodec;
  /** The syntax itself implies lossy compression (JPEG-LS near-lossless and J2K "lossy or lossless" count). */
  lossy: boolean;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2";
export const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99";
export const EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2";

const native = (uid: string, name: string, littleEndian: boolean, explicitVr: boolean, deflated = false) => ({
  uid,
  name,
  littleEndian,
  explicitVr,
  deflated,
  encapsulated: false,
  codec: "native" as const,
  lossy: false,
});

const encapsulated = (uid: string, name: string, codec: PixelCodec, lossy: boolean) => ({
  uid,
  name,
  littleEndian: true,
  explicitVr: true,
  deflated: false,
  encapsulated: true,
  codec,
  lossy,
});

/** Every transfer syntax the decoder supports, keyed by UID. */
export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, TransferSyntaxInfo>> = Object.freeze(
  Object.fromEntries(
    [
      native(IMPLICIT_VR_LITTLE_ENDIAN, "Implicit VR Little Endian", true, false),
      native(EXPLICIT_VR_LITTLE_ENDIAN, "Explicit VR Little Endian", true, true),
      native(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, "Deflated Explicit VR Little Endian", true, true, true),
      native(EXPLICIT_VR_BIG_ENDIAN, "Explicit VR Big Endian (retired)", false, true),
      encapsulated("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", "jpeg-baseline", true),
      encapsulated("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", "jpeg-extended", true),
      encapsulated(
        "1.2.840.10008.1.2.4.57",
        "JPEG Lossless, Non-Hierarchical (Process 14)",
        "jpeg-lossless",
        false,
      ),
      encapsulated(
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, First-Order Prediction (SV1)",
        "jpeg-lossless",
        false,
      ),
      encapsulated("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", "jpeg-ls", false),
      encapsulated("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", "jpeg-ls", true),
      encapsulated("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless Only", "jpeg2000", false),
      encapsulated("1.2.840.10008.1.2.4.91", "JPEG 2000", "jpeg2000", true),
      encapsulated("1.2.840.10008.1.2.5", "RLE Lossless", "rle", false),
    ].map((ts) => [ts.uid, Object.freeze(ts)]),
  ),
);

/** The syntax's description, or undefined when this pipeline does not read it. */
export function transferSyntaxInfo(uid: string | undefined): TransferSyntaxInfo | undefined {
  if (uid === undefined) return undefined;
  return Object.hasOwn(SUPPORTED_TRANSFER_SYNTAXES, uid) ? SUPPORTED_TRANSFER_SYNTAXES[uid] : undefined;
}

export function isSupportedTransferSyntax(uid: string | undefined): boolean {
  return transferSyntaxInfo(uid) !== undefined;
}
