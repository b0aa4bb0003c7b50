/**
 * Native scan -> the model's grid, exactly as model.json's `preprocessing` describes it (and as
 * model/deepsc/preprocess.py does for training): LPS orientation, HU clipped to the window and scaled to
 * [0, 1], multiplied by the lung mask, linearly resampled along z to the model's slice spacing, then
 * area-averaged in plane to the model's size. One engine rule goes beyond the manifest, for scans no
 * training scan was like: with a fixed model pixel, a window that would cut the lungs moves onto them
 * (windowOnLungs).
 *
 * Done one output slice at a time from (at most) two native slices, so no float copy of the whole native
 * scan is ever made: a 512x512x600 int16 scan needs its own 315 MB plus ~2 MB here, and the model grid
 * itself (e.g. 240 x 128 x 128 floats, 16 MB).
 */
import type { Geometry, Volume } from "../../../core/contracts/volume.js";
import { determinant3 } from "../../../core/geometry/affine.js";
import type { ModelManifest } from "../model/model-manifest.js";
import { type OrientedView, orientedView } from "./orientation.js";

export type Preprocessing = ModelManifest["preprocessing"];

export interface ModelGrid {
  /** Normalised, lung-masked, resampled scan: [depth][height][width], width fastest. */
  image: Float32Array;
  depth: number;
  height: number;
  width: number;
  /** Native (oriented) z coordinate of each model slice, in slice-index units. */
  zPositions: Float64Array;
  /**
   * The oriented native slices the model grid stands for, first and last (the whole scan unless the
   * manifest crops to the lungs' extent); slices outside it are background.
   */
  zRange: [number, number];
  /** The oriented native scan this grid came from. */
  view: OrientedView;
  /** Volume of one model voxel in mL (for lesion volumes measured on the model grid). */
  voxelMl: number;
  /** Where model columns and rows lie on the oriented native x and y axes. */
  columns: AxisMap;
  rows: AxisMap;
}

/**
 * One in-plane axis of the model grid in native pixel units: model pixel o covers native coordinates
 * [start + o * step, start + (o + 1) * step), native pixel x covering [x - 0.5, x + 0.5).
 */
export interface AxisMap {
  /** Native pixels along the axis. */
  n: number;
  /** Model pixels along the axis. */
  size: number;
  start: number;
  step: number;
}

/** The whole field of view resized (adaptive pooling), or `size` pixels of `spacingMm` centred on it. */
export function axisMap(
  n: number,
  nativeMm: number,
  size: number,
  spacingMm: number | null | undefined,
): AxisMap {
  if (spacingMm === null || spacingMm === undefined) return { n, size, start: -0.5, step: n / size };
  const step = spacingMm / nativeMm;
  return { n, size, start: (n - 1) / 2 - (size / 2) * step, step };
}

/**
 * Sparse averaging weights of each model pixel over the native pixels it covers. Adaptive pooling when the
 * map resizes the whole field of view (equal weights over floor(o*n/size) .. ceil((o+1)*n/size)-1, as
 * PyTorch's adaptive_avg_pool2d); exact overlap lengths otherwise, divided by the full model pixel so the
 * part beyond the field of view counts as 0.
 */
interface AxisWeights {
  first: Int32Array;
  count: Int32Array;
  weights: Float64Array[];
}

function axisWeights(m: AxisMap): AxisWeights {
  const first = new Int32Array(m.size);
  const count = new Int32Array(m.size);
  const weights: Float64Array[] = [];
  const pooling = m.start === -0.5 && m.step === m.n / m.size;
  for (let o = 0; o < m.size; o++) {
    if (pooling) {
      const a = Math.floor((o * m.n) / m.size);
      const b = Math.ceil(((o + 1) * m.n) / m.size);
      first[o] = a;
      count[o] = b - a;
      weights.push(new Float64Array(b - a).fill(1 / (b - a)));
      continue;
    }
    const lo = m.start + o * m.step;
    const hi = lo + m.step;
    const a = Math.max(0, Math.floor(lo + 0.5));
    const b = Math.min(m.n - 1, Math.ceil(hi + 0.5) - 1);
    const w: number[] = [];
    for (let x = a; x <= b; x++) w.push(Math.max(0, Math.min(hi, x + 0.5) - Math.max(lo, x - 0.5)) / m.step);
    first[o] = a;
    count[o] = w.length;
    weights.push(Float64Array.from(w));
  }
  return { first, count, weights };
}

/** Separable weighted resampling of one [h][w] slice to [rows.size][columns.size]. */
function resampleSlice(
  src: Float32Array,
  h: number,
  w: number,
  ys: AxisWeights,
  xs: AxisWeights,
  dst: Float32Array,
): void {
  const outW = xs.first.length;
  const outH = ys.first.length;
  const rows = new Float64Array(h * outW);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let ox = 0; ox < outW; ox++) {
      const a = xs.first[ox] as number;
      const wt = xs.weights[ox] as Float64Array;
      let s = 0;
      for (let t = 0; t < wt.length; t++) s += (src[row + a + t] as number) * (wt[t] as number);
      rows[y * outW + ox] = s;
    }
  }
  for (let oy = 0; oy < outH; oy++) {
    const a = ys.first[oy] as number;
    const wt = ys.weights[oy] as Float64Array;
    for (let ox = 0; ox < outW; ox++) {
      let s = 0;
      for (let t = 0; t < wt.length; t++) s += (rows[(a + t) * outW + ox] as number) * (wt[t] as number);
      dst[oy * outW + ox] = s;
    }
  }
}

/**
 * The scan's in-plane pixel (the coarser of its LPS x and y sizes) and the model's, when the scan's is the
 * coarser: the model grid is then an upsampling, an image the model was never trained on. Without a fixed
 * model spacing, the model pixel is the field of view over the model's size. `pixelScale` is what
 * buildModelGrid multiplied a fixed model pixel by for this scan (the lungScale rule's factors): a small
 * chest is seen on finer model pixels, a large one on coarser.
 */
export function coarserThanModel(
  volume: Geometry,
  p: Preprocessing,
  pixelScale: readonly [number, number] = [1, 1],
): { nativeMm: number; modelMm: number } | null {
  const view = orientedView(volume);
  const [height, width] = p.inPlane.size;
  let worst: { nativeMm: number; modelMm: number } | null = null;
  for (const [axis, size] of [
    [0, width],
    [1, height],
  ] as const) {
    const nativeMm = view.spacing[axis];
    const fixed = p.inPlane.spacingMm;
    const modelMm = fixed ? fixed * pixelScale[axis] : (view.dims[axis] * nativeMm) / size;
    // A relative tolerance: 360 mm over 128 pixels is the model's own 2.8125 mm, not coarser.
    if (nativeMm > modelMm * (1 + 1e-6) && (!worst || nativeMm / modelMm > worst.nativeMm / worst.modelMm))
      worst = { nativeMm, modelMm };
  }
  return worst;
}

/**
 * The scan's slice step along the body (the oriented z spacing) and the model's z grid, when the scan's is
 * more than `ratio` (model.json envelope.thickSliceRatio) times the model's: every model slice in between is
 * interpolated across a gap the model never saw. The shipped model's training scans had 2.5 and 5 mm slices
 * for its 2.5 mm grid; on a normal phantom (seed 7, 160 px) 10 mm slices gave it 40 mL of false lesion where
 * 5 mm gave 5 mL. Null when the model takes the scan's own slices.
 */
export function thickerThanModel(
  volume: Geometry,
  p: Preprocessing,
  ratio: number,
): { nativeMm: number; modelMm: number; ratio: number } | null {
  const modelMm = p.zResampling.spacingMm;
  if (modelMm === null) return null;
  // The slices' separation along their normal: on a gantry-tilted (sheared) grid less than the k spacing.
  const view = orientedView(volume);
  const nativeMm =
    view.spacing[2] * (view.axes[2].native === 2 ? Math.abs(determinant3(volume.direction)) : 1);
  return nativeMm > modelMm * ratio * (1 + 1e-6) ? { nativeMm, modelMm, ratio } : null;
}

/** p_j = j * target / dz for j = 0 .. floor((nz-1) * dz / target); the scan's own slices when target is null. */
export function zPositions(nz: number, dz: number, targetMm: number | null): Float64Array {
  if (nz < 1) throw new RangeError("a scan needs at least one slice");
  if (targetMm === null) return Float64Array.from({ length: nz }, (_, i) => i);
  if (!(dz > 0)) throw new RangeError(`slice spacing must be positive, got ${dz}`);
  const count = Math.floor(((nz - 1) * dz) / targetMm + 1e-6) + 1;
  const step = targetMm / dz;
  return Float64Array.from({ length: count }, (_, j) => j * step);
}

/**
 * Adaptive average pooling of one [h][w] slice to [outH][outW]: out[i] is the mean of
 * in[floor(i*n/size) .. ceil((i+1)*n/size) - 1] along each axis (PyTorch's adaptive_avg_pool2d).
 * Separable, so the 2D window mean is the mean of the row means.
 */
export function areaResize(
  src: Float32Array,
  h: number,
  w: number,
  outH: number,
  outW: number,
  out?: Float32Array,
): Float32Array {
  const dst = out ?? new Float32Array(outH * outW);
  resampleSlice(
    src,
    h,
    w,
    axisWeights(axisMap(h, 1, outH, null)),
    axisWeights(axisMap(w, 1, outW, null)),
    dst,
  );
  return dst;
}

/** Nearest evenly spaced slice indices: floor(i * (n - 1) / (slices - 1) + 0.5). */
export function stackIndices(n: number, slices: number): Int32Array {
  if (slices === 1) return new Int32Array(1);
  return Int32Array.from({ length: slices }, (_, i) => Math.floor((i * (n - 1)) / (slices - 1) + 0.5));
}

/** The scan's stack input: `slices` evenly spaced model-grid slices. */
export function buildStack(grid: ModelGrid, slices: number): Float32Array {
  const plane = grid.height * grid.width;
  const out = new Float32Array(slices * plane);
  stackIndices(grid.depth, slices).forEach((z, i) => {
    out.set(grid.image.subarray(z * plane, (z + 1) * plane), i * plane);
  });
  return out;
}

/**
 * Build the model grid. `lungMask` (>0 inside the lungs, on the volume's own grid) is required when the
 * manifest asks for lung masking. `pixelScale` multiplies a fixed model pixel (inPlane.spacingMm) along
 * the oriented x and y axes (preprocess/lung-scale.ts); it does nothing without one.
 */
export function buildModelGrid(
  volume: Volume,
  lungMask: Uint8Array | null,
  p: Preprocessing,
  pixelScale: readonly [number, number] = [1, 1],
): ModelGrid {
  const view = orientedView(volume);
  const [nx, ny, nz] = view.dims;
  if (p.lungMasking.enabled && !lungMask) throw new Error("this model needs a lung mask");
  if (lungMask && lungMask.length !== volume.data.length) throw new Error("lung mask and scan grids differ");
  const [huMin, huMax] = p.huWindow;
  const range = huMax - huMin;
  const mask = p.lungMasking.enabled ? lungMask : null;
  const [height, width] = p.inPlane.size;
  const pixel = p.inPlane.spacingMm;
  let columns = axisMap(nx, view.spacing[0], width, pixel && pixel * pixelScale[0]);
  let rows = axisMap(ny, view.spacing[1], height, pixel && pixel * pixelScale[1]);
  const cropZ = p.zCrop?.method === "lung-extent";
  // One pass over the mask serves both the window and the crop. Without lung, neither applies: the whole
  // scan is analysed (there is nothing better to crop to, and the model says what it says about it).
  const box = lungMask && (p.inPlane.spacingMm || cropZ) ? lungBox(view, lungMask) : null;
  if (box && p.inPlane.spacingMm) {
    columns = windowOnLungs(columns, box[0], box[1]);
    rows = windowOnLungs(rows, box[2], box[3]);
  }
  const xWeights = axisWeights(columns);
  const yWeights = axisWeights(rows);
  const [z0, z1] = box && cropZ ? [box[4], box[5]] : [0, nz - 1];
  const positions = zPositions(z1 - z0 + 1, view.spacing[2], p.zResampling.spacingMm).map((q) => q + z0);
  const depth = positions.length;
  const plane = height * width;
  const image = new Float32Array(depth * plane);

  // Normalised native slices, cached by oriented z: consecutive model slices share their neighbours.
  const cache = new Map<number, Float32Array>();
  const nativeSlice = (z: number): Float32Array => {
    const hit = cache.get(z);
    if (hit) return hit;
    const out = new Float32Array(nx * ny);
    const data = volume.data;
    for (let y = 0; y < ny; y++) {
      let idx = view.offset + y * view.stride[1] + z * view.stride[2];
      const row = y * nx;
      for (let x = 0; x < nx; x++, idx += view.stride[0]) {
        if (mask && mask[idx] === 0) continue; // stays 0
        const hu = data[idx] as number;
        out[row + x] = ((hu < huMin ? huMin : hu > huMax ? huMax : hu) - huMin) / range;
      }
    }
    if (cache.size >= 2) cache.delete(cache.keys().next().value as number);
    cache.set(z, out);
    return out;
  };

  const blended = new Float32Array(nx * ny);
  for (let j = 0; j < depth; j++) {
    const pos = positions[j] as number;
    const lo = Math.min(Math.max(Math.floor(pos), 0), nz - 1);
    const hi = Math.min(lo + 1, nz - 1);
    const frac = Math.min(Math.max(pos - lo, 0), 1);
    const a = nativeSlice(lo);
    let src = a;
    if (frac > 0 && hi !== lo) {
      const b = nativeSlice(hi);
      for (let i = 0; i < blended.length; i++)
        blended[i] = (a[i] as number) + ((b[i] as number) - (a[i] as number)) * frac;
      src = blended;
    }
    resampleSlice(src, ny, nx, yWeights, xWeights, image.subarray(j * plane, (j + 1) * plane));
  }
  const dzModel =
    depth > 1 ? ((positions[1] as number) - (positions[0] as number)) * view.spacing[2] : view.spacing[2];
  // A sheared grid (gantry tilt) has voxels of |det(direction)| the product of their edges (cos of the tilt):
  // its slices lie closer together than the k axis's spacing says.
  const voxelMl =
    (dzModel *
      (view.spacing[1] * rows.step) *
      (view.spacing[0] * columns.step) *
      Math.abs(determinant3(volume.direction))) /
    1000;
  return {
    image,
    depth,
    height,
    width,
    zPositions: positions,
    zRange: [z0, z1],
    view,
    voxelMl,
    columns,
    rows,
  };
}

/**
 * A fixed-spacing window (`size` model pixels centred on the field of view) moved the least that brings the
 * lungs' extent, oriented native pixels lo..hi, inside it; centred on them if they are wider than it. A
 * patient lying off the isocentre in a wide field of view would otherwise have part of a lung, well inside
 * the image, outside the model's window (a 450 mm field of view with the chest 60 mm to one side lost
 * 0.12 of lesion Dice). When the lungs already fit, nothing moves, so scans like the training's see
 * exactly the training's grid.
 */
export function windowOnLungs(m: AxisMap, lo: number, hi: number): AxisMap {
  const a = lo - 0.5;
  const b = hi + 0.5;
  const width = m.size * m.step;
  let start = m.start;
  if (b - a > width) start = (a + b) / 2 - width / 2;
  else if (a < start) start = a;
  else if (b > start + width) start = b - width;
  return start === m.start ? m : { ...m, start };
}

/**
 * The lungs' oriented extent [x0, x1, y0, y1, z0, z1] (native voxels, inclusive), or null without lung:
 * in plane for the model's window (windowOnLungs), along z for the crop (zCrop lung-extent).
 */
export function lungBox(view: OrientedView, lungMask: Uint8Array): Box6 | null {
  // One pass in storage order over native (i, j, k), then onto the oriented axes.
  const n = [0, 0, 0];
  for (let a = 0; a < 3; a++) n[view.axes[a]!.native] = view.dims[a]!;
  const [ni, nj, nk] = n as [number, number, number];
  const lo = [ni, nj, nk];
  const hi = [-1, -1, -1];
  for (let k = 0, idx = 0; k < nk; k++)
    for (let j = 0; j < nj; j++)
      for (let i = 0; i < ni; i++, idx++) {
        if (lungMask[idx] === 0) continue;
        if (i < lo[0]!) lo[0] = i;
        if (i > hi[0]!) hi[0] = i;
        if (j < lo[1]!) lo[1] = j;
        if (j > hi[1]!) hi[1] = j;
        if (k < lo[2]!) lo[2] = k;
        if (k > hi[2]!) hi[2] = k;
      }
  if (hi[0]! < 0) return null;
  const oriented = (a: 0 | 1 | 2): [number, number] => {
    const { native, flipped } = view.axes[a];
    const last = view.dims[a] - 1;
    return flipped ? [last - hi[native]!, last - lo[native]!] : [lo[native]!, hi[native]!];
  };
  return [...oriented(0), ...oriented(1), ...oriented(2)];
}

type Box6 = [number, number, number, number, number, number];
