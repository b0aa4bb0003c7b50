/**
 * Test artifact writer: one slice of a CT with lung labels overlaid, as an RGB PNG. A minimal PNG encoder
 * (IHDR, one zlib IDAT, IEND) on node:zlib, so the tests need no image dependency.
 */
import { deflateSync } from "node:zlib";
import type { Volume } from "../../../../core/contracts/volume.js";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encode 8-bit RGB pixels (row-major, width*height*3) as PNG. */
export function encodeRgbPng(width: number, height: number, rgb: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/**
 * Slice k in a lung window (-1000..+200 HU), right lung tinted red, left lung green, scaled up by an
 * integer factor. Shown as radiologists view an axial slice: the patient's right on the viewer's left
 * (columns run towards +x, LPS) and anterior at the top (rows run towards +y), whichever way the grid's
 * i and j axes point.
 */
export function lungOverlayPng(volume: Volume, labels: Uint8Array, k: number, scale = 1): Buffer {
  const [nx, ny] = volume.dims;
  const d = volume.direction;
  // Which grid axis runs closer to LPS x, and whether it runs towards +x / +y.
  const iAlongX = Math.abs(d[0]) >= Math.abs(d[1]);
  const cols = iAlongX ? nx : ny;
  const rows = iAlongX ? ny : nx;
  const flipCol = (iAlongX ? d[0] : d[1]) < 0;
  const flipRow = (iAlongX ? d[4] : d[3]) < 0;
  const w = cols * scale;
  const h = rows * scale;
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let c = (x / scale) | 0;
      let r = (y / scale) | 0;
      if (flipCol) c = cols - 1 - c;
      if (flipRow) r = rows - 1 - r;
      const i = iAlongX ? c : r;
      const j = iAlongX ? r : c;
      const v = i + nx * (j + ny * k);
      const g = Math.max(0, Math.min(255, Math.round(((volume.data[v]! + 1000) / 1200) * 255)));
      const l = labels[v];
      const o = 3 * (x + w * y);
      rgb[o] = l === 1 ? Math.round(0.55 * g + 115) : g;
      rgb[o + 1] = l === 2 ? Math.round(0.55 * g + 115) : g;
      rgb[o + 2] = l ? Math.round(0.55 * g) : g;
    }
  }
  return encodeRgbPng(w, h, rgb);
}
