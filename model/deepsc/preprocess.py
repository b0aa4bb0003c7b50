"""Preprocessing, exactly as PreprocessConfig (and model.json) describes it. No file I/O here.

Arrays are [z, y, x] in LPS orientation (data.py reorients NIfTI files first). The TypeScript engine
implements the same steps from model.json; keep the two in step (the formulas are in config.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import PreprocessConfig


def normalise_hu(hu: np.ndarray, p: PreprocessConfig) -> np.ndarray:
    """Clip to the HU window and scale linearly to [0, 1] (float32)."""
    x = np.clip(hu.astype(np.float32, copy=False), p.hu_min, p.hu_max)
    return (x - np.float32(p.hu_min)) / np.float32(p.hu_max - p.hu_min)


def z_positions(nz: int, dz: float, target_mm: float | None) -> np.ndarray:
    """Input slice coordinates of the output slices: p_j = j * target / dz, j = 0 .. floor((nz-1)*dz/target)."""
    if target_mm is None:
        return np.arange(nz, dtype=np.float64)
    if nz < 1 or dz <= 0:
        raise ValueError(f"need at least one slice and a positive spacing, got nz={nz}, dz={dz}")
    count = int(math.floor((nz - 1) * dz / target_mm + 1e-6)) + 1
    return np.arange(count, dtype=np.float64) * (target_mm / dz)


def resample_z(vol: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0 at fractional slice positions (clamped to the last slice)."""
    nz = vol.shape[0]
    lo = np.clip(np.floor(positions).astype(np.int64), 0, nz - 1)
    hi = np.minimum(lo + 1, nz - 1)
    frac = (positions - lo).astype(np.float32).reshape(-1, *([1] * (vol.ndim - 1)))
    frac = np.clip(frac, 0.0, 1.0)
    a = vol[lo].astype(np.float32, copy=False)
    b = vol[hi].astype(np.float32, copy=False)
    return a + (b - a) * frac


def area_resize_inplane(vol: np.ndarray, size: int) -> np.ndarray:
    """Area averaging of each slice to size x size (adaptive average pooling; see config.py step 5)."""
    t = torch.from_numpy(np.ascontiguousarray(vol, dtype=np.float32))
    if t.shape[1] == size and t.shape[2] == size:
        return t.numpy().copy()
    out = F.adaptive_avg_pool2d(t.unsqueeze(0), (size, size)).squeeze(0)
    return out.numpy()


def stack_indices(nz: int, slices: int) -> np.ndarray:
    """Nearest evenly spaced slice indices: floor(i * (nz - 1) / (slices - 1) + 0.5)."""
    if slices == 1:
        return np.zeros(1, dtype=np.int64)
    i = np.arange(slices, dtype=np.float64)
    return np.floor(i * (nz - 1) / (slices - 1) + 0.5).astype(np.int64)


def tile_starts(nz: int, tile: int, overlap: int) -> list[int]:
    """Start slices of the inference tiles: every tile - overlap slices, the last one flush with the end."""
    if nz <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, nz - tile + 1, stride))
    if starts[-1] != nz - tile:
        starts.append(nz - tile)
    return starts


def extract_tile(vol: np.ndarray, start: int, tile: int) -> np.ndarray:
    """Slices start .. start+tile-1; zero-padded at the top when the volume is shorter than a tile."""
    part = vol[start : start + tile]
    if part.shape[0] == tile:
        return part
    pad = np.zeros((tile - part.shape[0], *vol.shape[1:]), dtype=vol.dtype)
    return np.concatenate([part, pad], 0)


def gaussian_weights(tile: int, sigma_fraction: float, floor: float) -> np.ndarray:
    """Blending weight of each slice of a tile: a Gaussian centred on the tile, floored at `floor` of its peak."""
    centre = (tile - 1) / 2.0
    sigma = max(tile * sigma_fraction, 1e-6)
    z = np.arange(tile, dtype=np.float64)
    w = np.exp(-0.5 * ((z - centre) / sigma) ** 2)
    return np.maximum(w / w.max(), floor).astype(np.float32)


@dataclass
class PreparedCase:
    """A case on the model grid: [Z', size, size] arrays, plus what maps it back to the native grid."""

    case_id: str
    label: int
    image: np.ndarray  # normalised, lung-masked, resampled (float32)
    lesion: np.ndarray  # lesion fraction per model voxel (float32; zeros when unknown)
    lung: np.ndarray  # lung fraction per model voxel (float32)
    stack: np.ndarray  # [S, size, size]
    native_shape: tuple[int, int, int]
    native_spacing: tuple[float, float, float]  # (dz, dy, dx) mm
    z_positions: np.ndarray  # native slice coordinate of each model slice
    # First and last native slice the model grid stands for (z_crop); None: the whole scan.
    z_range: tuple[int, int] | None = None

    @property
    def model_spacing(self) -> tuple[float, float, float]:
        """(dz, dy, dx) mm of the model grid."""
        dz, dy, dx = self.native_spacing
        nz, ny, nx = self.native_shape
        zs = (self.z_positions[1] - self.z_positions[0]) * dz if len(self.z_positions) > 1 else dz
        return (float(zs), dy * ny / self.image.shape[1], dx * nx / self.image.shape[2])

    @property
    def model_voxel_ml(self) -> float:
        zs, ys, xs = self.model_spacing
        return float(zs * ys * xs / 1000.0)


def prepare_case(
    case_id: str,
    label: int,
    hu: np.ndarray,
    lungs: np.ndarray,
    lesions: np.ndarray | None,
    spacing_zyx: tuple[float, float, float],
    p: PreprocessConfig,
) -> PreparedCase:
    """Steps 2-6 of PreprocessConfig on LPS-oriented [z, y, x] arrays."""
    if hu.shape != lungs.shape or (lesions is not None and lesions.shape != hu.shape):
        raise ValueError(f"{case_id}: CT {hu.shape}, lungs {lungs.shape} and lesions must share one grid")
    lung_mask = (lungs > 0).astype(np.float32)
    x = normalise_hu(hu, p)
    if p.lung_masking:
        x *= lung_mask
    z0, z1 = lung_slice_range(lung_mask) if p.z_crop == "lung-extent" else (0, hu.shape[0] - 1)
    pos = z_positions(z1 - z0 + 1, spacing_zyx[0], p.z_spacing_mm) + z0
    image = area_resize_inplane(resample_z(x, pos), p.size)
    lung = area_resize_inplane(resample_z(lung_mask, pos), p.size)
    if lesions is not None:
        lesion = area_resize_inplane(resample_z((lesions > 0).astype(np.float32), pos), p.size)
    else:
        lesion = np.zeros_like(image)
    stack = image[stack_indices(image.shape[0], p.stack_slices)]
    return PreparedCase(
        case_id=case_id,
        label=label,
        image=image,
        lesion=lesion,
        lung=lung,
        stack=np.ascontiguousarray(stack),
        native_shape=tuple(int(s) for s in hu.shape),
        native_spacing=tuple(float(s) for s in spacing_zyx),
        z_positions=pos,
        z_range=(int(z0), int(z1)),
    )


def lung_slice_range(lung_mask: np.ndarray) -> tuple[int, int]:
    """First and last slice (axis 0) holding lung; the whole scan when there is none."""
    has = np.nonzero(lung_mask.reshape(lung_mask.shape[0], -1).any(1))[0]
    if len(has) == 0:
        return 0, lung_mask.shape[0] - 1
    return int(has[0]), int(has[-1])


def to_native(vol: torch.Tensor, case: PreparedCase, outside: float = -128.0) -> torch.Tensor:
    """Map a model-grid [Z', size, size] volume back onto the native [z, y, x] grid (linear in all axes).

    In-plane, model pixel i is centred on native coordinate (i + 0.5) * n / size - 0.5 (area resampling),
    which is interpolate(..., align_corners=False). Along z, model slice j sits at native p_j; native
    slice k is found at model coordinate (k - p_0) * dz / spacing (clamped at the ends); native slices outside
    the case's z_range get `outside` (the default is a background lesion logit).
    """
    nz, ny, nx = case.native_shape
    v = F.interpolate(vol[None].float(), size=(ny, nx), mode="bilinear", align_corners=False)[0]
    pos = case.z_positions
    z0, z1 = case.z_range if case.z_range is not None else (0, nz - 1)
    if len(pos) == 1:
        out = v[:1].expand(nz, ny, nx).clone()
    else:
        step = pos[1] - pos[0]
        coords = (np.arange(nz, dtype=np.float64) - pos[0]) / step
        lo = np.clip(np.floor(coords).astype(np.int64), 0, v.shape[0] - 1)
        hi = np.minimum(lo + 1, v.shape[0] - 1)
        frac = torch.from_numpy(np.clip(coords - lo, 0.0, 1.0).astype(np.float32)).view(-1, 1, 1)
        a = v[torch.from_numpy(lo)]
        b = v[torch.from_numpy(hi)]
        out = a + (b - a) * frac
    # Slices the model grid does not stand for (z_crop) are background.
    out[:z0] = outside
    out[z1 + 1 :] = outside
    return out
