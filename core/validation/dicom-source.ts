/**
 * What a derived DICOM object (the lesion SEG) needs from its source series: the study, series and frame
 * of reference it belongs to, the SOP instance behind every slice k of the assembled volume, and the
 * patient and study modules to copy.
 *
 * In memory only. This is the one place where patient identification leaves the reader, and it goes to one
 * consumer: the DICOM SEG, the only output allowed to hold it (DESIGN.md §3). It is never part of the
 * ValidationReport, never serialised to JSON, never logged.
 */
import dicomParser, { type DataSet, type Element } from "dicom-parser";
import type { DicomHeader } from "../dicom/header.js";
import type { InputEntry } from "../input/source.js";
import { type TextValueDecoder, textDecoderFor } from "./specific-character-set.js";
import type { Stack } from "./stack-geometry.js";

/** Patient and General Study module values of the source, decoded to text (type 2: may be empty). */
export interface DicomPatientStudy {
  patientName?: string;
  patientId?: string;
  patientBirthDate?: string;
  patientSex?: string;
  studyDate?: string;
  studyTime?: string;
  studyId?: string;
  accessionNumber?: string;
  referringPhysicianName?: string;
}

export interface DicomSource {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid?: string;
  /** Per slice k of the volume (k order, not file order). */
  sopClassUids: string[];
  sopInstanceUids: string[];
  /** Per k: 1-based frame of a multi-frame source instance; undefined for single-frame instances. */
  frameNumbers: (number | undefined)[];
  /** Per k: the source instance's InstanceNumber (0020,0013), the image number PACS viewers show. */
  instanceNumbers?: (number | undefined)[];
  /** The source's SliceThickness (mm), which the SEG repeats; undefined when the source has none. */
  sliceThickness?: number;
  patientStudy: DicomPatientStudy;
}

const PIXEL_DATA = "x7fe00010";
const DEFLATED = "1.2.840.10008.1.2.1.99";

const TAGS: Record<keyof DicomPatientStudy, string> = {
  patientName: "x00100010",
  patientId: "x00100020",
  patientBirthDate: "x00100030",
  patientSex: "x00100040",
  studyDate: "x00080020",
  studyTime: "x00080030",
  studyId: "x00200010",
  accessionNumber: "x00080050",
  referringPhysicianName: "x00080090",
};

/** Person Name values: their '^' and '=' delimiters reset ISO 2022 code extensions. */
const PERSON_NAMES = new Set<keyof DicomPatientStudy>(["patientName", "referringPhysicianName"]);

/**
 * The source references of an accepted DICOM stack. Reads the first slice's header once more (up to Pixel
 * Data) for the patient and study modules, which the validation header deliberately never holds.
 * Undefined when a slice lacks its study, series or SOP instance UID: a SEG could not reference it.
 */
export async function readDicomSource(
  stack: Stack,
  entries: ReadonlyMap<string, InputEntry>,
): Promise<DicomSource | undefined> {
  const headers = stack.slices.map((s) => s.header);
  const first = headers[0];
  if (!first?.studyInstanceUid || !first.seriesInstanceUid) return undefined;
  if (headers.some((h) => !h.sopInstanceUid || !h.sopClassUid)) return undefined;
  return {
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    ...(first.frameOfReferenceUid ? { frameOfReferenceUid: first.frameOfReferenceUid } : {}),
    sopClassUids: headers.map((h) => h.sopClassUid as string),
    sopInstanceUids: headers.map((h) => h.sopInstanceUid as string),
    frameNumbers: stack.slices.map((s) => (s.header.numberOfFrames > 1 ? s.frame + 1 : undefined)),
    instanceNumbers: headers.map((h) => h.instanceNumber),
    ...(stack.slices[0]?.info.sliceThickness ? { sliceThickness: stack.slices[0].info.sliceThickness } : {}),
    patientStudy: await readPatientStudy(first, entries.get(first.file)),
  };
}

/**
 * Best effort: every value is type 2 in the SEG, so a header that cannot be re-parsed (an unusual raw
 * encoding the validation reader copes with and dicom-parser does not) leaves them empty rather than
 * failing an analysis whose pixels were read fine.
 */
async function readPatientStudy(
  header: DicomHeader,
  entry: InputEntry | undefined,
): Promise<DicomPatientStudy> {
  if (!entry) return {};
  const deflated = header.transferSyntax === DEFLATED;
  // Up to the Pixel Data element header is all the parser needs (its untilTag stops there); a deflated
  // dataset has no file offsets, so it needs the whole file.
  const end = !deflated && header.pixelData ? Math.min(entry.size, header.pixelData.offset) : entry.size;
  let dataSet: DataSet;
  try {
    const bytes = await entry.read(0, end);
    dataSet = dicomParser.parseDicom(bytes, {
      untilTag: PIXEL_DATA,
      ...(header.hasMeta ? {} : { TransferSyntaxUID: header.transferSyntax }),
    });
  } catch {
    return {};
  }
  // The Specific Character Set itself is plain ASCII (CS); a value that is not, or a set this reader does
  // not know, leaves every value that is not plain ASCII empty.
  const charset = text(dataSet, dataSet.elements.x00080005, undefined, false) ?? "";
  const decode = textDecoderFor(charset);
  const out: DicomPatientStudy = {};
  for (const [key, tag] of Object.entries(TAGS) as [keyof DicomPatientStudy, string][]) {
    const value = text(dataSet, dataSet.elements[tag], decode, PERSON_NAMES.has(key));
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * An element's text trimmed of padding; undefined when empty or not decodable in its character set. Bytes
 * that are printable ASCII throughout (no ESC, nothing above 0x7E) are the same text in every DICOM
 * repertoire and need no decoder.
 */
function text(
  dataSet: DataSet,
  el: Element | undefined,
  decode: TextValueDecoder | undefined,
  personName: boolean,
): string | undefined {
  if (!el || el.hadUndefinedLength || el.length <= 0) return undefined;
  const all = dataSet.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  const nul = all.indexOf(0); // some writers pad with NUL
  const bytes = nul >= 0 ? all.subarray(0, nul) : all;
  const plain = bytes.every((b) => b >= 0x20 && b < 0x7f);
  // TextDecoder, not String.fromCharCode(...bytes): a hostile value of a megabyte overflows the call stack.
  const s = plain ? new TextDecoder("latin1").decode(bytes) : decode?.(bytes, { personName });
  const t = s?.trim();
  return t ? t : undefined;
}
