/**
 * The phantom's fixed anatomy as analytic shapes in patient LPS millimetres (x to the patient's left,
 * y posterior, z superior). Nothing here knows about voxels: the renderer samples these functions at
 * voxel centres, so any grid (slice thickness, direction, obliquity) sees the same body.
 *
 * Layout of a supine adult chest, simplified: an elliptic body (340 x 240 mm) with subcutaneous fat over
 * chest-wall muscle; inside, the pleural cavity holds two lungs shaped by an ellipsoidal envelope each,
 * cut medially by the mediastinum, the heart (displaced to the left, which carves the cardiac notch and
 * makes the left lung smaller), the aorta and the spine, and cut below by the diaphragm domes (the right
 * one higher, over the liver). Ribs, spine, sternum, airways and vessels are stamped afterwards
 * (see skeleton.ts and vessels.ts).
 */

/** Tissue codes of the internal label map. 1 and 2 are lung parenchyma and double as lung labels. */
export const Tissue = {
  AIR: 0,
  LUNG_RIGHT: 1,
  LUNG_LEFT: 2,
  FAT: 3,
  MUSCLE: 4,
  MEDIASTINAL_FAT: 5,
  SOFT_TISSUE: 6,
  MYOCARDIUM: 7,
  BLOOD: 8,
  LIVER: 9,
  ABDOMEN: 10,
  CORTICAL_BONE: 11,
  MARROW: 12,
  CARTILAGE: 13,
  DISC: 14,
  CSF: 15,
  VESSEL: 16,
  AIRWAY_WALL: 17,
  AIRWAY_LUMEN: 18,
  LESION_GGO: 19,
  LESION_CONSOLIDATION: 20,
  PLEURAL_FLUID: 21,
} as const;
export type TissueCode = (typeof Tissue)[keyof typeof Tissue];

/** Noise-free attenuation of each tissue (HU). Lung parenchyma varies with depth: see lungParenchymaHu. */
export const TISSUE_HU: Readonly<Record<TissueCode, number>> = {
  [Tissue.AIR]: -1000,
  [Tissue.LUNG_RIGHT]: -850,
  [Tissue.LUNG_LEFT]: -850,
  [Tissue.FAT]: -100,
  [Tissue.MUSCLE]: 40,
  [Tissue.MEDIASTINAL_FAT]: -90,
  [Tissue.SOFT_TISSUE]: 35,
  [Tissue.MYOCARDIUM]: 40,
  [Tissue.BLOOD]: 50,
  [Tissue.LIVER]: 60,
  [Tissue.ABDOMEN]: 35,
  [Tissue.CORTICAL_BONE]: 850,
  [Tissue.MARROW]: 250,
  [Tissue.CARTILAGE]: 110,
  [Tissue.DISC]: 80,
  [Tissue.CSF]: 10,
  [Tissue.VESSEL]: 40,
  [Tissue.AIRWAY_WALL]: 30,
  [Tissue.AIRWAY_LUMEN]: -1000,
  [Tissue.LESION_GGO]: -550,
  [Tissue.LESION_CONSOLIDATION]: 50,
  // A transudate or simple exudate: water-like, 0-20 HU on CT.
  [Tissue.PLEURAL_FLUID]: 12,
};

/** Lung labels as written to lungs.nii.gz. LPS: the right lung lies at negative x. */
export const LUNG_RIGHT = 1;
export const LUNG_LEFT = 2;

/** Body outline: ellipse of semi-axes 170 x 120 mm (340 x 240 mm), infinite along z. */
export const BODY = { a: 170, b: 120 } as const;
/** Inner edge of subcutaneous fat (about 12 mm thick). */
export const MUSCLE = { a: 158, b: 108 } as const;
/** Parietal pleura: the cavity the lungs fill. Between it and MUSCLE lie intercostal muscle and ribs. */
export const CAVITY = { a: 145, b: 96, cy: 4 } as const;

interface Ellipsoid {
  x: number;
  y: number;
  z: number;
  a: number;
  b: number;
  c: number;
}
/**
 * Lung envelopes: half-ellipsoids above z (apex), elliptic cylinders below it down to the diaphragm. The
 * left one is smaller; the heart carves it further (cardiac notch).
 */
export const LUNG_ENVELOPE: Readonly<{ right: Ellipsoid; left: Ellipsoid }> = {
  right: { x: -72, y: 8, z: -25, a: 78, b: 95, c: 140 },
  left: { x: 76, y: 8, z: -20, a: 68, b: 92, c: 135 },
};

/** Diaphragm domes: paraboloids peaking under each lung; the right dome is higher (liver). */
export const DOME = {
  right: { x: -62, y: -5, top: -95 },
  left: { x: 65, y: -5, top: -104 },
  /** How far the dome falls (mm) at one (rx, ry) from its peak: the costophrenic recesses. */
  drop: 60,
  rx: 80,
  ry: 90,
} as const;

/** Heart: an ellipsoid whose long axis points left-anterior (rotated about z). */
export const HEART = { x: 22, y: -30, z: -80, a: 60, b: 48, c: 50, angleDeg: 35 } as const;
const HEART_COS = Math.cos((HEART.angleDeg * Math.PI) / 180);
const HEART_SIN = Math.sin((HEART.angleDeg * Math.PI) / 180);
/** Chambers (blood) are the inner part of the heart; epicardial fat a thin shell outside it. */
const HEART_BLOOD_SCALE = 0.72;
const HEART_FAT_SCALE = 1.07;
/** The lungs keep this scaled heart out, so the pericardial fat never counts as lung. */
const HEART_LUNG_SCALE = 1.1;

/** Mediastinum between the lungs: half-width (mm) of the central column, narrower in front (junction line). */
const MEDIASTINUM_HALF_WIDTH = 26;
const ANTERIOR_JUNCTION_HALF_WIDTH = 9;
const ANTERIOR_JUNCTION_Y = -50;
/** Mediastinal soft tissue (oesophagus, nodes, vessels) and the anterior mediastinal fat pad. */
const MEDIASTINUM_TISSUE_HALF_WIDTH = 40;
const ANTERIOR_FAT = { y: -60, a: 45, b: 40 } as const;
const APEX_Z = 105;

/** Vertebral column (bodies centred at y = 50 mm) and the paravertebral region the lungs stay out of. */
export const SPINE = {
  x: 0,
  y: 50,
  bodyRadius: 17,
  canalY: 80,
  canalRadius: 8,
  /** Exclusion ellipse around body + posterior elements. */
  keepOut: { y: 62, a: 30, b: 45 },
} as const;

/** Aorta centreline (ascending, arch, descending) with radii; the lungs keep a 2 mm margin from it. */
export const AORTA: ReadonlyArray<{ p: [number, number, number]; r: number }> = [
  { p: [8, -22, -55], r: 15 },
  { p: [5, -25, 25], r: 15 },
  { p: [8, -5, 50], r: 13 },
  { p: [18, 18, 50], r: 13 },
  { p: [24, 32, 28], r: 12 },
  { p: [24, 32, -130], r: 12 },
  { p: [10, 38, -220], r: 12 },
];
const AORTA_LUNG_MARGIN = 2;

/** Trachea (lumen radius 9 mm) down to the carina, then main bronchi to each hilum. */
export const AIRWAY = {
  tracheaTop: [0, 5, 260] as [number, number, number],
  carina: [0, 5, 15] as [number, number, number],
  tracheaRadius: 9,
  rightHilum: [-40, 8, -2] as [number, number, number],
  leftHilum: [44, 10, -12] as [number, number, number],
  rightMainRadius: 6.5,
  leftMainRadius: 5.5,
};
export const ESOPHAGUS = { x: 3, y: 25, r: 7 } as const;

/** Where the scan is centred by default: mid-lung, so 300 mm of coverage holds apex to costophrenic angles. */
export const SCAN_CENTRE: [number, number, number] = [0, 0, -25];

/** Height of the diaphragm under the lung of that side at (x, y). */
export function domeZ(right: boolean, x: number, y: number): number {
  const d = right ? DOME.right : DOME.left;
  const u = (x - d.x) / DOME.rx;
  const v = (y - d.y) / DOME.ry;
  return d.top - DOME.drop * (u * u + v * v);
}

/** The diaphragm as one surface: the higher of the two domes (used below the mediastinum). */
export function diaphragmZ(x: number, y: number): number {
  return Math.max(domeZ(true, x, y), domeZ(false, x, y));
}

/** Heart ellipsoid value at p divided by scale^2 (< 1 inside the heart scaled by `scale`). */
function heartQ(x: number, y: number, z: number): number {
  const dx = x - HEART.x;
  const dy = y - HEART.y;
  const dz = z - HEART.z;
  const u = (dx * HEART_COS - dy * HEART_SIN) / HEART.a;
  const v = (dx * HEART_SIN + dy * HEART_COS) / HEART.b;
  const w = dz / HEART.c;
  return u * u + v * v + w * w;
}

/** Squared distance from p to segment a-b. */
function segmentDistance2(
  px: number,
  py: number,
  pz: number,
  a: readonly number[],
  b: readonly number[],
): number {
  const abx = b[0]! - a[0]!;
  const aby = b[1]! - a[1]!;
  const abz = b[2]! - a[2]!;
  const apx = px - a[0]!;
  const apy = py - a[1]!;
  const apz = pz - a[2]!;
  const len2 = abx * abx + aby * aby + abz * abz;
  let t = len2 > 0 ? (apx * abx + apy * aby + apz * abz) / len2 : 0;
  t = t < 0 ? 0 : Math.min(t, 1);
  const dx = apx - t * abx;
  const dy = apy - t * aby;
  const dz = apz - t * abz;
  return dx * dx + dy * dy + dz * dz;
}

function insideAorta(x: number, y: number, z: number, margin: number): boolean {
  for (let s = 0; s + 1 < AORTA.length; s++) {
    const a = AORTA[s]!;
    const b = AORTA[s + 1]!;
    const r = Math.max(a.r, b.r) + margin;
    const zlo = Math.min(a.p[2], b.p[2]) - r;
    const zhi = Math.max(a.p[2], b.p[2]) + r;
    if (z < zlo || z > zhi) continue;
    if (segmentDistance2(x, y, z, a.p, b.p) < r * r) return true;
  }
  return false;
}

/**
 * Which lung contains p: 0 none, 1 right (x < 0), 2 left. This one function defines the lungs for the
 * renderer, the lung mask, the distance-to-pleura model and lesion placement alike.
 */
export function lungSideAt(x: number, y: number, z: number): 0 | 1 | 2 {
  const cx = x / CAVITY.a;
  const cy = (y - CAVITY.cy) / CAVITY.b;
  if (cx * cx + cy * cy >= 1) return 0;
  const right = x < 0;
  const e = right ? LUNG_ENVELOPE.right : LUNG_ENVELOPE.left;
  const ex = (x - e.x) / e.a;
  const ey = (y - e.y) / e.b;
  // Dome-shaped above the envelope's equator, a vertical cylinder below it: the lung bases are broad and
  // end only on the diaphragm, with deep posterior and lateral costophrenic recesses.
  const ez = z > e.z ? (z - e.z) / e.c : 0;
  if (ex * ex + ey * ey + ez * ez >= 1) return 0;
  if (z < domeZ(right, x, y)) return 0;
  const halfWidth = y < ANTERIOR_JUNCTION_Y ? ANTERIOR_JUNCTION_HALF_WIDTH : MEDIASTINUM_HALF_WIDTH;
  if (Math.abs(x) < halfWidth && y < SPINE.keepOut.y) return 0;
  const sx = (x - SPINE.x) / SPINE.keepOut.a;
  const sy = (y - SPINE.keepOut.y) / SPINE.keepOut.b;
  if (sx * sx + sy * sy < 1) return 0;
  if (heartQ(x, y, z) < HEART_LUNG_SCALE * HEART_LUNG_SCALE) return 0;
  if (insideAorta(x, y, z, AORTA_LUNG_MARGIN)) return 0;
  return right ? 1 : 2;
}

/**
 * Noise-free lung parenchyma attenuation: about -850 HU with the gravity-dependent gradient of a supine
 * patient (posterior lung denser by some 40 HU).
 */
export function lungParenchymaHu(y: number): number {
  return -853 + 0.2 * y;
}

/**
 * Base tissue at p before ribs, spine, airways, vessels and lesions are stamped: air, fat, muscle, lung,
 * mediastinum, heart or abdomen.
 */
export function baseTissueAt(x: number, y: number, z: number): TissueCode {
  const bx = x / BODY.a;
  const by = y / BODY.b;
  if (bx * bx + by * by >= 1) return Tissue.AIR;
  const mx = x / MUSCLE.a;
  const my = y / MUSCLE.b;
  if (mx * mx + my * my >= 1) return Tissue.FAT;
  const cx = x / CAVITY.a;
  const cy = (y - CAVITY.cy) / CAVITY.b;
  if (cx * cx + cy * cy >= 1) return Tissue.MUSCLE;
  const side = lungSideAt(x, y, z);
  if (side !== 0) return side;
  if (z < diaphragmZ(x, y)) return x < 10 ? Tissue.LIVER : Tissue.ABDOMEN;
  const h = heartQ(x, y, z);
  if (h < HEART_BLOOD_SCALE * HEART_BLOOD_SCALE) return Tissue.BLOOD;
  if (h < 1) return Tissue.MYOCARDIUM;
  if (h < HEART_FAT_SCALE * HEART_FAT_SCALE) return Tissue.MEDIASTINAL_FAT;
  // Between the lungs: a fat pad in front of the heart and great vessels, soft tissue elsewhere in the
  // mediastinum. The rest of the cavity (above the apices, the thin gaps the lungs leave) is chest wall.
  if (z < APEX_Z) {
    const fx = x / ANTERIOR_FAT.a;
    const fy = (y - ANTERIOR_FAT.y) / ANTERIOR_FAT.b;
    if (fx * fx + fy * fy < 1) return Tissue.MEDIASTINAL_FAT;
    if (Math.abs(x) < MEDIASTINUM_TISSUE_HALF_WIDTH) return Tissue.SOFT_TISSUE;
  }
  return Tissue.MUSCLE;
}
