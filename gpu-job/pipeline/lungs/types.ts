/**
 * What lung segmentation hands to the rest of the job (model input masking, findings, lungs.nii.gz).
 * Every array lies on the input volume's own grid: same dims, index = i + nx * (j + ny * k), i fastest.
 */
import type { Vec3 } from "../../../core/contracts/volume.js";

/** Label values in `labels` (and in lungs.nii.gz). Right/left are the patient's (LPS: right lung at lower x). */
export const LUNG_LABEL = { background: 0, right: 1, left: 2 } as const;

/** Values in `zones`: thirds of each lung's own craniocaudal extent. */
export const LUNG_ZONE = { none: 0, upper: 1, middle: 2, lower: 3 } as const;

export type LungSide = "right" | "left";
export type LungZoneName = "upper" | "middle" | "lower";

export interface LungSegmentation {
  dims: Vec3;
  /** Voxel size in mm along i, j, k (copied from the volume). */
  spacing: Vec3;
  /** 0 background, 1 right lung, 2 left lung; trachea and main bronchi excluded. */
  labels: Uint8Array;
  /** 0 outside the lungs, 1 upper, 2 middle, 3 lower zone of that voxel's lung. */
  zones: Uint8Array;
  /** Lung volume per side, mL. */
  volumeMl: Record<LungSide, number>;
  /** Human-readable caveats (e.g. "lungs touch the top of the field of view"); no patient data. */
  warnings: string[];
  /**
   * A lung reaches the in-plane edge of the field of view (the image's border or its reconstruction circle):
   * the field of view cuts the lungs at the side.
   */
  cutInPlane: boolean;
}
