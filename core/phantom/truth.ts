/**
 * Ground truth of a rendered phantom (truth.json): per-lesion statistics measured on the voxel grid the
 * CT was written on, totals that follow the four findings (count, attenuation, extent, peripheral
 * distribution), and what generated it. Nothing patient-identifying is ever part of it: the DICOM
 * identity options do not reach this module.
 */
import * as z from "zod";
import { Mat3Schema, Vec3Schema } from "../contracts/validation-report.js";
import type { Geometry, Vec3 } from "../contracts/volume.js";
import { voxelToLps } from "../geometry/affine.js";
import type { EmphysemaPlan } from "./emphysema.js";
import type { RenderedPhantom } from "./generate.js";
import type { LesionPlan, PhantomClass } from "./lesions.js";
import { depthAt, getLungModel, inwardNormalAt, type LungModel, zoneOf } from "./lung-model.js";
import { type Habitus, isDefaultHabitus, PHANTOM_GENERATOR_VERSION } from "./options.js";
import { supersamplingFactor } from "./supersample.js";

/** Subpleural shell depths of DESIGN.md §4 finding 4. */
export const SUBPLEURAL_SHELLS_MM = [7, 14, 21, 28, 35] as const;
/** A lesion is "ggo" below this consolidated fraction, "consolidation" above 1 minus it, else "mixed". */
const PURE_TYPE_FRACTION = 0.05;
/** Below this a lung voxel is a low-attenuation area (LAA-950, the usual CT emphysema index). */
const LAA_HU = -950;

const ShellSharesSchema = z.object({
  "7": z.number(),
  "14": z.number(),
  "21": z.number(),
  "28": z.number(),
  "35": z.number(),
});

export const LesionTruthSchema = z.object({
  /** Label in lesion-instances.nii.gz. */
  id: z.number().int().positive(),
  side: z.enum(["right", "left"]),
  /** Upper, middle or lower third of that lung's height, by the centroid. */
  zone: z.enum(["upper", "middle", "lower"]),
  /** Centroid of the lesion's voxels, LPS mm. */
  centreMm: Vec3Schema,
  /**
   * Where the generator placed the lesion, LPS mm of the upright unscaled anatomy (the image's own LPS
   * unless the grid records a patientRollDeg or a habitus), and that point's distance to the pleura (mm
   * in the scanned body).
   */
  placedCentreMm: Vec3Schema,
  placedPleuralDepthMm: z.number(),
  /** Mean distance of the lesion's voxels to the pleura, mm. */
  meanPleuralDepthMm: z.number(),
  voxels: z.number().int().nonnegative(),
  volumeMl: z.number(),
  /** Mean HU of the lesion's voxels in the written CT (noise included). */
  meanHu: z.number(),
  /** Share of the lesion's voxels inside its consolidated core. */
  consolidationFraction: z.number(),
  type: z.enum(["ggo", "consolidation", "mixed"]),
  /** Noise-free attenuation levels the lesion was drawn with. */
  ggoHu: z.number(),
  consolidationHu: z.number().nullable(),
});
export type LesionTruth = z.infer<typeof LesionTruthSchema>;

export const PhantomTruthSchema = z.object({
  schemaVersion: z.literal(1),
  synthetic: z.literal(true),
  generator: z.object({ name: z.literal("deepsc-phantom"), version: z.string() }),
  class: z.enum(["covid", "cap", "normal"]),
  seed: z.number().int(),
  grid: z.object({
    dims: Vec3Schema,
    spacing: Vec3Schema,
    origin: Vec3Schema,
    direction: Mat3Schema,
    sliceThickness: z.number(),
    zDirection: z.enum(["ascending", "descending"]),
    orientation: z.enum(["axial", "oblique", "coronal", "sagittal"]),
    /** The oblique grid's rotation about x then y; 0, 0 for the three planes. */
    rotationDeg: z.object({ x: z.number(), y: z.number() }),
    /** The patient's roll about the long axis under the axial header (patientRollDeg); absent when 0. */
    patientRollDeg: z.number().optional(),
    /**
     * Pixels coarser than 1.5 mm: how many times finer along each in-plane axis their HU were rendered before
     * area-averaging (core/phantom/supersample.ts); absent when they were sampled at their centres.
     */
    supersampling: z.number().int().optional(),
    /** Pixels outside the inscribed disc are padding, and the masks empty there; absent when not. */
    reconstructionCircle: z.literal(true).optional(),
    /** A CT table was drawn under the body (options.table); absent when not. Never lung or lesion. */
    table: z.literal(true).optional(),
    /** A pacemaker and its streaks were drawn (options.metal); absent when not. Never lung or lesion. */
    metal: z.literal(true).optional(),
    /** The body's scales (options.habitus); absent for the unscaled body. */
    habitus: z.object({ widthScale: z.number(), depthScale: z.number(), heightScale: z.number() }).optional(),
  }),
  lungs: z.object({ rightMl: z.number(), leftMl: z.number(), totalMl: z.number() }),
  /**
   * Pleural fluid rendered per side (options.effusionMl; before a reconstruction circle's padding), outside
   * the lungs above; absent without. Lesions' pleural depths are still read from the whole lung's pleura.
   */
  effusion: z.object({ rightMl: z.number(), leftMl: z.number() }).optional(),
  /**
   * Emphysema drawn (options.emphysema; emphysema.ts); absent without. `laa950Percent` is the CT index:
   * the share of lung voxels below -950 HU in the image as written (noise included).
   */
  emphysema: z
    .object({
      share: z.number(),
      centrilobularSpaces: z.number().int(),
      bullae: z.number().int(),
      laa950Percent: z.number(),
    })
    .optional(),
  lesions: z.array(LesionTruthSchema),
  totals: z.object({
    lesionCount: z.number().int().nonnegative(),
    lesionVolumeMl: z.number(),
    ggoVolumeMl: z.number(),
    consolidationVolumeMl: z.number(),
    /** Lesion volume / lung volume, percent, per lung and overall. */
    extentPercent: z.object({ right: z.number(), left: z.number(), total: z.number() }),
    bilateral: z.boolean(),
    /** Share of lesion volume whose lesion lies in the lower zone. */
    lowerZoneShare: z.number(),
    /** Share of lesion volume within d mm of the pleura, for d in 7/14/21/28/35 (finding 4). */
    subpleuralShare: ShellSharesSchema,
    /** Volume-weighted mean distance of lesion voxels to the pleura (mm); null without lesions. */
    meanPleuralDepthMm: z.number().nullable(),
  }),
  /** Output files by role, relative to the output directory. */
  files: z.record(z.string(), z.string()),
});
export type PhantomTruth = z.infer<typeof PhantomTruthSchema>;

export interface TruthContext {
  cls: PhantomClass;
  seed: number;
  lesions: readonly LesionPlan[];
  sliceThickness: number;
  zDirection: "ascending" | "descending";
  rotationDeg: { x: number; y: number };
  /** A coronal or sagittal grid (PhantomOptions orientation); absent for axial and oblique ones. */
  plane?: "coronal" | "sagittal";
  patientRollDeg?: number;
  reconstructionCircle?: boolean;
  table?: boolean;
  metal?: boolean;
  emphysema?: Pick<EmphysemaPlan, "share" | "centrilobular" | "bullae">;
  /**
   * The grid the anatomy was sampled on (renderResolved's anatomyGrid): where each voxel lies in the
   * upright unscaled anatomy, which the pleural depths and zones are read from. Default: the CT's grid.
   */
  anatomyGrid?: Geometry;
  habitus?: Habitus;
  files: Record<string, string>;
}

/**
 * Depth below the pleura in the scanned body's millimetres at anatomy point (x, y, z), from the unscaled
 * anatomy's depth field: in a body scaled by `scale` (S = diag(width, depth, height)), a point at anatomy
 * distance d from a pleura of anatomy normal n lies d / |S^-1 n| from it (exact where the pleura is flat
 * nearby). Undefined `scale`: the unscaled body, the field's own value.
 */
function scaledDepth(m: LungModel, scale: Vec3 | undefined, x: number, y: number, z: number): number {
  const d = depthAt(m, x, y, z);
  if (!scale || d === 0) return d;
  const n = inwardNormalAt(m, x, y, z);
  const stretch = Math.hypot(n[0] / scale[0], n[1] / scale[1], n[2] / scale[2]);
  // No gradient to read (a flat spot of the field): the mean scale.
  return stretch > 0 ? d / stretch : d * Math.cbrt(scale[0] * scale[1] * scale[2]);
}

interface Accumulator {
  count: number;
  si: number;
  sj: number;
  sk: number;
  hu: number;
  depth: number;
}

/** Measure the truth on the rendered grid. One pass over the voxels; lesion voxels also get a depth. */
export function computeTruth(r: RenderedPhantom, ctx: TruthContext): PhantomTruth {
  const g = r.ct;
  const [nx, ny, nz] = g.dims;
  const voxelMl = (g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
  const a = voxelToLps(g);
  const an = voxelToLps(ctx.anatomyGrid ?? g);
  const scale: Vec3 | undefined =
    ctx.habitus && !isDefaultHabitus(ctx.habitus)
      ? [ctx.habitus.widthScale, ctx.habitus.depthScale, ctx.habitus.heightScale]
      : undefined;
  const model = getLungModel();
  const lungCount = [0, 0, 0];
  let lowAttenuation = 0;
  const acc: Accumulator[] = ctx.lesions.map(() => ({ count: 0, si: 0, sj: 0, sk: 0, hu: 0, depth: 0 }));
  const shells = SUBPLEURAL_SHELLS_MM.map(() => 0);
  const lung = r.lungs.data;
  const labels = r.lesions.data;
  const hu = g.data;
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        const side = lung[idx]!;
        if (side === 0) continue;
        lungCount[side]!++;
        if (hu[idx]! < LAA_HU) lowAttenuation++;
        const id = labels[idx]!;
        if (id === 0) continue;
        const s = acc[id - 1];
        if (!s) throw new Error(`lesion label ${id} has no plan`);
        s.count++;
        s.si += i;
        s.sj += j;
        s.sk += k;
        s.hu += hu[idx]!;
        const x = an[0]! * i + an[1]! * j + an[2]! * k + an[3]!;
        const y = an[4]! * i + an[5]! * j + an[6]! * k + an[7]!;
        const z = an[8]! * i + an[9]! * j + an[10]! * k + an[11]!;
        const d = scaledDepth(model, scale, x, y, z);
        s.depth += d;
        for (let t = 0; t < shells.length; t++) if (d <= SUBPLEURAL_SHELLS_MM[t]!) shells[t]!++;
      }
    }
  }

  const lesions: LesionTruth[] = [];
  for (const [n, plan] of ctx.lesions.entries()) {
    const s = acc[n]!;
    if (s.count === 0) continue; // outside this grid entirely
    const ci = s.si / s.count;
    const cj = s.sj / s.count;
    const ck = s.sk / s.count;
    const centre: Vec3 = [
      a[0]! * ci + a[1]! * cj + a[2]! * ck + a[3]!,
      a[4]! * ci + a[5]! * cj + a[6]! * ck + a[7]!,
      a[8]! * ci + a[9]! * cj + a[10]! * ck + a[11]!,
    ];
    // The zone is read in the anatomy (a lesion's height within its lung does not change with the body's).
    const anatomyZ = an[8]! * ci + an[9]! * cj + an[10]! * ck + an[11]!;
    const consolidation = (r.lesionCoreVoxels[n] ?? 0) / s.count;
    lesions.push({
      id: plan.id,
      side: plan.side === 1 ? "right" : "left",
      zone: zoneOf(model, plan.side, anatomyZ),
      centreMm: centre.map(round3) as Vec3,
      placedCentreMm: plan.centre.map(round3) as Vec3,
      placedPleuralDepthMm: round3(scaledDepth(model, scale, ...plan.centre)),
      meanPleuralDepthMm: round3(s.depth / s.count),
      voxels: s.count,
      volumeMl: round3(s.count * voxelMl),
      meanHu: round3(s.hu / s.count),
      consolidationFraction: round3(consolidation),
      type:
        consolidation < PURE_TYPE_FRACTION
          ? "ggo"
          : consolidation > 1 - PURE_TYPE_FRACTION
            ? "consolidation"
            : "mixed",
      ggoHu: plan.ggoHu,
      consolidationHu: plan.coreFraction > 0 ? plan.consolidationHu : null,
    });
  }

  const rightMl = lungCount[1]! * voxelMl;
  const leftMl = lungCount[2]! * voxelMl;
  const volumeOf = (pred: (l: LesionTruth) => boolean): number =>
    lesions.filter(pred).reduce((sum, l) => sum + l.volumeMl, 0);
  const lesionMl = volumeOf(() => true);
  const rightLesionMl = volumeOf((l) => l.side === "right");
  const leftLesionMl = volumeOf((l) => l.side === "left");
  const consolidationMl = lesions.reduce((sum, l) => sum + l.volumeMl * l.consolidationFraction, 0);
  const lesionVoxels = acc.reduce((sum, s) => sum + s.count, 0);
  const pct = (part: number, whole: number): number => (whole > 0 ? round3((100 * part) / whole) : 0);
  const share = (count: number): number => (lesionVoxels > 0 ? round3(count / lesionVoxels) : 0);
  const rotation = ctx.rotationDeg;
  const supersampling = supersamplingFactor(g);

  return {
    schemaVersion: 1,
    synthetic: true,
    generator: { name: "deepsc-phantom", version: PHANTOM_GENERATOR_VERSION },
    class: ctx.cls,
    seed: ctx.seed,
    grid: {
      dims: [...g.dims],
      spacing: [...g.spacing],
      origin: [...g.origin],
      direction: [...g.direction],
      sliceThickness: ctx.sliceThickness,
      zDirection: ctx.zDirection,
      orientation: ctx.plane ?? (rotation.x === 0 && rotation.y === 0 ? "axial" : "oblique"),
      rotationDeg: { ...rotation },
      ...(ctx.patientRollDeg ? { patientRollDeg: ctx.patientRollDeg } : {}),
      ...(supersampling > 1 ? { supersampling } : {}),
      ...(ctx.reconstructionCircle ? { reconstructionCircle: true as const } : {}),
      ...(ctx.table ? { table: true as const } : {}),
      ...(ctx.metal ? { metal: true as const } : {}),
      ...(scale && ctx.habitus ? { habitus: { ...ctx.habitus } } : {}),
    },
    lungs: { rightMl: round3(rightMl), leftMl: round3(leftMl), totalMl: round3(rightMl + leftMl) },
    ...(r.fluidVoxels[0] + r.fluidVoxels[1] > 0
      ? {
          effusion: {
            rightMl: round3(r.fluidVoxels[0] * voxelMl),
            leftMl: round3(r.fluidVoxels[1] * voxelMl),
          },
        }
      : {}),
    ...(ctx.emphysema
      ? {
          emphysema: {
            share: ctx.emphysema.share,
            centrilobularSpaces: ctx.emphysema.centrilobular,
            bullae: ctx.emphysema.bullae,
            laa950Percent: pct(lowAttenuation, lungCount[1]! + lungCount[2]!),
          },
        }
      : {}),
    lesions,
    totals: {
      lesionCount: lesions.length,
      lesionVolumeMl: round3(lesionMl),
      ggoVolumeMl: round3(lesionMl - consolidationMl),
      consolidationVolumeMl: round3(consolidationMl),
      extentPercent: {
        right: pct(rightLesionMl, rightMl),
        left: pct(leftLesionMl, leftMl),
        total: pct(lesionMl, rightMl + leftMl),
      },
      bilateral: lesions.some((l) => l.side === "right") && lesions.some((l) => l.side === "left"),
      lowerZoneShare: lesionMl > 0 ? round3(volumeOf((l) => l.zone === "lower") / lesionMl) : 0,
      subpleuralShare: {
        "7": share(shells[0]!),
        "14": share(shells[1]!),
        "21": share(shells[2]!),
        "28": share(shells[3]!),
        "35": share(shells[4]!),
      },
      meanPleuralDepthMm:
        lesionVoxels > 0 ? round3(acc.reduce((sum, s) => sum + s.depth, 0) / lesionVoxels) : null,
    },
    files: { ...ctx.files },
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
