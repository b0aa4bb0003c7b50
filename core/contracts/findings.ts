/**
 * The `findings` block of diagnosis.json: the four DeepSC-COVID findings (DESIGN.md §4) measured on one
 * scan, plus bilateral involvement and lower-zone predominance. This zod schema is the single source of
 * truth; diagnosis.json embeds it and the report renders from it. Everything is JSON-safe: finite,
 * rounded numbers, no voxel lists, nothing that identifies a patient.
 *
 * Units are in the field names: `...Ml` millilitres, `...Mm` millimetres (LPS patient coordinates where a
 * position), `...Hu` Hounsfield units, `percent...` 0-100, `...Fraction` and `share` 0-1.
 *
 * Null policy: a ratio whose denominator is empty is null, never NaN or a made-up 0 — shares and fractions
 * of an empty lesion set, percentOfLung without lung voxels. Volumes and counts of nothing are 0.
 *
 * The block carries its own `version` so diagnosis.json can embed it unchanged across its own versions;
 * a change to any field's meaning bumps FINDINGS_VERSION.
 */
import * as z from "zod";
import { Vec3Schema } from "./validation-report.js";

export const FINDINGS_VERSION = 1;

/** Subpleural shell depths of finding 4, mm. */
export const SHELL_DEPTHS_MM = [7, 14, 21, 28, 35] as const;

/**
 * Reference curves of finding 4 (share of lesion volume within each shell depth), read off the DeepSC-COVID
 * authors' database figure (DESIGN.md §4). Approximate values; they are context for a reader, not a rule.
 */
export const REFERENCE_PERIPHERAL_CURVES = {
  covid19: [0.14, 0.36, 0.55, 0.7, 0.81],
  cap: [0.04, 0.12, 0.21, 0.28, 0.34],
} as const satisfies Record<string, readonly number[]>;

/**
 * Reference figures of findings 1-3, read off the same database figure (DESIGN.md §4), approximate and
 * context only, like the curves above:
 * 1. lesion count: about 55 % of CAP scans show a single lesion, about 90 % of COVID-19 scans two or more;
 * 2. attenuation: both classes peak in ground glass near -850 HU; CAP has a second, consolidation peak near
 *    +100 HU;
 * 3. extent: CAP lesion volume is mostly under 8 % of the lung volume; COVID-19 spreads wide, its largest
 *    bin over 20 %.
 */
export const REFERENCE_FIGURES = {
  lesionCount: { capSingleShare: 0.55, covid19MultiFocalShare: 0.9 },
  attenuation: { groundGlassPeakHu: -850, capConsolidationPeakHu: 100 },
  extent: { capMostlyUnderPercent: 8, covid19LargestBinOverPercent: 20 },
} as const;

/**
 * The five lobes of the CT severity score, approximated by the six lung zones (thirds of each lung's
 * height): the right lung's thirds stand for its three lobes; the left upper lobe (with the lingula) spans
 * the upper and middle thirds of the left lung, its lower lobe the lower third.
 */
export const SEVERITY_LOBES = [
  { lobe: "RUL", side: "right", zones: ["upper"] },
  { lobe: "RML", side: "right", zones: ["middle"] },
  { lobe: "RLL", side: "right", zones: ["lower"] },
  { lobe: "LUL", side: "left", zones: ["upper", "middle"] },
  { lobe: "LLL", side: "left", zones: ["lower"] },
] as const;

/**
 * Score 0-5 per lobe from its percentage of involvement (Pan et al., Radiology 2020; Chung et al. scored
 * 0-4 per lobe, 0-20 in all, and are not this score): 0 none, 1 under 5 %, 2 from 5 to 25 %, 3 above 25 to 50 %, 4 above 50 to 75 %, 5 above
 * 75 % — the published integer bands (<5, 5-25, 26-50, 51-75, >75) read on a continuous scale.
 */
export const SEVERITY_BANDS_PERCENT = [5, 25, 50, 75] as const;
export const SEVERITY_MAX_SCORE = 25;

const finite = z.number();
const volumeMl = z.number().nonnegative();
const fraction = z.number().min(0).max(1);
const count = z.number().int().nonnegative();

export const LungSideSchema = z.enum(["right", "left"]);
export const LungZoneSchema = z.enum(["upper", "middle", "lower"]);
export const ReferencePatternSchema = z.enum(["covid19", "cap"]);

/** Lesion volume set against the lung volume of one region (scan, lung, zone, lobe). */
export const RegionExtentSchema = z.object({
  lesionVolumeMl: volumeMl,
  lungVolumeMl: volumeMl,
  /** 100 * lesion / lung; null when the region holds no lung voxels. */
  percentOfLung: z.number().min(0).max(100).nullable(),
});
export type RegionExtent = z.infer<typeof RegionExtentSchema>;

export const LungExtentSchema = RegionExtentSchema.extend({
  zones: z.object({ upper: RegionExtentSchema, middle: RegionExtentSchema, lower: RegionExtentSchema }),
});

/** One lesion: a 3D connected component of the lesion mask inside the lungs, above the minimum volume. */
export const LesionFindingSchema = z.object({
  /** 1 = largest lesion of the scan. */
  rank: z.number().int().positive(),
  volumeMl,
  /** The lung holding most of its voxels. */
  side: LungSideSchema,
  /** Zone of that lung at the height (LPS z) of the lesion's centroid; null if the lung has no zones. */
  zone: LungZoneSchema.nullable(),
  /** Centroid of its voxels: LPS mm, and fractional voxel indices (i, j, k) of the CT's grid. */
  centroidMm: Vec3Schema,
  centroidVoxel: Vec3Schema,
  meanHu: finite,
  ggoFraction: fraction,
  consolidationFraction: fraction,
  /**
   * Mean depth of its voxels under the pleural surface (the distance map minus pleuralSurfaceOffsetMm), mm;
   * null when the volume holds no non-lung voxel at all (nothing to measure from).
   */
  meanPleuralDistanceMm: z.number().nonnegative().nullable(),
});
export type LesionFinding = z.infer<typeof LesionFindingSchema>;

export const HistogramBinSchema = z.object({
  /** Bin [fromHu, toHu): lower bound inclusive. */
  fromHu: finite,
  toHu: finite,
  volumeMl,
  /** Share of the lesion volume; null without lesions. */
  fraction: fraction.nullable(),
});

export const FindingsMethodSchema = z.object({
  /** Neighbourhood that joins lesion voxels into one lesion: 26 (faces, edges, corners) or 6 (faces). */
  connectivity: z.union([z.literal(6), z.literal(26)]),
  /** Components below this volume are treated as noise: not counted, not measured anywhere. */
  minLesionVolumeMl: volumeMl,
  /** Ground glass: ggoMinHu <= HU < consolidationMinHu. Consolidation: HU >= consolidationMinHu. */
  ggoMinHu: finite,
  consolidationMinHu: finite,
  /** Each lung needs at least this lesion volume for bilateral involvement. */
  bilateralMinMl: volumeMl,
  /** Lower-zone predominance: the lower zones hold more than this share of the lesion volume. */
  lowerZonePredominanceShare: fraction,
  /** Most lesions listed individually (largest first). */
  maxListedLesions: count,
  /**
   * Subtracted from the distance map (distance to the nearest non-lung voxel centre) to get the depth under
   * the pleural surface, which lies about half a voxel closer; by default half the finest voxel spacing.
   */
  pleuralSurfaceOffsetMm: z.number().nonnegative(),
});
export type FindingsMethod = z.infer<typeof FindingsMethodSchema>;

export const FindingsSchema = z.object({
  version: z.literal(FINDINGS_VERSION),
  method: FindingsMethodSchema,

  /** Finding 1: lesion count. */
  lesions: z.object({
    count,
    /** Lesions by the lung holding most of each. */
    right: count,
    left: count,
    /** The largest lesions, by decreasing volume; `notListed` more exist beyond maxListedLesions. */
    listed: z.array(LesionFindingSchema),
    notListed: count,
    /** Components under minLesionVolumeMl, ignored as noise. */
    ignoredSmall: z.object({ count, volumeMl }),
    /** Lesion-mask volume outside the lung segmentation: not measured (extent and depth need a lung). */
    outsideLungsMl: volumeMl,
  }),

  /** Finding 2: attenuation of the lesion voxels. */
  attenuation: z.object({
    meanHu: finite.nullable(),
    /** Below ggoMinHu: aerated lung inside the lesion outline (soft lesion edges). */
    belowGgoFraction: fraction.nullable(),
    ggoFraction: fraction.nullable(),
    consolidationFraction: fraction.nullable(),
    /** Fixed bins of binWidthHu from fromHu to toHu, plus everything below and above them. */
    histogram: z.object({
      fromHu: finite,
      toHu: finite,
      binWidthHu: z.number().positive(),
      bins: z.array(HistogramBinSchema),
      below: z.object({ volumeMl, fraction: fraction.nullable() }),
      above: z.object({ volumeMl, fraction: fraction.nullable() }),
      /** Centre of the fullest bin between fromHu and toHu; null when no lesion voxel falls in them. */
      peakHu: finite.nullable(),
    }),
  }),

  /** Finding 3: extent, per scan, per lung and per zone, and the CT severity score. */
  extent: RegionExtentSchema.extend({
    right: LungExtentSchema,
    left: LungExtentSchema,
    severity: z.object({
      score: z.number().int().min(0).max(SEVERITY_MAX_SCORE),
      maxScore: z.literal(SEVERITY_MAX_SCORE),
      lobes: z.array(
        z.object({
          lobe: z.enum(["RUL", "RML", "RLL", "LUL", "LLL"]),
          side: LungSideSchema,
          zones: z.array(LungZoneSchema),
          /** Two decimals; a lobe holding any lesion reads at least 0.01 (severity.ts). The score is this value's band. */
          percentOfLobe: z.number().min(0).max(100).nullable(),
          score: z.number().int().min(0).max(5),
        }),
      ),
    }),
  }),

  /** Finding 4: peripheral (subpleural) distribution against the two reference curves. */
  peripheral: z.object({
    shells: z
      .array(
        z.object({
          depthMm: z.number().positive(),
          /** Share of lesion volume at most depthMm under the pleural surface; null without lesions. */
          share: fraction.nullable(),
          covid19Reference: fraction,
          capReference: fraction,
        }),
      )
      .length(SHELL_DEPTHS_MM.length),
    meanPleuralDistanceMm: z.number().nonnegative().nullable(),
    /** Root-mean-square difference between the scan's shares and each reference curve. */
    rmsDistance: z.object({ covid19: fraction.nullable(), cap: fraction.nullable() }),
    /** The closer reference curve; null without lesions (or on an exact tie). */
    closerTo: ReferencePatternSchema.nullable(),
  }),

  distribution: z.object({
    /** Each lung holds at least bilateralMinMl of lesion. */
    bilateral: z.boolean(),
    /** Share of the lesion volume in the lower zones of both lungs; null without lesions. */
    lowerZoneShare: fraction.nullable(),
    lowerZonePredominant: z.boolean(),
  }),

  /** Caveats for the reader (no patient data), e.g. ignored components or a missing lung segmentation. */
  warnings: z.array(z.string()),
});
export type Findings = z.infer<typeof FindingsSchema>;
export type LungSideName = z.infer<typeof LungSideSchema>;
export type LungZoneLabel = z.infer<typeof LungZoneSchema>;
export type ReferencePattern = z.infer<typeof ReferencePatternSchema>;
