from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from deepsc.augment import GeometricAugment, augment_case, rotate_volumes, rotation, slab_mask, thick_slices
from deepsc.data import TileDataset, discover_cases, load_case

SPACING = (2.5, 2.0, 2.0)  # (dz, dy, dx) mm, anisotropic on purpose


def _centroid_mm(vol: np.ndarray, spacing=SPACING) -> np.ndarray:
    """(x, y, z) mm of the mass centre relative to the volume's centre."""
    idx = np.indices(vol.shape).reshape(3, -1).astype(np.float64)
    w = vol.reshape(-1).astype(np.float64)
    c = (idx @ w) / w.sum()
    zyx = (c - (np.array(vol.shape) - 1) / 2.0) * np.array(spacing)
    return zyx[::-1]


def test_rotation_is_a_proper_rotation_about_x_then_y():
    r = rotation(12.0, -8.0)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(rotation(0, 0), np.eye(3))
    # 90 degrees about x takes +y to +z; 90 about y takes +z to +x.
    assert np.allclose(rotation(90, 0) @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(rotation(0, 90) @ [0, 0, 1], [1, 0, 0])


def test_rotate_volumes_moves_content_where_the_rotation_says_in_mm():
    vol = np.zeros((33, 41, 41), np.float32)
    # A blob 20 mm towards +y (10 voxels of 2 mm) from the centre.
    vol[15:18, 29:32, 19:22] = 1.0
    before = _centroid_mm(vol)
    assert np.allclose(before, [0, 20, 0], atol=1e-6)
    (out,) = rotate_volumes([vol], rotation(90, 0), SPACING)
    # 90 degrees about x: +y goes to +z (20 mm = 8 slices of 2.5 mm), whatever the voxel sizes.
    assert np.allclose(_centroid_mm(out), [0, 0, 20], atol=0.3)
    (same,) = rotate_volumes([vol], rotation(0, 0), SPACING)
    assert np.allclose(same, vol, atol=1e-6)


def test_slab_mask_follows_the_tilted_normal():
    shape = (41, 21, 21)
    flat = slab_mask(shape, SPACING, np.array([0.0, 0.0, 1.0]), -10.0, 20.0)
    z = (np.arange(41) - 20) * 2.5
    assert np.array_equal(flat.any(axis=(1, 2)), (z >= -10) & (z <= 20)) and np.array_equal(flat.all(axis=(1, 2)), flat.any(axis=(1, 2)))
    tilted = slab_mask(shape, SPACING, rotation(0, 30)[:, 2], -10.0, 20.0)
    # Tilted about y: the cut plane rises along x, so the first and last columns keep different slices.
    assert tilted[:, 10, 0].sum() > 0 and not np.array_equal(tilted[:, 10, 0], tilted[:, 10, 20])


def test_thick_slices_keep_what_linear_interpolation_keeps_and_blur_the_rest():
    nz = 40
    ramp = np.broadcast_to((np.arange(nz, dtype=np.float32) * 0.1)[:, None, None], (nz, 3, 3)).copy()
    out = thick_slices(ramp, 2.5, 6.0, 0.0)
    covered = np.arange(nz) * 2.5 <= (int(((nz - 1) * 2.5) // 6.0)) * 6.0
    assert np.allclose(out[covered], ramp[covered], atol=1e-5)  # a linear profile survives sampling
    spike = np.zeros((nz, 1, 1), np.float32)
    spike[20] = 1.0
    blurred = thick_slices(spike, 2.5, 6.0, 0.0)
    assert blurred.max() < 1.0 and blurred.sum() > 0  # a one-slice detail does not


def test_augment_case_is_deterministic_and_keeps_shapes_and_ranges():
    rng0 = np.random.default_rng(0)
    image = rng0.random((60, 24, 24)).astype(np.float32)
    lesion = np.zeros_like(image)
    lesion[25:35, 8:16, 8:16] = 1.0
    aug = GeometricAugment(probability=1.0, thick_probability=0.5)
    views = set()
    for seed in range(40):
        a = augment_case(image, lesion, SPACING, aug, random.Random(seed))
        b = augment_case(image, lesion, SPACING, aug, random.Random(seed))
        assert a[2] == b[2] and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        im, les, view = a
        views.add(view.split("+")[0])
        assert im.shape == les.shape and im.shape[1:] == image.shape[1:] and 1 <= im.shape[0] <= image.shape[0]
        assert im.dtype == np.float32 and les.dtype == np.float32
        assert -1e-6 <= les.min() and les.max() <= 1 + 1e-5 and -1e-6 <= im.min() and im.max() <= 1 + 1e-5
        if view.startswith("aligned"):
            # Upright anatomy: a voxel is either kept as it was or cut to the background, in image and target alike.
            assert les.sum() <= lesion.sum()
    assert views == {"aligned", "own"}
    untouched = augment_case(image, lesion, SPACING, GeometricAugment(probability=0.0, thick_probability=0.0), random.Random(1))
    assert untouched[2] == "axial" and np.array_equal(untouched[0], image) and np.array_equal(untouched[1], lesion)


def test_aligned_view_cuts_image_and_target_on_the_same_voxels():
    image = np.full((60, 24, 24), 0.5, np.float32)
    lesion = np.ones_like(image)
    aug = GeometricAugment(probability=1.0, aligned_share=1.0, thick_probability=0.0, max_cut_mm=40.0)
    for seed in range(10):
        im, les, view = augment_case(image, lesion, SPACING, aug, random.Random(seed))
        assert view == "aligned"
        assert np.array_equal(im == 0, les == 0)
        assert (im == 0).any()  # something was cut


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_tile_dataset_with_augmentation_gives_the_network_its_shapes(tiny_data, tiny_cfg, share):
    cases = [load_case(f, tiny_cfg.preprocess) for f in discover_cases(tiny_data)]
    assert cases[0].model_spacing[0] == pytest.approx(tiny_cfg.preprocess.z_spacing_mm)
    aug = GeometricAugment(probability=1.0, aligned_share=share, thick_probability=0.5)
    ds = TileDataset(cases, tiny_cfg.preprocess, tiles_per_case=4, seed=5, augment=aug)
    p = tiny_cfg.preprocess
    for i in range(len(ds)):
        stack, tile, target, label, weight = ds[i]
        assert stack.shape == (1, p.stack_slices, p.size, p.size) and tile.shape == (1, p.tile_slices, p.size, p.size)
        assert target.shape == tile.shape and label.dtype == torch.long
        assert torch.isfinite(tile).all() and torch.isfinite(stack).all()
        # Own-grid views (share 0) train the segmentation only: the engine classifies the aligned view.
        assert float(weight) == (1.0 if share == 1.0 else 0.0)
    assert torch.equal(ds[3][1], ds[3][1])
