"""Compare two NIfTI files the way a radiologist's software would see them, independently of our TypeScript
reader: nibabel loads both (applying scl_slope/scl_inter), reorients each to its closest canonical (RAS+)
voxel order, then reports the largest voxel difference and the largest affine difference.
With `--padding OURS:REF`, voxels that the reference holds at REF (its rendering of DICOM PixelPaddingValue)
must hold OURS in the first file (we map padding to air) and are otherwise excluded; their count is reported.
Prints one JSON object: {"shape_a", "shape_b", "max_voxel_diff", "max_affine_diff", "affine_a", "affine_b"}."""
import json
import sys

import nibabel as nib
import numpy as np


def load(path):
    img = nib.as_closest_canonical(nib.load(path))
    data = np.asanyarray(img.dataobj).astype(np.float64)
    slope, inter = img.header.get_slope_inter()
    if slope is not None:
        data = data * slope + (inter or 0.0)
    return np.squeeze(data), img.affine


args = [x for x in sys.argv[1:] if not x.startswith("--padding")]
padding = [x.split("=", 1)[1] for x in sys.argv[1:] if x.startswith("--padding=")]
a, aff_a = load(args[0])
b, aff_b = load(args[1])
result = {
    "shape_a": list(a.shape),
    "shape_b": list(b.shape),
    "max_affine_diff": float(np.max(np.abs(aff_a - aff_b))),
    "affine_a": aff_a.tolist(),
    "affine_b": aff_b.tolist(),
}
if a.shape == b.shape:
    diff = np.abs(a - b)
    if padding:
        ours, ref = (float(v) for v in padding[0].split(":"))
        pad = b == ref
        result["padding_voxels"] = int(pad.sum())
        result["padding_mismatch"] = int((a[pad] != ours).sum())
        diff = diff[~pad]
    result["max_voxel_diff"] = float(diff.max()) if diff.size else 0.0
else:
    result["max_voxel_diff"] = None
print(json.dumps(result))
