/**
 * Options of the classical lung segmentation (segment-lungs.ts), one zod schema with documented
 * defaults. Every threshold is in HU, every size in mm, mm^2 or mL, so the same options mean the same
 * anatomy at any voxel size.
 */
import * as z from "zod";

const hu = z.number().min(-1100).max(500);

export const LungSegmentationOptionsSchema = z
  .object({
    /** Air-like voxels (aerated lung, airways, gas) are below this. Lung parenchyma is about -850 HU. */
    airThresholdHu: hu.default(-320),
    /**
     * Airway lumen threshold: the trachea and main bronchi are grown through voxels below this, tighter
     * than airThresholdHu so the growth stays in the lumen and does not run into parenchyma.
     */
    airwayThresholdHu: hu.default(-900),
    /** An air component smaller than this is never a lung (bubbles, bowel gas, noise). */
    minLungMl: z.number().min(0).default(2),
    /**
     * A lung is at least this large in some slice (mm^2). Lung cut by the field of view still shows broad
     * cross-sections (a basal crescent is tens of cm^2); gas pockets with stool in the bowel do not.
     */
    minLungAreaMm2: z.number().min(0).default(1000),
    /** Components smaller than this share of the largest lung-like component are dropped. */
    minLungFraction: z.number().min(0).max(1).default(0.1),
    /**
     * A component whose median HU is below this is gas (stomach, bowel, air outside the body enclosed
     * in-plane), not lung: aerated lung has vessels and septa and sits around -850 HU, gas near -1000.
     */
    gasMedianHu: hu.default(-950),
    /**
     * When no component passes the gas rule, those of lung size whose median is at least this are the lungs
     * all the same (severe emphysema, or HU read off calibration), with a warning. Room air and gas in the
     * bowel read -1000 HU.
     */
    darkLungMinHu: hu.default(-990),
    /**
     * Air outside the patient behind a thin wall (thin-wall.ts): a component of which at least
     * thinWallMaxShare of the in-plane boundary reaches outside air through at most thinWallMm of tissue
     * is not lung but the foam core of a table, a cushion or a wedge. A chest wall is thicker than this
     * anywhere; thinWallMm 0 turns the rule off.
     */
    thinWallMm: z.number().min(0).max(20).default(5),
    thinWallMaxShare: z.number().min(0).max(1).default(0.2),
    /**
     * Lung leaked into the outside air through a gap narrower than this (mm) in its slice — a streak from
     * metal across the chest wall — is lung again when its part behind the gap is at least
     * leakMinAreaMm2 and not gas (leaks.ts). 0 turns it off.
     */
    leakNeckMm: z.number().min(0).max(20).default(5),
    leakMinAreaMm2: z.number().min(0).default(200),
    /** How far down from the top of the scan (mm) the trachea is looked for. */
    tracheaSearchDepthMm: z.number().positive().default(40),
    /** Cross-section limits of the trachea lumen where it is looked for (adult lumen about 150-450 mm^2). */
    tracheaMinAreaMm2: z.number().positive().default(40),
    tracheaMaxAreaMm2: z.number().positive().default(700),
    /** Largest left-right distance (mm) of the trachea's centre from the body's midline. */
    tracheaMaxOffsetMm: z.number().positive().default(30),
    /** Airway growth continues this far (mm, straight line) from the carina: the main bronchi. */
    mainBronchusLengthMm: z.number().min(0).default(40),
    /** A growth front larger than this many times the trachea's seed cross-section is a leak. */
    airwayLeakFactor: z.number().min(1).default(5),
    /** Hard cap on the grown airway volume (mL). */
    maxAirwayMl: z.number().positive().default(150),
    /**
     * Radius (mm) of the 3D closing of each lung that restores consolidation against the pleura and
     * other dents of the outline narrower than about twice this; 0 turns it off.
     */
    closingRadiusMm: z.number().min(0).max(50).default(10),
    /** The closing adds no voxel at or above this (bone). */
    closingMaxHu: z.number().default(200),
    /** Cell size (mm) of the grid the closing is computed on (see closing.ts); smaller is slower. */
    closingCellMm: z.number().positive().max(10).default(2.5),
    /**
     * Envelope fill (envelope-fill.ts): non-lung soft tissue inside a lung's in-plane convex hull is lung
     * when lung lies above and below it along the slice axis with at most this gap (mm): consolidation
     * against the pleura or too large for the hole filling. The heart and the diaphragm domes, with no
     * lung under them, stay out. 0 turns it off.
     */
    envelopeMaxGapMm: z.number().min(0).max(600).default(120),
    /** A hull region is filled only when at least this share of its voxels has lung above and below. */
    envelopeMinBracketed: z.number().min(0).max(1).default(0.5),
    /** In-plane holes of a lung up to this area (mm^2) are filled: vessels, bronchi, enclosed lesions. */
    maxHoleAreaMm2: z.number().min(0).default(1000),
    /** A component counts as both lungs when at least this share of it lies on each side of the midline. */
    mergedSideFraction: z.number().min(0).max(0.5).default(0.15),
    /** Each part of an eroded merged component must hold at least this share to count as a lung. */
    minSplitFraction: z.number().min(0).max(0.5).default(0.05),
  })
  .refine((o) => o.airwayThresholdHu <= o.airThresholdHu, {
    message: "airwayThresholdHu must not exceed airThresholdHu",
    path: ["airwayThresholdHu"],
  })
  .refine((o) => o.tracheaMinAreaMm2 <= o.tracheaMaxAreaMm2, {
    message: "tracheaMinAreaMm2 must not exceed tracheaMaxAreaMm2",
    path: ["tracheaMinAreaMm2"],
  });

export type LungSegmentationOptions = z.output<typeof LungSegmentationOptionsSchema>;

/** Defaults filled in; throws a ZodError naming the offending option. */
export function resolveLungOptions(options: Partial<LungSegmentationOptions> = {}): LungSegmentationOptions {
  return LungSegmentationOptionsSchema.parse(options);
}
