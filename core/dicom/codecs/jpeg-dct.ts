/**
 * Sequential DCT JPEG decoder (ITU-T T.81 processes 1, 2 and 4: baseline and extended, Huffman coded) for
 * single-component images at 8- or 12-bit precision.
 *
 * Why it exists: DICOM's JPEG Extended syntax (1.2.840.10008.1.2.4.51) carries 12-bit lossy CT, and none of
 * the maintained npm decoders does 12-bit DCT (libjpeg-turbo's wasm build is 8-bit only,
 * jpeg-lossless-decoder-js implements only the lossless predictor process). The inverse DCT is a port of
 * IJG libjpeg's integer "islow" method (jidctint.c), the one dcmtk and GDCM use, so output matches theirs
 * sample for sample. Progressive, hierarchical, lossless and arithmetic-coded streams are refused.
 */
import { CodecError, type DecodedFrame } from "./frame.js";
import { BitReader, type HuffmanTable, readJpegHeaders, ZIGZAG } from "./jpeg-stream.js";

// libjpeg jidctint.c constants: FIX(x) = round(x * 2^13).
const CONST_BITS = 13;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/** Scratch row of the second IDCT pass (decoding is synchronous, so one buffer serves every call). */
const ROW_OUT = new Float64Array(8);

/** Arithmetic right shift with rounding (libjpeg DESCALE), on doubles so large values cannot wrap. */
function descale(x: number, n: number): number {
  return Math.floor((x + 2 ** (n - 1)) / 2 ** n);
}

/**
 * libjpeg's accurate integer inverse DCT (jpeg_idct_islow) of one dequantized-on-the-fly block, written
 * level-shifted and clamped into out[] at (x0, y0), cropped to the image.
 */
function idctIslow(
  coef: Int32Array,
  quant: Int32Array,
  ws: Float64Array,
  pass1Bits: number,
  center: number,
  maxval: number,
  out: Uint8Array | Uint16Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
): void {
  // Pass 1: columns from the coefficient block into the work array.
  for (let c = 0; c < 8; c++) {
    if (
      coef[8 + c] === 0 &&
      coef[16 + c] === 0 &&
      coef[24 + c] === 0 &&
      coef[32 + c] === 0 &&
      coef[40 + c] === 0 &&
      coef[48 + c] === 0 &&
      coef[56 + c] === 0
    ) {
      const dc = coef[c]! * quant[c]! * 2 ** pass1Bits;
      for (let r = 0; r < 8; r++) ws[r * 8 + c] = dc;
      continue;
    }
    let z2 = coef[16 + c]! * quant[16 + c]!;
    let z3 = coef[48 + c]! * quant[48 + c]!;
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = coef[c]! * quant[c]!;
    z3 = coef[32 + c]! * quant[32 + c]!;
    let tmp0 = (z2 + z3) * 2 ** CONST_BITS;
    let tmp1 = (z2 - z3) * 2 ** CONST_BITS;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;

    tmp0 = coef[56 + c]! * quant[56 + c]!;
    tmp1 = coef[40 + c]! * quant[40 + c]!;
    tmp2 = coef[24 + c]! * quant[24 + c]!;
    tmp3 = coef[8 + c]! * quant[8 + c]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;

    const s = CONST_BITS - pass1Bits;
    ws[c] = descale(tmp10 + tmp3, s);
    ws[56 + c] = descale(tmp10 - tmp3, s);
    ws[8 + c] = descale(tmp11 + tmp2, s);
    ws[48 + c] = descale(tmp11 - tmp2, s);
    ws[16 + c] = descale(tmp12 + tmp1, s);
    ws[40 + c] = descale(tmp12 - tmp1, s);
    ws[24 + c] = descale(tmp13 + tmp0, s);
    ws[32 + c] = descale(tmp13 - tmp0, s);
  }

  // Pass 2: rows from the work array into samples.
  const shift = CONST_BITS + pass1Bits + 3;
  const rowOut = ROW_OUT;
  for (let r = 0; r < 8; r++) {
    const y = y0 + r;
    const w = r * 8;
    if (
      ws[w + 1] === 0 &&
      ws[w + 2] === 0 &&
      ws[w + 3] === 0 &&
      ws[w + 4] === 0 &&
      ws[w + 5] === 0 &&
      ws[w + 6] === 0 &&
      ws[w + 7] === 0
    ) {
      rowOut.fill(descale(ws[w]!, pass1Bits + 3));
    } else {
      let z2 = ws[w + 2]!;
      let z3 = ws[w + 6]!;
      let z1 = (z2 + z3) * FIX_0_541196100;
      let tmp2 = z1 + z3 * -FIX_1_847759065;
      let tmp3 = z1 + z2 * FIX_0_765366865;
      let tmp0 = (ws[w]! + ws[w + 4]!) * 2 ** CONST_BITS;
      let tmp1 = (ws[w]! - ws[w + 4]!) * 2 ** CONST_BITS;
      const tmp10 = tmp0 + tmp3;
      const tmp13 = tmp0 - tmp3;
      const tmp11 = tmp1 + tmp2;
      const tmp12 = tmp1 - tmp2;

      tmp0 = ws[w + 7]!;
      tmp1 = ws[w + 5]!;
      tmp2 = ws[w + 3]!;
      tmp3 = ws[w + 1]!;
      z1 = tmp0 + tmp3;
      z2 = tmp1 + tmp2;
      z3 = tmp0 + tmp2;
      let z4 = tmp1 + tmp3;
      const z5 = (z3 + z4) * FIX_1_175875602;
      tmp0 *= FIX_0_298631336;
      tmp1 *= FIX_2_053119869;
      tmp2 *= FIX_3_072711026;
      tmp3 *= FIX_1_501321110;
      z1 *= -FIX_0_899976223;
      z2 *= -FIX_2_562915447;
      z3 = z3 * -FIX_1_961570560 + z5;
      z4 = z4 * -FIX_0_390180644 + z5;
      tmp0 += z1 + z3;
      tmp1 += z2 + z4;
      tmp2 += z2 + z3;
      tmp3 += z1 + z4;

      rowOut[0] = descale(tmp10 + tmp3, shift);
      rowOut[7] = descale(tmp10 - tmp3, shift);
      rowOut[1] = descale(tmp11 + tmp2, shift);
      rowOut[6] = descale(tmp11 - tmp2, shift);
      rowOut[2] = descale(tmp12 + tmp1, shift);
      rowOut[5] = descale(tmp12 - tmp1, shift);
      rowOut[3] = descale(tmp13 + tmp0, shift);
      rowOut[4] = descale(tmp13 - tmp0, shift);
    }
    if (y >= height) continue;
    const base = y * width;
    for (let c = 0; c < 8; c++) {
      const x = x0 + c;
      if (x >= width) break;
      const v = rowOut[c]! + center;
      out[base + x] = Math.max(0, Math.min(maxval, v));
    }
  }
}

/** Decode a single-component sequential DCT JPEG (SOF0 or SOF1, Huffman) at 8- or 12-bit precision. */
export function decodeJpegDct(data: Uint8Array): DecodedFrame {
  const setup = readJpegHeaders(data, [0, 1]);
  const { frame, ac } = setup;
  if (frame.precision !== 8 && frame.precision !== 12)
    throw new CodecError(`JPEG DCT precision ${frame.precision} is not 8 or 12 bits.`);
  const quant = setup.quant[frame.quantTable];
  if (!ac || !quant) throw new CodecError("The JPEG scan refers to a missing table.");
  return decodeScan(data, setup.scanStart, frame, quant, setup.dc, ac, setup.restartInterval);
}

function decodeScan(
  data: Uint8Array,
  start: number,
  frame: { precision: number; width: number; height: number },
  quant: Int32Array,
  dc: HuffmanTable,
  ac: HuffmanTable,
  restartInterval: number,
): DecodedFrame {
  const { precision, width, height } = frame;
  const blocksX = Math.ceil(width / 8);
  const blocksY = Math.ceil(height / 8);
  const total = blocksX * blocksY;
  const out = precision === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  // libjpeg: PASS1_BITS is 2 for 8-bit samples and 1 for 12-bit (to keep intermediates in 32 bits).
  const pass1Bits = precision === 8 ? 2 : 1;
  const center = 1 << (precision - 1);
  const maxval = (1 << precision) - 1;
  const coef = new Int32Array(64);
  const ws = new Float64Array(64);
  const reader = new BitReader(data, start);
  let pred = 0;

  for (let n = 0; n < total; n++) {
    if (restartInterval > 0 && n > 0 && n % restartInterval === 0) {
      reader.restart();
      pred = 0;
    }
    coef.fill(0);
    const t = reader.decode(dc);
    if (t > 16) throw new CodecError("Corrupt JPEG DC coefficient.");
    pred += reader.receiveExtend(t);
    coef[0] = pred;
    for (let k = 1; k < 64; ) {
      const rs = reader.decode(ac);
      const r = rs >> 4;
      const s = rs & 15;
      if (s === 0) {
        if (r !== 15) break;
        k += 16;
        continue;
      }
      k += r;
      if (k > 63) throw new CodecError("Corrupt JPEG AC coefficients.");
      coef[ZIGZAG[k]!] = reader.receiveExtend(s);
      k++;
    }
    // Zero bits fed past the data: a few pad the last byte before a marker, more mean a cut stream.
    if (reader.padding > 8) throw new CodecError("The JPEG codestream ends before its last block.");
    idctIslow(
      coef,
      quant,
      ws,
      pass1Bits,
      center,
      maxval,
      out,
      width,
      height,
      (n % blocksX) * 8,
      Math.floor(n / blocksX) * 8,
    );
  }
  return { samples: out, width, height, components: 1, precision };
}
