/**
 * Stamps: simple analytic solids (capsules, z-aligned cylinders) painted over the base anatomy, with a
 * tissue code, an attenuation and a rule for where they may paint. Bones, airways, vessels, the aorta and
 * the oesophagus are lists of stamps. Each stamp knows its own bounding box in mm, so the renderer only
 * visits the voxels it can touch.
 */
import type { Vec3 } from "../contracts/volume.js";
import type { TissueCode } from "./anatomy.js";

/**
 * Where a stamp may paint: anywhere inside the body, only inside the lungs (vessels: the lung mask stays
 * the analytic lung), or only outside them (mediastinal structures: they never eat into the lung mask).
 */
export type StampWhere = "body" | "lung" | "nonLung";

interface StampBase {
  tissue: TissueCode;
  hu: number;
  where: StampWhere;
  /**
   * Anti-aliased edge: the voxel's attenuation is blended by the fraction of a voxel the solid covers
   * (partial volume), and the tissue code changes only where it covers at least half. Thin vessels stay
   * visible as faint partial-volume lines instead of breaking into dots.
   */
  soft: boolean;
}

/** All points within r of the segment a-b. */
export interface CapsuleStamp extends StampBase {
  kind: "capsule";
  a: Vec3;
  b: Vec3;
  r: number;
}

/** A cylinder along z: radius r around (x, y), from z0 to z1 (flat ends: vertebral bodies, discs). */
export interface ZCylinderStamp extends StampBase {
  kind: "zcylinder";
  x: number;
  y: number;
  r: number;
  z0: number;
  z1: number;
}

export type Stamp = CapsuleStamp | ZCylinderStamp;

export function capsule(
  a: Vec3,
  b: Vec3,
  r: number,
  tissue: TissueCode,
  hu: number,
  where: StampWhere,
  soft = false,
): CapsuleStamp {
  return { kind: "capsule", a, b, r, tissue, hu, where, soft };
}

export function zCylinder(
  x: number,
  y: number,
  r: number,
  z0: number,
  z1: number,
  tissue: TissueCode,
  hu: number,
  where: StampWhere,
  soft = false,
): ZCylinderStamp {
  return { kind: "zcylinder", x, y, r, z0, z1, tissue, hu, where, soft };
}

/** Axis-aligned bounds in mm, grown by `pad` (the soft-edge half width). */
export function stampBounds(s: Stamp, pad: number): { lo: Vec3; hi: Vec3 } {
  if (s.kind === "capsule") {
    const r = s.r + pad;
    return {
      lo: [Math.min(s.a[0], s.b[0]) - r, Math.min(s.a[1], s.b[1]) - r, Math.min(s.a[2], s.b[2]) - r],
      hi: [Math.max(s.a[0], s.b[0]) + r, Math.max(s.a[1], s.b[1]) + r, Math.max(s.a[2], s.b[2]) + r],
    };
  }
  const r = s.r + pad;
  return { lo: [s.x - r, s.y - r, s.z0], hi: [s.x + r, s.y + r, s.z1] };
}

/** A chain of capsules through the given points (a polyline tube). */
export function tube(
  points: readonly Vec3[],
  r: number,
  tissue: TissueCode,
  hu: number,
  where: StampWhere,
  soft = false,
): CapsuleStamp[] {
  const out: CapsuleStamp[] = [];
  for (let i = 0; i + 1 < points.length; i++)
    out.push(capsule(points[i]!, points[i + 1]!, r, tissue, hu, where, soft));
  return out;
}
