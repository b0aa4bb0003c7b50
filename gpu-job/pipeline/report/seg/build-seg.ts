/**
 * The DICOM Segmentation (PS3.3 A.51) of the lesion mask as a dcmjs "natural" dataset: one BINARY segment,
 * frames on the source slices (see frames.ts), every frame referencing its source image. Pure: no I/O;
 * write-seg.ts serialises it.
 *
 * Modules: Patient and General Study copied from the source (the only output that holds them); General
 * and Segmentation Series (new series in the source's study); Frame of Reference (the source's); General
 * and Enhanced General Equipment (this software and model); Image Pixel and Segmentation Image; Multi-frame
 * Functional Groups (shared PixelMeasures + PlaneOrientation from the volume geometry; per frame
 * DerivationImage/SourceImage, FrameContent, PlanePosition, SegmentIdentification); Multi-frame Dimension
 * (ReferencedSegmentNumber, ImagePositionPatient); Common Instance Reference; SOP Common.
 *
 * Geometry: the frames lie on the volume's grid (dims, spacing, origin, direction), which is the source
 * stack's own grid: the i axis is the source row direction, j the column direction, and slice k's position
 * is origin + k * kStep, the centre of voxel (0, 0, k).
 */
import type { Geometry } from "../../../../core/contracts/volume.js";
import { formatDS } from "../../../../core/dicom/write-series.js";
import { column, cross, dot, normalize, voxelCentre } from "../../../../core/geometry/affine.js";
import type { DicomSource } from "../../../../core/validation/dicom-source.js";
import { packBinaryFrames, segFrameSlices } from "./frames.js";
import {
  ANATOMIC_REGION_LUNG,
  DERIVATION_SEGMENTATION,
  LESION_CIELAB,
  PURPOSE_SOURCE_IMAGE,
  SEGMENT_CATEGORY,
  SEGMENT_TYPE,
} from "./seg-codes.js";

export const SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4";
/** DICOM tags the dimension index points at, as dcmjs writes AT values. */
const TAG_REFERENCED_SEGMENT_NUMBER = 0x0062000b;
const TAG_SEGMENT_IDENTIFICATION_SEQUENCE = 0x0062000a;
const TAG_IMAGE_POSITION_PATIENT = 0x00200032;
const TAG_PLANE_POSITION_SEQUENCE = 0x00209113;

/** Series number of the SEG within the study: high, so it sorts after the scanner's own series. */
export const SEG_SERIES_NUMBER = 9001;

export interface SegModelIdentity {
  name: string;
  version: string;
  sha256: string;
  synthetic: boolean;
}

export interface SegUids {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  dimensionOrganizationUid: string;
}

export interface BuildSegInput {
  geometry: Geometry;
  /** Lesion mask on the volume grid (non-zero = lesion). */
  lesions: Uint8Array;
  source: DicomSource;
  model: SegModelIdentity;
  uids: SegUids;
  /** Content date and time (UTC). */
  now: Date;
}

export interface BuiltSeg {
  /** dcmjs natural dataset, PixelData included. */
  dataset: Record<string, unknown>;
  /** Volume slice k of each frame, in frame order. */
  frameSlices: number[];
  /** True when the mask is empty and the single frame says so. */
  empty: boolean;
}

export class SegBuildError extends Error {
  override readonly name = "SegBuildError";
}

/** The distance between slice planes: the k step projected on the normal of the i-j plane. */
function normalSpacing(g: Geometry): number {
  const n = normalize(cross(column(g.direction, 0), column(g.direction, 1)));
  return g.spacing[2] * Math.abs(dot(n, normalize(column(g.direction, 2))));
}

export function buildSegDataset(input: BuildSegInput): BuiltSeg {
  const { geometry: g, source, model, uids } = input;
  const [nx, ny, nz] = g.dims;
  if (input.lesions.length !== nx * ny * nz)
    throw new SegBuildError(`lesion mask has ${input.lesions.length} voxels, the grid ${nx * ny * nz}`);
  if (source.sopInstanceUids.length !== nz || source.sopClassUids.length !== nz)
    throw new SegBuildError(
      `source references cover ${source.sopInstanceUids.length} slices, the grid ${nz}`,
    );

  const { slices, empty } = segFrameSlices(input.lesions, g.dims);
  const pixelData = packBinaryFrames(input.lesions, g.dims, slices);
  const { date, time } = dicomDateTime(input.now);
  const ps = source.patientStudy;
  const strings = Object.values(ps).filter((v): v is string => typeof v === "string");

  const sourceImage = (k: number) => ({
    ReferencedSOPClassUID: source.sopClassUids[k],
    ReferencedSOPInstanceUID: source.sopInstanceUids[k],
    ...(source.frameNumbers[k] !== undefined ? { ReferencedFrameNumber: source.frameNumbers[k] } : {}),
    PurposeOfReferenceCodeSequence: [{ ...PURPOSE_SOURCE_IMAGE }],
  });

  const perFrame = slices.map((k, f) => ({
    DerivationImageSequence: [
      {
        SourceImageSequence: [sourceImage(k)],
        DerivationCodeSequence: [{ ...DERIVATION_SEGMENTATION }],
      },
    ],
    FrameContentSequence: [{ DimensionIndexValues: [1, f + 1] }],
    PlanePositionSequence: [{ ImagePositionPatient: voxelCentre(g, 0, 0, k).map(formatDS) }],
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
  }));

  // Every source instance of the volume, once (a multi-frame source is one instance for many slices).
  const instances = new Map<string, string>();
  source.sopInstanceUids.forEach((uid, k) => {
    if (!instances.has(uid)) instances.set(uid, source.sopClassUids[k] as string);
  });

  const dataset: Record<string, unknown> = {
    ...(strings.some((s) => /[^\x20-\x7e]/.test(s)) ? { SpecificCharacterSet: "ISO_IR 192" } : {}),
    // SOP Common
    SOPClassUID: SEGMENTATION_STORAGE,
    SOPInstanceUID: uids.sopInstanceUid,
    TimezoneOffsetFromUTC: "+0000",
    // Patient (type 2: copied, or present and empty)
    PatientName: ps.patientName ?? "",
    PatientID: ps.patientId ?? "",
    PatientBirthDate: ps.patientBirthDate ?? "",
    PatientSex: ps.patientSex ?? "",
    // General Study
    StudyInstanceUID: source.studyInstanceUid,
    StudyDate: ps.studyDate ?? "",
    StudyTime: ps.studyTime ?? "",
    ReferringPhysicianName: ps.referringPhysicianName ?? "",
    StudyID: ps.studyId ?? "",
    AccessionNumber: ps.accessionNumber ?? "",
    // General + Segmentation Series
    Modality: "SEG",
    SeriesInstanceUID: uids.seriesInstanceUid,
    SeriesNumber: String(SEG_SERIES_NUMBER),
    SeriesDescription: model.synthetic ? "DeepSC-COVID lesions (synthetic model)" : "DeepSC-COVID lesions",
    // Frame of Reference: the whole module or nothing. Its type 2 PositionReferenceIndicator outside the
    // module (a source without a FrameOfReferenceUID) is an attribute the SEG IOD does not have.
    ...(source.frameOfReferenceUid
      ? { FrameOfReferenceUID: source.frameOfReferenceUid, PositionReferenceIndicator: "" }
      : {}),
    // General + Enhanced General Equipment
    Manufacturer: "DeepSC-COVID",
    ManufacturerModelName: clip(model.name, 64),
    DeviceSerialNumber: model.sha256.slice(0, 16),
    SoftwareVersions: clip(model.version, 64),
    // General Image / Segmentation Image / Content Identification
    InstanceNumber: "1",
    ContentDate: date,
    ContentTime: time,
    ImageType: ["DERIVED", "PRIMARY"],
    ContentLabel: "LESIONS",
    // LO: at most 64 characters.
    ContentDescription: model.synthetic
      ? "DeepSC-COVID lesion mask; synthetic model, not for clinical use"
      : "DeepSC-COVID lesion mask; research use",
    ContentCreatorName: "",
    SegmentationType: "BINARY",
    SegmentsOverlap: "NO",
    SegmentSequence: [
      {
        SegmentNumber: 1,
        SegmentLabel: "Lesion",
        SegmentDescription: "Pneumonia lesion (ground glass and consolidation)",
        SegmentAlgorithmType: "AUTOMATIC",
        SegmentAlgorithmName: clip(`${model.name} ${model.version}`, 64),
        SegmentedPropertyCategoryCodeSequence: [{ ...SEGMENT_CATEGORY }],
        SegmentedPropertyTypeCodeSequence: [{ ...SEGMENT_TYPE }],
        AnatomicRegionSequence: [{ ...ANATOMIC_REGION_LUNG }],
        RecommendedDisplayCIELabValue: [...LESION_CIELAB],
      },
    ],
    // Image Pixel
    SamplesPerPixel: 1,
    PhotometricInterpretation: "MONOCHROME2",
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: "00",
    // Multi-frame Functional Groups
    NumberOfFrames: String(slices.length),
    SharedFunctionalGroupsSequence: [
      {
        PixelMeasuresSequence: [
          {
            // PixelSpacing is [between rows (j), between columns (i)].
            PixelSpacing: [formatDS(g.spacing[1]), formatDS(g.spacing[0])],
            // The source's thickness (a slice may be thinner or thicker than the step), and the step along
            // the plane's normal, which a gantry-tilted stack's k axis is longer than.
            SliceThickness: formatDS(source.sliceThickness ?? normalSpacing(g)),
            SpacingBetweenSlices: formatDS(normalSpacing(g)),
          },
        ],
        PlaneOrientationSequence: [
          { ImageOrientationPatient: [...column(g.direction, 0), ...column(g.direction, 1)].map(formatDS) },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    // Multi-frame Dimension
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: uids.dimensionOrganizationUid }],
    DimensionOrganizationType: "3D",
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: uids.dimensionOrganizationUid,
        DimensionIndexPointer: TAG_REFERENCED_SEGMENT_NUMBER,
        FunctionalGroupPointer: TAG_SEGMENT_IDENTIFICATION_SEQUENCE,
        DimensionDescriptionLabel: "ReferencedSegmentNumber",
      },
      {
        DimensionOrganizationUID: uids.dimensionOrganizationUid,
        DimensionIndexPointer: TAG_IMAGE_POSITION_PATIENT,
        FunctionalGroupPointer: TAG_PLANE_POSITION_SEQUENCE,
        DimensionDescriptionLabel: "ImagePositionPatient",
      },
    ],
    // Common Instance Reference: the whole source series the mask was derived from.
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.seriesInstanceUid,
        ReferencedInstanceSequence: [...instances].map(([uid, cls]) => ({
          ReferencedSOPClassUID: cls,
          ReferencedSOPInstanceUID: uid,
        })),
      },
    ],
    PixelData: [pixelData.buffer.slice(pixelData.byteOffset, pixelData.byteOffset + pixelData.byteLength)],
    _vrMap: { PixelData: "OB" },
  };
  return { dataset, frameSlices: slices, empty };
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}

function dicomDateTime(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return {
    date: `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`,
    time: `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`,
  };
}
