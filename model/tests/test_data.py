from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from conftest import write_case
from deepsc.config import get_config
from deepsc.data import TileDataset, discover_cases, load_case, load_lps, read_labels_csv


def _marker_image(tmp_path: Path, affine: np.ndarray) -> Path:
    a = np.zeros((6, 5, 4), dtype=np.int16)  # [i, j, k]
    a[0, 1, 0] = 7
    f = tmp_path / "m.nii.gz"
    nib.save(nib.Nifti1Image(a, affine), str(f))
    return f


def test_load_lps_keeps_an_lps_image_as_it_is(tmp_path):
    zyx, spacing, _ = load_lps(_marker_image(tmp_path, np.diag([-1.0, -2.0, 3.0, 1.0])))
    assert zyx.shape == (4, 5, 6) and spacing == (3.0, 2.0, 1.0)
    assert zyx[0, 1, 0] == 7


def test_load_lps_flips_ras_and_descending_axes(tmp_path):
    # i towards the patient's right, j anterior, k inferior: every axis flipped relative to LPS.
    zyx, spacing, _ = load_lps(_marker_image(tmp_path, np.diag([1.0, 2.0, -3.0, 1.0])))
    assert spacing == (3.0, 2.0, 1.0)
    assert zyx[3, 3, 5] == 7 and zyx.sum() == 7


def test_load_lps_undoes_axis_permutations(tmp_path):
    # Voxel axes stored as (k, i, j): columns of the affine permuted.
    aff = np.zeros((4, 4))
    aff[2, 0] = 3.0  # array axis 0 -> S
    aff[0, 1] = -1.0  # array axis 1 -> L
    aff[1, 2] = -2.0  # array axis 2 -> P
    aff[3, 3] = 1
    a = np.zeros((4, 6, 5), dtype=np.int16)
    a[2, 1, 3] = 9  # z=2, x=1, y=3
    f = tmp_path / "p.nii.gz"
    nib.save(nib.Nifti1Image(a, aff), str(f))
    zyx, spacing, _ = load_lps(f)
    assert zyx.shape == (4, 5, 6) and spacing == (3.0, 2.0, 1.0)
    assert zyx[2, 3, 1] == 9


def test_discover_reads_labels_csv_and_both_layouts(tiny_data):
    cases = discover_cases(tiny_data)
    assert [c.case_id for c in cases] == [f"case{i}" for i in range(6)]
    assert [c.label for c in cases] == [0, 1, 2, 0, 1, 2]
    write_case(tiny_data, "phantom-like", "covid", seed=9, truth_dir=True)
    (tiny_data / "labels.csv").unlink()
    with pytest.raises(ValueError, match="no label"):
        discover_cases(tiny_data)


def test_phantom_layout_is_labelled_from_truth_json(tmp_path):
    write_case(tmp_path, "covid-1", "covid", seed=1, truth_dir=True)
    write_case(tmp_path, "normal-2", "normal", seed=2, truth_dir=True, lesion=False)
    cases = discover_cases(tmp_path)
    assert [(c.case_id, c.label) for c in cases] == [("covid-1", 0), ("normal-2", 2)]
    assert cases[0].lungs.parent.name == "truth"


@pytest.mark.parametrize(
    "csv, message",
    [
        ("case,label\ncase0,flu\n", "unknown label"),
        ("name,class\ncase0,cap\n", "case,label"),
        ("case,label\ncase0,cap\ncase0,cap\n", "twice"),
        ("case,label\n" + "".join(f"case{i},cap\n" for i in range(6)) + "ghost,cap\n", "no ct.nii.gz"),
    ],
)
def test_bad_labels_are_rejected(tiny_data, csv, message):
    (tiny_data / "labels.csv").write_text(csv)
    with pytest.raises(ValueError, match=message):
        discover_cases(tiny_data)


def test_a_mask_on_another_grid_is_rejected(tmp_path):
    d = write_case(tmp_path, "c", None, seed=0)
    (tmp_path / "labels.csv").write_text("case,label\nc,cap\n")
    nib.save(nib.Nifti1Image(np.zeros((40, 36, 12), np.uint8), np.diag([-1.0, -1.0, 2.5, 1.0])), str(d / "lungs.nii.gz"))
    with pytest.raises(ValueError, match="not on the CT's grid"):
        load_case(discover_cases(tmp_path)[0], get_config("light").preprocess)


def test_missing_folder_and_missing_lungs_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover_cases(tmp_path / "nope")
    d = write_case(tmp_path, "c", None, seed=0)
    (d / "lungs.nii.gz").unlink()
    with pytest.raises(ValueError, match="lungs"):
        discover_cases(tmp_path)


def test_tile_dataset_is_deterministic_and_oversamples_lesions(tiny_data, tiny_cfg):
    cases = [load_case(f, tiny_cfg.preprocess) for f in discover_cases(tiny_data)]
    ds = TileDataset(cases, tiny_cfg.preprocess, tiles_per_case=8, lesion_oversample=1.0, seed=3)
    stack, tile, target, label, weight = ds[0]
    p = tiny_cfg.preprocess
    assert stack.shape == (1, p.stack_slices, p.size, p.size) and tile.shape == (1, p.tile_slices, p.size, p.size)
    assert target.shape == tile.shape and label.dtype == torch.long and float(weight) == 1.0
    again = ds[0]
    assert torch.equal(again[1], tile)
    ds.set_epoch(1)
    lesion_cases = [i for i, c in enumerate(cases) if c.lesion.max() > 0.5]
    for i in lesion_cases:
        assert float(ds[i][2].max()) > 0.5  # oversampling 1.0: every lesion case's tile holds lesion
    assert 0.0 <= float(tile.min()) and float(tile.max()) <= 1.1
