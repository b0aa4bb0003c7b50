/**
 * DICOM RLE Lossless (1.2.840.10008.1.2.5), PS3.5 Annex G.
 *
 * One frame is one fragment: a 64-byte header (segment count, then 15 little-endian segment offsets) and
 * up to 15 PackBits-coded segments (one per byte plane here). Each segment holds one byte plane of the frame: for BitsAllocated 16 the
 * first segment is the most significant bytes of every pixel and the second the least significant, for 32
 * four segments from most to least significant. No maintained npm package decodes this on its own, so the
 * decoder is here, bounded by the frame size so a corrupt stream can neither overrun nor allocate.
 */
import { CodecError, type DecodedFrame } from "./frame.js";

const HEADER_BYTES = 64;

/**
 * PackBits (G.3.1): a header byte n in [0, 127] copies the next n+1 bytes, n in [-127, -1] repeats the next
 * byte 1-n times, and -128 is a no-op. Decodes into out[] at every `stride`-th position starting at `start`,
 * producing exactly `count` bytes.
 * @returns the number of bytes written (less than `count` when the segment is short)
 */
export function decodePackBits(
  src: Uint8Array,
  out: Uint8Array,
  count: number,
  start = 0,
  stride = 1,
): number {
  let i = 0;
  let o = 0;
  let at = start;
  while (o < count && i < src.length) {
    const h = src[i++]!;
    if (h < 128) {
      // Literal run of h + 1 bytes (cut at the segment end or the expected byte count).
      const n = Math.min(h + 1, src.length - i, count - o);
      for (let k = 0; k < n; k++) {
        out[at] = src[i + k]!;
        at += stride;
      }
      i += h + 1;
      o += n;
    } else if (h > 128) {
      if (i >= src.length) break;
      const v = src[i++]!;
      const n = Math.min(257 - h, count - o);
      for (let k = 0; k < n; k++) {
        out[at] = v;
        at += stride;
      }
      o += n;
    }
    // h === 128: no operation.
  }
  return o;
}

/** How many bytes a whole PackBits segment decodes to (a literal cut by the segment end counts what is there). */
export function packBitsLength(src: Uint8Array): number {
  let i = 0;
  let n = 0;
  while (i < src.length) {
    const h = src[i++]!;
    if (h < 128) {
      n += Math.min(h + 1, src.length - i);
      i += h + 1;
    } else if (h > 128 && i < src.length) {
      n += 257 - h;
      i++;
    }
  }
  return n;
}

/**
 * Decode one RLE frame of width x height single-component pixels of `bitsAllocated` bits.
 * Samples come back in the native byte order of a Uint8Array / Uint16Array / Uint32Array view.
 */
export function decodeRle(
  fragment: Uint8Array,
  width: number,
  height: number,
  bitsAllocated: number,
): DecodedFrame {
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32)
    throw new CodecError(`RLE with BitsAllocated ${bitsAllocated} is not supported.`, true);
  if (fragment.length < HEADER_BYTES)
    throw new CodecError("The RLE frame is shorter than its 64-byte header.");
  const view = new DataView(fragment.buffer, fragment.byteOffset, fragment.byteLength);
  const segments = view.getUint32(0, true);
  const bytesPerSample = bitsAllocated / 8;
  if (segments !== bytesPerSample)
    throw new CodecError(
      `The RLE frame has ${segments} segments; ${bitsAllocated}-bit single-sample pixels need ${bytesPerSample}.`,
    );
  const offsets: number[] = [];
  for (let s = 0; s < segments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  offsets.push(fragment.length);

  const pixels = width * height;
  const out = new Uint8Array(pixels * bytesPerSample);
  // Byte planes arrive most significant first; typed-array views of `out` read the platform byte order,
  // which is little endian on every platform Node runs on.
  for (let s = 0; s < segments; s++) {
    const from = offsets[s]!;
    const to = offsets[s + 1]!;
    if (from < HEADER_BYTES || to < from || to > fragment.length)
      throw new CodecError("The RLE segment offsets are inconsistent.");
    const byteInSample = bytesPerSample - 1 - s;
    const written = decodePackBits(fragment.subarray(from, to), out, pixels, byteInSample, bytesPerSample);
    if (written < pixels) throw new CodecError("An RLE segment ends before the frame is complete.");
    // A segment that holds more than the frame is a frame of another size than the header's (Rows or
    // Columns edited): decoding its first bytes gave a scrambled image. Less than a row or column extra is
    // the non-conformant padding some writers add (pydicom accepts it with a warning); a real difference of
    // size is at least one of them.
    const total = packBitsLength(fragment.subarray(from, to));
    if (total - pixels >= Math.min(width, height))
      throw new CodecError(
        `An RLE segment holds ${total} pixels; the header says ${width}x${height} (${pixels}), so the frame is of another size.`,
      );
  }
  const samples =
    bytesPerSample === 1
      ? out
      : bytesPerSample === 2
        ? new Uint16Array(out.buffer, 0, pixels)
        : new Uint32Array(out.buffer, 0, pixels);
  // RLE records no precision or signedness: the header's BitsStored and PixelRepresentation apply as they are.
  return { samples, width, height, components: 1 };
}
