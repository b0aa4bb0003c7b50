"""Training data: a folder of cases, read as NIfTI, prepared onto the model grid, sampled as tiles.

Folder layout (what `deepsc phantom --format nifti` writes, one folder per case; real data the same way):

    <root>/labels.csv                 optional: header `case,label`; label one of covid19|cap|non_pneumonia
                                      (phantom names covid|cap|normal accepted). Wins over truth.json.
    <root>/<case>/ct.nii.gz           CT in HU (scl_slope/scl_inter applied); .nii accepted
    <root>/<case>/lungs.nii.gz        lung mask (0 background, 1 right, 2 left; any > 0 is lung)
    <root>/<case>/lesions.nii.gz      lesion mask (> 0 lesion); may be absent for non-pneumonia cases
    <root>/<case>/truth/...           the phantom's place for lungs/lesions/truth.json (also accepted)

Every mask must be on the CT's grid (same shape and affine). Arrays are reoriented to LPS [z, y, x].
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import GeometricAugment, augment_case
from .config import CLASS_ALIASES, CLASS_NAMES, PreprocessConfig
from .preprocess import PreparedCase, extract_tile, prepare_case, stack_indices

if TYPE_CHECKING:
    import nibabel as nib


def _nibabel():
    # Imported on first use: training from a prepared pack (deepsc/pack.py) needs no NIfTI reader, and the
    # GPU machine that runs it has PyTorch and NumPy but not nibabel.
    import nibabel

    return nibabel


@dataclass(frozen=True)
class CaseFiles:
    case_id: str
    ct: Path
    lungs: Path
    lesions: Path | None
    label: int


def _find(case_dir: Path, stem: str) -> Path | None:
    for d in (case_dir, case_dir / "truth"):
        for ext in (".nii.gz", ".nii"):
            f = d / f"{stem}{ext}"
            if f.is_file():
                return f
    return None


def parse_label(value: str, where: str) -> int:
    name = CLASS_ALIASES.get(value.strip().lower())
    if name is None:
        raise ValueError(f"{where}: unknown label {value!r}; expected one of {sorted(CLASS_ALIASES)}")
    return CLASS_NAMES.index(name)


def read_labels_csv(path: Path) -> dict[str, int]:
    labels: dict[str, int] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"case", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs a header with columns case,label")
        for i, row in enumerate(reader, start=2):
            case = (row["case"] or "").strip()
            if not case:
                raise ValueError(f"{path}:{i}: empty case name")
            if case in labels:
                raise ValueError(f"{path}:{i}: case {case!r} listed twice")
            labels[case] = parse_label(row["label"] or "", f"{path}:{i}")
    return labels


def discover_cases(root: str | Path) -> list[CaseFiles]:
    """All complete cases under root, sorted by name. Raises on a case without a label or lung mask."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    csv_path = root / "labels.csv"
    labels = read_labels_csv(csv_path) if csv_path.is_file() else {}
    cases = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        ct = _find(d, "ct")
        if ct is None:
            continue
        lungs = _find(d, "lungs")
        if lungs is None:
            raise ValueError(f"{d.name}: no lungs.nii.gz (the lung mask is part of the preprocessing)")
        if d.name in labels:
            label = labels[d.name]
        else:
            truth = d / "truth" / "truth.json"
            if not truth.is_file():
                raise ValueError(f"{d.name}: no label in labels.csv and no truth/truth.json")
            label = parse_label(json.loads(truth.read_text())["class"], str(truth))
        cases.append(CaseFiles(d.name, ct, lungs, _find(d, "lesions"), label))
    missing = set(labels) - {c.case_id for c in cases}
    if missing:
        raise ValueError(f"labels.csv lists cases with no ct.nii.gz: {sorted(missing)[:5]}")
    return cases


def load_lps(path: Path, reference: nib.Nifti1Image | None = None) -> tuple[np.ndarray, tuple[float, float, float], nib.Nifti1Image]:
    """Voxels as [z, y, x] in LPS orientation (float32), spacing (dz, dy, dx) mm, and the image."""
    nib = _nibabel()
    from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

    img = nib.load(str(path))
    if reference is not None:
        if img.shape[:3] != reference.shape[:3] or not np.allclose(img.affine, reference.affine, atol=1e-3):
            raise ValueError(f"{path}: not on the CT's grid (shape {img.shape} vs {reference.shape}, or affine)")
    if len(img.shape) > 3 and any(s != 1 for s in img.shape[3:]):
        raise ValueError(f"{path}: expected a 3D volume, got shape {img.shape}")
    data = np.asarray(img.dataobj, dtype=np.float32).reshape(img.shape[:3])
    transform = ornt_transform(io_orientation(img.affine), axcodes2ornt(("L", "P", "S")))
    data = apply_orientation(data, transform)
    zooms = img.header.get_zooms()[:3]
    spacing = [0.0, 0.0, 0.0]
    for axis_in, (axis_out, _flip) in enumerate(transform):
        spacing[int(axis_out)] = float(zooms[axis_in])
    zyx = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
    return zyx, (spacing[2], spacing[1], spacing[0]), img


def load_case(files: CaseFiles, p: PreprocessConfig) -> PreparedCase:
    hu, spacing, ref = load_lps(files.ct)
    lungs, _, _ = load_lps(files.lungs, ref)
    lesions = load_lps(files.lesions, ref)[0] if files.lesions is not None else None
    return prepare_case(files.case_id, files.label, hu, lungs, lesions, spacing, p)


class TileDataset(Dataset):
    """(stack, tile, lesion target, label, classification weight) samples; `tiles_per_case` random tiles per case per epoch.

    With probability `lesion_oversample` a tile of a case with lesions is centred near a random lesion
    slice; otherwise its start is uniform. Intensity jitter (one factor per sample, stack and tile alike)
    keeps the model from keying on exact phantom HU levels. With `augment`, a share of the samples shows the
    case as the engine sees an oblique or thick-slice scan (deepsc/augment.py); the stack is then taken
    from the augmented volume too. Deterministic for a given seed and epoch.
    """

    def __init__(
        self,
        cases: list[PreparedCase],
        p: PreprocessConfig,
        tiles_per_case: int = 4,
        lesion_oversample: float = 0.67,
        intensity_jitter: float = 0.03,
        seed: int = 0,
        augment: GeometricAugment | None = None,
    ):
        self.cases = cases
        self.p = p
        self.tiles_per_case = tiles_per_case
        self.lesion_oversample = lesion_oversample
        self.intensity_jitter = intensity_jitter
        self.seed = seed
        self.augment = augment
        self.epoch = 0
        self.lesion_slices = [_lesion_slices(c.lesion) for c in cases]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.cases) * self.tiles_per_case

    def __getitem__(self, index: int):
        rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
        ci = index % len(self.cases)
        case = self.cases[ci]
        image, lesion, stack, lesion_z = case.image, case.lesion, case.stack, self.lesion_slices[ci]
        class_weight = 1.0
        if self.augment is not None:
            image, lesion, view = augment_case(image, lesion, case.model_spacing, self.augment, rng)
            if view != "axial":
                stack = image[stack_indices(image.shape[0], self.p.stack_slices)]
                lesion_z = _lesion_slices(lesion)
            if view.startswith("own") or (view != "axial" and self.augment.segmentation_only):
                # The engine takes an oblique scan's class from the aligned view only: the own-grid view
                # trains the segmentation, and the classifier is not asked to learn tilted anatomy.
                class_weight = 0.0
        t = self.p.tile_slices
        nz = image.shape[0]
        max_start = max(nz - t, 0)
        if len(lesion_z) > 0 and rng.random() < self.lesion_oversample:
            z = int(lesion_z[rng.randrange(len(lesion_z))])
            start = min(max(z - rng.randrange(t), 0), max_start)
        else:
            start = rng.randint(0, max_start)
        scale = np.float32(1.0 + rng.uniform(-self.intensity_jitter, self.intensity_jitter))
        tile = extract_tile(image, start, t) * scale
        target = extract_tile(lesion, start, t)
        stack = stack * scale
        return (
            torch.from_numpy(np.ascontiguousarray(stack[None], dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(tile[None], dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(target[None], dtype=np.float32)),
            torch.tensor(case.label, dtype=torch.long),
            torch.tensor(class_weight, dtype=torch.float32),
        )


def _lesion_slices(lesion: np.ndarray) -> np.ndarray:
    return np.nonzero(lesion.reshape(lesion.shape[0], -1).max(1) > 0.5)[0]


def load_native_masks(files: CaseFiles) -> tuple[np.ndarray, np.ndarray]:
    """(lesions, lungs) as LPS [z, y, x] arrays on the CT's native grid (lesions zero when absent)."""
    ref = _nibabel().load(str(files.ct))
    lungs = load_lps(files.lungs, ref)[0]
    lesions = load_lps(files.lesions, ref)[0] if files.lesions is not None else np.zeros_like(lungs)
    return lesions, lungs
