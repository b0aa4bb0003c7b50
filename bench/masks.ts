/**
 * Comparing two lesion or lung masks voxel by voxel (benchmarks only): bench/model-quality.ts against a
 * phantom's truth, bench/gpu/check.ts between execution providers. The masks may be on the same voxels with axes
 * permuted or flipped; anything else is an error, not a number.
 */
import type { Geometry } from "../core/contracts/volume.js";
import { readNiftiFile } from "../core/nifti/read.js";

/**
 * Index map from grid `a` onto grid `b` when both are the same set of voxel centres, possibly with axes
 * permuted or flipped (a DICOM series read in position order against a truth written in instance order):
 * b's linear index of a's voxel (i, j, k) is offset[0][i] + offset[1][j] + offset[2][k]. Throws when the
 * grids are not the same voxels: a comparison across different grids would be meaningless.
 */
function gridMap(a: Geometry, b: Geometry, what: string): [Int32Array, Int32Array, Int32Array] {
  // b index = A * (a index) + c, A = diag(1/sb) Db^T Da diag(sa), c = diag(1/sb) Db^T (oa - ob).
  const col = (g: Geometry, c: number) => [g.direction[c]!, g.direction[3 + c]!, g.direction[6 + c]!];
  const dot = (x: number[], y: number[]) => x[0]! * y[0]! + x[1]! * y[1]! + x[2]! * y[2]!;
  const strides = [1, b.dims[0], b.dims[0] * b.dims[1]];
  const delta = [0, 1, 2].map((r) => a.origin[r]! - b.origin[r]!);
  const c = [0, 1, 2].map((bAxis) => dot(col(b, bAxis), delta) / b.spacing[bAxis]!);
  const offsets: Int32Array[] = [];
  const used = new Set<number>();
  for (let aAxis = 0; aAxis < 3; aAxis++) {
    const steps = [0, 1, 2].map(
      (bAxis) => (dot(col(b, bAxis), col(a, aAxis)) * a.spacing[aAxis]!) / b.spacing[bAxis]!,
    );
    const bAxis = steps.findIndex((x) => Math.abs(Math.abs(x) - 1) < 1e-3);
    if (bAxis < 0 || used.has(bAxis) || steps.some((x, i) => i !== bAxis && Math.abs(x) > 1e-3))
      throw new Error(`${what}: the grids are not the same voxels (axis ${aAxis} steps ${steps.join(", ")})`);
    used.add(bAxis);
    const sign = Math.sign(steps[bAxis]!);
    const off = new Int32Array(a.dims[aAxis]!);
    for (let x = 0; x < off.length; x++) {
      const y = sign * x + c[bAxis]!;
      const yi = Math.round(y);
      if (Math.abs(y - yi) > 1e-2 || yi < 0 || yi >= b.dims[bAxis]!)
        throw new Error(`${what}: voxel ${x} of axis ${aAxis} is not a voxel of the other grid (${y})`);
      off[x] = yi * strides[bAxis]!;
    }
    offsets.push(off);
  }
  return offsets as [Int32Array, Int32Array, Int32Array];
}

/** Dice, volumes and false positives of a predicted mask against the truth (the same voxels). */
export async function compareMasks(predictedPath: string, truthPath: string) {
  const { volume: p } = await readNiftiFile(predictedPath);
  const { volume: t } = await readNiftiFile(truthPath);
  return compareVolumes(p, t, `${predictedPath} vs ${truthPath}`);
}

export function compareVolumes(
  p: Geometry & { data: ArrayLike<number> },
  t: Geometry & { data: ArrayLike<number> },
  what: string,
) {
  const [oi, oj, ok] = gridMap(p, t, what);
  let both = 0;
  let nP = 0;
  let nT = 0;
  const pd = p.data;
  const td = t.data;
  const [nx, ny, nz] = p.dims;
  for (let k = 0, n = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      const base = ok[k]! + oj[j]!;
      for (let i = 0; i < nx; i++, n++) {
        const a = pd[n]! > 0;
        const b = td[base + oi[i]!]! > 0;
        if (a) nP++;
        if (b) nT++;
        if (a && b) both++;
      }
    }
  const voxelMl = (p.spacing[0] * p.spacing[1] * p.spacing[2]) / 1000;
  return {
    // Dice is undefined without true lesions (non-pneumonia): their error is the false-positive volume.
    dice: nT === 0 ? null : (2 * both) / (nP + nT),
    predictedMl: nP * voxelMl,
    truthMl: nT * voxelMl,
    falsePositiveMl: (nP - both) * voxelMl,
  };
}
