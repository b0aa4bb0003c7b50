/**
 * A hand-built scan for the findings tests: two box lungs side by side with zones by slice, lesions as
 * boxes with chosen HU and chosen pleural distances, so every finding has an exact expected value.
 */
import type { Mat3, Vec3, Volume } from "../../../../core/contracts/volume.js";
import type { FindingsInput } from "../../../../gpu-job/pipeline/findings/compute-findings.js";

export interface Box {
  i: [number, number];
  j: [number, number];
  k: [number, number];
}

export class Scene {
  readonly n: number;
  readonly hu: Int16Array;
  readonly lesions: Uint8Array;
  readonly labels: Uint8Array;
  readonly zones: Uint8Array;
  readonly distance: Float32Array;

  constructor(
    readonly dims: Vec3,
    readonly spacing: Vec3,
    readonly origin: Vec3 = [0, 0, 0],
    readonly direction: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1],
  ) {
    this.n = dims[0] * dims[1] * dims[2];
    this.hu = new Int16Array(this.n).fill(-1000);
    this.lesions = new Uint8Array(this.n);
    this.labels = new Uint8Array(this.n);
    this.zones = new Uint8Array(this.n);
    this.distance = new Float32Array(this.n);
  }

  index(i: number, j: number, k: number): number {
    return i + this.dims[0] * (j + this.dims[1] * k);
  }

  each(box: Box, f: (idx: number, i: number, j: number, k: number) => void): void {
    for (let k = box.k[0]; k <= box.k[1]; k++)
      for (let j = box.j[0]; j <= box.j[1]; j++)
        for (let i = box.i[0]; i <= box.i[1]; i++) f(this.index(i, j, k), i, j, k);
  }

  /** Lung voxels of `side` with parenchyma HU, a default depth, and the zone zoneOfK(k). */
  lung(box: Box, side: 1 | 2, zoneOfK: (k: number) => number, depthMm = 5): this {
    this.each(box, (idx, _i, _j, k) => {
      this.labels[idx] = side;
      this.zones[idx] = zoneOfK(k);
      this.hu[idx] = -850;
      this.distance[idx] = depthMm;
    });
    return this;
  }

  /** Lesion voxels with HU and pleural distance from the voxel position. */
  lesion(
    box: Box,
    hu: (i: number, j: number, k: number) => number,
    depthMm: (i: number, j: number, k: number) => number,
  ): this {
    this.each(box, (idx, i, j, k) => {
      this.lesions[idx] = 1;
      this.hu[idx] = hu(i, j, k);
      if (this.labels[idx] !== 0) this.distance[idx] = depthMm(i, j, k);
    });
    return this;
  }

  volume(): Volume {
    return {
      dims: this.dims,
      spacing: this.spacing,
      origin: this.origin,
      direction: this.direction,
      data: this.hu,
    };
  }

  input(): FindingsInput {
    return {
      hu: this.volume(),
      lesions: this.lesions,
      lungs: {
        dims: this.dims,
        spacing: this.spacing,
        labels: this.labels,
        zones: this.zones,
        volumeMl: { right: 0, left: 0 },
        warnings: [],
        cutInPlane: false,
      },
      pleuralDistanceMm: this.distance,
    };
  }
}

/** Zones by slice for a 12-slice grid with k growing superiorly: 0-3 lower, 4-7 middle, 8-11 upper. */
export const zoneBySlice = (k: number): number => (k < 4 ? 3 : k < 8 ? 2 : 1);

/**
 * The reference scene (spacing 1.5 x 1.5 x 2.5 mm, 5.625 µL voxels): box lungs of 10 x 14 x 12 voxels
 * (9.45 mL each, 3.15 mL per zone); lesion A in the right lower zone (4 x 4 x 2 voxels, 0.18 mL: slice 1
 * ground glass -500 HU at 3 mm depth, slice 2 consolidation +50 HU at 10 mm); lesion B in the left upper
 * zone (6 x 6 x 3, 0.6075 mL: its first row -400 HU at 7 mm, the rest -800 HU at 30 mm); a 2-voxel speck
 * (+100 HU, under the minimum volume) in the right lung; one lesion voxel outside the lungs.
 */
export function referenceScene(origin: Vec3 = [0, 0, 0], direction?: Mat3): Scene {
  const s = new Scene([24, 16, 12], [1.5, 1.5, 2.5], origin, direction);
  s.lung({ i: [1, 10], j: [1, 14], k: [0, 11] }, 1, zoneBySlice);
  s.lung({ i: [13, 22], j: [1, 14], k: [0, 11] }, 2, zoneBySlice);
  s.lesion(
    { i: [2, 5], j: [2, 5], k: [1, 2] },
    (_i, _j, k) => (k === 1 ? -500 : 50),
    (_i, _j, k) => (k === 1 ? 3 : 10),
  );
  s.lesion(
    { i: [15, 20], j: [3, 8], k: [8, 10] },
    (_i, j) => (j === 3 ? -400 : -800),
    (_i, j) => (j === 3 ? 7 : 30),
  );
  s.lesion(
    { i: [8, 8], j: [12, 12], k: [6, 7] },
    () => 100,
    () => 1,
  );
  s.lesion(
    { i: [0, 0], j: [5, 5], k: [5, 5] },
    () => -300,
    () => 0,
  );
  return s;
}
