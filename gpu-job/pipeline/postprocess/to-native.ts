/**
 * Model grid -> the scan's own voxel grid. The inverse of preprocess/model-grid.ts, as
 * model/deepsc/preprocess.py `to_native` does it:
 *  - in plane, model pixel i is centred on native coordinate (i + 0.5) * n / size - 0.5 (area sampling), so
 *    native pixels are read bilinearly at (x + 0.5) * size / n - 0.5, clamped at the edges
 *    (interpolate(..., align_corners=False));
 *  - along z, model slice j sits at native slice position p_j, so native slice k is read linearly at model
 *    coordinate k / (p_1 - p_0), clamped at the ends;
 *  - the oriented (LPS) array is written back through the view's strides, so the result lies on the input's
 *    own grid whatever its orientation.
 * Lesion = blended logit above the threshold and inside the lungs; evidence is quantised to 8 bits.
 */
import type { AxisMap, ModelGrid } from "../preprocess/model-grid.js";

export interface NativeMaps {
  /** 1 lesion, 0 background, on the input grid. */
  lesions: Uint8Array;
  /** Evidence quantised: value = range[0] + q * (range[1] - range[0]) / 255. */
  evidence: Uint8Array;
  lesionVoxels: number;
}

interface AxisTable {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
}

/** Native pixels outside the model's in-plane window: 1 where the model never saw the pixel. */
type InPlaneTable = AxisTable & { outside: Uint8Array };

/**
 * Bilinear source positions of the native pixels in model pixels: native pixel x sits at model coordinate
 * (x - start) / step - 0.5 (model pixel o is centred on start + (o + 0.5) * step), clamped to the grid.
 * For a resized field of view (start -0.5, step n/size) this is (x + 0.5) * size / n - 0.5, PyTorch's
 * interpolate(..., align_corners=False), and every native pixel lies within the window. A fixed-spacing
 * window (windowOnLungs) can leave native pixels beyond its edges: those are `outside` (background, like
 * the slices past zRange), not copies of the window's edge column.
 */
function inPlaneTable(m: AxisMap): InPlaneTable {
  const { n, size } = m;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const frac = new Float32Array(n);
  const outside = new Uint8Array(n);
  // The window spans model coordinates [-0.5, size - 0.5]; a hair of slack for rounding at its edges.
  const slack = 1e-6;
  for (let i = 0; i < n; i++) {
    const raw = (i - m.start) / m.step - 0.5;
    if (raw < -0.5 - slack || raw > size - 0.5 + slack) outside[i] = 1;
    const src = Math.min(Math.max(raw, 0), size - 1);
    const l = Math.min(Math.floor(src), size - 1);
    lo[i] = l;
    hi[i] = Math.min(l + 1, size - 1);
    frac[i] = Math.min(src - l, 1);
  }
  return { lo, hi, frac, outside };
}

/**
 * Where each native slice reads the model grid along z; -1 in `lo` for slices outside the grid's zRange
 * (cropped away: background). Inside it, clamped to the first and last model slice.
 */
function zTable(nz: number, positions: Float64Array, [z0, z1]: [number, number]): AxisTable {
  const d = positions.length;
  const lo = new Int32Array(nz);
  const hi = new Int32Array(nz);
  const frac = new Float32Array(nz);
  for (let k = 0; k < nz; k++) if (k < z0 || k > z1) lo[k] = -1;
  if (d === 1) return { lo, hi, frac };
  const step = (positions[1] as number) - (positions[0] as number);
  for (let k = z0; k <= z1; k++) {
    const c = (k - (positions[0] as number)) / step;
    const l = Math.min(Math.max(Math.floor(c), 0), d - 1);
    lo[k] = l;
    hi[k] = Math.min(l + 1, d - 1);
    frac[k] = Math.min(Math.max(c - l, 0), 1);
  }
  return { lo, hi, frac };
}

/** Fixed-point scale of `logitsInto`: stored = round(logit * LOGIT_STEPS), saturating at ±128. */
export const LOGIT_STEPS = 256;
/** Lesion logit of native slices outside the model grid's zRange. */
const OUTSIDE_LOGIT = -128;

export function toNative(
  grid: ModelGrid,
  lesionLogits: Float32Array,
  evidence: Float32Array,
  opts: {
    threshold: number;
    evidenceRange: [number, number];
    lungMask: Uint8Array | null;
    /**
     * Also receives the interpolated lesion logit of every voxel, in 1/LOGIT_STEPS units (int16: half the
     * memory of float32 on a large aligned grid; 1/256 is far finer than any threshold needs).
     */
    logitsInto?: Int16Array;
    /**
     * Build the lesion mask (default). Off when only `logitsInto` and the evidence are wanted (an oblique
     * scan's two views are thresholded after averaging): the mask is then empty and costs no memory.
     */
    lesions?: boolean;
    /**
     * Native pixels beyond a fixed-spacing in-plane window: "background" (default: the lowest logit, the
     * least evidence; the model never saw them) or "edge" (the window's edge pixel, as before 2026-11-29).
     * An oblique scan's two views take "edge": their weighted mean would read one view's background as
     * strong evidence against a lesion the other view saw (-128 x weight), not as "no opinion".
     */
    outsideWindow?: "background" | "edge";
  },
): NativeMaps {
  const { view } = grid;
  const [nx, ny, nz] = view.dims;
  const total = nx * ny * nz;
  const wantLesions = opts.lesions ?? true;
  const background = (opts.outsideWindow ?? "background") === "background";
  const lesions = new Uint8Array(wantLesions ? total : 0);
  const ev = new Uint8Array(total);
  const plane = grid.height * grid.width;
  const xs = inPlaneTable(grid.columns);
  const ys = inPlaneTable(grid.rows);
  const zs = zTable(nz, grid.zPositions, grid.zRange);
  const logitSlice = new Float32Array(plane);
  const evSlice = new Float32Array(plane);
  const [evMin, evMax] = opts.evidenceRange;
  const evScale = 255 / (evMax - evMin);
  const mask = opts.lungMask;
  const logitsOut = opts.logitsInto;
  if (logitsOut && logitsOut.length !== total) throw new Error("logitsInto is not on the native grid");
  let lesionVoxels = 0;

  for (let z = 0; z < nz; z++) {
    // The model slice at this native z, interpolated once; then bilinear reads in plane. A slice the
    // model grid does not cover is background: the lowest logit the int16 store holds, the least evidence.
    if ((zs.lo[z] as number) < 0) {
      logitSlice.fill(OUTSIDE_LOGIT);
      evSlice.fill(evMin);
    } else {
      const a = (zs.lo[z] as number) * plane;
      const b = (zs.hi[z] as number) * plane;
      const fz = zs.frac[z] as number;
      for (let i = 0; i < plane; i++) {
        const la = lesionLogits[a + i] as number;
        const ea = evidence[a + i] as number;
        logitSlice[i] = la + ((lesionLogits[b + i] as number) - la) * fz;
        evSlice[i] = ea + ((evidence[b + i] as number) - ea) * fz;
      }
    }
    for (let y = 0; y < ny; y++) {
      const r0 = (ys.lo[y] as number) * grid.width;
      const r1 = (ys.hi[y] as number) * grid.width;
      const fy = ys.frac[y] as number;
      const rowOutside = background && ys.outside[y] === 1;
      let idx = view.offset + y * view.stride[1] + z * view.stride[2];
      for (let x = 0; x < nx; x++, idx += view.stride[0]) {
        if (rowOutside || (background && xs.outside[x] === 1)) {
          // Beyond the in-plane window: the model saw nothing here (ev stays 0 = evMin, no lesion).
          if (logitsOut) logitsOut[idx] = OUTSIDE_LOGIT * LOGIT_STEPS;
          continue;
        }
        const c0 = xs.lo[x] as number;
        const c1 = xs.hi[x] as number;
        const fx = xs.frac[x] as number;
        const l00 = logitSlice[r0 + c0] as number;
        const l01 = logitSlice[r0 + c1] as number;
        const l10 = logitSlice[r1 + c0] as number;
        const l11 = logitSlice[r1 + c1] as number;
        const top = l00 + (l01 - l00) * fx;
        const bottom = l10 + (l11 - l10) * fx;
        const logit = top + (bottom - top) * fy;
        if (logitsOut) {
          const q = Math.round(logit * LOGIT_STEPS);
          logitsOut[idx] = Math.max(-32768, Math.min(32767, q));
        }
        if (wantLesions && logit > opts.threshold && (mask === null || mask[idx] !== 0)) {
          lesions[idx] = 1;
          lesionVoxels++;
        }
        const e00 = evSlice[r0 + c0] as number;
        const e01 = evSlice[r0 + c1] as number;
        const e10 = evSlice[r1 + c0] as number;
        const e11 = evSlice[r1 + c1] as number;
        const et = e00 + (e01 - e00) * fx;
        const eb = e10 + (e11 - e10) * fx;
        const e = et + (eb - et) * fy;
        const q = Math.round((e - evMin) * evScale);
        ev[idx] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
  return { lesions, evidence: ev, lesionVoxels };
}
