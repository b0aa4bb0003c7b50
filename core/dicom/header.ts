/**
 * The parsed header of one DICOM file: every attribute that series selection, geometry and decoding need,
 * and nothing that identifies a patient (names, IDs, dates, institution are never copied here).
 * Produced by parseDicomHeader (core/dicom/parse-header.ts) from the first bytes of a file.
 */
import type { Vec3 } from "../contracts/volume.js";

/** Geometry and scaling of one frame (one slice). Classic images have exactly one. */
export interface FrameInfo {
  /** ImagePositionPatient of the frame's first voxel, LPS mm. */
  position?: Vec3;
  /** ImageOrientationPatient: row direction (along a row, i.e. increasing column) then column direction. */
  orientation?: [number, number, number, number, number, number];
  /** PixelSpacing as stored: [between rows (j), between columns (i)] in mm. */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  /** RescaleSlope and RescaleIntercept (1 and 0 when absent); NaN when present but not a finite number. */
  rescaleSlope: number;
  rescaleIntercept: number;
}

export interface PixelDataLocation {
  /** Byte offset of the Pixel Data value within the file. */
  offset: number;
  /** Declared value length; -1 for undefined length (encapsulated). */
  length: number;
  encapsulated: boolean;
}

export interface DicomHeader {
  /** Entry path relative to the input root. */
  file: string;
  fileSize: number;
  transferSyntax: string;
  /** True when the file had a Part 10 preamble and meta header. */
  hasMeta: boolean;
  sopClassUid?: string;
  sopInstanceUid?: string;
  modality?: string;
  seriesInstanceUid?: string;
  studyInstanceUid?: string;
  frameOfReferenceUid?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  /** ConvolutionKernel (0018,1210) as stored (values joined by backslash): tells a lung from a soft-tissue reconstruction. */
  convolutionKernel?: string;
  acquisitionNumber?: number;
  instanceNumber?: number;
  /** Seconds since midnight of AcquisitionTime (else ContentTime); ordering only, never reported. */
  acquisitionSeconds?: number;
  imageType: string[];
  manufacturer?: string;
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  samplesPerPixel: number;
  photometric: string;
  pixelPaddingValue?: number;
  pixelPaddingRangeLimit?: number;
  /** GantryDetectorTilt (0018,1120) in degrees, if present. */
  gantryTilt?: number;
  /** LossyImageCompression = "01" or a lossy transfer syntax. */
  lossy: boolean;
  numberOfFrames: number;
  /** One entry per frame: shared + per-frame functional groups resolved for enhanced multi-frame objects. */
  frames: FrameInfo[];
  pixelData?: PixelDataLocation;
}
