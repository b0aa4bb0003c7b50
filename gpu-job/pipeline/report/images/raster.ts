/**
 * A minimal RGB raster (3 bytes per pixel, row-major, top row first) with the few drawing primitives the
 * key images and the chart need. Pure and dependency-free; encode-png.ts turns it into a file.
 */

export type Rgb = readonly [number, number, number];

export interface Raster {
  width: number;
  height: number;
  /** R, G, B per pixel; index 3 * (x + width * y). */
  data: Uint8Array;
}

export function createRaster(width: number, height: number, background: Rgb = [0, 0, 0]): Raster {
  const data = new Uint8Array(width * height * 3);
  if (background[0] !== 0 || background[1] !== 0 || background[2] !== 0)
    for (let p = 0; p < data.length; p += 3) {
      data[p] = background[0];
      data[p + 1] = background[1];
      data[p + 2] = background[2];
    }
  return { width, height, data };
}

/** Blend a colour over pixel (x, y) with opacity alpha (0-1); outside the raster does nothing. */
export function blendPixel(r: Raster, x: number, y: number, c: Rgb, alpha = 1): void {
  if (x < 0 || y < 0 || x >= r.width || y >= r.height) return;
  const p = 3 * (x + r.width * y);
  const d = r.data;
  if (alpha >= 1) {
    d[p] = c[0];
    d[p + 1] = c[1];
    d[p + 2] = c[2];
    return;
  }
  d[p] = Math.round(d[p]! + (c[0] - d[p]!) * alpha);
  d[p + 1] = Math.round(d[p + 1]! + (c[1] - d[p + 1]!) * alpha);
  d[p + 2] = Math.round(d[p + 2]! + (c[2] - d[p + 2]!) * alpha);
}

export function fillRect(r: Raster, x: number, y: number, w: number, h: number, c: Rgb, alpha = 1): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(r.width, Math.round(x + w));
  const y1 = Math.min(r.height, Math.round(y + h));
  for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) blendPixel(r, xx, yy, c, alpha);
}

/** A filled disc centred on (cx, cy). */
export function fillDisc(r: Raster, cx: number, cy: number, radius: number, c: Rgb): void {
  const r2 = radius * radius;
  const x0 = Math.floor(cx - radius);
  const x1 = Math.ceil(cx + radius);
  const y0 = Math.floor(cy - radius);
  const y1 = Math.ceil(cy + radius);
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r2) blendPixel(r, x, y, c);
}

export interface LineStyle {
  width?: number;
  /** On and off lengths in pixels; solid when absent. */
  dash?: readonly [number, number];
}

/** A straight line of the given width (a disc stamped every half pixel), optionally dashed. */
export function drawLine(
  r: Raster,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  c: Rgb,
  style: LineStyle = {},
): void {
  const width = style.width ?? 1;
  const length = Math.hypot(x1 - x0, y1 - y0);
  const steps = Math.max(1, Math.ceil(length * 2));
  const period = style.dash ? style.dash[0] + style.dash[1] : 0;
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    if (style.dash && (t * length) % period >= style.dash[0]) continue;
    const x = x0 + (x1 - x0) * t;
    const y = y0 + (y1 - y0) * t;
    if (width <= 1) blendPixel(r, Math.round(x), Math.round(y), c);
    else fillDisc(r, x, y, width / 2, c);
  }
}
