/**
 * JPEG lossless, non-hierarchical (ITU-T T.81 Annex H, process 14): 1.2.840.10008.1.2.4.57 with any of the
 * seven predictors and a point transform, and .70 (predictor 1).
 *
 * Why not jpeg-lossless-decoder-js: checked against dcmtk's dcmdjpeg on the corpus and on dcmcjpeg output,
 * version 2.1.2 drops the last sample when its code shares a byte with the EOI marker (CT2_JPLL.dcm),
 * decodes predictor 7 wrongly and ignores the point transform. This decoder follows T.81 H.1-H.2 directly and
 * matches dcmtk sample for sample on all of those.
 */
import { CodecError, type DecodedFrame } from "./frame.js";
import { BitReader, readJpegHeaders } from "./jpeg-stream.js";

/** Decode a single-component SOF3 stream into 8- or 16-bit samples. */
export function decodeJpegLossless(data: Uint8Array): DecodedFrame {
  const {
    frame,
    dc,
    restartInterval,
    ss: predictor,
    al: pointTransform,
    scanStart,
  } = readJpegHeaders(data, [3]);
  const { width, height, precision } = frame;
  if (precision < 2 || precision > 16)
    throw new CodecError(`JPEG lossless precision ${precision} is invalid.`);
  if (predictor < 1 || predictor > 7)
    throw new CodecError(`JPEG lossless predictor ${predictor} is not 1..7 (0 is hierarchical only).`, true);
  if (pointTransform >= precision)
    throw new CodecError("The JPEG lossless point transform exceeds the precision.");

  const pixels = width * height;
  // Reconstruction works on the reduced samples (P - Pt bits); the output is shifted back up by Pt.
  const rows = new Int32Array(pixels);
  const initial = 1 << (precision - pointTransform - 1);
  const reader = new BitReader(data, scanStart);
  // Samples of the first line of the scan, and of the line in which a restart interval begins, are predicted
  // horizontally (Ra); the first sample of every other line from above (Rb); the scan's first sample and
  // each restart's first sample from 2^(P-Pt-1) (H.1.2.1).
  let firstLine = true;

  for (let n = 0; n < pixels; n++) {
    const x = n % width;
    let pred: number;
    if (restartInterval > 0 && n > 0 && n % restartInterval === 0) {
      reader.restart();
      firstLine = true;
      pred = initial;
    } else if (n === 0) pred = initial;
    else if (x === 0) {
      firstLine = false;
      pred = rows[n - width]!;
    } else if (firstLine) pred = rows[n - 1]!;
    else {
      const ra = rows[n - 1]!;
      const rb = rows[n - width]!;
      const rc = rows[n - width - 1]!;
      switch (predictor) {
        case 1:
          pred = ra;
          break;
        case 2:
          pred = rb;
          break;
        case 3:
          pred = rc;
          break;
        case 4:
          pred = ra + rb - rc;
          break;
        case 5:
          pred = ra + ((rb - rc) >> 1);
          break;
        case 6:
          pred = rb + ((ra - rc) >> 1);
          break;
        default:
          pred = (ra + rb) >> 1;
      }
    }
    const t = reader.decode(dc);
    if (t > 16) throw new CodecError("Corrupt JPEG lossless difference category.");
    // Category 16 is the difference 32768 with no extra bits (H.1.2.2).
    const diff = t === 16 ? 32768 : reader.receiveExtend(t);
    rows[n] = (pred + diff) & 0xffff;
    if (reader.padding > 4) throw new CodecError("The JPEG lossless codestream ends before its last sample.");
  }

  const samples = precision <= 8 ? new Uint8Array(pixels) : new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) samples[i] = rows[i]! << pointTransform;
  return { samples, width, height, components: 1, precision, ...(pointTransform > 0 ? { lossy: true } : {}) };
}
