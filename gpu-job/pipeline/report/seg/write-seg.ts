/**
 * Serialise the lesion SEG (build-seg.ts) as a DICOM Part 10 file with dcmjs: Explicit VR Little Endian,
 * uncompressed (BINARY frames are already 1 bit per pixel and only the slices with lesions are stored).
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { uidFromHash } from "../../../../core/dicom/write-series.js";
import {
  type BuildSegInput,
  type BuiltSeg,
  buildSegDataset,
  SEGMENTATION_STORAGE,
  type SegUids,
} from "./build-seg.js";

interface DcmjsData {
  DicomMetaDictionary: { denaturalizeDataset(natural: Record<string, unknown>): Record<string, unknown> };
  DicomDict: new (
    meta: Record<string, unknown>,
  ) => { dict: Record<string, unknown>; write(options?: Record<string, unknown>): ArrayBuffer };
}
// dcmjs ships no type declarations; it is loaded through require and used through this narrow interface.
const dcmjs = createRequire(import.meta.url)("dcmjs") as { data: DcmjsData };

const EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1";
const IMPLEMENTATION_CLASS_UID = uidFromHash("deepsc-covid", "seg-writer", "implementation-class");
const IMPLEMENTATION_VERSION_NAME = "DEEPSC_SEG_1";

/**
 * Fresh UIDs for one SEG (2.25 root, from random UUIDs). Random rather than derived: a rerun on another
 * device may produce a slightly different mask, and two different objects must never share a UID.
 */
export function newSegUids(): SegUids {
  const seed = randomUUID();
  return {
    seriesInstanceUid: uidFromHash(seed, "seg-series"),
    sopInstanceUid: uidFromHash(seed, "seg-instance"),
    dimensionOrganizationUid: uidFromHash(seed, "seg-dimension-organization"),
  };
}

/** The Part 10 bytes of a built SEG. */
export function encodeSeg(built: BuiltSeg): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEGMENTATION_STORAGE,
    MediaStorageSOPInstanceUID: built.dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  const dict = new DicomDict(meta);
  dict.dict = DicomMetaDictionary.denaturalizeDataset(built.dataset);
  return new Uint8Array(dict.write({ allowInvalidVRLength: false }));
}

/** Build and encode in one step; the caller writes the bytes. */
export function segBytes(input: BuildSegInput): { bytes: Uint8Array; built: BuiltSeg } {
  const built = buildSegDataset(input);
  return { bytes: encodeSeg(built), built };
}
