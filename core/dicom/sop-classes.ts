/**
 * SOP classes that carry CT images, as data, and the ImageType test for localizers (scouts/topograms),
 * which are CT objects but never part of an axial volume.
 */

export const CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2";
export const ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1";
export const LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.2";

/** CT image SOP classes and their names (PS3.4 B.5). */
export const CT_SOP_CLASSES: Readonly<Record<string, string>> = Object.freeze({
  [CT_IMAGE_STORAGE]: "CT Image Storage",
  [ENHANCED_CT_IMAGE_STORAGE]: "Enhanced CT Image Storage",
  [LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE]: "Legacy Converted Enhanced CT Image Storage",
});

/** The multi-frame CT classes whose geometry lives in functional group sequences. */
export const ENHANCED_CT_SOP_CLASSES: ReadonlySet<string> = new Set([
  ENHANCED_CT_IMAGE_STORAGE,
  LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE,
]);

export function isCtSopClass(uid: string | undefined): boolean {
  return uid !== undefined && Object.hasOwn(CT_SOP_CLASSES, uid);
}

export function isEnhancedCtSopClass(uid: string | undefined): boolean {
  return uid !== undefined && ENHANCED_CT_SOP_CLASSES.has(uid);
}

/**
 * True when ImageType (0008,0008) marks a localizer (scout, topogram, surview): any value equal to
 * LOCALIZER, compared after trimming and upper-casing because writers differ in padding and case.
 */
export function isLocalizer(imageType: readonly string[] | undefined): boolean {
  return imageType?.some((v) => v.trim().toUpperCase() === "LOCALIZER") ?? false;
}
