"""Geometric training augmentation: what an oblique or thick-slice scan looks like to the engine.

Every training phantom is axial, 2.5 or 5 mm slices, with the lungs inside the stack. The engine analyses
an oblique scan twice (gpu-job/pipeline/infer/engine.ts): on an axis-aligned grid, where the anatomy is
upright but the scan's tilted field of view ends in slanted planes (lung cut on a slant, air beyond), and
on the scan's own grid, where the stack ends flat but the anatomy is tilted. A thick-slice scan reaches
the model's 2.5 mm grid by linear interpolation, which blurs along z. A model that never saw any of these
misses lesion near a slanted cut and over-calls cut lung edges (bench/README.md, geometry). This module
makes those views from a prepared case, on the model grid:

- "aligned": upright anatomy; voxels outside a tilted slab (the oblique scan's field of view) set to
  the masked background (0) in image and target, and the volume cropped to the slab's z extent.
- "own": the anatomy rotated (trilinear), then cropped flat at random heights (the stack's own ends).
- thick slices (either view or none): the image point-sampled every s mm and interpolated back linearly;
  the target stays the truth on the fine grid, as the engine's output is scored against it.

The target is a lesion fraction; outside the field of view it is 0 (nothing there can be seen, and the
engine never scores it). Deterministic for a given random.Random.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class GeometricAugment:
    probability: float = 0.5  # share of samples given a geometric view at all
    max_tilt_deg: float = 15.0  # each of the rotations about x and y, uniform in [-max, max]
    aligned_share: float = 0.5  # of those: the aligned view (else the own-grid view)
    max_cut_mm: float = 60.0  # how far a stack end may cut into the volume, per end
    thick_probability: float = 0.3  # independent of the rest: thick-slice blur
    max_slice_mm: float = 6.0
    # True: no augmented sample carries classification loss (own-grid samples never do, see data.py).
    segmentation_only: bool = False

    def describe(self) -> dict:
        return {
            "probability": self.probability,
            "maxTiltDeg": self.max_tilt_deg,
            "alignedShare": self.aligned_share,
            "maxCutMm": self.max_cut_mm,
            "thickProbability": self.thick_probability,
            "maxSliceMm": self.max_slice_mm,
            "segmentationOnly": self.segmentation_only,
        }


def rotation(ax_deg: float, ay_deg: float) -> np.ndarray:
    """R = Ry @ Rx acting on (x, y, z) mm vectors (the phantom's oblique convention: about x, then y)."""
    a, b = math.radians(ax_deg), math.radians(ay_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    return ry @ rx


def _centred_mm(shape: tuple[int, int, int], spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """(x, y, z) mm of every voxel centre relative to the volume's centre, as [Z, Y, X, 3]."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * s for n, s in zip(shape, spacing_zyx)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return np.stack([x, y, z], axis=-1)


def rotate_volumes(vols: list[np.ndarray], r: np.ndarray, spacing_zyx: tuple[float, float, float]) -> list[np.ndarray]:
    """Each [Z, Y, X] volume with its content rotated by r about the centre (trilinear, zeros outside)."""
    shape = vols[0].shape
    p = _centred_mm(shape, spacing_zyx)  # output voxel positions
    src = p @ r  # r^T p for each row vector: where the content now at p came from
    half = np.array([(shape[2] - 1) / 2.0 * spacing_zyx[2], (shape[1] - 1) / 2.0 * spacing_zyx[1], (shape[0] - 1) / 2.0 * spacing_zyx[0]])
    # grid_sample's normalised coordinates with align_corners=True: -1 and 1 are the outer voxel centres.
    grid = torch.from_numpy((src / np.maximum(half, 1e-6)).astype(np.float32))[None]
    stacked = torch.from_numpy(np.stack([v.astype(np.float32, copy=False) for v in vols]))[None]
    out = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    return [o.numpy() for o in out]


def slab_mask(shape: tuple[int, int, int], spacing_zyx: tuple[float, float, float], normal: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Voxels whose signed distance from the centre along `normal` lies in [lo, hi] mm ([Z, Y, X] bool)."""
    d = _centred_mm(shape, spacing_zyx) @ normal
    return (d >= lo) & (d <= hi)


def thick_slices(vol: np.ndarray, dz: float, slice_mm: float, phase: float) -> np.ndarray:
    """Point-sample along z every slice_mm (first sample at phase * slice_mm) and interpolate back linearly."""
    nz = vol.shape[0]
    extent = (nz - 1) * dz
    samples = np.arange(phase * slice_mm, extent + 1e-6, slice_mm)
    if len(samples) < 2:
        return vol
    idx = samples / dz
    lo = np.clip(np.floor(idx).astype(np.int64), 0, nz - 1)
    hi = np.minimum(lo + 1, nz - 1)
    f = (idx - lo).astype(np.float32)[:, None, None]
    coarse = vol[lo] + (vol[hi] - vol[lo]) * f
    # Back onto the fine grid; fine slices outside the sampled span take the nearest sample (clamped).
    pos = np.clip((np.arange(nz) * dz - samples[0]) / slice_mm, 0.0, len(samples) - 1.0)
    a = np.floor(pos).astype(np.int64)
    b = np.minimum(a + 1, len(samples) - 1)
    g = (pos - a).astype(np.float32)[:, None, None]
    return (coarse[a] + (coarse[b] - coarse[a]) * g).astype(np.float32)


def augment_case(
    image: np.ndarray,
    lesion: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    aug: GeometricAugment,
    rng: random.Random,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(image, lesion target, view name) for one sample; view "axial" when no geometric view was drawn."""
    image = image.astype(np.float32, copy=False)
    lesion = lesion.astype(np.float32, copy=False)
    view = "axial"
    if rng.random() < aug.probability:
        r = rotation(rng.uniform(-aug.max_tilt_deg, aug.max_tilt_deg), rng.uniform(-aug.max_tilt_deg, aug.max_tilt_deg))
        nz = image.shape[0]
        height = (nz - 1) * spacing_zyx[0]
        lo = -height / 2 + rng.uniform(0.0, aug.max_cut_mm)
        hi = height / 2 - rng.uniform(0.0, aug.max_cut_mm)
        if rng.random() < aug.aligned_share:
            view = "aligned"
            inside = slab_mask(image.shape, spacing_zyx, r[:, 2], lo, hi)
            image = np.where(inside, image, np.float32(0))
            lesion = np.where(inside, lesion, np.float32(0))
            keep = np.nonzero(inside.reshape(nz, -1).any(1))[0]
        else:
            view = "own"
            image, lesion = rotate_volumes([image, lesion], r, spacing_zyx)
            z = (np.arange(nz) - (nz - 1) / 2.0) * spacing_zyx[0]
            keep = np.nonzero((z >= lo) & (z <= hi))[0]
        if len(keep) > 0:
            image = np.ascontiguousarray(image[keep[0] : keep[-1] + 1])
            lesion = np.ascontiguousarray(lesion[keep[0] : keep[-1] + 1])
    if rng.random() < aug.thick_probability and aug.max_slice_mm > spacing_zyx[0] * 1.2:
        s = rng.uniform(spacing_zyx[0] * 1.2, aug.max_slice_mm)
        image = thick_slices(image, spacing_zyx[0], s, rng.random())
        view += "+thick"
    return image, lesion, view
