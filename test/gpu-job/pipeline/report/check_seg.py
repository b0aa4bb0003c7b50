"""Independent read-back of lesions.seg.dcm with pydicom, numpy and nibabel.

usage: check_seg.py SEG SOURCE_DIR LESIONS_NIFTI

Each frame is placed on the lesion mask's grid through its referenced source image: the source file's
ImagePositionPatient (LPS) goes through the inverse of the NIfTI affine (RAS), which must land on voxel
(0, 0, k) with k an integer. Prints one JSON object; the test asserts on it.
"""
import json
import os
import sys

import nibabel as nib
import numpy as np
import pydicom


def main(seg_path, source_dir, nifti_path):
    seg = pydicom.dcmread(seg_path)
    source = {}
    studies, series, frames_of_reference = set(), set(), set()
    for name in sorted(os.listdir(source_dir)):
        try:
            ds = pydicom.dcmread(os.path.join(source_dir, name), stop_before_pixels=True)
        except Exception:
            continue
        studies.add(str(ds.get("StudyInstanceUID", "")))
        series.add(str(ds.get("SeriesInstanceUID", "")))
        frames_of_reference.add(str(ds.get("FrameOfReferenceUID", "")))
        if "SOPInstanceUID" in ds and "ImagePositionPatient" in ds:
            source[str(ds.SOPInstanceUID)] = (
                [float(v) for v in ds.ImagePositionPatient],
                str(ds.SOPClassUID),
            )

    img = nib.load(nifti_path)
    mask = np.asarray(img.dataobj) != 0
    ras_to_voxel = np.linalg.inv(img.affine)

    pixels = seg.pixel_array
    n_frames = int(seg.NumberOfFrames)
    if n_frames == 1:
        pixels = pixels[np.newaxis, ...]

    rebuilt = np.zeros(mask.shape, dtype=bool)
    frames = []
    problems = []
    ref_series = seg.ReferencedSeriesSequence[0]
    for f, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        src = item.DerivationImageSequence[0].SourceImageSequence[0]
        uid = str(src.ReferencedSOPInstanceUID)
        if uid not in source:
            problems.append(f"frame {f + 1}: references an unknown instance")
            continue
        ipp, sop_class = source[uid]
        if str(src.ReferencedSOPClassUID) != sop_class:
            problems.append(f"frame {f + 1}: SOP class differs from the source's")
        plane_ipp = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        if max(abs(a - b) for a, b in zip(plane_ipp, ipp)) > 1e-3:
            problems.append(f"frame {f + 1}: PlanePosition {plane_ipp} is not the source's {ipp}")
        ras = np.array([-ipp[0], -ipp[1], ipp[2], 1.0])
        ijk = ras_to_voxel @ ras
        k = int(round(ijk[2]))
        if abs(ijk[0]) > 1e-3 or abs(ijk[1]) > 1e-3 or abs(ijk[2] - k) > 1e-3:
            problems.append(f"frame {f + 1}: source position maps to voxel {ijk[:3].tolist()}")
            continue
        # Frame pixels are [row j][column i]; the mask is [i][j][k].
        rebuilt[:, :, k] |= pixels[f].T.astype(bool)
        frames.append(k)

    print(
        json.dumps(
            {
                "sopClass": str(seg.SOPClassUID),
                "modality": str(seg.Modality),
                "segmentationType": str(seg.SegmentationType),
                "numberOfFrames": n_frames,
                "rows": int(seg.Rows),
                "columns": int(seg.Columns),
                "frameSlices": frames,
                "sameStudy": studies == {str(seg.StudyInstanceUID)},
                "sameFrameOfReference": frames_of_reference == {str(seg.get("FrameOfReferenceUID", ""))},
                "referencesSourceSeries": series == {str(ref_series.SeriesInstanceUID)},
                "newSeries": str(seg.SeriesInstanceUID) not in series,
                "referencedInstances": len(ref_series.ReferencedInstanceSequence),
                "sourceInstances": len(source),
                "segmentLabel": str(seg.SegmentSequence[0].SegmentLabel),
                "category": str(seg.SegmentSequence[0].SegmentedPropertyCategoryCodeSequence[0].CodeValue),
                "type": str(seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue),
                "patientName": str(seg.get("PatientName", "")),
                "patientId": str(seg.get("PatientID", "")),
                "maskVoxels": int(mask.sum()),
                "segVoxels": int(rebuilt.sum()),
                "identical": bool(np.array_equal(mask, rebuilt)),
                "problems": problems,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
