"""Compare two NIfTI files the way a radiologist's software would see them, independently of our TypeScript
reader: nibabel loads both (applying scl_slope/scl_inter), reorients each to its closest canonical (RAS+)
voxel order, then reports the largest voxel difference and the largest affine difference.
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


a, aff_a = load(sys.argv[1])
b, aff_b = load(sys.argv[2])
result = {
    "shape_a": list(a.shape),
    "shape_b": list(b.shape),
    "max_affine_diff": float(np.max(np.abs(aff_a - aff_b))),
    "affine_a": aff_a.tolist(),
    "affine_b": aff_b.tolist(),
}
result["max_voxel_diff"] = float(np.max(np.abs(a - b))) if a.shape == b.shape else None
print(json.dumps(result))
