"""Read folders of DICOM files with pydicom (an independent reader) and print one JSON object mapping
each folder given on the command line to: transfer syntaxes, per-slice geometry and scaling in InstanceNumber order, selected identity tags, and the
HU values of all slices (stored * slope + intercept, slope/intercept defaulting to 1/0 when absent) as
base64 of little-endian int16, instance-major then row-major.

JPEG-compressed files are first decompressed with dcmtk's dcmdjpeg when pydicom has no JPEG handler
(python3-pydicom on Debian ships without one)."""
import base64
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pydicom


def pixels(path, ds):
    try:
        return ds.pixel_array
    except RuntimeError:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "d.dcm")
            subprocess.run(["dcmdjpeg", path, out], check=True, capture_output=True)
            return pydicom.dcmread(out).pixel_array


def read_folder(folder):
    slices = []
    syntaxes = set()
    hu = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        ds = pydicom.dcmread(path)
        syntaxes.add(str(ds.file_meta.TransferSyntaxUID))
        has_rescale = "RescaleSlope" in ds or "RescaleIntercept" in ds
        slope = float(ds.get("RescaleSlope", 1))
        intercept = float(ds.get("RescaleIntercept", 0))
        arr = pixels(path, ds).astype(np.float64) * slope + intercept
        slices.append(
            {
                "file": name,
                "instance": int(ds.InstanceNumber),
                "ipp": [float(v) for v in ds.ImagePositionPatient],
                "iop": [float(v) for v in ds.ImageOrientationPatient],
                "pixelSpacing": [float(v) for v in ds.PixelSpacing],
                "rows": int(ds.Rows),
                "columns": int(ds.Columns),
                "sliceThickness": float(ds.SliceThickness),
                "spacingBetweenSlices": float(ds.SpacingBetweenSlices),
                "sliceLocation": float(ds.SliceLocation),
                "bitsStored": int(ds.BitsStored),
                "pixelRepresentation": int(ds.PixelRepresentation),
                "hasRescale": has_rescale,
                "slope": slope,
                "intercept": intercept,
                "modality": str(ds.Modality),
                "sopClass": str(ds.SOPClassUID),
                "sopInstance": str(ds.SOPInstanceUID),
                "series": str(ds.SeriesInstanceUID),
                "study": str(ds.StudyInstanceUID),
                "frameOfReference": str(ds.FrameOfReferenceUID),
                "imageType": list(ds.ImageType),
                "patientName": str(ds.PatientName),
                "patientId": str(ds.PatientID),
                "manufacturer": str(ds.Manufacturer),
            }
        )
        hu.append(arr)
    order = sorted(range(len(slices)), key=lambda i: slices[i]["instance"])
    data = np.stack([hu[i] for i in order]).round().astype("<i2") if hu else np.zeros(0, "<i2")
    return {
        "transferSyntaxes": sorted(syntaxes),
        "slices": [slices[i] for i in order],
        "hu": base64.b64encode(data.tobytes()).decode("ascii"),
    }


print(json.dumps({folder: read_folder(folder) for folder in sys.argv[1:]}))
