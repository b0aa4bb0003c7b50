"""Shared fixtures: the model/ folder on sys.path, a tiny configuration, and a tiny NIfTI data folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

MODEL_DIR = Path(__file__).resolve().parents[1]
if str(MODEL_DIR) not in sys.path:
    sys.path.insert(0, str(MODEL_DIR))

from deepsc.config import ModelConfig, PreprocessConfig, get_config  # noqa: E402

torch.set_num_threads(1)

#: Real-size forward passes of the full model take ~15 s on a 2-core CPU: opt in with DEEPSC_SLOW_TESTS=1.
SLOW = os.environ.get("DEEPSC_SLOW_TESTS") == "1"


def tiny_config(name: str = "light") -> ModelConfig:
    """The preset's widths on a small grid (32 x 32 in-plane, stack 16, tile 8) for fast tests."""
    return get_config(name, preprocess=PreprocessConfig(size=32, stack_slices=16, tile_slices=8, tile_overlap=4))


@pytest.fixture
def tiny_cfg() -> ModelConfig:
    return tiny_config()


def write_case(root: Path, name: str, label: str | None, *, seed: int, shape=(40, 36, 12), lesion: bool = True,
               affine: np.ndarray | None = None, truth_dir: bool = False) -> Path:
    """A small synthetic case: a box of 'lung' at -850 HU, optionally a lesion blob at -300 HU."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    nx, ny, nz = shape
    hu = np.full(shape, -50.0, dtype=np.float32) + rng.normal(0, 10, shape).astype(np.float32)
    lungs = np.zeros(shape, dtype=np.uint8)
    lungs[4 : nx // 2 - 1, 4:-4, 1:-1] = 1
    lungs[nx // 2 + 1 : -4, 4:-4, 1:-1] = 2
    hu[lungs > 0] = -850.0 + rng.normal(0, 10, int((lungs > 0).sum()))
    lesions = np.zeros(shape, dtype=np.uint8)
    if lesion:
        cx, cy, cz = 8 + seed % 5, 12 + seed % 7, 3 + seed % 5
        lesions[cx : cx + 6, cy : cy + 6, cz : cz + 4] = 1
        lesions &= lungs > 0
        hu[lesions > 0] = -300.0
    aff = np.diag([-1.5, -1.5, 2.5, 1.0]) if affine is None else affine
    d = root / name
    (d / "truth" if truth_dir else d).mkdir(parents=True, exist_ok=True)
    mdir = d / "truth" if truth_dir else d
    nib.save(nib.Nifti1Image(hu.astype(np.int16), aff), str(d / "ct.nii.gz"))
    nib.save(nib.Nifti1Image(lungs, aff), str(mdir / "lungs.nii.gz"))
    nib.save(nib.Nifti1Image(lesions, aff), str(mdir / "lesions.nii.gz"))
    if label is not None and truth_dir:
        import json

        (d / "truth" / "truth.json").write_text(json.dumps({"class": label}))
    return d


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """Six cases, two per class, with labels.csv."""
    root = tmp_path / "data"
    rows = ["case,label"]
    for i, (cls, lesion) in enumerate([("covid19", True), ("cap", True), ("non_pneumonia", False)] * 2):
        name = f"case{i}"
        write_case(root, name, None, seed=i, lesion=lesion)
        rows.append(f"{name},{cls}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root
