/**
 * Upper, middle and lower zones of each lung: thirds of that lung's own craniocaudal extent.
 *
 * Height is patient z (LPS, superior positive) of each voxel centre, from the volume's affine, so
 * descending stacks (k running downwards), flipped axes and oblique grids all get the same zones as an
 * axial ascending one. For each lung (label 1 and label 2 separately) let lo and hi be the lowest and
 * highest z of its voxel centres and t = (z - lo) / (hi - lo): t < 1/3 is lower, t < 2/3 middle, the rest
 * upper. This is the phantom truth's rule (core/phantom/lung-model.ts zoneOf, thirds of each lung's height
 * from its sampled points), so findings on phantoms agree with truth.json. A lung cut by the field of
 * view is divided over the part that was scanned. A lung whose voxels all lie at one height (a single
 * axial slice) is all middle zone. Other label values get no zone.
 */
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { LUNG_LABEL, LUNG_ZONE } from "./types.js";

const RIGHT = LUNG_LABEL.right;
const LEFT = LUNG_LABEL.left;
const { upper: UPPER, middle: MIDDLE, lower: LOWER } = LUNG_ZONE;

export function assignZones(labels: Uint8Array, geometry: Geometry): Uint8Array {
  const [nx, ny, nz] = geometry.dims;
  if (labels.length !== nx * ny * nz) throw new RangeError("labels length must equal nx*ny*nz");
  const a = voxelToLps(geometry);
  const ai = a[8]!;
  const aj = a[9]!;
  const ak = a[10]!;
  const a0 = a[11]!;
  const plane = nx * ny;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  // Slices holding any lung (only those are visited again).
  let kFirst = nz;
  let kLast = -1;
  /** Update lo/hi from slice k; returns which lungs it holds (bit 1 right, bit 2 left). */
  const scanSlice = (k: number): number => {
    let idx = k * plane;
    let present = 0;
    for (let j = 0; j < ny; j++) {
      const zRow = aj * j + ak * k + a0;
      for (let i = 0; i < nx; i++, idx++) {
        const l = labels[idx]!;
        if (l !== RIGHT && l !== LEFT) continue;
        present |= l;
        const z = zRow + ai * i;
        if (z < lo[l]!) lo[l] = z;
        if (z > hi[l]!) hi[l] = z;
      }
    }
    return present;
  };
  // Label values 1 and 2 double as bits.
  const BOTH = RIGHT | LEFT;
  // Where z depends on k alone (axial stacks), a lung's extremes lie in the first and last slices that
  // hold it: scan in from each end only until both lungs have been met.
  const zByK = ai === 0 && aj === 0;
  let met = 0;
  let k = 0;
  for (; k < nz && !(zByK && met === BOTH); k++) {
    const present = scanSlice(k);
    if (!present) continue;
    met |= present;
    if (kFirst === nz) kFirst = k;
    kLast = k;
  }
  if (kFirst === nz) return new Uint8Array(labels.length);
  met = 0;
  for (let top = nz - 1; top >= k && met !== BOTH; top--) {
    const present = scanSlice(top);
    if (!present) continue;
    met |= present;
    if (top > kLast) kLast = top;
  }
  const zones = new Uint8Array(labels.length);
  const height = [0, hi[RIGHT]! - lo[RIGHT]!, hi[LEFT]! - lo[LEFT]!];
  const zoneOf = (l: number, z: number): number => {
    const h = height[l]!;
    if (!(h > 0)) return MIDDLE;
    const t = (z - lo[l]!) / h;
    return t < 1 / 3 ? LOWER : t < 2 / 3 ? MIDDLE : UPPER;
  };
  if (zByK) {
    // z is the same for the whole slice (aj * j and ai * i are zeros), so each lung has one zone per
    // slice: the same value the per-voxel rule gives, looked up by label.
    const lut = new Uint8Array(256);
    for (let k = kFirst; k <= kLast; k++) {
      const z = aj * 0 + ak * k + a0;
      lut[RIGHT] = zoneOf(RIGHT, z);
      lut[LEFT] = zoneOf(LEFT, z);
      const end = (k + 1) * plane;
      for (let idx = k * plane; idx < end; idx++) {
        const l = labels[idx]!;
        if (l !== 0) zones[idx] = lut[l]!;
      }
    }
    return zones;
  }
  for (let k = kFirst; k <= kLast; k++) {
    let idx = k * plane;
    for (let j = 0; j < ny; j++) {
      const zRow = aj * j + ak * k + a0;
      for (let i = 0; i < nx; i++, idx++) {
        const l = labels[idx]!;
        if (l !== RIGHT && l !== LEFT) continue;
        zones[idx] = zoneOf(l, zRow + ai * i);
      }
    }
  }
  return zones;
}
