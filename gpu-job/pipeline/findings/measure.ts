/**
 * The one measuring pass over the grid: every sum the findings need, in typed arrays, in raster order.
 * Lung voxels give lung volumes per lung and zone and each zone's height range; lesion voxels of kept
 * lesions give per-lesion sums (voxels, centroid, HU, attenuation classes, pleural distance, side) and the
 * scan-wide sums (HU histogram, subpleural shells, lesion voxels per lung and zone). The finding modules
 * only turn these sums into numbers; none of them touches a voxel again.
 */
import { SHELL_DEPTHS_MM } from "../../../core/contracts/findings.js";
import type { Mat4, Vec3 } from "../../../core/contracts/volume.js";
import type { Components } from "./components.js";
import { FindingsInputError } from "./errors.js";
import { zeroWordView } from "./zero-words.js";

/** Lesion HU histogram: fixed bins of 50 HU from -1000 to +200 HU, plus one bin below and one above. */
export const HISTOGRAM = { fromHu: -1000, toHu: 200, binWidthHu: 50 } as const;
export const HISTOGRAM_BINS = (HISTOGRAM.toHu - HISTOGRAM.fromHu) / HISTOGRAM.binWidthHu;

/** Index of (side 1|2, zone 0..3) in the per-region arrays; zone 0 holds lung voxels without a zone. */
export const regionIndex = (side: number, zone: number): number => 4 * (side - 1) + zone;
export const REGIONS = 8;

export interface LesionSums {
  voxels: Float64Array;
  /** Sums of the voxel indices (centroid = sum / voxels). */
  sumI: Float64Array;
  sumJ: Float64Array;
  sumK: Float64Array;
  sumHu: Float64Array;
  ggoVoxels: Float64Array;
  consolidationVoxels: Float64Array;
  /** Sum and number of the finite pleural distances (see Measurements.noPleuraVoxels). */
  sumPleuralMm: Float64Array;
  pleuralVoxels: Float64Array;
  rightVoxels: Float64Array;
  leftVoxels: Float64Array;
}

export interface Measurements {
  /** Per kept lesion, indexed by rank (0 = largest). */
  lesions: LesionSums;
  /** Voxels per regionIndex(side, zone). */
  lungVoxels: Float64Array;
  lesionVoxels: Float64Array;
  /** Lowest and highest LPS z (superior) of voxel centres per regionIndex(side, zone); +-Infinity if empty. */
  zoneMinZ: Float64Array;
  zoneMaxZ: Float64Array;
  /** Kept lesion voxels: [below fromHu, HISTOGRAM_BINS bins, at or above toHu]. */
  histogram: Float64Array;
  /** Kept lesion voxels within SHELL_DEPTHS_MM[s] of the pleura (surface distance <= depth). */
  shellVoxels: Float64Array;
  /** Kept lesion voxels in all, and their HU and (finite) pleural-distance sums. */
  keptVoxels: number;
  sumHu: number;
  sumPleuralMm: number;
  /**
   * Kept lesion voxels whose pleural distance is +Infinity: lung segmentation's way of saying no non-lung
   * voxel exists in the whole volume. They lie beyond every shell and stay out of the mean distances.
   */
  noPleuraVoxels: number;
  /** Lesion-mask voxels outside the lung labels (not measured). */
  outsideLungVoxels: number;
}

export interface MeasureInput {
  dims: Vec3;
  /** Voxel -> LPS affine of the grid (row-major 4x4). */
  voxelToLps: Mat4;
  hu: Int16Array | Float32Array;
  lesions: Uint8Array;
  lungLabels: Uint8Array;
  zones: Uint8Array;
  pleuralDistanceMm: Float32Array;
  /** From connectedComponents(lesions, dims, c, lungLabels). */
  components: Components;
  /** Rank of each component among the kept lesions, or -1 for an ignored one. */
  rankOf: Int32Array;
  keptCount: number;
  ggoMinHu: number;
  consolidationMinHu: number;
  /**
   * Subtracted from every pleural distance (clamped at 0): the distance map runs to the centre of the
   * nearest non-lung voxel, the pleural surface lies about half a voxel closer.
   */
  pleuralSurfaceOffsetMm: number;
}

export function measure(m: MeasureInput): Measurements {
  const [nx, ny, nz] = m.dims;
  const K = m.keptCount;
  const lesions: LesionSums = {
    voxels: new Float64Array(K),
    sumI: new Float64Array(K),
    sumJ: new Float64Array(K),
    sumK: new Float64Array(K),
    sumHu: new Float64Array(K),
    ggoVoxels: new Float64Array(K),
    consolidationVoxels: new Float64Array(K),
    sumPleuralMm: new Float64Array(K),
    pleuralVoxels: new Float64Array(K),
    rightVoxels: new Float64Array(K),
    leftVoxels: new Float64Array(K),
  };
  const lungVoxels = new Float64Array(REGIONS);
  const lesionVoxels = new Float64Array(REGIONS);
  const zoneMinZ = new Float64Array(REGIONS).fill(Infinity);
  const zoneMaxZ = new Float64Array(REGIONS).fill(-Infinity);
  const histogram = new Float64Array(HISTOGRAM_BINS + 2);
  const shells = Float64Array.from(SHELL_DEPTHS_MM);
  const shellVoxels = new Float64Array(shells.length);
  let keptVoxels = 0;
  let sumHu = 0;
  let sumPleuralMm = 0;
  let noPleuraVoxels = 0;

  const { hu, lesions: mask, lungLabels, zones, pleuralDistanceMm: depth, rankOf } = m;
  const comp = m.components.componentOfVoxel;
  const a = m.voxelToLps;
  const az = a[8]!;
  const { fromHu, toHu, binWidthHu } = HISTOGRAM;
  const surfaceOffset = m.pleuralSurfaceOffsetMm;
  // With i running horizontally (every axial grid) a row has one height: note which regions the row
  // touches and update their height ranges once per row instead of once per voxel.
  const rowHeight = az === 0;
  const words = zeroWordView(lungLabels);
  let cursor = 0;
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      // LPS z of voxel (0, j, k); it moves by az per step along i.
      const rowZ = a[9]! * j + a[10]! * k + a[11]!;
      let rowRegions = 0;
      for (let i = 0; i < nx; i++, idx++) {
        if (words !== undefined && (idx & 3) === 0 && i + 3 < nx && words[idx >>> 2] === 0) {
          i += 3;
          idx += 3;
          continue;
        }
        const side = lungLabels[idx]!;
        if (side === 0) continue;
        const zone = zones[idx]!;
        if (side > 2 || zone > 3) {
          throw new FindingsInputError(
            `lung label ${side} / zone ${zone} at voxel ${idx} is not a valid value`,
          );
        }
        const region = 4 * (side - 1) + zone;
        lungVoxels[region]!++;
        if (rowHeight) rowRegions |= 1 << region;
        else {
          const z = rowZ + az * i;
          if (z < zoneMinZ[region]!) zoneMinZ[region] = z;
          if (z > zoneMaxZ[region]!) zoneMaxZ[region] = z;
        }
        if (mask[idx] === 0) continue;

        const rank = rankOf[comp[cursor++]!]!;
        if (rank < 0) continue;
        const v = hu[idx]!;
        const d0 = depth[idx]!;
        if (!Number.isFinite(v) || !(d0 >= 0)) {
          throw new FindingsInputError(`non-finite HU or pleural distance at lesion voxel ${idx}`);
        }
        const d = d0 > surfaceOffset ? d0 - surfaceOffset : 0;
        lesionVoxels[region]!++;
        lesions.voxels[rank]!++;
        lesions.sumI[rank]! += i;
        lesions.sumJ[rank]! += j;
        lesions.sumK[rank]! += k;
        lesions.sumHu[rank]! += v;
        if (side === 1) lesions.rightVoxels[rank]!++;
        else lesions.leftVoxels[rank]!++;
        if (v >= m.consolidationMinHu) lesions.consolidationVoxels[rank]!++;
        else if (v >= m.ggoMinHu) lesions.ggoVoxels[rank]!++;
        histogram[
          v < fromHu ? 0 : v >= toHu ? HISTOGRAM_BINS + 1 : 1 + Math.floor((v - fromHu) / binWidthHu)
        ]!++;
        for (let s = 0; s < shells.length; s++) if (d <= shells[s]!) shellVoxels[s]!++;
        keptVoxels++;
        sumHu += v;
        if (d === Infinity) noPleuraVoxels++;
        else {
          sumPleuralMm += d;
          lesions.sumPleuralMm[rank]! += d;
          lesions.pleuralVoxels[rank]!++;
        }
      }
      for (let region = 0; rowRegions !== 0; region++, rowRegions >>>= 1) {
        if ((rowRegions & 1) === 0) continue;
        if (rowZ < zoneMinZ[region]!) zoneMinZ[region] = rowZ;
        if (rowZ > zoneMaxZ[region]!) zoneMaxZ[region] = rowZ;
      }
    }
  }
  const outsideLungVoxels = m.components.excluded;
  return {
    lesions,
    lungVoxels,
    lesionVoxels,
    zoneMinZ,
    zoneMaxZ,
    histogram,
    shellVoxels,
    keptVoxels,
    sumHu,
    sumPleuralMm,
    noPleuraVoxels,
    outsideLungVoxels,
  };
}
