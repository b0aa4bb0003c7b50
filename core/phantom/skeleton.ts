/**
 * Bones and mediastinal tubes as stamps: twelve pairs of ribs (cortical shell over marrow, sloping down
 * towards the front, costal cartilage to the sternum for the true ribs), the thoracic spine (vertebral
 * bodies with discs, posterior arch, spinous and transverse processes, spinal canal), the sternum, the
 * aorta, the pulmonary trunk and the oesophagus. Bone attenuation varies a little per bone (seeded).
 */
import type { Vec3 } from "../contracts/volume.js";
import { AORTA, CAVITY, ESOPHAGUS, SPINE, Tissue } from "./anatomy.js";
import type { Rng } from "./rng.js";
import { capsule, type Stamp, tube, zCylinder } from "./stamps.js";

/** Rib centreline ellipse: in the chest-wall band between the pleural cavity and the fat. */
const RIB_PATH = { a: 152, b: 102, cy: CAVITY.cy } as const;
const RIB_RADIUS = 5;
const RIB_MARROW_RADIUS = 2.8;
/** Posterior ends of rib 1..12 (z, mm): 23 mm apart. */
const RIB_TOP_Z = 118;
const RIB_STEP_Z = 23;
/** Ribs fall about 40 mm from their posterior end to their anterior end. */
const RIB_DROP = 40;
const RIB_POSTERIOR_DEG = 72;
const STERNUM = { y: -99, z0: -115, z1: 95, r: 7, marrow: 4.5 } as const;
const VERTEBRA_PERIOD = 27;
const DISC_HEIGHT = 5;
/** Vertebrae are generated over this z span; the renderer clips to the grid. */
const SPINE_Z: [number, number] = [-300, 300];

function ribAnteriorDeg(rib: number): number {
  if (rib <= 7) return -72; // true ribs reach the costal cartilage next to the sternum
  if (rib <= 10) return -50;
  return -5; // floating ribs stop laterally
}

function ribPoint(side: -1 | 1, deg: number, zPost: number): Vec3 {
  const phi = (deg * Math.PI) / 180;
  const drop = (RIB_DROP * (RIB_POSTERIOR_DEG - deg)) / (RIB_POSTERIOR_DEG + 72);
  return [side * RIB_PATH.a * Math.cos(phi), RIB_PATH.cy + RIB_PATH.b * Math.sin(phi), zPost - drop];
}

export function ribStamps(rng: Rng): Stamp[] {
  const cortex: Stamp[] = [];
  const marrow: Stamp[] = [];
  for (const side of [-1, 1] as const) {
    for (let rib = 1; rib <= 12; rib++) {
      const zPost = RIB_TOP_Z - RIB_STEP_Z * (rib - 1);
      const end = ribAnteriorDeg(rib);
      const n = Math.max(4, Math.round((RIB_POSTERIOR_DEG - end) / 9));
      const pts: Vec3[] = [];
      for (let s = 0; s <= n; s++)
        pts.push(ribPoint(side, RIB_POSTERIOR_DEG + ((end - RIB_POSTERIOR_DEG) * s) / n, zPost));
      const hu = Math.round(rng.uniform(720, 980));
      cortex.push(...tube(pts, RIB_RADIUS, Tissue.CORTICAL_BONE, hu, "body"));
      marrow.push(...tube(pts, RIB_MARROW_RADIUS, Tissue.MARROW, Math.round(rng.uniform(200, 300)), "body"));
      if (rib <= 7) {
        const last = pts[pts.length - 1]!;
        cortex.push(capsule(last, [side * 9, STERNUM.y, last[2] - 6], 4.5, Tissue.CARTILAGE, 110, "body"));
      }
      // The rib head meets the transverse process next to the vertebra.
      cortex.push(
        capsule(
          pts[0]!,
          [side * 30, SPINE.canalY + 8, zPost + 2],
          RIB_RADIUS,
          Tissue.CORTICAL_BONE,
          hu,
          "body",
        ),
      );
    }
  }
  return [...cortex, ...marrow];
}

export function spineStamps(rng: Rng): Stamp[] {
  const bones: Stamp[] = [];
  const marrow: Stamp[] = [];
  const soft: Stamp[] = [];
  const { x, y, bodyRadius, canalY, canalRadius } = SPINE;
  for (let z = SPINE_Z[0]; z < SPINE_Z[1]; z += VERTEBRA_PERIOD) {
    const z0 = z;
    const z1 = z + VERTEBRA_PERIOD - DISC_HEIGHT;
    const mid = (z0 + z1) / 2;
    const cortexHu = Math.round(rng.uniform(600, 720));
    bones.push(zCylinder(x, y, bodyRadius, z0, z1, Tissue.CORTICAL_BONE, cortexHu, "body"));
    marrow.push(
      zCylinder(
        x,
        y,
        bodyRadius - 2.5,
        z0 + 1.5,
        z1 - 1.5,
        Tissue.MARROW,
        Math.round(rng.uniform(280, 380)),
        "body",
      ),
    );
    soft.push(zCylinder(x, y, bodyRadius, z1, z1 + DISC_HEIGHT, Tissue.DISC, 80, "body"));
    // Posterior arch around the canal, two layers thick so it spans most of the vertebra's height.
    for (const dz of [-4, 4]) {
      const arch: Vec3[] = [
        [x - 10, y + 14, mid + dz],
        [x - 11, canalY + 6, mid + dz],
        [x, canalY + 12, mid + dz],
        [x + 11, canalY + 6, mid + dz],
        [x + 10, y + 14, mid + dz],
      ];
      bones.push(...tube(arch, 4, Tissue.CORTICAL_BONE, cortexHu, "body"));
    }
    bones.push(
      capsule([x, canalY + 12, mid], [x, canalY + 30, mid - 12], 4, Tissue.CORTICAL_BONE, cortexHu, "body"),
    );
    for (const side of [-1, 1]) {
      bones.push(
        capsule(
          [x + side * 9, y + 18, mid + 2],
          [x + side * 32, canalY + 9, mid + 2],
          4.5,
          Tissue.CORTICAL_BONE,
          cortexHu,
          "body",
        ),
      );
    }
  }
  // The canal cuts through the arches: painted after them.
  return [
    ...bones,
    ...marrow,
    ...soft,
    zCylinder(x, canalY, canalRadius, SPINE_Z[0], SPINE_Z[1], Tissue.CSF, 10, "body"),
  ];
}

export function sternumStamps(): Stamp[] {
  const out: Stamp[] = [];
  for (const dx of [-5, 5]) {
    out.push(
      capsule(
        [dx, STERNUM.y, STERNUM.z0],
        [dx, STERNUM.y, STERNUM.z1],
        STERNUM.r,
        Tissue.CORTICAL_BONE,
        700,
        "body",
      ),
    );
  }
  for (const dx of [-5, 5]) {
    out.push(
      capsule(
        [dx, STERNUM.y, STERNUM.z0],
        [dx, STERNUM.y, STERNUM.z1],
        STERNUM.marrow,
        Tissue.MARROW,
        250,
        "body",
      ),
    );
  }
  return out;
}

/** Aorta, pulmonary trunk and arteries up to the hila, oesophagus: soft tissue outside the lungs. */
export function mediastinumStamps(): Stamp[] {
  const out: Stamp[] = [];
  for (let i = 0; i + 1 < AORTA.length; i++) {
    const a = AORTA[i]!;
    const b = AORTA[i + 1]!;
    out.push(capsule(a.p, b.p, (a.r + b.r) / 2, Tissue.BLOOD, 45, "nonLung", true));
  }
  out.push(capsule([12, -28, -45], [6, -14, -8], 13, Tissue.BLOOD, 45, "nonLung", true));
  out.push(capsule([6, -14, -8], [44, 4, -14], 10, Tissue.BLOOD, 45, "nonLung", true));
  out.push(capsule([6, -14, -8], [-44, 2, -10], 10, Tissue.BLOOD, 45, "nonLung", true));
  out.push(
    zCylinder(ESOPHAGUS.x, ESOPHAGUS.y, ESOPHAGUS.r, -130, 300, Tissue.SOFT_TISSUE, 35, "nonLung", true),
  );
  return out;
}
