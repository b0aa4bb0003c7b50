/**
 * What a series must satisfy, as data. `analysis` is what the ingest Lambda and `deepsc analyze` apply;
 * `convert` only needs a geometrically sound volume (so a 3-slice series still converts).
 */
export interface ValidationPolicy {
  purpose: "analysis" | "convert";
  /** Fewer slices than this → TOO_FEW_SLICES. */
  minSlices: number;
  /** A step larger than gapFactor x the median step → SLICE_GAP. */
  gapFactor: number;
  /** A step may differ from the median by max(spacingToleranceMm, spacingToleranceFraction x median). */
  spacingToleranceMm: number;
  spacingToleranceFraction: number;
  /** Positions closer than this along the normal are the same slice (mm). */
  duplicateToleranceMm: number;
  /**
   * Two images at one position with one AcquisitionNumber and times less than this apart (or a time
   * missing) are of one acquisition: DUPLICATE_SLICES. A helical chest acquisition lasts seconds; a repeat
   * that kept the number starts later.
   */
  sameAcquisitionSeconds: number;
  /** A volume longer than this along any of its axes has wrong spacing or units (MISSING_GEOMETRY). */
  maxExtentMm: number;
  /** Shear of the stack below this is numerical noise (degrees). */
  tiltNoiseDeg: number;
  /** Shear up to this is accepted with a GANTRY_TILT warning; above it, GANTRY_TILT rejects. */
  maxTiltDeg: number;
  /** Check the HU histogram (needs decoded voxels). */
  checkHu: boolean;
}

export const ANALYSIS_POLICY: ValidationPolicy = {
  purpose: "analysis",
  minSlices: 20,
  gapFactor: 1.5,
  spacingToleranceMm: 0.2,
  spacingToleranceFraction: 0.1,
  duplicateToleranceMm: 0.01,
  sameAcquisitionSeconds: 30,
  // Whole-body scans reach about 2 m; no scanner's field of view comes near it in plane.
  maxExtentMm: 2500,
  tiltNoiseDeg: 0.5,
  maxTiltDeg: 30,
  checkHu: true,
};

export const CONVERT_POLICY: ValidationPolicy = {
  ...ANALYSIS_POLICY,
  purpose: "convert",
  minSlices: 1,
  checkHu: false,
};

export function policyFor(purpose: "analysis" | "convert"): ValidationPolicy {
  return purpose === "analysis" ? ANALYSIS_POLICY : CONVERT_POLICY;
}
