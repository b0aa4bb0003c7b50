/**
 * computeFindings: the four DeepSC-COVID findings of one scan (DESIGN.md §4) from the HU volume, a lesion
 * mask, lung segmentation and the subpleural distance map, all on the CT's own grid. Pure: no I/O, no
 * clock, same input -> same output.
 *
 * What counts: a lesion is a 3D connected component (26-connected by default) of the lesion mask INSIDE
 * the lung labels with at least minLesionVolumeMl; smaller components are noise and are measured nowhere
 * (their number and volume are reported). Lesion voxels outside the lungs are not measured either — extent
 * is a share of the lung and depth is defined inside it — and their volume is reported. This is also how
 * the phantom truth measures lesions (lesion ∩ its lung).
 *
 * Cost: two raster passes over typed arrays (component labelling over the lesion mask, then measuring over
 * the lungs), each stepping over zero runs four voxels at a time; extra memory is 4 to 8 bytes per lesion
 * voxel inside the lungs plus two slices of labels — no label volume. About 0.6 s for 512 x 512 x 300 on
 * this project's 2-core CPU (test/gpu-job/pipeline/findings/speed.script.ts).
 */
import {
  FINDINGS_VERSION,
  type Findings,
  type FindingsMethod,
  FindingsSchema,
} from "../../../core/contracts/findings.js";
import type { Volume } from "../../../core/contracts/volume.js";
import { determinant3, voxelToLps } from "../../../core/geometry/affine.js";
import type { LungSegmentation } from "../lungs/types.js";
import { attenuationFinding } from "./attenuation.js";
import { connectedComponents } from "./components.js";
import { distributionFinding } from "./distribution.js";
import { FindingsInputError } from "./errors.js";
import { extentFinding } from "./extent.js";
import { lesionCountFinding } from "./lesion-count.js";
import { type Measurements, measure } from "./measure.js";
import { type FindingsOptions, resolveFindingsOptions } from "./options.js";
import { peripheralFinding } from "./peripheral.js";
import { ml, percent } from "./round.js";

export interface FindingsInput {
  /** The CT in HU; its geometry is the grid of every other array. */
  hu: Volume;
  /** > 0 lesion, on hu's grid. */
  lesions: Uint8Array;
  lungs: LungSegmentation;
  /** mm to the nearest non-lung voxel (0 outside the lungs), on hu's grid. */
  pleuralDistanceMm: Float32Array;
}

export function computeFindings(input: FindingsInput, options?: Partial<FindingsOptions>): Findings {
  checkInput(input);
  const o = resolveFindingsOptions(options, input.hu.spacing);
  const { hu, lungs } = input;
  const voxelMl = voxelVolumeMl(hu);
  const affine = voxelToLps(hu);

  const components = connectedComponents(input.lesions, hu.dims, o.connectivity, lungs.labels);
  const { rankOf, keptCount, ignored } = rankComponents(components.voxels, voxelMl, o.minLesionVolumeMl);
  const m = measure({
    dims: hu.dims,
    voxelToLps: affine,
    hu: hu.data,
    lesions: input.lesions,
    lungLabels: lungs.labels,
    zones: lungs.zones,
    pleuralDistanceMm: input.pleuralDistanceMm,
    components,
    rankOf,
    keptCount,
    ggoMinHu: o.ggoMinHu,
    consolidationMinHu: o.consolidationMinHu,
    pleuralSurfaceOffsetMm: o.pleuralSurfaceOffsetMm,
  });

  const lesions = lesionCountFinding(m, {
    voxelMl,
    voxelToLps: affine,
    maxListedLesions: o.maxListedLesions,
    ignored,
  });
  const findings: Findings = {
    version: FINDINGS_VERSION,
    method: { ...o },
    lesions,
    attenuation: attenuationFinding(m, voxelMl),
    extent: extentFinding(m, voxelMl),
    peripheral: peripheralFinding(m),
    distribution: distributionFinding(m, voxelMl, o),
    warnings: [],
  };
  findings.warnings = warningsFor(findings, m, o, voxelMl);
  // A failure here is a bug in this module, never bad input: the output must always be valid JSON data.
  return FindingsSchema.parse(findings);
}

/** mL per voxel: |det(direction)| * sx * sy * sz / 1000, so a sheared (gantry-tilt) grid is honoured. */
export function voxelVolumeMl(g: Pick<Volume, "spacing" | "direction">): number {
  return (Math.abs(determinant3(g.direction)) * g.spacing[0] * g.spacing[1] * g.spacing[2]) / 1000;
}

/**
 * Kept components (at least minMl) ranked by decreasing size, ties in raster order of their first voxel;
 * rankOf[c] is component c's rank or -1 when ignored.
 */
function rankComponents(
  voxels: Int32Array,
  voxelMl: number,
  minMl: number,
): { rankOf: Int32Array; keptCount: number; ignored: { count: number; voxels: number } } {
  // Relative slack so a component of exactly the minimum volume is not lost to floating-point rounding.
  const minVoxels = (minMl / voxelMl) * (1 - 1e-9);
  const kept: number[] = [];
  const ignored = { count: 0, voxels: 0 };
  for (let c = 0; c < voxels.length; c++) {
    if (voxels[c]! >= minVoxels) kept.push(c);
    else {
      ignored.count++;
      ignored.voxels += voxels[c]!;
    }
  }
  kept.sort((a, b) => voxels[b]! - voxels[a]! || a - b);
  const rankOf = new Int32Array(voxels.length).fill(-1);
  kept.forEach((c, rank) => {
    rankOf[c] = rank;
  });
  return { rankOf, keptCount: kept.length, ignored };
}

function checkInput(input: FindingsInput): void {
  const { hu, lungs } = input;
  const [nx, ny, nz] = hu.dims;
  const n = nx * ny * nz;
  const problems: string[] = [];
  if (!(n > 0) || hu.data.length !== n)
    problems.push(`hu has ${hu.data.length} voxels for dims ${hu.dims.join("x")}`);
  if (lungs.dims.some((d, a) => d !== hu.dims[a])) {
    problems.push(`lung segmentation dims ${lungs.dims.join("x")} differ from the CT's ${hu.dims.join("x")}`);
  }
  if (lungs.spacing.some((s, a) => Math.abs(s - hu.spacing[a]!) > 1e-4 * hu.spacing[a]!)) {
    problems.push("lung segmentation spacing differs from the CT's");
  }
  if (!hu.spacing.every((s) => s > 0 && Number.isFinite(s)))
    problems.push("spacing must be positive and finite");
  const arrays: Array<[string, { length: number }]> = [
    ["lesions", input.lesions],
    ["lung labels", lungs.labels],
    ["lung zones", lungs.zones],
    ["pleural distance", input.pleuralDistanceMm],
  ];
  for (const [name, a] of arrays)
    if (a.length !== n) problems.push(`${name} has ${a.length} voxels, not ${n}`);
  if (problems.length > 0) throw new FindingsInputError(`findings input mismatch: ${problems.join("; ")}`);
}

function warningsFor(f: Findings, m: Measurements, o: FindingsMethod, voxelMl: number): string[] {
  const w: string[] = [];
  const lungVoxels = m.lungVoxels;
  const lungTotal = lungVoxels.reduce((a, b) => a + b, 0);
  if (lungTotal === 0) {
    w.push("The lung segmentation is empty: no lesion, extent or distribution could be measured.");
  }
  const unzoned = lungVoxels[0]! + lungVoxels[4]!;
  if (unzoned > 0) {
    w.push(
      `${percent((100 * unzoned) / lungTotal)} % of the lung volume has no zone; ` +
        "it counts for its lung but for no zone or lobe.",
    );
  }
  if (f.lesions.outsideLungsMl > 0) {
    w.push(
      `${f.lesions.outsideLungsMl} mL of the lesion mask lies outside the segmented lungs and is not measured.`,
    );
  }
  if (m.noPleuraVoxels > 0) {
    w.push(
      `${ml(m.noPleuraVoxels * voxelMl)} mL of lesion has no non-lung voxel anywhere in the volume to measure ` +
        "its pleural distance from; it counts as deeper than every shell.",
    );
  }
  const small = f.lesions.ignoredSmall;
  if (small.count > 0) {
    w.push(
      `${small.count} lesion component${small.count > 1 ? "s" : ""} under ${o.minLesionVolumeMl} mL ` +
        `(${small.volumeMl} mL in all) ${small.count > 1 ? "were" : "was"} ignored as noise.`,
    );
  }
  if (f.lesions.notListed > 0) {
    w.push(
      `Only the ${f.lesions.listed.length} largest of ${f.lesions.count} lesions are listed one by one.`,
    );
  }
  return w;
}
