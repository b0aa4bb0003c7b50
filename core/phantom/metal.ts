/**
 * Metal in the phantom (options.metal), for the streaks it draws across a real CT: a titanium can in the fat
 * under the left clavicle and a thin lead up the left parasternal line, and straight streaks through each in
 * the slices it crosses, dark and bright by turns, fading with distance (photon starvation and beam
 * hardening, drawn, not simulated). The can blocks its own streaks' path; the lead is thinner than its
 * streaks, so a dark one runs from the room's air through the chest wall into the lung below the air
 * threshold: the case that cost our lung stage whole slices of lung (lungs/leaks.ts).
 *
 * The device moves with the patient (drawn in the anatomy's millimetres, like the organs), sampled at voxel
 * centres; the streaks lie in the patient's axial plane (an axial scan's slices; a tilted scan's cut them
 * at a slant) and are added to the noise-free image before the noise. Deterministic for a seed.
 */
import type { Geometry } from "../contracts/volume.js";
import { voxelToLps } from "../geometry/affine.js";
import { HU_MAX, HU_MIN } from "./noise.js";
import { createRng } from "./rng.js";

/** The can: a box in anatomy millimetres (left anterior chest wall, below the clavicle). */
export const PACEMAKER = {
  centre: [70, -103, 65] as const,
  halfSize: [25, 4, 22] as const,
  hu: HU_MAX,
} as const;

/**
 * A subcutaneous defibrillator lead: a 1.5 mm wire running up the left parasternal line in the fat over the
 * ribs, from z0 to z1 (anatomy mm). Its streaks are wider than the wire, so they pass it: a dark one runs
 * from the room's air through the fat and the muscle into the lung.
 */
export const LEAD = { x: 35, y: -111, z0: -60, z1: 60, radiusMm: 0.75, hu: HU_MAX } as const;

/** Streaks: lines through each source, their strength at it (HU), half-width (mm) and fading (mm). */
export const STREAKS = {
  can: { lines: 8, darkHu: -700, brightHu: 350, halfWidthMm: 1.2, fadeMm: 60 },
  lead: { lines: 4, darkHu: -600, brightHu: 300, halfWidthMm: 2, fadeMm: 60 },
} as const;

interface Line {
  ux: number;
  uy: number;
  hu: number;
}

function streakLines(seed: number, source: "can" | "lead"): Line[] {
  const s = STREAKS[source];
  const phase = createRng(seed, "metal", source).uniform(0, Math.PI / s.lines);
  return Array.from({ length: s.lines }, (_, m) => {
    const t = phase + (m * Math.PI) / s.lines;
    return { ux: Math.cos(t), uy: Math.sin(t), hu: m % 2 === 0 ? s.darkHu : s.brightHu };
  });
}

/** The streaks of `lines` through a source at (0, 0) at the point (x, y) relative to it. */
function streakHu(lines: Line[], x: number, y: number, halfWidthMm: number, fadeMm: number): number {
  const w2 = halfWidthMm * halfWidthMm;
  let add = 0;
  for (const l of lines) {
    const across = x * -l.uy + y * l.ux;
    const along = Math.abs(x * l.ux + y * l.uy);
    add += (l.hu * Math.exp(-(across * across) / w2)) / (1 + along / fadeMm);
  }
  return add;
}

/**
 * Paint the can, the lead and their streaks into `hu`, the noise-free rendering on `grid` (the grid in
 * anatomy millimetres: renderResolved's anatomyGrid). Only slices within the metal's height are touched.
 */
export function paintPacemaker(hu: Int16Array, grid: Geometry, seed: number): void {
  const [nx, ny, nz] = grid.dims;
  const a = voxelToLps(grid);
  const canLines = streakLines(seed, "can");
  const leadLines = streakLines(seed, "lead");
  const [cx, cy, cz] = PACEMAKER.centre;
  const [hx, hy, hz] = PACEMAKER.halfSize;
  const { can, lead } = STREAKS;
  const r2 = LEAD.radiusMm * LEAD.radiusMm;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const x = a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        const y = a[4]! * i + a[5]! * j + a[6]! * k + a[7]!;
        const z = a[8]! * i + a[9]! * j + a[10]! * k + a[11]!;
        const atCan = Math.abs(z - cz) <= hz;
        const atLead = z >= LEAD.z0 && z <= LEAD.z1;
        if (!atCan && !atLead) continue;
        const n = i + nx * j + nx * ny * k;
        const dx = x - cx;
        const dy = y - cy;
        const lx = x - LEAD.x;
        const ly = y - LEAD.y;
        if ((atCan && Math.abs(dx) <= hx && Math.abs(dy) <= hy) || (atLead && lx * lx + ly * ly <= r2)) {
          hu[n] = HU_MAX;
          continue;
        }
        let add = 0;
        if (atCan) add += streakHu(canLines, dx, dy, can.halfWidthMm, can.fadeMm);
        if (atLead) add += streakHu(leadLines, lx, ly, lead.halfWidthMm, lead.fadeMm);
        hu[n] = Math.max(HU_MIN, Math.min(Math.round(hu[n]! + add), HU_MAX));
      }
}
