import { describe, expect, it } from "vitest";
import {
  CT_SOP_CLASSES,
  isCtSopClass,
  isEnhancedCtSopClass,
  isLocalizer,
} from "../../../core/dicom/sop-classes.js";

describe("CT SOP classes", () => {
  it("knows the three CT image storage classes and nothing else", () => {
    expect(Object.keys(CT_SOP_CLASSES).sort()).toEqual([
      "1.2.840.10008.5.1.4.1.1.2",
      "1.2.840.10008.5.1.4.1.1.2.1",
      "1.2.840.10008.5.1.4.1.1.2.2",
    ]);
    expect(isCtSopClass("1.2.840.10008.5.1.4.1.1.2")).toBe(true);
    expect(isCtSopClass("1.2.840.10008.5.1.4.1.1.2.1")).toBe(true);
    expect(isCtSopClass("1.2.840.10008.5.1.4.1.1.4")).toBe(false); // MR
    expect(isCtSopClass("1.2.840.10008.5.1.4.1.1.66.4")).toBe(false); // SEG
    expect(isCtSopClass("1.2.840.10008.5.1.4.1.1.2.1.5")).toBe(false); // prefix is not enough
    expect(isCtSopClass(undefined)).toBe(false);
    expect(isCtSopClass("toString")).toBe(false);
    expect(isEnhancedCtSopClass("1.2.840.10008.5.1.4.1.1.2")).toBe(false);
    expect(isEnhancedCtSopClass("1.2.840.10008.5.1.4.1.1.2.2")).toBe(true);
  });

  it("detects localizers from ImageType whatever the padding and case", () => {
    expect(isLocalizer(["ORIGINAL", "PRIMARY", "LOCALIZER"])).toBe(true);
    expect(isLocalizer(["ORIGINAL", "PRIMARY", " localizer "])).toBe(true);
    expect(isLocalizer(["ORIGINAL", "PRIMARY", "AXIAL"])).toBe(false);
    expect(isLocalizer(["DERIVED", "SECONDARY", "LOCALIZER_MPR"])).toBe(false);
    expect(isLocalizer([])).toBe(false);
    expect(isLocalizer(undefined)).toBe(false);
  });
});
