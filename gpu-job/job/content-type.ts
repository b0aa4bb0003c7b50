/**
 * The MIME type each output is stored with, so a presigned download opens in the right application. Unknown
 * extensions are plain bytes; the manifest records whatever was chosen.
 */
const BY_SUFFIX: readonly (readonly [string, string])[] = [
  // Longest suffixes first: ".nii.gz" before ".gz".
  [".nii.gz", "application/gzip"],
  [".seg.dcm", "application/dicom"],
  [".dcm", "application/dicom"],
  [".nii", "application/octet-stream"],
  [".json", "application/json"],
  [".html", "text/html; charset=utf-8"],
  [".pdf", "application/pdf"],
  [".png", "image/png"],
  [".csv", "text/csv; charset=utf-8"],
  [".txt", "text/plain; charset=utf-8"],
  [".gz", "application/gzip"],
];

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function contentTypeOf(path: string): string {
  const lower = path.toLowerCase();
  for (const [suffix, type] of BY_SUFFIX) if (lower.endsWith(suffix)) return type;
  return DEFAULT_CONTENT_TYPE;
}
