/**
 * Encapsulated Pixel Data (PS3.5 A.4): an item holding the Basic Offset Table, one item per fragment, then a
 * Sequence Delimitation Item. The items are walked here with strict bounds, so a cut file is reported as such
 * instead of yielding a shorter frame; fragments are then mapped to frames with dicom-parser's helpers.
 */
import dicomParser, { type DataSet, type Element, type Fragment } from "dicom-parser";
import type { PixelCodec } from "../transfer-syntax.js";

export type FragmentScan =
  | { ok: true; basicOffsetTable: number[]; fragments: Fragment[]; delimited: boolean }
  | { ok: false; problem: "truncated" | "corrupt" | "empty"; message: string };

const ITEM = 0xe000;
const SEQUENCE_DELIMITER = 0xe0dd;

/** Walk the items of encapsulated Pixel Data whose value starts at `offset` (always little endian). */
export function scanFragments(bytes: Uint8Array, offset: number): FragmentScan {
  const u16 = (p: number) => bytes[p]! | (bytes[p + 1]! << 8);
  const u32 = (p: number) =>
    (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16)) + bytes[p + 3]! * 0x1000000;
  let pos = offset;
  if (pos + 8 > bytes.length)
    return { ok: false, problem: "truncated", message: "The file ends before the Basic Offset Table item." };
  if (u16(pos) !== 0xfffe || u16(pos + 2) !== ITEM)
    return { ok: false, problem: "corrupt", message: "Encapsulated Pixel Data does not start with an item." };
  const botLength = u32(pos + 4);
  if (botLength % 4 !== 0 || pos + 8 + botLength > bytes.length)
    return {
      ok: false,
      problem: "truncated",
      message: "The Basic Offset Table runs past the end of the file.",
    };
  const basicOffsetTable: number[] = [];
  for (let p = pos + 8; p < pos + 8 + botLength; p += 4) basicOffsetTable.push(u32(p));
  pos += 8 + botLength;
  const first = pos;
  const fragments: Fragment[] = [];
  for (;;) {
    if (pos + 8 > bytes.length) {
      // No delimiter: a cut file, unless the last fragment ended exactly at the end (tolerated, as pydicom does).
      if (pos === bytes.length && fragments.length > 0)
        return { ok: true, basicOffsetTable, fragments, delimited: false };
      return {
        ok: false,
        problem: "truncated",
        message: "The file ends inside the encapsulated Pixel Data.",
      };
    }
    const group = u16(pos);
    const element = u16(pos + 2);
    const length = u32(pos + 4);
    if (group === 0xfffe && element === SEQUENCE_DELIMITER) break;
    if (group !== 0xfffe || element !== ITEM)
      return {
        ok: false,
        problem: "corrupt",
        message: "An encapsulated Pixel Data fragment is not an item.",
      };
    if (pos + 8 + length > bytes.length)
      return {
        ok: false,
        problem: "truncated",
        message: "A Pixel Data fragment runs past the end of the file.",
      };
    fragments.push({ offset: pos - first, position: pos + 8, length });
    pos += 8 + length;
  }
  if (fragments.length === 0)
    return { ok: false, problem: "empty", message: "Encapsulated Pixel Data has no fragments." };
  return { ok: true, basicOffsetTable, fragments, delimited: true };
}

const JPEG_FAMILY: ReadonlySet<PixelCodec> = new Set([
  "jpeg-baseline",
  "jpeg-extended",
  "jpeg-lossless",
  "jpeg-ls",
  "jpeg2000",
]);

/**
 * The codestream of frame `frameIndex`. In order: a single frame takes every fragment; a Basic Offset Table
 * with one entry per frame that points at fragment starts is followed; one fragment per frame is taken as
 * is; otherwise JPEG-family frames are delimited by their end-of-image (EOI/EOC, FFD9) markers.
 * @returns undefined when the fragments cannot be assigned to the declared number of frames
 */
export function frameCodestream(
  bytes: Uint8Array,
  pixelDataOffset: number,
  scan: Extract<FragmentScan, { ok: true }>,
  frameIndex: number,
  numberOfFrames: number,
  codec: PixelCodec,
): Uint8Array | undefined {
  const element: Element = {
    tag: "x7fe00010",
    length: -1,
    dataOffset: pixelDataOffset,
    hadUndefinedLength: true,
    encapsulatedPixelData: true,
    basicOffsetTable: scan.basicOffsetTable,
    fragments: scan.fragments,
  };
  const dataSet = {
    byteArray: bytes,
    byteArrayParser: dicomParser.littleEndianByteArrayParser,
    elements: { x7fe00010: element },
  } as unknown as DataSet;
  const { fragments, basicOffsetTable } = scan;

  if (numberOfFrames === 1)
    return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, 0, fragments.length);
  if (basicOffsetTable.length === numberOfFrames) {
    try {
      return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameIndex);
    } catch {
      // Offsets that do not point at fragment starts: ignore the table, as readers commonly do.
    }
  }
  if (fragments.length === numberOfFrames)
    return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, frameIndex, 1);
  if (JPEG_FAMILY.has(codec)) {
    const table = dicomParser.createJPEGBasicOffsetTable(dataSet, element);
    if (table.length === numberOfFrames)
      return dicomParser.readEncapsulatedImageFrame(dataSet, element, frameIndex, table);
  }
  return undefined;
}
