/**
 * Emphysema: lung parenchyma destroyed into air spaces, the commonest finding on chest CT of the smokers
 * and older patients who also get pneumonia. Two kinds, as radiologists describe them:
 *
 * - centrilobular: many small lucencies (radius 1.5–5 mm) deep in the lung, upper-zone predominant
 *   (weight rising with height within each lung), sparing the subpleural lung;
 * - paraseptal bullae: a few large subpleural air spaces (radius 8–20 mm) in the upper zones, clipped
 *   by the pleura.
 *
 * Inside a space the parenchyma reads EMPHYSEMA_HU (air with a trace of tissue); vessels, airways and
 * lesions are drawn over it as over any lung. It is still lung: the truth's lung mask is unchanged, and
 * `share` of the lung's volume (counted on the lung model's 2 mm points) lies in a space. The CT index
 * radiologists read, the share of lung voxels below -950 HU (LAA-950), is measured on the rendered image
 * and recorded in truth.json.
 *
 * Planned in the anatomy's millimetres from the seed's "emphysema" stream, so every grid of a seed shows
 * the same spaces.
 */

import { getLungModel, modelPoint } from "./lung-model.js";
import { createRng } from "./rng.js";

/** Destroyed parenchyma, noise-free (HU): below the -950 HU that defines a low-attenuation area. */
export const EMPHYSEMA_HU = -985;
/** The most of the lung a phantom's emphysema may take (very severe disease is 40-50 %). */
export const MAX_EMPHYSEMA_SHARE = 0.6;

const CENTRILOBULAR_RADIUS_MM = [1.5, 5] as const;
const BULLA_RADIUS_MM = [8, 20] as const;
/** Bullae per unit share: 0.25 of the lung gets 5. */
const BULLAE_PER_SHARE = 20;
/** Lung kept clear between a centrilobular space and the pleura (mm). */
const SUBPLEURAL_SPARING_MM = 2;
/** Edge of a space, mm: its HU blends into the parenchyma's over this half-width. */
const EDGE_MM = 0.5;
/** Spatial hash cell of the centrilobular spaces (mm): no wider than one, so each is in at most 8 cells. */
const CELL_MM = 2 * CENTRILOBULAR_RADIUS_MM[1];

export interface EmphysemaPlan {
  /** Requested share of the lung's volume in air spaces (options.emphysema). */
  share: number;
  centrilobular: number;
  bullae: number;
  /** x, y, z, r (mm) of each centrilobular space, then of each bulla. */
  spaces: Float64Array;
  /** Centrilobular spaces (indices) per hash cell; the few bullae are always checked. */
  cells: Map<number, number[]>;
}

/** Plan the spaces for `share` of the lung (0 < share <= MAX_EMPHYSEMA_SHARE). */
export function planEmphysema(seed: number, share: number): EmphysemaPlan {
  const m = getLungModel();
  const rng = createRng(seed, "emphysema");
  const lungPoints: number[] = [];
  for (let n = 0; n < m.label.length; n++) if (m.label[n]) lungPoints.push(n);
  const destroyed = new Uint8Array(m.label.length);
  const target = Math.round(share * lungPoints.length);
  let covered = 0;
  const spaces: number[] = [];
  // Height within its lung, 0 at the base and 1 at the apex.
  const height = (n: number): number => {
    const [lo, hi] = m.label[n] === 1 ? m.zRange.right : m.zRange.left;
    return (modelPoint(m, n)[2] - lo) / (hi - lo);
  };
  const bullae = Math.round(BULLAE_PER_SHARE * share);
  const bullaSpaces: number[] = [];
  for (let b = 0; b < bullae; ) {
    const n = rng.pick(lungPoints);
    const r = rng.uniform(BULLA_RADIUS_MM[0], BULLA_RADIUS_MM[1]);
    // Subpleural, upper half: the centre at most r inside the pleura, so the space reaches it.
    if (height(n) < 0.5 || m.depth[n]! > 0.8 * r) continue;
    const [x, y, z] = jitter(modelPoint(m, n), m.step, rng.next(), rng.next(), rng.next());
    bullaSpaces.push(x, y, z, r);
    covered += markPoints(destroyed, x, y, z, r);
    b++;
  }
  let centrilobular = 0;
  // Spaces are drawn until the share is covered (overlaps count once); the guard stops a share the lung
  // cannot reach (never with the schema's maximum).
  for (let tries = 0; covered < target && tries < 50 * lungPoints.length; tries++) {
    const n = rng.pick(lungPoints);
    const r = rng.logUniform(CENTRILOBULAR_RADIUS_MM[0], CENTRILOBULAR_RADIUS_MM[1]);
    const t = height(n);
    if (!rng.chance(0.1 + 0.9 * t * t) || m.depth[n]! < r + SUBPLEURAL_SPARING_MM) continue;
    const [x, y, z] = jitter(modelPoint(m, n), m.step, rng.next(), rng.next(), rng.next());
    spaces.push(x, y, z, r);
    covered += markPoints(destroyed, x, y, z, r);
    centrilobular++;
  }
  const cells = hashSpaces(spaces);
  spaces.push(...bullaSpaces);
  return { share, centrilobular, bullae, spaces: Float64Array.from(spaces), cells };
}

/**
 * How much of anatomy point (x, y, z) lies in an air space: 1 inside one, 0 clear of all, blended over
 * EDGE_MM at the edges.
 */
export function emphysemaWeight(plan: EmphysemaPlan, x: number, y: number, z: number): number {
  const list = plan.cells.get(
    cellKey(Math.floor(x / CELL_MM), Math.floor(y / CELL_MM), Math.floor(z / CELL_MM)),
  );
  let w = 0;
  if (list) for (const q of list) w = Math.max(w, spaceWeight(plan.spaces, q, x, y, z));
  for (let q = plan.centrilobular; q < plan.centrilobular + plan.bullae && w < 1; q++)
    w = Math.max(w, spaceWeight(plan.spaces, q, x, y, z));
  return w;
}

/** emphysemaWeight for space q alone. */
function spaceWeight(s: Float64Array, q: number, x: number, y: number, z: number): number {
  const dx = x - s[4 * q]!;
  const dy = y - s[4 * q + 1]!;
  const dz = z - s[4 * q + 2]!;
  const r = s[4 * q + 3]!;
  const d2 = dx * dx + dy * dy + dz * dz;
  const outer = r + EDGE_MM;
  if (d2 >= outer * outer) return 0;
  const inner = r - EDGE_MM;
  return d2 <= inner * inner ? 1 : (outer - Math.sqrt(d2)) / (2 * EDGE_MM);
}

/** Parenchyma HU `base` at a point of emphysema weight w. */
export function emphysematousHu(base: number, w: number): number {
  return base + w * (EMPHYSEMA_HU - base);
}

/** A point anywhere in the model cell of centre c (u, v, w uniform in [0, 1)). */
function jitter(
  c: readonly number[],
  step: number,
  u: number,
  v: number,
  w: number,
): [number, number, number] {
  return [c[0]! + (u - 0.5) * step, c[1]! + (v - 0.5) * step, c[2]! + (w - 0.5) * step];
}

/** Mark the lung model's points within r of (x, y, z); returns how many were not marked before. */
function markPoints(destroyed: Uint8Array, x: number, y: number, z: number, r: number): number {
  const m = getLungModel();
  const [nx, ny, nz] = m.dims;
  const lo = (c: number, a: number) => Math.max(0, Math.ceil((c - r - m.origin[a]!) / m.step));
  const hi = (c: number, a: number, n: number) =>
    Math.min(n - 1, Math.floor((c + r - m.origin[a]!) / m.step));
  let added = 0;
  for (let k = lo(z, 2); k <= hi(z, 2, nz); k++)
    for (let j = lo(y, 1); j <= hi(y, 1, ny); j++)
      for (let i = lo(x, 0); i <= hi(x, 0, nx); i++) {
        const n = i + nx * (j + ny * k);
        if (!m.label[n] || destroyed[n]) continue;
        const dx = m.origin[0] + i * m.step - x;
        const dy = m.origin[1] + j * m.step - y;
        const dz = m.origin[2] + k * m.step - z;
        if (dx * dx + dy * dy + dz * dz > r * r) continue;
        destroyed[n] = 1;
        added++;
      }
  return added;
}

function cellKey(ci: number, cj: number, ck: number): number {
  // Cells of 10 mm: +-512 along each axis covers +-5 m, more than any grid reaches.
  return ((ci + 512) * 1024 + (cj + 512)) * 1024 + (ck + 512);
}

/** Each space listed in every cell its box (edge included) touches. */
function hashSpaces(spaces: readonly number[]): Map<number, number[]> {
  const cells = new Map<number, number[]>();
  for (let q = 0; q < spaces.length / 4; q++) {
    const r = spaces[4 * q + 3]! + EDGE_MM;
    const range = (c: number) => [Math.floor((c - r) / CELL_MM), Math.floor((c + r) / CELL_MM)] as const;
    const [i0, i1] = range(spaces[4 * q]!);
    const [j0, j1] = range(spaces[4 * q + 1]!);
    const [k0, k1] = range(spaces[4 * q + 2]!);
    for (let ck = k0; ck <= k1; ck++)
      for (let cj = j0; cj <= j1; cj++)
        for (let ci = i0; ci <= i1; ci++) {
          const key = cellKey(ci, cj, ck);
          const list = cells.get(key);
          if (list) list.push(q);
          else cells.set(key, [q]);
        }
  }
  return cells;
}
