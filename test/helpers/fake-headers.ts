/** Minimal DicomHeader records for geometry and selection tests (no pixels, no files). */
import type { Vec3 } from "../../core/contracts/volume.js";
import type { DicomHeader } from "../../core/dicom/header.js";

export const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";

export interface FakeSliceOptions {
  position: Vec3;
  orientation?: [number, number, number, number, number, number];
  pixelSpacing?: [number, number];
  series?: string;
  instance?: number;
  acquisition?: number;
  acquisitionSeconds?: number;
  modality?: string | undefined;
  sopClassUid?: string;
  imageType?: string[];
  rows?: number;
  columns?: number;
  sopInstanceUid?: string;
  thickness?: number;
  study?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  kernel?: string;
}

export function fakeHeader(o: FakeSliceOptions): DicomHeader {
  const instance = o.instance ?? 1;
  const h: DicomHeader = {
    file: `${o.series ?? "s1"}/IM${String(instance).padStart(4, "0")}-${o.sopInstanceUid ?? ""}`,
    fileSize: 1000,
    transferSyntax: "1.2.840.10008.1.2.1",
    hasMeta: true,
    sopClassUid: o.sopClassUid ?? CT_IMAGE_STORAGE,
    sopInstanceUid: o.sopInstanceUid ?? `1.2.3.${o.series ?? "s1"}.${instance}.${o.acquisition ?? 1}`,
    seriesInstanceUid: o.series ?? "1.2.3.1",
    instanceNumber: instance,
    imageType: o.imageType ?? ["ORIGINAL", "PRIMARY", "AXIAL"],
    rows: o.rows ?? 4,
    columns: o.columns ?? 4,
    bitsAllocated: 16,
    bitsStored: 12,
    highBit: 11,
    pixelRepresentation: 0,
    samplesPerPixel: 1,
    photometric: "MONOCHROME2",
    lossy: false,
    numberOfFrames: 1,
    frames: [
      {
        position: o.position,
        orientation: o.orientation ?? [1, 0, 0, 0, 1, 0],
        pixelSpacing: o.pixelSpacing ?? [0.7, 0.7],
        sliceThickness: o.thickness ?? 2.5,
        rescaleSlope: 1,
        rescaleIntercept: -1024,
      },
    ],
    pixelData: { offset: 500, length: 32, encapsulated: false },
  };
  if ("modality" in o) {
    if (o.modality !== undefined) h.modality = o.modality;
  } else h.modality = "CT";
  if (o.study !== undefined) h.studyInstanceUid = o.study;
  if (o.seriesNumber !== undefined) h.seriesNumber = o.seriesNumber;
  if (o.seriesDescription !== undefined) h.seriesDescription = o.seriesDescription;
  if (o.kernel !== undefined) h.convolutionKernel = o.kernel;
  if (o.acquisition !== undefined) h.acquisitionNumber = o.acquisition;
  if (o.acquisitionSeconds !== undefined) h.acquisitionSeconds = o.acquisitionSeconds;
  return h;
}

/** A straight stack along `normalStep` from `origin`, instance numbers in file order. */
export function fakeStack(
  n: number,
  origin: Vec3,
  step: Vec3,
  extra: Partial<FakeSliceOptions> = {},
): DicomHeader[] {
  return Array.from({ length: n }, (_, k) =>
    fakeHeader({
      ...extra,
      instance: k + 1,
      position: [origin[0] + step[0] * k, origin[1] + step[1] * k, origin[2] + step[2] * k],
    }),
  );
}
