/**
 * Pleural fluid lying beneath the lungs: a free effusion, the commonest one, settles in the dependent
 * pleural space, between the lung's dependent surface and the chest wall. The model was never shown one
 * (bench/README.md, "Pleural effusions": a litre of fluid put false lesion on a normal chest), so the
 * pipeline measures it to warn, not to report a finding.
 *
 * Rule. Walk every column of voxels along the image axis nearest the patient's posterior (+y, LPS; a
 * supine patient's fluid falls that way) and take, beneath the column's last lung voxel, the unbroken run
 * of water-density voxels (FLUID_HU, read on the median of a voxel's soft-tissue neighbours so that noise
 * can neither fake nor split a run) that starts within GAP_MM of the lung. Runs of MIN_LAYER_MM or more
 * count, as fluid of the side whose lung they lie under.
 *
 * What keeps other water-density tissue out, and the limits:
 *  - The stomach under the left dome lies beneath lung only where the posterior recess's lung lies beneath
 *    it again, and a run starts only after a column's last lung voxel; the diaphragm (muscle, over 30 HU)
 *    separates the dome's lung from anything below it, and a run must start within GAP_MM of the lung.
 *  - The chest wall's fat-muscle interfaces average to water density for a voxel or two: MIN_LAYER_MM.
 *  - Fluid behind a collapsed (atelectatic, 30-60 HU) band of lung starts beyond GAP_MM and is missed; so is
 *    the part of a large effusion wrapping round the lung's side (not beneath it in any column), loculated
 *    fluid away from the dependent side, and fluid of a prone patient (it falls anteriorly): the volume is
 *    a lower bound. Blood (a haemothorax, 35 HU and more) is not water-like and is not counted.
 */
import type { Volume } from "../../../core/contracts/volume.js";
import { axialPixelMm, orientedView } from "../preprocess/orientation.js";
import { voxelVolumeMl } from "./grid.js";
import { LUNG_LABEL } from "./types.js";

/** Water density on the soft-tissue neighbours' median: transudates read 0-20 HU, exudates up to about 30. */
export const FLUID_HU: readonly [number, number] = [-10, 30];
/** Beyond the lung's last voxel, at most this much (mm) that is not fluid before the run: partial volume. */
export const GAP_MM = 2.5;
/** Runs thinner than this (mm along the column) are the chest wall's partial volume, not fluid. */
export const MIN_LAYER_MM = 5;
/**
 * In-plane pixels coarser than this (mm) are not measured (null). Each pixel then mixes the chest wall's
 * 10-15 mm layers of fat (-100 HU) and muscle (40 HU) into water-like values: phantoms without fluid read
 * 20 mL per side at 2.8 mm pixels, 50 at 3.75 mm and 80-105 at 5.6 mm, and under 3.5 mL at 1.4 mm.
 */
export const MAX_PIXEL_MM = 2;
/** In-plane half-width of the neighbourhood a voxel's water density is read on (mm; at least a pixel). */
const NEIGHBOURHOOD_MM = 1.75;
/** Neighbours below this (HU) are air or lung partial volume and are left out of the median. */
const SOFT_TISSUE_FROM_HU = -300;

export interface PleuralFluid {
  /** Water-density fluid beneath each lung (mL), a lower bound (see the module's comment). */
  ml: { right: number; left: number };
  /** The deepest run beneath each lung (mm along the column). */
  depthMm: { right: number; left: number };
  /** The image axis (0 i, 1 j, 2 k) walked and its direction (+1 or -1 index steps towards posterior). */
  axis: { index: 0 | 1 | 2; step: 1 | -1 };
}

/** Null when the axial plane's pixels are coarser than MAX_PIXEL_MM: no honest measure. */
export function pleuralFluid(hu: Volume, labels: Uint8Array): PleuralFluid | null {
  const { dims, spacing, direction } = hu;
  const n = dims[0] * dims[1] * dims[2];
  if (labels.length !== n) throw new RangeError("labels length must equal nx*ny*nz");
  // The axial plane's pixels, whichever voxel axes carry it: a coronal stack's slice spacing runs across
  // the posterior chest wall, where the partial volume this guards against happens.
  if (axialPixelMm(hu) > MAX_PIXEL_MM) return null;
  const axis = posteriorAxis(direction);
  const a = axis.index;
  const [b, c] = ([0, 1, 2] as const).filter((x) => x !== a) as [0 | 1 | 2, 0 | 1 | 2];
  const stride = [1, dims[0], dims[0] * dims[1]] as const;
  const gapVoxels = Math.max(1, Math.round(GAP_MM / spacing[a]));
  const voxelMl = voxelVolumeMl(hu);
  const count = [0, 0, 0];
  const deepest = [0, 0, 0];
  const fluid = fluidTest(hu, labels, sliceAxis(hu));
  const len = dims[a];
  for (let vc = 0; vc < dims[c]; vc++)
    for (let vb = 0; vb < dims[b]; vb++) {
      const base = vb * stride[b] + vc * stride[c];
      const at = (t: number) => base + (axis.step === 1 ? t : len - 1 - t) * stride[a];
      // t counts steps towards posterior; the column's last lung voxel:
      let last = -1;
      for (let t = len - 1; t >= 0; t--)
        if (labels[at(t)] !== LUNG_LABEL.background) {
          last = t;
          break;
        }
      if (last < 0) continue;
      let t = last + 1;
      const gapEnd = Math.min(len, t + gapVoxels);
      while (t < gapEnd && !fluid(at(t))) t++;
      let run = 0;
      while (t < len && fluid(at(t))) {
        run++;
        t++;
      }
      if (run * spacing[a] < MIN_LAYER_MM) continue;
      const side = labels[at(last)]!;
      count[side]! += run;
      deepest[side] = Math.max(deepest[side]!, run * spacing[a]);
    }
  return {
    ml: { right: count[LUNG_LABEL.right]! * voxelMl, left: count[LUNG_LABEL.left]! * voxelMl },
    depthMm: { right: deepest[LUNG_LABEL.right]!, left: deepest[LUNG_LABEL.left]! },
    axis,
  };
}

/** The image axis whose direction has the largest LPS y component, and which way along it is posterior. */
export function posteriorAxis(direction: Volume["direction"]): PleuralFluid["axis"] {
  // Row y of the row-major direction matrix: each axis's LPS y component.
  const y: readonly [number, number, number] = [direction[3], direction[4], direction[5]];
  let index: 0 | 1 | 2 = 0;
  for (const x of [1, 2] as const) if (Math.abs(y[x]) > Math.abs(y[index])) index = x;
  return { index, step: y[index] >= 0 ? 1 : -1 };
}

/** The voxel axis nearest the body's long axis (2 for an axial stack): the one across the axial plane. */
function sliceAxis(g: Volume): 0 | 1 | 2 {
  return orientedView(g).axes[2].native as 0 | 1 | 2;
}

/**
 * Whether a voxel is water-like: itself soft tissue, and the median of its soft-tissue neighbours in
 * FLUID_HU. The neighbourhood is one slice either side and NEIGHBOURHOOD_MM in plane (at least one pixel):
 * 5 x 5 x 3 on pixels under 1.2 mm, where a sharp lung kernel leaves 50-100 HU of noise in soft tissue, and
 * 3 x 3 x 3 on coarser ones. The median, not the mean: a muscle voxel beside the lung has neighbours that
 * are part lung (-300 to 0 HU), and their mean read a band of chest-wall muscle as water; a median ignores
 * the minority at an edge. "Slice" and "plane" are the patient's axial ones (`slice`: the voxel axis across
 * them), so a coronal or sagittal stack is read like its axial copy.
 */
function fluidTest(hu: Volume, labels: Uint8Array, slice: 0 | 1 | 2): (o: number) => boolean {
  const [nx, ny, nz] = hu.dims;
  const data = hu.data;
  const radius = (x: 0 | 1 | 2) =>
    x === slice ? 1 : Math.max(1, Math.round(NEIGHBOURHOOD_MM / hu.spacing[x]));
  const [ri, rj, rk] = [radius(0), radius(1), radius(2)];
  const size = (2 * ri + 1) * (2 * rj + 1) * (2 * rk + 1);
  const values = new Float64Array(size);
  return (o) => {
    if (labels[o] !== LUNG_LABEL.background || data[o]! < SOFT_TISSUE_FROM_HU) return false;
    const i = o % nx;
    const j = Math.floor(o / nx) % ny;
    const k = Math.floor(o / (nx * ny));
    let m = 0;
    for (let kk = Math.max(0, k - rk); kk <= Math.min(nz - 1, k + rk); kk++)
      for (let jj = Math.max(0, j - rj); jj <= Math.min(ny - 1, j + rj); jj++) {
        const row = nx * (jj + ny * kk);
        for (let ii = Math.max(0, i - ri); ii <= Math.min(nx - 1, i + ri); ii++) {
          const v = data[row + ii]!;
          if (labels[row + ii] === LUNG_LABEL.background && v >= SOFT_TISSUE_FROM_HU) values[m++] = v;
        }
      }
    // Fewer than a third of the neighbourhood in soft tissue: a sliver beside air, not a layer.
    if (m < size / 3) return false;
    const median = select(values, m, m >> 1);
    return median >= FLUID_HU[0] && median <= FLUID_HU[1];
  };
}

/** The k-th smallest of v[0..n) (Hoare's selection; reorders v). */
function select(v: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = v[(lo + hi) >> 1]!;
    let a = lo;
    let b = hi;
    while (a <= b) {
      while (v[a]! < pivot) a++;
      while (v[b]! > pivot) b--;
      if (a <= b) {
        const t = v[a]!;
        v[a] = v[b]!;
        v[b] = t;
        a++;
        b--;
      }
    }
    if (k <= b) hi = b;
    else if (k >= a) lo = a;
    else return v[k]!;
  }
  return v[k]!;
}
