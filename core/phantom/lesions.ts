/**
 * Pneumonia lesions: where they go, how big, what they look like; drawn per class from distributions that
 * follow the four findings of DESIGN.md §4 (count, attenuation, extent, peripheral distribution).
 *
 * - covid: multi-focal (1 lesion in 10 % of cases, else 2-8), bilateral (the first two lesions always on
 *   opposite sides), peripheral (centres 5-25 mm from the pleura, flattened against it), lower-zone
 *   predominant, ground glass (-700..-350 HU) with a small consolidation core in a quarter of the lesions;
 *   total extent log-uniform 4-35 % of the lungs.
 * - cap: one lesion (55 %) or two, mostly in one lung (right more often), deep (centres 22-45 mm from the
 *   pleura), larger lobar-like blobs with a consolidation core (0..+100 HU) inside a ground-glass rim;
 *   total extent log-uniform 1.5-10 % (mostly under 8 %).
 * - normal: none.
 *
 * A lesion is a union of a few ellipsoids (a main body and satellites) whose normalised radius is
 * perturbed by low-frequency waves, giving an irregular blob. Its field f is 0 at the centre and 1 on the
 * truth boundary; attenuation fades from full at f = 0.75 to none at f = 1.25 (soft edge, half-way at
 * the boundary). Everything here is in mm and independent of the voxel grid; the renderer intersects it
 * with the lungs.
 */
import type { Mat3, Vec3 } from "../contracts/volume.js";
import { add, cross, dot, normalize, scale, sub } from "../geometry/affine.js";
import { depthAt, getLungModel, inwardNormalAt, type LungModel, modelPoint, zoneOf } from "./lung-model.js";
import { createRng, type Rng } from "./rng.js";

export type PhantomClass = "covid" | "cap" | "normal";
export type Zone = "upper" | "middle" | "lower";
export type LungSide = 1 | 2;

export interface LesionComponent {
  centre: Vec3;
  /** Rows are the component's unit axes. */
  axes: Mat3;
  semi: Vec3;
}

export interface LesionPlan {
  /** Instance label, 1..n. */
  id: number;
  side: LungSide;
  zone: Zone;
  /** Where the lesion was placed (mm), and that point's distance to the pleura. */
  centre: Vec3;
  pleuralDepthMm: number;
  components: LesionComponent[];
  waves: Array<{ k: Vec3; phase: number }>;
  waveAmplitude: number;
  /** Ground-glass attenuation of the rim (HU). */
  ggoHu: number;
  /** Attenuation of the consolidated core (HU). */
  consolidationHu: number;
  /** Field value below which the lesion is consolidated; 0 means pure ground glass. */
  coreFraction: number;
  /** Volume aimed for inside the lung (mL); the truth reports what the grid actually holds. */
  targetVolumeMl: number;
}

/** Field at which the truth boundary lies, and where the soft attenuation edge ends. */
export const LESION_BOUNDARY = 1;
export const LESION_HALO = 1.25;
const FADE_START = 0.75;

interface ClassRules {
  count(rng: Rng): number;
  extent(rng: Rng): number;
  side(rng: Rng, index: number, previous: LungSide[]): LungSide;
  zoneWeights: Record<Zone, number>;
  depth: [number, number];
  weight(rng: Rng, index: number): number;
  appearance(rng: Rng): { ggoHu: number; consolidationHu: number; coreFraction: number };
  /** Main ellipsoid semi-axes relative to the equivalent radius: [along pleura, along pleura, across]. */
  shape: Vec3;
  satellites: [number, number];
  /** Flatten against the pleura (covid) or orient at random (cap). */
  alignToPleura: boolean;
}

const ZONES: Zone[] = ["upper", "middle", "lower"];

const RULES: Record<Exclude<PhantomClass, "normal">, ClassRules> = {
  covid: {
    count: (rng) => (rng.chance(0.1) ? 1 : rng.int(2, 8)),
    extent: (rng) => rng.logUniform(0.04, 0.35),
    side: (rng, i, prev) => (i === 1 ? (prev[0] === 1 ? 2 : 1) : rng.chance(0.5) ? 1 : 2),
    zoneWeights: { lower: 0.55, middle: 0.3, upper: 0.15 },
    depth: [5, 25],
    weight: (rng) => rng.uniform(0.4, 1.6),
    appearance: (rng) => ({
      ggoHu: Math.round(rng.uniform(-700, -350)),
      consolidationHu: Math.round(rng.uniform(0, 80)),
      coreFraction: rng.chance(0.25) ? rng.uniform(0.25, 0.5) : 0,
    }),
    shape: [1.3, 1.1, 0.7],
    satellites: [1, 3],
    alignToPleura: true,
  },
  cap: {
    count: (rng) => (rng.chance(0.55) ? 1 : 2),
    extent: (rng) => rng.logUniform(0.015, 0.1),
    side: (rng, i, prev) =>
      i === 0 ? (rng.chance(0.6) ? 1 : 2) : rng.chance(0.7) ? prev[0]! : prev[0] === 1 ? 2 : 1,
    zoneWeights: { lower: 0.5, middle: 0.3, upper: 0.2 },
    depth: [22, 45],
    weight: (rng, i) => (i === 0 ? 1 : rng.uniform(0.3, 0.7)),
    appearance: (rng) => ({
      ggoHu: Math.round(rng.uniform(-650, -350)),
      consolidationHu: Math.round(rng.uniform(20, 100)),
      coreFraction: rng.uniform(0.45, 0.75),
    }),
    shape: [1.25, 1.0, 0.85],
    satellites: [2, 4],
    alignToPleura: false,
  },
};

/** All lesions of one phantom. Depends on class and seed only. */
export function planLesions(cls: PhantomClass, seed: number): LesionPlan[] {
  if (cls === "normal") return [];
  const rules = RULES[cls];
  const rng = createRng(seed, "lesions", cls);
  const model = getLungModel();
  const totalLungMl = model.volumeMl.right + model.volumeMl.left;
  const n = rules.count(rng);
  const extent = rules.extent(rng);
  const weights = Array.from({ length: n }, (_, i) => rules.weight(rng, i));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const candidates = candidatesBySideZone(model);
  const sides: LungSide[] = [];
  const lesions: LesionPlan[] = [];
  for (let i = 0; i < n; i++) {
    const side = rules.side(rng, i, sides);
    sides.push(side);
    const zone = ZONES[rng.weighted(ZONES.map((z) => rules.zoneWeights[z]))]!;
    const targetVolumeMl = (extent * totalLungMl * weights[i]!) / weightSum;
    const radius = Math.cbrt((3 * targetVolumeMl * 1000) / (4 * Math.PI));
    const centre = chooseCentre(rng, model, candidates, side, zone, rules.depth, radius, lesions);
    const lesion = buildLesion(rng, model, rules, i + 1, side, centre, radius, targetVolumeMl);
    lesions.push(lesion);
  }
  return lesions;
}

type CandidateTable = Record<LungSide, Record<Zone, Int32Array>>;
const candidateCache = new WeakMap<LungModel, CandidateTable>();

/** Model points by lung and zone; the model is fixed, so this is computed once per process. */
function candidatesBySideZone(model: LungModel): CandidateTable {
  let table = candidateCache.get(model);
  if (!table) {
    table = buildCandidates(model);
    candidateCache.set(model, table);
  }
  return table;
}

function buildCandidates(model: LungModel): CandidateTable {
  const lists: Record<LungSide, Record<Zone, number[]>> = {
    1: { upper: [], middle: [], lower: [] },
    2: { upper: [], middle: [], lower: [] },
  };
  const [nx, ny] = model.dims;
  for (let idx = 0; idx < model.label.length; idx++) {
    const side = model.label[idx] as 0 | 1 | 2;
    if (side === 0) continue;
    const z = model.origin[2] + Math.floor(idx / (nx * ny)) * model.step;
    lists[side][zoneOf(model, side, z)].push(idx);
  }
  const pack = (s: LungSide): Record<Zone, Int32Array> => ({
    upper: Int32Array.from(lists[s].upper),
    middle: Int32Array.from(lists[s].middle),
    lower: Int32Array.from(lists[s].lower),
  });
  return { 1: pack(1), 2: pack(2) };
}

/**
 * A random model point of that side and zone whose depth lies in range, kept apart from earlier lesions
 * so they do not merge. Falls back to wider depth ranges, then to any zone, rather than failing.
 */
function chooseCentre(
  rng: Rng,
  model: LungModel,
  candidates: CandidateTable,
  side: LungSide,
  zone: Zone,
  depth: [number, number],
  radius: number,
  placed: readonly LesionPlan[],
): Vec3 {
  const attempts: Array<{ zones: Zone[]; lo: number; hi: number }> = [
    { zones: [zone], lo: depth[0], hi: depth[1] },
    { zones: [zone], lo: Math.min(depth[0], 5), hi: Infinity },
    { zones: ZONES, lo: Math.min(depth[0], 5), hi: Infinity },
  ];
  for (const attempt of attempts) {
    const pool: number[] = [];
    for (const z of attempt.zones) {
      for (const idx of candidates[side][z]) {
        const d = model.depth[idx]!;
        if (d >= attempt.lo && d <= attempt.hi) pool.push(idx);
      }
    }
    if (pool.length === 0) continue;
    let best: Vec3 | undefined;
    let bestGap = -Infinity;
    for (let t = 0; t < 40; t++) {
      const p = modelPoint(model, rng.pick(pool));
      // Jitter within the model cell: centres are continuous, not on the 2 mm lattice.
      const c: Vec3 = [p[0] + rng.uniform(-1, 1), p[1] + rng.uniform(-1, 1), p[2] + rng.uniform(-1, 1)];
      let gap = Infinity;
      for (const other of placed) {
        const otherRadius = Math.cbrt((3 * other.targetVolumeMl * 1000) / (4 * Math.PI));
        gap = Math.min(gap, Math.hypot(...sub(c, other.centre)) - 0.8 * (radius + otherRadius));
      }
      if (gap >= 0) return c;
      if (gap > bestGap) {
        bestGap = gap;
        best = c;
      }
    }
    if (best) return best;
  }
  throw new Error(`no lung point available for a lesion on side ${side}`);
}

function randomUnit(rng: Rng): Vec3 {
  for (;;) {
    const v: Vec3 = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
    const n = Math.hypot(...v);
    if (n > 0.05 && n <= 1) return scale(v, 1 / n);
  }
}

/** Orthonormal frame whose third axis is `w`. */
function frameAround(rng: Rng, w: Vec3): Mat3 {
  const helper: Vec3 = Math.abs(w[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  let u = normalize(cross(w, helper));
  let v = cross(w, u);
  const t = rng.uniform(0, 2 * Math.PI);
  [u, v] = [
    add(scale(u, Math.cos(t)), scale(v, Math.sin(t))),
    add(scale(u, -Math.sin(t)), scale(v, Math.cos(t))),
  ];
  return [u[0], u[1], u[2], v[0], v[1], v[2], w[0], w[1], w[2]];
}

function buildLesion(
  rng: Rng,
  model: LungModel,
  rules: ClassRules,
  id: number,
  side: LungSide,
  centre: Vec3,
  radius: number,
  targetVolumeMl: number,
): LesionPlan {
  const inward = inwardNormalAt(model, centre[0], centre[1], centre[2]);
  const across: Vec3 = rules.alignToPleura && Math.hypot(...inward) > 0 ? inward : randomUnit(rng);
  const aspect = rules.shape.map((s) => s * rng.uniform(0.85, 1.15)) as Vec3;
  const components: LesionComponent[] = [
    { centre, axes: frameAround(rng, across), semi: scale(aspect, radius) },
  ];
  const satellites = rng.int(rules.satellites[0], rules.satellites[1]);
  for (let s = 0; s < satellites; s++) {
    let offset = scale(randomUnit(rng), radius * rng.uniform(0.45, 0.8));
    // Satellites of a subpleural lesion spread along the pleura, not into the chest wall.
    if (rules.alignToPleura) offset = sub(offset, scale(across, dot(offset, across) * 0.8));
    const size = radius * rng.uniform(0.4, 0.7);
    const satAspect: Vec3 = [rng.uniform(0.8, 1.25), rng.uniform(0.8, 1.25), rng.uniform(0.6, 1)];
    components.push({
      centre: add(centre, offset),
      axes: frameAround(rng, rules.alignToPleura ? across : randomUnit(rng)),
      semi: scale(satAspect, size),
    });
  }
  const waves = Array.from({ length: 3 }, () => ({
    k: scale(randomUnit(rng), (2 * Math.PI) / rng.uniform(14, 30)),
    phase: rng.uniform(0, 2 * Math.PI),
  }));
  const looks = rules.appearance(rng);
  const lesion: LesionPlan = {
    id,
    side,
    zone: zoneOf(model, side, centre[2]),
    centre,
    pleuralDepthMm: depthAt(model, centre[0], centre[1], centre[2]),
    components,
    waves,
    waveAmplitude: 0.12,
    ...looks,
    targetVolumeMl,
  };
  fitVolume(model, lesion, targetVolumeMl);
  return lesion;
}

/**
 * Scale the lesion about its centre until the part inside its lung holds the target volume (measured on
 * the 2 mm reference model): a subpleural lesion loses much of its body to the chest wall.
 */
function fitVolume(model: LungModel, lesion: LesionPlan, targetMl: number): void {
  for (let iter = 0; iter < 5; iter++) {
    const ml = volumeInLungMl(model, lesion);
    const ratio = ml > 0 ? targetMl / ml : 8;
    if (Math.abs(ratio - 1) < 0.04) return;
    const s = Math.min(2, Math.max(0.5, Math.cbrt(ratio)));
    for (const c of lesion.components) {
      c.centre = add(lesion.centre, scale(sub(c.centre, lesion.centre), s));
      c.semi = c.semi.map((v) => Math.min(80, v * s)) as Vec3;
    }
  }
}

/** Every second model point along each axis (4 mm): plenty for a target that is itself random. */
const FIT_STRIDE = 2;

function volumeInLungMl(model: LungModel, lesion: LesionPlan): number {
  const { lo, hi } = lesionBounds(lesion);
  const [nx, ny, nz] = model.dims;
  const st = model.step;
  const s = FIT_STRIDE;
  const i0 = Math.max(0, Math.floor((lo[0] - model.origin[0]) / st));
  const i1 = Math.min(nx - 1, Math.ceil((hi[0] - model.origin[0]) / st));
  const j0 = Math.max(0, Math.floor((lo[1] - model.origin[1]) / st));
  const j1 = Math.min(ny - 1, Math.ceil((hi[1] - model.origin[1]) / st));
  const k0 = Math.max(0, Math.floor((lo[2] - model.origin[2]) / st));
  const k1 = Math.min(nz - 1, Math.ceil((hi[2] - model.origin[2]) / st));
  let count = 0;
  for (let k = k0; k <= k1; k += s) {
    const z = model.origin[2] + k * st;
    for (let j = j0; j <= j1; j += s) {
      const y = model.origin[1] + j * st;
      const row = nx * (j + ny * k);
      for (let i = i0; i <= i1; i += s) {
        if (model.label[row + i] !== lesion.side) continue;
        if (lesionField(lesion, model.origin[0] + i * st, y, z) <= LESION_BOUNDARY) count++;
      }
    }
  }
  const cell = st * s;
  return (count * cell * cell * cell) / 1000;
}

/** Bounding box (mm) of everything the lesion can touch, halo included. */
export function lesionBounds(lesion: LesionPlan): { lo: Vec3; hi: Vec3 } {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  // The waves scale the normalised radius by at most (1 +- amplitude): the halo reaches this far at most.
  const reach = LESION_HALO / (1 - lesion.waveAmplitude) + 0.01;
  for (const c of lesion.components) {
    const r = Math.max(...c.semi) * reach;
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, c.centre[a]! - r);
      hi[a] = Math.max(hi[a]!, c.centre[a]! + r);
    }
  }
  return { lo, hi };
}

/**
 * The lesion field at p: 0 at a component centre, 1 on the truth boundary, growing outwards. The min
 * over components makes their union; the waves make the surface irregular.
 */
export function lesionField(lesion: LesionPlan, x: number, y: number, z: number): number {
  let best = Infinity;
  for (const c of lesion.components) {
    const dx = x - c.centre[0];
    const dy = y - c.centre[1];
    const dz = z - c.centre[2];
    const a = c.axes;
    const u = (a[0] * dx + a[1] * dy + a[2] * dz) / c.semi[0];
    const v = (a[3] * dx + a[4] * dy + a[5] * dz) / c.semi[1];
    const w = (a[6] * dx + a[7] * dy + a[8] * dz) / c.semi[2];
    const q = u * u + v * v + w * w;
    if (q < best) best = q;
  }
  // Far out the waves cannot bring the point back inside the halo: skip them (cheap early out).
  const reach = LESION_HALO / (1 - lesion.waveAmplitude);
  if (best > reach * reach) return Math.sqrt(best);
  let wave = 0;
  for (const wv of lesion.waves) wave += Math.sin(wv.k[0] * x + wv.k[1] * y + wv.k[2] * z + wv.phase);
  return Math.sqrt(best) * (1 + (lesion.waveAmplitude * wave) / lesion.waves.length);
}

/** Fraction of the lesion's attenuation present at field value f (soft edge). */
export function lesionWeight(f: number): number {
  if (f <= FADE_START) return 1;
  if (f >= LESION_HALO) return 0;
  const t = (f - FADE_START) / (LESION_HALO - FADE_START);
  return 1 - t * t * (3 - 2 * t);
}

/** Attenuation the lesion tends to at field value f: consolidated core blending into ground glass. */
export function lesionLevel(lesion: LesionPlan, f: number): number {
  if (lesion.coreFraction <= 0) return lesion.ggoHu;
  const lo = lesion.coreFraction - 0.08;
  const hi = lesion.coreFraction + 0.08;
  if (f <= lo) return lesion.consolidationHu;
  if (f >= hi) return lesion.ggoHu;
  const t = (f - lo) / (hi - lo);
  const s = t * t * (3 - 2 * t);
  return lesion.consolidationHu * (1 - s) + lesion.ggoHu * s;
}
