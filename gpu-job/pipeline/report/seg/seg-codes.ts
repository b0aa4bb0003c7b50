/**
 * Coded concepts of the lesion segment in lesions.seg.dcm. SNOMED CT codes from the DICOM context groups
 * PACS and viewers expect for a lesion segmentation:
 *   category  CID 7150 "Segmentation Property Categories": SCT 49755003 Morphologically abnormal structure;
 *   type      CID 7159 "Lesion Segmentation Types":        SCT 52988006 Lesion;
 *   location  anatomic region (CID 4 / 4031):             SCT 39607008 Lung.
 * The COVID-19 / CAP meaning is in the segment description and the report, not in the code: the model's
 * mask marks lesion voxels of either pneumonia alike.
 */

export interface CodedConcept {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}

export const SEGMENT_CATEGORY: CodedConcept = {
  CodeValue: "49755003",
  CodingSchemeDesignator: "SCT",
  CodeMeaning: "Morphologically abnormal structure",
};

export const SEGMENT_TYPE: CodedConcept = {
  CodeValue: "52988006",
  CodingSchemeDesignator: "SCT",
  CodeMeaning: "Lesion",
};

export const ANATOMIC_REGION_LUNG: CodedConcept = {
  CodeValue: "39607008",
  CodingSchemeDesignator: "SCT",
  CodeMeaning: "Lung",
};

/** DCM 121322: why each frame references its source slice. */
export const PURPOSE_SOURCE_IMAGE: CodedConcept = {
  CodeValue: "121322",
  CodingSchemeDesignator: "DCM",
  CodeMeaning: "Source image for image processing operation",
};

/** DCM 113076: how each frame was derived. */
export const DERIVATION_SEGMENTATION: CodedConcept = {
  CodeValue: "113076",
  CodingSchemeDesignator: "DCM",
  CodeMeaning: "Segmentation",
};

/**
 * Recommended display colour of the segment, CIELab scaled to 0-65535 (PS3.3 C.10.7.1.1): the orange-red
 * (sRGB 255, 80, 0) the key images use for the lesion overlay, so a viewer shows the same colour.
 */
export const LESION_CIELAB = [38647, 49332, 50791] as const;
