/**
 * Turn the slices of one series into a sorted stack with exact geometry, or say precisely why not.
 * Pure maths, no I/O: sorting along the slice normal, duplicate resolution, gap / spacing / tilt checks.
 */
import type { Reason, Warning } from "../contracts/validation-report.js";
import type { Geometry, Vec3 } from "../contracts/volume.js";
import { InputRejected, reason, reject } from "../errors.js";
import { dot, fromColumns, norm, normalize, sub } from "../geometry/affine.js";
import type { ValidationPolicy } from "./policy.js";
import { normalOf, type Slice } from "./slices.js";

export interface Stack {
  /** Slices in ascending order along the slice normal. */
  slices: Slice[];
  geometry: Geometry;
  /** Slices dropped as superseded duplicates. */
  dropped: Slice[];
  /** Measured shear of the stack against the slice normal, degrees. */
  tiltDeg: number;
  zDirection: "ascending" | "descending";
  warnings: Warning[];
}

const where = (s: Slice, slice?: number) =>
  slice === undefined ? { file: s.header.file } : { file: s.header.file, slice };

function requireGeometry(slices: Slice[]): void {
  for (const s of slices) {
    const { position, orientation, pixelSpacing } = s.info;
    if (!position || !orientation || !pixelSpacing)
      reject(
        "MISSING_GEOMETRY",
        `Slice lacks ${!position ? "ImagePositionPatient" : !orientation ? "a valid ImageOrientationPatient" : "PixelSpacing"}; the volume's geometry cannot be known.`,
        where(s),
      );
    if (!normalOf(s.info))
      reject(
        "MISSING_GEOMETRY",
        "ImageOrientationPatient's row and column directions are zero or parallel; the slice's plane cannot be known.",
        where(s),
      );
    if (!(pixelSpacing[0] > 0 && pixelSpacing[1] > 0) || !pixelSpacing.every(Number.isFinite))
      reject("MISSING_GEOMETRY", "PixelSpacing must be positive.", where(s));
    if (!position.every(Number.isFinite))
      reject("MISSING_GEOMETRY", "ImagePositionPatient is not finite.", where(s));
    // Direction cosines must be two orthogonal unit vectors; anything else would skew the affine silently.
    const row: Vec3 = [orientation[0], orientation[1], orientation[2]];
    const col: Vec3 = [orientation[3], orientation[4], orientation[5]];
    if (Math.abs(norm(row) - 1) > 1e-2 || Math.abs(norm(col) - 1) > 1e-2 || Math.abs(dot(row, col)) > 1e-2)
      reject(
        "MISSING_GEOMETRY",
        "ImageOrientationPatient is not two orthogonal unit vectors; the volume's geometry cannot be known.",
        where(s),
      );
  }
}

function requireConsistency(slices: Slice[]): void {
  const ref = slices[0]!;
  const [r0, c0] = ref.info.pixelSpacing!;
  for (const s of slices) {
    const [r, c] = s.info.pixelSpacing!;
    if (Math.abs(r - r0) > 1e-3 || Math.abs(c - c0) > 1e-3)
      reject(
        "INCONSISTENT_SERIES",
        `PixelSpacing ${r}\\${c} differs from ${r0}\\${c0} within one series; several reconstructions seem mixed.`,
        where(s),
      );
    if (s.header.samplesPerPixel !== ref.header.samplesPerPixel)
      reject("INCONSISTENT_SERIES", "SamplesPerPixel differs within the series.", where(s));
  }
}

/** Later acquisition wins: AcquisitionNumber, then acquisition time. */
function acquisitionOrder(a: Slice, b: Slice): number {
  const keyOf = (s: Slice) => [s.header.acquisitionNumber ?? -1, s.header.acquisitionSeconds ?? -1];
  const [an, at] = keyOf(a);
  const [bn, bt] = keyOf(b);
  return an! !== bn! ? an! - bn! : at! - bt!;
}

/**
 * Two images at one position are of one acquisition (and then cannot both be right) unless their
 * AcquisitionNumbers differ or their times lie `sameAcquisitionSeconds` or more apart. Equal times alone
 * are no test: scanners write each slice's own time, so a different image put at another slice's position
 * (its time inside the same acquisition) replaced the real slice with only a warning.
 */
function sameAcquisition(a: Slice, b: Slice, policy: ValidationPolicy): boolean {
  if ((a.header.acquisitionNumber ?? -1) !== (b.header.acquisitionNumber ?? -1)) return false;
  const [ta, tb] = [a.header.acquisitionSeconds, b.header.acquisitionSeconds];
  return ta === undefined || tb === undefined || Math.abs(ta - tb) < policy.sameAcquisitionSeconds;
}

/**
 * Gantry tilt (shear of the stack against the slice normal), the same rule for DICOM stacks and NIfTI
 * affines: noise below tiltNoiseDeg, a warning up to maxTiltDeg (the shear stays in the affine), beyond it
 * a rejection.
 */
export function judgeTilt(
  deg: number,
  policy: ValidationPolicy,
  problems: Reason[],
  warnings: Warning[],
): void {
  if (deg <= policy.tiltNoiseDeg) return;
  if (deg > policy.maxTiltDeg)
    problems.push(
      reason(
        "GANTRY_TILT",
        `The stack is sheared by ${deg.toFixed(1)} degrees (gantry tilt), beyond ${policy.maxTiltDeg}.`,
      ),
    );
  else
    warnings.push({
      code: "GANTRY_TILT",
      message: `The stack is sheared by ${deg.toFixed(1)} degrees (gantry tilt); the affine keeps the shear.`,
    });
}

/**
 * NON_UNIFORM_SPACING for the slice farthest from where the volume's uniform step puts it, when that is
 * more than the step tolerance (`depths` ascending along the normal, one per kept slice).
 */
function judgeDrift(
  depths: number[],
  step: number,
  tolerance: number,
  slices: Slice[],
  problems: Reason[],
): void {
  let worst = 0;
  let at = 0;
  for (let k = 1; k < depths.length - 1; k++) {
    const off = Math.abs((depths[k] as number) - ((depths[0] as number) + k * step));
    if (off > worst) [worst, at] = [off, k];
  }
  if (worst <= tolerance) return;
  problems.push(
    reason(
      "NON_UNIFORM_SPACING",
      `Slice ${at} lies ${worst.toFixed(2)} mm from where the series' mean step of ${step.toFixed(3)} mm puts it: the spacing changes along the series (each step alone is within ${tolerance.toFixed(2)} mm of the median).`,
      where(slices[at]!, at),
    ),
  );
}

/**
 * A volume larger than any body along one of its axes (MISSING_GEOMETRY): its spacing or units are wrong
 * (a NIfTI in metres read as 2.8 m voxels planned 5 750 model tiles and ran past ten minutes).
 */
export function judgeExtent(dims: Vec3, spacing: Vec3, policy: ValidationPolicy, problems: Reason[]): void {
  for (let a = 0; a < 3; a++) {
    const extent = (dims[a] as number) * (spacing[a] as number);
    if (extent > policy.maxExtentMm) {
      problems.push(
        reason(
          "MISSING_GEOMETRY",
          `The volume spans ${extent.toFixed(0)} mm along its ${["first", "second", "third"][a]} axis (${dims[a]} x ${(spacing[a] as number).toPrecision(4)} mm), more than the ${policy.maxExtentMm} mm any CT covers: its pixel spacing, slice positions or units are wrong.`,
        ),
      );
      return;
    }
  }
}

/** Too few slices for the policy's purpose (analysis needs a stack; convert takes one slice). */
export function judgeSliceCount(n: number, policy: ValidationPolicy, problems: Reason[]): void {
  if (n < policy.minSlices)
    problems.push(
      reason("TOO_FEW_SLICES", `The series has ${n} slice(s); analysis needs at least ${policy.minSlices}.`),
    );
}

/** Dropped slices are named one warning each up to this many; one more warning counts the rest. */
export const MAX_DROPPED_NAMED = 20;

/** One DUPLICATES_DROPPED warning per dropped file (the report names what it left out), bounded. */
function reportDropped(dropped: Slice[], depth: (s: Slice) => number, warnings: Warning[]): void {
  for (const s of dropped.slice(0, MAX_DROPPED_NAMED)) {
    const acquisition =
      s.header.acquisitionNumber !== undefined ? ` (acquisition ${s.header.acquisitionNumber})` : "";
    const frame = s.frame > 0 ? ` (frame ${s.frame + 1})` : "";
    warnings.push({
      code: "DUPLICATES_DROPPED",
      message: `Dropped a slice${frame}${acquisition} at ${depth(s).toFixed(2)} mm along the slice normal, a position repeated in the series; the latest acquisition there was kept.`,
      ...where(s),
    });
  }
  const more = dropped.length - MAX_DROPPED_NAMED;
  if (more > 0)
    warnings.push({
      code: "DUPLICATES_DROPPED",
      message: `${more} more slice(s) at repeated positions were dropped (${dropped.length} in all); the latest acquisition was kept at each.`,
    });
}

export function buildStack(input: Slice[], policy: ValidationPolicy): Stack {
  if (input.length === 0) reject("EMPTY_INPUT", "The series has no slices.");
  requireGeometry(input);
  requireConsistency(input);
  const warnings: Warning[] = [];
  const normal = normalOf(input[0]!.info)!;
  const depth = (s: Slice) => dot(s.info.position!, normal);

  // File order tells the acquisition direction that the report states (descending = head first).
  const fileOrder = [...input].sort(
    (a, b) => (a.header.instanceNumber ?? 0) - (b.header.instanceNumber ?? 0) || a.frame - b.frame,
  );
  const zDirection =
    fileOrder.length > 1 && depth(fileOrder[fileOrder.length - 1]!) < depth(fileOrder[0]!)
      ? "descending"
      : "ascending";

  const sorted = [...input].sort((a, b) => depth(a) - depth(b) || acquisitionOrder(a, b));

  // Resolve repeated positions: keep the latest acquisition; an identical SOP instance sent twice is benign;
  // two different images of one acquisition at one position cannot be resolved.
  const kept: Slice[] = [];
  const dropped: Slice[] = [];
  for (const s of sorted) {
    const prev = kept[kept.length - 1];
    if (prev && Math.abs(depth(s) - depth(prev)) <= policy.duplicateToleranceMm) {
      const sameInstance =
        s.header.sopInstanceUid !== undefined &&
        s.header.sopInstanceUid === prev.header.sopInstanceUid &&
        s.frame === prev.frame;
      if (!sameInstance && sameAcquisition(s, prev, policy))
        reject(
          "DUPLICATE_SLICES",
          `Two different images share the position ${depth(s).toFixed(2)} mm along the slice normal within one acquisition (the same AcquisitionNumber; times under ${policy.sameAcquisitionSeconds} s apart, or missing); upload the series as the scanner wrote it.`,
          where(s, kept.length - 1),
        );
      // Positions within the tolerance may sort either way, so compare acquisitions explicitly.
      if (acquisitionOrder(s, prev) >= 0) {
        dropped.push(prev);
        kept[kept.length - 1] = s;
      } else {
        dropped.push(s);
      }
      continue;
    }
    kept.push(s);
  }
  reportDropped(dropped, depth, warnings);

  const n = kept.length;
  const first = kept[0]!;
  const [rowSpacing, colSpacing] = first.info.pixelSpacing!;
  const o = first.info.orientation!;
  const iDir = normalize([o[0], o[1], o[2]]);
  const jDir = normalize([o[3], o[4], o[5]]);
  const problems: Reason[] = [];

  let kDir: Vec3 = normal;
  let step = first.info.sliceThickness && first.info.sliceThickness > 0 ? first.info.sliceThickness : 1;
  let tiltDeg = 0;
  if (n > 1) {
    const steps: number[] = [];
    for (let k = 1; k < n; k++) steps.push(depth(kept[k]!) - depth(kept[k - 1]!));
    const median = [...steps].sort((a, b) => a - b)[Math.floor((steps.length - 1) / 2)]!;
    const tolerance = Math.max(policy.spacingToleranceMm, policy.spacingToleranceFraction * median);
    steps.forEach((d, idx) => {
      if (d > policy.gapFactor * median) {
        problems.push(
          reason(
            "SLICE_GAP",
            `A ${d.toFixed(2)} mm gap follows slice ${idx} (median spacing ${median.toFixed(2)} mm): slices are missing.`,
            where(kept[idx + 1]!, idx + 1),
          ),
        );
      } else if (Math.abs(d - median) > tolerance) {
        problems.push(
          reason(
            "NON_UNIFORM_SPACING",
            `Spacing ${d.toFixed(3)} mm before slice ${idx + 1} differs from the median ${median.toFixed(3)} mm by more than ${tolerance.toFixed(2)} mm.`,
            where(kept[idx + 1]!, idx + 1),
          ),
        );
      }
    });
    // The real slice step (first to last position) carries any gantry tilt as a shear against the normal.
    const span = sub(kept[n - 1]!.info.position!, first.info.position!);
    const along = dot(span, normal);
    // Each step may be within the tolerance of the median and the positions still drift from the one step
    // the volume will have (5 mm steps, then 5.45 mm ones: slice 60 placed 13 mm from its own position).
    if (problems.length === 0) judgeDrift(kept.map(depth), along / (n - 1), tolerance, kept, problems);
    kDir = normalize(span);
    step = along / (n - 1);
    const kStepLen = norm(span) / (n - 1);
    tiltDeg = (Math.acos(Math.min(1, Math.abs(along) / norm(span))) * 180) / Math.PI;
    if (tiltDeg <= policy.tiltNoiseDeg) {
      kDir = normal;
    } else {
      step = kStepLen;
    }
    // Positions must lie on one line: at its own depth, each slice must sit where the first-to-last line
    // puts it. In-plane drift means a curved or zig-zag stack, not a volume.
    const kAlongNormal = dot(kDir, normal);
    for (let k = 1; k < n - 1; k++) {
      const p = kept[k]!.info.position!;
      const t = (depth(kept[k]!) - depth(first)) / kAlongNormal;
      const expected: Vec3 = [0, 1, 2].map((a) => first.info.position![a]! + kDir[a]! * t) as Vec3;
      const drift = norm(sub(p, expected));
      if (drift > Math.max(1, 0.5 * colSpacing)) {
        problems.push(
          reason(
            "INCONSISTENT_SERIES",
            `Slice ${k} is displaced ${drift.toFixed(2)} mm in-plane from the line through the other slices.`,
            where(kept[k]!, k),
          ),
        );
        break;
      }
    }
  }
  // Judged on the positions alone: GantryDetectorTilt (0018,1120) says how the gantry stood, not whether the
  // stack is sheared, and scanners that tilt the image plane itself (ImageOrientationPatient) write an
  // unsheared stack with the tag set; the tag once rejected such a 40-degree stack that dcm2niix converts.
  judgeTilt(tiltDeg, policy, problems, warnings);
  judgeSliceCount(n, policy, problems);
  judgeExtent(
    [first.header.columns, first.header.rows, n],
    [colSpacing, rowSpacing, n > 1 ? Math.abs(step) : 0],
    policy,
    problems,
  );
  if (problems.length > 0) throw new InputRejected(problems);

  const thickness = first.info.sliceThickness;
  if (n > 1 && thickness && thickness > 0 && Math.abs(thickness - Math.abs(step)) > 0.5 * Math.abs(step))
    warnings.push({
      code: "SLICE_THICKNESS_MISMATCH",
      message: `SliceThickness ${thickness} mm differs from the measured spacing ${Math.abs(step).toFixed(3)} mm; the measured spacing is used.`,
    });

  return {
    slices: kept,
    dropped,
    tiltDeg,
    zDirection,
    warnings,
    geometry: {
      dims: [first.header.columns, first.header.rows, n],
      spacing: [colSpacing, rowSpacing, Math.abs(step)],
      origin: [...first.info.position!] as Vec3,
      direction: fromColumns(iDir, jDir, kDir),
    },
  };
}
