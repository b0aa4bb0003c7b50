/**
 * Exact squared Euclidean distance transform with per-axis spacing (Felzenszwalb & Huttenlocher 2012,
 * "Distance Transforms of Sampled Functions": one pass of lower envelopes of parabolas per axis).
 *
 * The input is a field of squared distances already known (0 on the "feature" voxels, +Infinity
 * elsewhere); each pass replaces f(q) by min_p f(p) + (s * (q - p))^2 along one axis, so after the three
 * passes every voxel holds the squared distance in mm^2 to the nearest feature voxel centre. Lines without
 * any finite value stay +Infinity (nothing to measure from in that line yet), and voxels outside the array
 * do not exist for the transform: there is no implicit feature beyond the edges.
 *
 * The axes are treated as orthogonal (true for every axial, descending, flipped or oblique stack; a
 * gantry-tilted stack's k axis is sheared by up to 30 degrees, where cross-slice distances come out up to
 * about 13 % long).
 */

/** Scratch buffers for one line, sized to the longest axis and reused for every line. */
interface LineScratch {
  f: Float64Array;
  g: Float64Array;
  v: Int32Array;
  z: Float64Array;
}

function lineScratch(n: number): LineScratch {
  return {
    f: new Float64Array(n),
    g: new Float64Array(n),
    v: new Int32Array(n),
    z: new Float64Array(n + 1),
  };
}

/**
 * 1D transform of f[from..to) with sample step s (mm) into g[from..to), positions measured from index 0 of
 * the line (so a segment's result is bit-identical to the whole line's there). Only finite samples enter
 * the envelope; with none, g is +Infinity there.
 */
function envelope(
  f: Float64Array,
  g: Float64Array,
  from: number,
  to: number,
  s: number,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = -1;
  for (let q = from; q < to; q++) {
    const fq = f[q]!;
    if (fq === Infinity) continue;
    const xq = q * s;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // Intersection (in mm) of the parabola rooted at q with the rightmost one of the envelope; pop the
    // envelope's parabolas that the new one hides. z[0] is -Infinity, so k never goes below 0.
    let p = v[k]!;
    let xp = p * s;
    let x = (fq + xq * xq - (f[p]! + xp * xp)) / (2 * (xq - xp));
    while (x <= z[k]!) {
      k--;
      p = v[k]!;
      xp = p * s;
      x = (fq + xq * xq - (f[p]! + xp * xp)) / (2 * (xq - xp));
    }
    k++;
    v[k] = q;
    z[k] = x;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    g.fill(Infinity, from, to);
    return;
  }
  k = 0;
  for (let q = from; q < to; q++) {
    const xq = q * s;
    while (z[k + 1]! < xq) k++;
    const d = xq - v[k]! * s;
    g[q] = f[v[k]!]! + d * d;
  }
}

/**
 * One pass along a line of n samples (src[base + stride * q]), in place. A zero sample (a feature voxel)
 * is a barrier: every sample beyond it is at least as far from the samples before it as the zero is, so
 * each run of non-zero samples is transformed on its own together with the zeros that bound it, and runs
 * of zeros cost nothing. The parabolas of a run and their intersections are the same as in the whole
 * line's envelope (nothing outside the bounding zeros can hide them), so the result is bit-identical to
 * transforming the whole line; the work is proportional to the non-feature samples only.
 */
function transformLine(
  src: Float32Array,
  base: number,
  stride: number,
  n: number,
  s: number,
  t: LineScratch,
): void {
  const { f, g, v, z } = t;
  let finite = false;
  let nonZero = false;
  for (let q = 0, p = base; q < n; q++, p += stride) {
    const val = src[p]!;
    f[q] = val;
    if (val !== Infinity) finite = true;
    if (val !== 0) nonZero = true;
  }
  // No finite value: nothing to measure from yet; all zeros: all feature.
  if (!finite || !nonZero) return;
  let q = 0;
  while (q < n) {
    if (f[q] === 0) {
      q++;
      continue;
    }
    const first = q;
    while (q < n && f[q] !== 0) q++;
    // Run [first, q) of non-zero samples, bounded by the zeros at first - 1 and q where they exist.
    const from = first > 0 ? first - 1 : 0;
    const to = q < n ? q + 1 : n;
    envelope(f, g, from, to, s, v, z);
    for (let r = first, p = base + stride * first; r < q; r++, p += stride) src[p] = g[r]!;
  }
}

/**
 * In place: `d2` (length nx*ny*nz, i fastest) must hold exactly 0 at feature voxels and +Infinity
 * elsewhere on entry; on return, squared distances in mm^2 to the nearest feature voxel centre.
 */
export function squaredDistanceTransform(
  d2: Float32Array,
  dims: readonly [number, number, number],
  spacing: readonly [number, number, number],
): void {
  const [nx, ny, nz] = dims;
  if (d2.length !== nx * ny * nz) throw new RangeError("distance field length must equal nx*ny*nz");
  const scratch = lineScratch(Math.max(nx, ny, nz));
  const plane = nx * ny;
  // Along i, on the binary input: the distance to the nearest feature in the row, by two sweeps.
  const sx = spacing[0];
  for (let base = 0; base < d2.length; base += nx) {
    let last = -Infinity;
    for (let q = 0; q < nx; q++) {
      if (d2[base + q] === 0) last = q;
      else if (last !== -Infinity) d2[base + q] = (q - last) * (q - last) * sx * sx;
    }
    if (last === -Infinity) continue;
    let next = Infinity;
    for (let q = nx - 1; q >= 0; q--) {
      const val = d2[base + q]!;
      if (val === 0) next = q;
      else if (next !== Infinity) {
        const right = (next - q) * (next - q) * sx * sx;
        if (right < val) d2[base + q] = right;
      }
    }
  }
  // Along j, slice by slice (a slice stays in cache).
  for (let k = 0; k < nz; k++) {
    for (let i = 0; i < nx; i++) {
      transformLine(d2, k * plane + i, nx, ny, spacing[1], scratch);
    }
  }
  // Along k: one row of lines at a time, transposed into a buffer so each line is contiguous (reading a
  // line straight from the volume would touch one cache line per slice).
  if (nz === 1) return;
  const block = new Float32Array(nx * nz);
  for (let j = 0; j < ny; j++) {
    for (let q = 0; q < nz; q++) {
      const src = j * nx + q * plane;
      for (let i = 0; i < nx; i++) block[i * nz + q] = d2[src + i]!;
    }
    for (let i = 0; i < nx; i++) {
      transformLine(block, i * nz, 1, nz, spacing[2], scratch);
    }
    for (let q = 0; q < nz; q++) {
      const dst = j * nx + q * plane;
      for (let i = 0; i < nx; i++) d2[dst + i] = block[i * nz + q]!;
    }
  }
}
