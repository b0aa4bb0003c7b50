/**
 * Header pass over every entry: sniff, then parse DICOM headers from growing prefixes. This is all the
 * header-only (Lambda) mode reads, and the first pass of a full read.
 */
import type { Reason } from "../contracts/validation-report.js";
import type { DicomHeader } from "../dicom/header.js";
import { NeedMoreBytes, parseDicomHeader } from "../dicom/parse-header.js";
import { InputRejected, isInputRejected, reason } from "../errors.js";
import type { InputEntry } from "../input/source.js";
import { mapLimit } from "../util/map-limit.js";
import { SNIFF_BYTES, type Sniffed, sniff } from "./sniff.js";

/** First read of a DICOM header; most CT headers fit. NeedMoreBytes grows it up to the whole file. */
export const FIRST_HEADER_BYTES = 16 * 1024;
const MAX_PREFIX_GROWTH = 8;
/** Range reads in flight against the store (S3 latency dominates header-only validation). */
const READ_CONCURRENCY = 16;

export type EntryResult =
  | { entry: InputEntry; kind: "dicom"; header: DicomHeader }
  | { entry: InputEntry; kind: "nifti" | "gzip" | "zip" }
  | { entry: InputEntry; kind: "rejected"; reasons: Reason[] };

/**
 * The most a DICOM header (everything before Pixel Data) may take. CT headers are kilobytes, with vendors'
 * private data a few megabytes; without a bound a file with a huge element before its pixels was read whole
 * by header-only validation, 16 at a time (review: 1.7 GB resident for four 400 MB files, beyond the ingest
 * Lambda's memory), so its study never got an answer.
 */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export async function parseHeaderWithPrefix(entry: InputEntry, firstBytes: Uint8Array): Promise<DicomHeader> {
  let bytes = firstBytes;
  for (let attempt = 0; ; attempt++) {
    try {
      return parseDicomHeader(bytes, entry.path, entry.size);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes) || bytes.length >= entry.size || attempt >= MAX_PREFIX_GROWTH)
        throw e;
      const want = Math.min(
        entry.size,
        attempt === MAX_PREFIX_GROWTH - 1
          ? entry.size
          : Math.max(bytes.length * 4, (e as { minBytes?: number }).minBytes ?? 0),
      );
      if (want > MAX_HEADER_BYTES && bytes.length >= MAX_HEADER_BYTES)
        throw new InputRejected([
          reason(
            "TOO_LARGE",
            `The DICOM header (the elements before Pixel Data) is larger than ${MAX_HEADER_BYTES / 2 ** 20} MiB; CT headers are far smaller. Remove the large private elements, or export the series again.`,
            { file: entry.path },
          ),
        ]);
      bytes = await entry.read(0, Math.min(want, MAX_HEADER_BYTES));
    }
  }
}

export async function readHeaders(
  entries: readonly InputEntry[],
  onProgress?: (done: number, total: number) => void,
): Promise<EntryResult[]> {
  let done = 0;
  return mapLimit(entries, READ_CONCURRENCY, async (entry): Promise<EntryResult> => {
    try {
      const prefix = await entry.read(0, Math.min(entry.size, FIRST_HEADER_BYTES));
      const kind: Sniffed = sniff(prefix.subarray(0, SNIFF_BYTES));
      if (kind !== "dicom-or-unknown") return { entry, kind };
      // Content decides, but a file named as NIfTI that is not one is best reported as such.
      if (/\.(nii|hdr)(\.gz)?$/i.test(entry.path))
        return {
          entry,
          kind: "rejected",
          reasons: [
            reason("NOT_NIFTI", "The file is named as NIfTI but has no NIfTI-1/2 header.", {
              file: entry.path,
            }),
          ],
        };
      const header = await parseHeaderWithPrefix(entry, prefix);
      return { entry, kind: "dicom", header };
    } catch (e) {
      if (isInputRejected(e)) return { entry, kind: "rejected", reasons: e.reasons };
      throw e;
    } finally {
      onProgress?.(++done, entries.length);
    }
  });
}
