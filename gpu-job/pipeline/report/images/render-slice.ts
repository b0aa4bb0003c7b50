/**
 * One key image: an axial or coronal slice of the CT in a lung window, with the lesion mask as a coloured
 * overlay and the lung outline, in radiological display convention whatever the voxel order:
 *   axial:   patient's right on the image's left, anterior up (viewed from the feet);
 *   coronal: patient's right on the image's left, superior up (viewed from the front).
 * The display axes come from the direction matrix through the closest-LPS permutation (preprocess/
 * orientation.ts), never from array order, and pixels are resampled to square pixels of the finer
 * spacing, so the physical aspect ratio is right (a 5 mm slice spacing in a coronal view is stretched).
 * Oblique stacks are shown along their nearest patient axes, without reslicing.
 *
 * Greyscale: bilinear in HU. Masks: nearest voxel, so every coloured pixel is a real mask voxel.
 */
import type { Volume } from "../../../../core/contracts/volume.js";
import type { OrientedView } from "../../preprocess/orientation.js";
import { drawLabel, GLYPH_HEIGHT, textWidth } from "./font.js";
import { blendPixel, createRaster, fillRect, type Raster, type Rgb } from "./raster.js";

export type SlicePlane = "axial" | "coronal";

export interface HuWindow {
  width: number;
  level: number;
}

/** Lung window (W 1500 / L -600). */
export const LUNG_WINDOW: HuWindow = { width: 1500, level: -600 };
export const LESION_COLOUR: Rgb = [255, 80, 0];
export const LUNG_OUTLINE_COLOUR: Rgb = [0, 200, 255];
const LESION_FILL_ALPHA = 0.45;
const LUNG_OUTLINE_ALPHA = 0.8;
const LABEL_COLOUR: Rgb = [255, 255, 120];

export interface SliceRenderInput {
  volume: Volume;
  /** Non-zero = lesion, on the volume grid. */
  lesions: Uint8Array;
  /** Lung labels (0 background), on the volume grid. */
  lungs: Uint8Array;
  view: OrientedView;
  plane: SlicePlane;
  /** Index along the fixed oriented axis: z (inferior to superior) for axial, y (anterior to posterior) for coronal. */
  index: number;
  window?: HuWindow;
  /** Longest side in pixels; the pixel size grows past the finer spacing to respect it. Default 768. */
  maxSize?: number;
  /** Longest side at least this many pixels: small matrices are upsampled (bilinear). Default 512. */
  minSize?: number;
}

interface AxisSampling {
  /** Native index offsets (already multiplied by the stride) of the two bilinear neighbours and the nearest voxel. */
  lo: Int32Array;
  hi: Int32Array;
  near: Int32Array;
  w: Float32Array;
}

/** Oriented axes of each plane: image columns, image rows (with flip), fixed axis. */
const AXES: Record<SlicePlane, { col: 0 | 1 | 2; row: 0 | 1 | 2; rowFlip: boolean; fixed: 0 | 1 | 2 }> = {
  // x (towards patient left) runs left to right; y (towards posterior) runs top to bottom.
  axial: { col: 0, row: 1, rowFlip: false, fixed: 2 },
  // z (towards superior) runs bottom to top.
  coronal: { col: 0, row: 2, rowFlip: true, fixed: 1 },
};

/** The pixel size (mm) and image size a plane is rendered at. */
export function sliceImageSize(
  view: OrientedView,
  plane: SlicePlane,
  maxSize = 768,
  minSize = 512,
): { width: number; height: number; pixelMm: number } {
  const a = AXES[plane];
  const extentC = view.dims[a.col] * view.spacing[a.col];
  const extentR = view.dims[a.row] * view.spacing[a.row];
  const longest = Math.max(extentC, extentR);
  let pixelMm = Math.min(view.spacing[a.col], view.spacing[a.row], longest / minSize);
  pixelMm = Math.max(pixelMm, longest / maxSize);
  return {
    width: Math.max(1, Math.round(extentC / pixelMm)),
    height: Math.max(1, Math.round(extentR / pixelMm)),
    pixelMm,
  };
}

function sampling(n: number, out: number, stride: number, flip: boolean): AxisSampling {
  const lo = new Int32Array(out);
  const hi = new Int32Array(out);
  const near = new Int32Array(out);
  const w = new Float32Array(out);
  for (let u = 0; u < out; u++) {
    let c = Math.min(n - 1, Math.max(0, ((u + 0.5) * n) / out - 0.5));
    if (flip) c = n - 1 - c;
    const c0 = Math.floor(c);
    const c1 = Math.min(n - 1, c0 + 1);
    lo[u] = c0 * stride;
    hi[u] = c1 * stride;
    near[u] = Math.min(n - 1, Math.round(c)) * stride;
    w[u] = c - c0;
  }
  return { lo, hi, near, w };
}

export function renderSlice(input: SliceRenderInput): Raster {
  const { volume, view, plane } = input;
  const a = AXES[plane];
  const win = input.window ?? LUNG_WINDOW;
  const { width, height, pixelMm } = sliceImageSize(view, plane, input.maxSize, input.minSize);
  const fixed = Math.min(view.dims[a.fixed] - 1, Math.max(0, Math.round(input.index)));
  const base = view.offset + fixed * view.stride[a.fixed];
  const cols = sampling(view.dims[a.col], width, view.stride[a.col], false);
  const rows = sampling(view.dims[a.row], height, view.stride[a.row], a.rowFlip);

  const hu = volume.data;
  const lesion = new Uint8Array(width * height);
  const lung = new Uint8Array(width * height);
  const out = createRaster(width, height);
  const d = out.data;
  const low = win.level - win.width / 2;
  const scale = 255 / win.width;
  for (let v = 0; v < height; v++) {
    const r0 = base + rows.lo[v]!;
    const r1 = base + rows.hi[v]!;
    const rn = base + rows.near[v]!;
    const wr = rows.w[v]!;
    for (let u = 0; u < width; u++) {
      const c0 = cols.lo[u]!;
      const c1 = cols.hi[u]!;
      const wc = cols.w[u]!;
      const top = hu[r0 + c0]! + (hu[r0 + c1]! - hu[r0 + c0]!) * wc;
      const bottom = hu[r1 + c0]! + (hu[r1 + c1]! - hu[r1 + c0]!) * wc;
      const value = top + (bottom - top) * wr;
      const g = Math.max(0, Math.min(255, Math.round((value - low) * scale)));
      const p = u + width * v;
      d[3 * p] = g;
      d[3 * p + 1] = g;
      d[3 * p + 2] = g;
      const n = rn + cols.near[u]!;
      lesion[p] = input.lesions[n] !== 0 ? 1 : 0;
      lung[p] = input.lungs[n]!;
    }
  }
  overlay(out, lesion, lung);
  annotate(out, plane, pixelMm);
  return out;
}

/** A pixel on the edge of its label: a 4-neighbour inside the image carries another value. */
function isEdge(labels: Uint8Array, width: number, height: number, u: number, v: number): boolean {
  const p = u + width * v;
  const l = labels[p];
  return (
    (u > 0 && labels[p - 1] !== l) ||
    (u < width - 1 && labels[p + 1] !== l) ||
    (v > 0 && labels[p - width] !== l) ||
    (v < height - 1 && labels[p + width] !== l)
  );
}

function overlay(out: Raster, lesion: Uint8Array, lung: Uint8Array): void {
  const { width, height } = out;
  for (let v = 0; v < height; v++)
    for (let u = 0; u < width; u++) {
      const p = u + width * v;
      if (lesion[p]) {
        const edge = isEdge(lesion, width, height, u, v);
        blendPixel(out, u, v, LESION_COLOUR, edge ? 1 : LESION_FILL_ALPHA);
      } else if (lung[p] && isEdge(lung, width, height, u, v)) {
        blendPixel(out, u, v, LUNG_OUTLINE_COLOUR, LUNG_OUTLINE_ALPHA);
      }
    }
}

/** Orientation letters on the four edges and a 5 cm scale bar. */
function annotate(out: Raster, plane: SlicePlane, pixelMm: number): void {
  const { width, height } = out;
  const s = width >= 384 ? 2 : 1;
  const gh = GLYPH_HEIGHT * s;
  const m = 4 * s;
  const [top, bottom] = plane === "axial" ? ["A", "P"] : ["S", "I"];
  drawLabel(out, "R", m, (height - gh) / 2, LABEL_COLOUR, s);
  drawLabel(out, "L", width - m - textWidth("L", s), (height - gh) / 2, LABEL_COLOUR, s);
  drawLabel(out, top, (width - textWidth(top, s)) / 2, m, LABEL_COLOUR, s);
  drawLabel(out, bottom, (width - textWidth(bottom, s)) / 2, height - m - gh, LABEL_COLOUR, s);
  const bar = Math.round(50 / pixelMm);
  if (bar < width / 2) {
    const x = width - m - bar;
    const y = height - m - 2 * s;
    fillRect(out, x - 1, y - 1, bar + 2, 2 * s + 2, [0, 0, 0]);
    fillRect(out, x, y, bar, 2 * s, [255, 255, 255]);
    const label = "5 CM";
    drawLabel(out, label, x + (bar - textWidth(label, s)) / 2, y - gh - 2 * s, [255, 255, 255], s);
  }
}
