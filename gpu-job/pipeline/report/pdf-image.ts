/**
 * PNG images into a PDF without re-encoding: a PDF Flate stream with the PNG predictor (Predictor 15)
 * reads a PNG's IDAT data as it is (PDF 32000-1 7.4.4.4), so the image XObject is the PNG's compressed
 * bytes. pdf-lib's embedPng decodes and deflates every image again, which took most of the report's time.
 * Other PNG layouts (palette, alpha, 16-bit, interlaced) go through embedPng.
 */
import {
  concatTransformationMatrix,
  drawObject,
  type PDFDocument,
  type PDFPage,
  PDFRawStream,
  type PDFRef,
  popGraphicsState,
  pushGraphicsState,
} from "pdf-lib";

export interface PdfImage {
  draw(page: PDFPage, x: number, y: number, width: number, height: number): void;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface PngLayout {
  width: number;
  height: number;
  idat: Uint8Array;
}

/** Width, height and IDAT data of an 8-bit RGB, non-interlaced PNG; undefined for any other PNG. */
export function rgbPngLayout(png: Uint8Array): PngLayout | undefined {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) return undefined;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  const parts: Uint8Array[] = [];
  while (pos + 8 <= png.length) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    const data = png.subarray(pos + 8, pos + 8 + length);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      const [bitDepth, colourType, , , interlace] = data.subarray(8, 13);
      if (bitDepth !== 8 || colourType !== 2 || interlace !== 0) return undefined;
    } else if (type === "IDAT") parts.push(data);
    else if (type === "IEND") break;
    pos += 12 + length;
  }
  if (width === 0 || parts.length === 0) return undefined;
  const idat = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    idat.set(p, at);
    at += p.length;
  }
  return { width, height, idat };
}

export async function embedPngImage(doc: PDFDocument, png: Uint8Array): Promise<PdfImage> {
  const layout = rgbPngLayout(png);
  if (!layout) {
    const image = await doc.embedPng(png);
    return { draw: (page, x, y, width, height) => page.drawImage(image, { x, y, width, height }) };
  }
  const dict = doc.context.obj({
    Type: "XObject",
    Subtype: "Image",
    Width: layout.width,
    Height: layout.height,
    ColorSpace: "DeviceRGB",
    BitsPerComponent: 8,
    Filter: "FlateDecode",
    DecodeParms: { Predictor: 15, Colors: 3, BitsPerComponent: 8, Columns: layout.width },
  });
  const ref: PDFRef = doc.context.register(PDFRawStream.of(dict, layout.idat));
  return {
    draw(page, x, y, width, height) {
      const name = page.node.newXObject("Image", ref);
      page.pushOperators(
        pushGraphicsState(),
        concatTransformationMatrix(width, 0, 0, height, x, y),
        drawObject(name),
        popGraphicsState(),
      );
    },
  };
}
