/**
 * Branching trees inside the lungs: pulmonary arteries and veins, and the airways (trachea, main bronchi,
 * then lobar and smaller bronchi with an air lumen inside a thin wall).
 *
 * A tree grows from roots at each hilum. Each segment is a capsule whose length is a few times its
 * radius; it forks into two children whose radii obey Murray's law (r^3 = r1^3 + r2^3), turned away from
 * the parent by 20-40 degrees in one plane, and steered away from the pleura where the lung gets thin.
 * A branch stops when it would leave its lung or come too close to the pleura, or when it is thinner than
 * the smallest radius. Growth uses only the analytic lung and its reference depth field, never the
 * voxel grid.
 */
import type { Vec3 } from "../contracts/volume.js";
import { add, cross, dot, normalize, scale } from "../geometry/affine.js";
import { AIRWAY, lungSideAt, Tissue } from "./anatomy.js";
import { depthAt, getLungModel, inwardNormalAt, type LungModel } from "./lung-model.js";
import type { Rng } from "./rng.js";
import { capsule, type Stamp } from "./stamps.js";

export interface Segment {
  a: Vec3;
  b: Vec3;
  r: number;
}

interface Root {
  p: Vec3;
  dir: Vec3;
  r: number;
}

interface GrowthRules {
  side: 1 | 2;
  minRadius: number;
  /** Segment length = radius x this (x 0.7..1.3), at least minLength. */
  lengthPerRadius: number;
  minLength: number;
  /** A segment end must stay at least this deep (mm) inside the lung. */
  minDepth: number;
  branchDeg: [number, number];
  /** Hard cap on segments per tree set: growth is bounded whatever the random draws. */
  maxSegments: number;
}

/** Rotate v about the unit axis k by angle (Rodrigues). */
function rotate(v: Vec3, k: Vec3, angle: number): Vec3 {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const kv = cross(k, v);
  const kd = dot(k, v) * (1 - c);
  return [
    v[0] * c + kv[0] * s + k[0] * kd,
    v[1] * c + kv[1] * s + k[1] * kd,
    v[2] * c + kv[2] * s + k[2] * kd,
  ];
}

/** A random unit vector perpendicular to d. */
function randomPerpendicular(rng: Rng, d: Vec3): Vec3 {
  const helper: Vec3 = Math.abs(d[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  const u = normalize(cross(d, helper));
  const w = cross(d, u);
  const t = rng.uniform(0, 2 * Math.PI);
  return normalize(add(scale(u, Math.cos(t)), scale(w, Math.sin(t))));
}

function insideLung(model: LungModel, p: Vec3, rules: GrowthRules): boolean {
  return lungSideAt(p[0], p[1], p[2]) === rules.side && depthAt(model, p[0], p[1], p[2]) >= rules.minDepth;
}

export function growTree(rng: Rng, roots: readonly Root[], rules: GrowthRules): Segment[] {
  const model = getLungModel();
  const out: Segment[] = [];
  // Breadth-first, so a segment cap trims the finest generation rather than whole lobes.
  const queue: Array<Root & { first: boolean }> = roots.map((r) => ({ ...r, first: true }));
  for (let head = 0; head < queue.length && out.length < rules.maxSegments; head++) {
    const node = queue[head]!;
    let length = Math.max(rules.minLength, node.r * rules.lengthPerRadius * rng.uniform(0.7, 1.3));
    let end = add(node.p, scale(node.dir, length));
    if (!insideLung(model, end, rules)) {
      length /= 2;
      end = add(node.p, scale(node.dir, length));
      // A root may start in the hilum outside the lung; any later segment must stay inside.
      if (!node.first && !insideLung(model, end, rules)) continue;
    }
    out.push({ a: node.p, b: end, r: node.r });
    const f1 = rng.uniform(0.7, 0.86);
    const r1 = node.r * f1;
    const r2 = node.r * Math.cbrt(1 - f1 * f1 * f1);
    let dir = node.dir;
    const depth = depthAt(model, end[0], end[1], end[2]);
    if (depth < 20) {
      // Steer away from the pleura where the lung thins out, so trees fill the lung instead of leaving it.
      const inward = inwardNormalAt(model, end[0], end[1], end[2]);
      dir = normalize(add(dir, scale(inward, 0.5 * (1 - depth / 20))));
    }
    const axis = randomPerpendicular(rng, dir);
    const deg = (Math.PI / 180) * rng.uniform(rules.branchDeg[0], rules.branchDeg[1]);
    // The thinner child turns further (flow division), both in one plane.
    const children: Array<[number, number]> = [
      [r1, deg * 0.7],
      [r2, -deg * 1.1],
    ];
    for (const [r, angle] of children) {
      if (r < rules.minRadius) continue;
      queue.push({ p: end, dir: normalize(rotate(dir, axis, angle)), r, first: false });
    }
  }
  return out;
}

/** Lobar directions from a hilum, mirrored by side (s = -1 right, +1 left). */
function lobarDirections(s: -1 | 1): { upper: Vec3; middle: Vec3; lower: Vec3; lateral: Vec3 } {
  return {
    upper: normalize([s * 0.35, 0.05, 1]),
    middle: normalize([s * 0.55, -0.75, -0.35]),
    lower: normalize([s * 0.3, 0.45, -1]),
    lateral: normalize([s * 1, 0.15, -0.2]),
  };
}

const VESSEL_RULES = {
  minRadius: 0.45,
  lengthPerRadius: 5.5,
  minLength: 2.5,
  minDepth: 1.5,
  branchDeg: [22, 40] as [number, number],
  maxSegments: 9000,
};

/** Pulmonary arteries and veins of one lung. */
export function vesselSegments(rng: Rng, side: 1 | 2): Segment[] {
  const s = side === 1 ? -1 : 1;
  const d = lobarDirections(s);
  const hilum: Vec3 = side === 1 ? [-46, 4, -12] : [48, 6, -16];
  const veinHilum: Vec3 = [hilum[0], hilum[1] - 14, hilum[2] - 22];
  const arteries: Root[] = [
    { p: hilum, dir: d.upper, r: 5 },
    { p: hilum, dir: d.middle, r: 4 },
    { p: hilum, dir: d.lower, r: 5.5 },
    { p: hilum, dir: d.lateral, r: 4 },
  ];
  const veins: Root[] = [
    { p: veinHilum, dir: normalize([s * 0.45, 0.2, 0.9]), r: 4.5 },
    { p: veinHilum, dir: normalize([s * 0.8, -0.5, -0.1]), r: 4 },
    { p: veinHilum, dir: normalize([s * 0.4, 0.6, -0.8]), r: 5 },
  ];
  const rules = { ...VESSEL_RULES, side };
  return [...growTree(rng, arteries, rules), ...growTree(rng, veins, rules)];
}

const AIRWAY_RULES = {
  minRadius: 0.9,
  lengthPerRadius: 5,
  minLength: 3,
  minDepth: 8,
  branchDeg: [25, 40] as [number, number],
  maxSegments: 1500,
};

/** Airway lumens: trachea, main bronchi and the bronchial trees of both lungs. */
export function airwaySegments(rng: Rng): Segment[] {
  const out: Segment[] = [
    { a: AIRWAY.tracheaTop, b: AIRWAY.carina, r: AIRWAY.tracheaRadius },
    { a: AIRWAY.carina, b: AIRWAY.rightHilum, r: AIRWAY.rightMainRadius },
    { a: AIRWAY.carina, b: AIRWAY.leftHilum, r: AIRWAY.leftMainRadius },
  ];
  for (const side of [1, 2] as const) {
    const s = side === 1 ? -1 : 1;
    const d = lobarDirections(s);
    const h = side === 1 ? AIRWAY.rightHilum : AIRWAY.leftHilum;
    const roots: Root[] = [
      { p: h, dir: d.upper, r: 4.2 },
      { p: h, dir: d.middle, r: 3.2 },
      { p: h, dir: d.lower, r: 4.5 },
    ];
    out.push(...growTree(rng, roots, { ...AIRWAY_RULES, side }));
  }
  return out;
}

/** Airway wall thickness for a lumen radius: about 15 % of the diameter, at least 0.6 mm. */
export function airwayWall(r: number): number {
  return Math.max(0.6, 0.3 * r);
}

/** Stamps of the airway tree: every wall first, then every lumen, so walls never plug a parent's lumen. */
export function airwayStamps(segments: readonly Segment[]): Stamp[] {
  const walls = segments.map((g) =>
    capsule(g.a, g.b, g.r + airwayWall(g.r), Tissue.AIRWAY_WALL, 30, "body", true),
  );
  const lumens = segments.map((g) => capsule(g.a, g.b, g.r, Tissue.AIRWAY_LUMEN, -1000, "body", true));
  return [...walls, ...lumens];
}

export function vesselStamps(segments: readonly Segment[]): Stamp[] {
  return segments.map((g) => capsule(g.a, g.b, g.r, Tissue.VESSEL, 40, "lung", true));
}
