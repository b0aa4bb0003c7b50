/**
 * Decide what an entry holds from its first bytes, never from its name (uploads are renamed, .dcm suffixes
 * are optional, and a .nii may be anything).
 */
export type Sniffed = "nifti" | "gzip" | "zip" | "dicom-or-unknown";

export const SNIFF_BYTES = 352;

export function sniff(bytes: Uint8Array): Sniffed {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return "gzip";
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return "zip";
  if (bytes.length >= 4) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = dv.getInt32(0, true);
    const be = dv.getInt32(0, false);
    const size = [348, 540].includes(le) ? le : [348, 540].includes(be) ? be : 0;
    if (size === 348 && bytes.length >= 348) {
      const magic = String.fromCharCode(...bytes.subarray(344, 347));
      if (magic === "n+1" || magic === "ni1") return "nifti";
    }
    if (size === 540 && bytes.length >= 8) {
      const magic = String.fromCharCode(...bytes.subarray(4, 7));
      if (magic === "n+2" || magic === "ni2") return "nifti";
    }
  }
  return "dicom-or-unknown";
}
