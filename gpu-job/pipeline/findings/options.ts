/**
 * Options of computeFindings, with documented defaults. They are recorded in the output (`method`), so a
 * reader knows what "a lesion", "ground glass" or "bilateral" meant for this scan.
 */
import * as z from "zod";
import { type FindingsMethod, FindingsMethodSchema } from "../../../core/contracts/findings.js";
import type { Vec3 } from "../../../core/contracts/volume.js";
import { FindingsInputError } from "./errors.js";

const FindingsOptionsSchema = FindingsMethodSchema.extend({
  pleuralSurfaceOffsetMm: z.union([z.number().nonnegative(), z.literal("half-voxel")]),
}).refine((o) => o.ggoMinHu < o.consolidationMinHu, {
  message: "ggoMinHu must lie below consolidationMinHu",
  path: ["ggoMinHu"],
});

/** What callers pass (every field optional in computeFindings); `method` in the output holds the values used. */
export type FindingsOptions = z.infer<typeof FindingsOptionsSchema>;

/**
 * - connectivity 26: the lesion outlines a model or a radiologist draws are soft, irregular surfaces; voxels
 *   that touch along an edge or a corner belong to the same opacity, and 6-connectivity would split one
 *   irregular lesion (and its satellites) into many. The phantom's notion of a lesion (one instance, a union
 *   of overlapping ellipsoids) is a 26-connected set too.
 * - minLesionVolumeMl 0.1: a sphere of 5.8 mm diameter, about the smallest opacity reported as a finding
 *   (Fleischner: nodules under 6 mm need no follow-up); smaller components are segmentation speckle.
 * - ggoMinHu -750 and consolidationMinHu -300: the usual quantitative CT bands (ground glass -750..-300 HU,
 *   consolidation above -300 HU). The phantom draws ground glass at -700..-350 HU and consolidated cores at
 *   0..100 HU, both well inside their bands; below -750 HU is aerated lung inside a soft lesion edge.
 * - bilateralMinMl 0.1: the same floor as a lesion, per lung.
 * - lowerZonePredominanceShare 0.5: the lower zones hold more lesion than the upper and middle together.
 * - maxListedLesions 50: diagnosis.json stays small on a diffuse, fragmented pattern.
 * - pleuralSurfaceOffsetMm "half-voxel": the distance map runs from voxel centre to the centre of the
 *   nearest non-lung voxel, so a voxel touching the chest wall reads one voxel deep; the pleural surface is
 *   half a step closer. The nearest wall of a subpleural voxel is mostly reached in-plane (lateral, anterior,
 *   posterior pleura), which is the finest axis on CT, hence half the smallest spacing. On a 2.8 x 4 mm
 *   phantom grid this brings the shell shares within 0.02 of the analytic truth (0.08 off without); at
 *   0.7 mm it is 0.35 mm.
 */
export const DEFAULT_FINDINGS_OPTIONS: Readonly<FindingsOptions> = Object.freeze({
  connectivity: 26,
  minLesionVolumeMl: 0.1,
  ggoMinHu: -750,
  consolidationMinHu: -300,
  bilateralMinMl: 0.1,
  lowerZonePredominanceShare: 0.5,
  maxListedLesions: 50,
  pleuralSurfaceOffsetMm: "half-voxel",
});

/**
 * Defaults filled in, checked, and made concrete for this grid (the method recorded in the output);
 * throws FindingsInputError listing each bad option.
 */
export function resolveFindingsOptions(
  options: Partial<FindingsOptions> | undefined,
  spacing: Vec3,
): FindingsMethod {
  const parsed = FindingsOptionsSchema.safeParse({ ...DEFAULT_FINDINGS_OPTIONS, ...stripUndefined(options) });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
    throw new FindingsInputError(`invalid findings options: ${issues.join("; ")}`, { cause: parsed.error });
  }
  const o = parsed.data;
  const offset =
    o.pleuralSurfaceOffsetMm === "half-voxel" ? Math.min(...spacing) / 2 : o.pleuralSurfaceOffsetMm;
  return { ...o, pleuralSurfaceOffsetMm: Math.round(offset * 1e4) / 1e4 };
}

function stripUndefined(o: Partial<FindingsOptions> | undefined): Partial<FindingsOptions> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<FindingsOptions>;
}
