/**
 * Stable reason codes for rejected inputs and warnings. This module is the single source of truth:
 * the README table, the OpenAPI document and every ValidationReport take their codes from here.
 * Never rename a code; add new ones at the end.
 */
import * as z from "zod";

export const REASON_CODES = {
  NOT_DICOM: "A file is not a DICOM Part 10 file or raw DICOM dataset that can be parsed.",
  NOT_NIFTI: "A .nii/.nii.gz file does not carry a valid NIfTI-1 or NIfTI-2 header.",
  UNSUPPORTED_FORMAT: "The input is neither a DICOM series, a zip of one, nor a NIfTI volume.",
  EMPTY_INPUT: "The input holds no files, or no file with image data.",
  TOO_LARGE: "The input exceeds a size limit (total bytes, uncompressed bytes, entries or voxels).",
  ARCHIVE_UNSAFE:
    "The archive (a zip, or a gzip-compressed NIfTI) is unsafe to expand: path traversal, absolute or nested archive entries, an implausible compression ratio (over 100:1 by default, zip entries and .nii.gz alike), or a corrupt central directory.",
  TRUNCATED:
    "A file ends before the data its header declares, its pixel data is not the size its header's image dimensions need, or a file an upload's manifest.json lists is missing or of another size.",
  MISSING_PIXEL_DATA: "A DICOM image has no (or empty) Pixel Data.",
  MISSING_GEOMETRY:
    "Image Position/Orientation (Patient) or Pixel Spacing (a NIfTI's sform, or qform and voxel sizes) is missing or invalid, or makes the volume longer than any body (over 2500 mm along an axis).",
  NOT_CT: "The image is not CT (modality and SOP class).",
  UNSUPPORTED_TRANSFER_SYNTAX: "The DICOM transfer syntax is not one this pipeline decodes.",
  UNSUPPORTED_DATATYPE:
    "The NIfTI datatype (complex, RGB, ...) or the DICOM bit depth (BitsAllocated, BitsStored) cannot hold Hounsfield units.",
  UNSUPPORTED_PHOTOMETRIC: "The DICOM photometric interpretation is not MONOCHROME1 or MONOCHROME2.",
  NOT_A_VOLUME:
    "The data is not a single 3-D volume (more than one time point or channel, or fewer than 3 dims).",
  NO_CT_SERIES: "No series in the input qualifies as an axial CT series (for example only localizers).",
  INCONSISTENT_SERIES:
    "Slices of the chosen series disagree on size, orientation or pixel spacing, or several series are mixed.",
  TOO_FEW_SLICES: "The series has fewer slices than the analysis needs.",
  SLICE_GAP: "Slices are missing: a gap larger than 1.5 x the median slice spacing.",
  NON_UNIFORM_SPACING:
    "Slice spacing varies by more than the tolerance (0.2 mm or 10 %), step to step or as a drift from one uniform step.",
  DUPLICATE_SLICES:
    "Different images share one position within one acquisition (one AcquisitionNumber; times under 30 s apart, or missing) and cannot be resolved.",
  GANTRY_TILT: "The slice stack is sheared (gantry tilt): slice positions do not follow the slice normal.",
  HU_IMPLAUSIBLE:
    "The intensities are not plausible Hounsfield units (no air near -1000 HU, no body above -500 HU while values lie below air, over 2 % of voxels above 4000 HU, or negated values), or the rescale that makes them so is zero, not a number, or overflows.",
  UPLOAD_CHANGED:
    "The uploaded zip or NIfTI was replaced while it was being validated (its new version is validated as a study of its own), or files its manifest lists kept changing during validation.",
} as const;

export type ReasonCode = keyof typeof REASON_CODES;
export const ReasonCodeSchema = z.enum(Object.keys(REASON_CODES) as [ReasonCode, ...ReasonCode[]]);

/** Warnings never reject on their own; they tell the integrator what was assumed or dropped. */
export const WARNING_CODES = {
  MODALITY_INFERRED: "No Modality tag; the CT Image Storage SOP class was taken to mean CT.",
  DUPLICATES_DROPPED: "Slices at a repeated position were dropped; the latest acquisition was kept.",
  OTHER_SERIES_IGNORED:
    "The input held several series; the best CT series was chosen and the others ignored.",
  FILES_IGNORED: "Some files were not DICOM images (DICOMDIR, reports, hidden files) and were ignored.",
  LOSSY_COMPRESSION: "Pixels were lossy-compressed; Hounsfield units are approximate.",
  MIXED_FRAMES_OF_REFERENCE:
    "Slices of the series name different Frames of Reference (FrameOfReferenceUID); their positions were taken as one patient coordinate system, and the DICOM SEG names the first slice's.",
  GANTRY_TILT: "The slice stack is sheared (gantry tilt); geometry keeps the shear.",
  NOT_AXIAL:
    "The series is not axial; the analysis reorients it (exactly for coronal or sagittal slices, by resampling when oblique).",
  FALLBACK_GEOMETRY:
    "The NIfTI file has no sform or qform; voxel sizes from pixdim and an identity orientation were assumed.",
  HEADER_ONLY: "Validated from headers only; pixel values were not decoded.",
  PIXEL_REPRESENTATION_MISMATCH:
    "The codestream's signedness or depth disagreed with the DICOM header, and reading it as the header says changed values; the header was honoured.",
  NOT_CHEST:
    "The scan may not cover the chest: less than 1 L of lung was found, and the model's class is unreliable.",
  HU_NOT_CHECKED: "Too few voxels to check the Hounsfield-unit histogram.",
  NON_FINITE_VOXELS:
    "Some voxels of a floating-point NIfTI held no number (NaN or infinity) and were read as -1024 HU, like padding.",
  SLICE_THICKNESS_MISMATCH:
    "SliceThickness differs from the measured slice spacing; the measured spacing was used.",
  LUNG_SEGMENTATION:
    "Lung segmentation found something unusual (one lung only, lungs cut by the field of view, no lungs); lesion findings are limited to what was segmented.",
  OBLIQUE_RESAMPLED:
    "The scan's voxel axes are oblique to the patient's axes; it was classified on an axis-aligned grid, and its lesions segmented on that grid and on its own, the two weighed as the model's manifest says (segmentation.obliqueViews) on its own voxels.",
  CPU_FALLBACK:
    "The CUDA execution provider was not available; the model ran on the CPU (slower, same results).",
  COARSE_PIXELS:
    "The in-plane pixels are coarser than the model's input grid: the model sees upsampled images it was not trained on, and its lesions and class are unreliable.",
  PATIENT_ROLLED:
    "The lungs lie rolled in plane (a patient lying partly on one side) from the model's envelope.rollWarningDeg on (25 degrees for the bundled model, checked up to 20): the model was trained on upright bodies; its lesions and class are less reliable.",
  NARROW_FIELD_OF_VIEW:
    "The in-plane field of view cuts the lungs at the side and is narrower than the model's envelope.narrowestFieldOfViewMm (250 mm for the bundled model, trained on 360 mm views of whole lungs, which called normal lungs COVID-19 at 220 mm); its class is unreliable.",
  LUNGS_RESCALED:
    "The lungs are wider or deeper than the model's training bodies' by more than its manifest's tolerance (preprocessing.inPlane.lungScale): the model saw them resampled to its training size, and its lesions were mapped back onto the scan's own voxels.",
  LUNG_SIZE_OUT_OF_RANGE:
    "The lungs are smaller or larger than the sizes the model's size rule was checked on (preprocessing.inPlane.lungScale), as a child's chest is: the model saw them resampled further than it was checked, or at another size than any chest it was trained on, and its class is unreliable.",
  PLEURAL_EFFUSION:
    "100 mL or more of water-density fluid lies beneath a lung, most likely a pleural effusion: the model was not trained on effusions, and lesions along the fluid may be false.",
  THICK_SLICES:
    "The slices are further apart than the model's envelope.thickSliceRatio times its slice grid (twice for the bundled model: thicker than any it was trained on): it sees slices interpolated across the gaps, and its lesions (false positives) and class are less reliable.",
} as const;

export type WarningCode = keyof typeof WARNING_CODES;
export const WarningCodeSchema = z.enum(Object.keys(WARNING_CODES) as [WarningCode, ...WarningCode[]]);
