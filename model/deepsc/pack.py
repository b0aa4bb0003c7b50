"""Prepared training cases in one small file, for training on a machine that cannot read the NIfTI folders.

The GPU machine (DESIGN.md §5) takes at most 64 MiB per run and has no NIfTI reader, while 240 phantoms
are about 1.5 GB as NIfTI and as float32 model-grid arrays. A pack holds each case as it enters training
— the lung-masked, normalised model-grid image, the lesion fraction and the whole-scan stack — quantised
to uint8 (steps of 1/255 of the [-1400, 200] HU window, 6.3 HU, under the phantoms' 5–15 HU noise) and
compressed with xz: about 0.17 MB per case. The preprocessing configuration travels with it and must match
the one the training uses.

Made by model/pack.py; read by model/train.py --pack.
"""

from __future__ import annotations

import io
import json
import lzma
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .config import PreprocessConfig
from .preprocess import PreparedCase

FORMAT = "deepsc-prepared-pack/1"


def _quantise(a: np.ndarray) -> np.ndarray:
    return np.round(np.clip(np.asarray(a, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def write_pack(cases: list[PreparedCase], p: PreprocessConfig, path: Path) -> int:
    """Write the cases; returns the file's size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "preprocess": asdict(p), "cases": []}
    for i, c in enumerate(cases):
        arrays[f"image_{i}"] = _quantise(c.image)
        arrays[f"lesion_{i}"] = _quantise(c.lesion)
        arrays[f"stack_{i}"] = _quantise(c.stack)
        meta["cases"].append(
            {
                "id": c.case_id,
                "label": int(c.label),
                "nativeShape": [int(v) for v in c.native_shape],
                "nativeSpacing": [float(v) for v in c.native_spacing],
                "zPositions": [float(v) for v in c.z_positions],
                "zRange": None if c.z_range is None else [int(v) for v in c.z_range],
            }
        )
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = lzma.compress(buf.getvalue(), preset=6)
    path.write_bytes(data)
    return len(data)


def read_pack(path: Path, p: PreprocessConfig) -> list[PreparedCase]:
    """The cases, with float32 image and stack and float16 lesion fractions, as train.py keeps them.

    Raises when the pack was made with another preprocessing than `p` (the model would train on inputs the
    engine never produces)."""
    z = np.load(io.BytesIO(lzma.decompress(path.read_bytes())))
    meta = json.loads(bytes(z["meta"]).decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if meta["preprocess"] != asdict(p):
        raise ValueError(f"{path}: made with another preprocessing ({meta['preprocess']}) than this model's ({asdict(p)})")
    cases = []
    for i, m in enumerate(meta["cases"]):
        lesion = z[f"lesion_{i}"].astype(np.float32) / 255.0
        cases.append(
            PreparedCase(
                case_id=m["id"],
                label=int(m["label"]),
                image=z[f"image_{i}"].astype(np.float32) / 255.0,
                lesion=lesion.astype(np.float16),
                # Training never reads the lung fraction (the image is already lung-masked); keep the shape.
                lung=np.zeros((0,), dtype=np.float16),
                stack=z[f"stack_{i}"].astype(np.float32) / 255.0,
                native_shape=tuple(m["nativeShape"]),
                native_spacing=tuple(m["nativeSpacing"]),
                z_positions=np.asarray(m["zPositions"], dtype=np.float64),
                # Packs made before z_crop cover the whole scan.
                z_range=tuple(m["zRange"]) if m.get("zRange") is not None else None,
            )
        )
    return cases
