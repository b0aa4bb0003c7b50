from __future__ import annotations

import numpy as np
import pytest
import torch

from deepsc.config import PreprocessConfig
from deepsc.preprocess import (
    area_resize_inplane,
    extract_tile,
    gaussian_weights,
    normalise_hu,
    prepare_case,
    resample_z,
    stack_indices,
    tile_starts,
    to_native,
    z_positions,
)


def test_hu_window_clips_and_scales_to_unit_range():
    p = PreprocessConfig()
    hu = np.array([-3000, -1400, -600, 200, 1000], dtype=np.float32)
    np.testing.assert_allclose(normalise_hu(hu, p), [0.0, 0.0, 0.5, 1.0, 1.0])


def test_z_positions_resample_to_the_target_spacing():
    np.testing.assert_allclose(z_positions(5, 5.0, 2.5), [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])
    np.testing.assert_allclose(z_positions(9, 1.25, 2.5), [0, 2, 4, 6, 8])
    np.testing.assert_allclose(z_positions(4, 2.5, 2.5), [0, 1, 2, 3])
    np.testing.assert_allclose(z_positions(4, 3.0, None), [0, 1, 2, 3])
    with pytest.raises(ValueError):
        z_positions(0, 2.5, 2.5)


def test_resample_z_interpolates_linearly():
    vol = np.arange(4, dtype=np.float32).reshape(4, 1, 1) * 10
    out = resample_z(vol, np.array([0, 0.5, 1.25, 3.0]))
    np.testing.assert_allclose(out.ravel(), [0, 5, 12.5, 30])


def test_area_resize_averages_blocks_and_uneven_bins():
    img = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    np.testing.assert_allclose(area_resize_inplane(img, 2)[0], [[2.5, 4.5], [10.5, 12.5]])
    # 6 -> 4: output i averages floor(i*6/4) .. ceil((i+1)*6/4)-1 -> bins [0,1] [1,2] [3,4] [4,5]
    row = np.arange(6, dtype=np.float32)
    img = np.tile(row, (6, 1))[None]
    np.testing.assert_allclose(area_resize_inplane(img, 4)[0, 0], [0.5, 1.5, 3.5, 4.5])


def test_stack_indices_are_nearest_evenly_spaced():
    np.testing.assert_array_equal(stack_indices(10, 4), [0, 3, 6, 9])
    np.testing.assert_array_equal(stack_indices(3, 5), [0, 1, 1, 2, 2])  # floor(x + 0.5): 0.5 -> 1
    np.testing.assert_array_equal(stack_indices(100, 1), [0])


def test_tiles_cover_the_volume_with_the_last_one_flush():
    assert tile_starts(40, 16, 8) == [0, 8, 16, 24]
    assert tile_starts(41, 16, 8) == [0, 8, 16, 24, 25]
    assert tile_starts(10, 16, 8) == [0]
    vol = np.ones((10, 2, 2), dtype=np.float32)
    t = extract_tile(vol, 0, 16)
    assert t.shape == (16, 2, 2) and t[:10].min() == 1 and t[10:].max() == 0


def test_gaussian_weights_are_symmetric_peaked_and_positive():
    w = gaussian_weights(16, 0.125, 1e-3)
    np.testing.assert_allclose(w, w[::-1])
    assert w.max() == pytest.approx(1.0, abs=0.02) and w.min() >= 1e-3


def test_prepare_case_masks_the_lungs_and_resamples():
    p = PreprocessConfig(size=16, stack_slices=8, tile_slices=8, tile_overlap=4, z_spacing_mm=2.5)
    hu = np.full((10, 32, 32), -600.0, dtype=np.float32)
    lungs = np.zeros_like(hu, dtype=np.uint8)
    lungs[:, :16, :] = 1
    lesions = np.zeros_like(lungs)
    lesions[2:4, 0:8, 0:8] = 1
    case = prepare_case("c", 0, hu, lungs, lesions, (5.0, 1.0, 1.0), p)
    assert case.image.shape == (19, 16, 16)  # 10 slices at 5 mm -> 19 at 2.5 mm
    np.testing.assert_allclose(case.image[:, :8, :], 0.5)  # lung: (-600 + 1400) / 1600
    np.testing.assert_allclose(case.image[:, 8:, :], 0.0)  # masked
    assert case.stack.shape == (8, 16, 16)
    assert case.lesion.max() == 1.0 and case.lesion[:, 4:, :].max() == 0
    assert case.model_voxel_ml == pytest.approx(2.5 * 2 * 2 / 1000)
    with pytest.raises(ValueError, match="one grid"):
        prepare_case("c", 0, hu, lungs[:, :8], lesions, (5.0, 1.0, 1.0), p)


def test_to_native_inverts_the_resampling_geometry():
    """A field linear in native coordinates survives model-grid resampling and mapping back."""
    p = PreprocessConfig(size=16, stack_slices=8, tile_slices=8, tile_overlap=4, z_spacing_mm=2.5)
    nz, ny, nx = 9, 32, 48
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    field = (0.5 * z + 0.25 * y - 0.125 * x).astype(np.float32)
    lungs = np.ones(field.shape, dtype=np.uint8)
    case = prepare_case("c", 0, field, lungs, None, (5.0, 1.0, 1.0), PreprocessConfig(**{**p.__dict__, "hu_min": -100.0, "hu_max": 100.0}))
    back = to_native(torch.from_numpy(case.image), case).numpy()
    expected = (field + 100.0) / 200.0
    inner = (slice(None), slice(2, -2), slice(2, -2))  # linear interpolation is exact away from clamped edges
    np.testing.assert_allclose(back[inner], expected[inner], atol=1e-5)


def test_prepare_case_crops_z_to_the_lungs_and_to_native_puts_background_outside():
    """z_crop lung-extent: the model grid spans the slices holding lung; slices beyond map back as background."""
    p = PreprocessConfig(size=16, stack_slices=8, tile_slices=8, tile_overlap=4, z_spacing_mm=2.5, hu_min=-100.0, hu_max=100.0)
    nz, ny, nx = 20, 32, 32
    z = np.broadcast_to(np.arange(nz, dtype=np.float32)[:, None, None], (nz, ny, nx))
    field = (5.0 * z - 50.0).astype(np.float32)  # linear in z, inside the HU window
    lungs = np.zeros((nz, ny, nx), dtype=np.uint8)
    lungs[6:15] = 1  # lung on native slices 6..14 only
    case = prepare_case("c", 0, field, lungs, None, (5.0, 1.0, 1.0), p)
    assert case.z_range == (6, 14)
    assert case.image.shape[0] == 17  # 9 slices at 5 mm -> 17 at 2.5 mm
    np.testing.assert_allclose(case.z_positions[:3], [6.0, 6.5, 7.0])
    back = to_native(torch.from_numpy(case.image), case).numpy()
    np.testing.assert_allclose(back[6:15], ((field + 100.0) / 200.0)[6:15], atol=1e-5)
    assert (back[:6] == -128.0).all() and (back[15:] == -128.0).all()
    whole = prepare_case("c", 0, field, lungs, None, (5.0, 1.0, 1.0), PreprocessConfig(**{**p.__dict__, "z_crop": "none"}))
    assert whole.z_range == (0, 19) and whole.image.shape[0] == 39
    # No lung at all: nothing to crop to, the whole scan is used.
    empty = prepare_case("c", 0, field, np.zeros_like(lungs), None, (5.0, 1.0, 1.0), p)
    assert empty.z_range == (0, 19)
    with pytest.raises(ValueError, match="z_crop"):
        PreprocessConfig(z_crop="lungs")
    assert p.to_manifest()["zCrop"]["method"] == "lung-extent"
