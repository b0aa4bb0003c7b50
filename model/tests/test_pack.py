from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from deepsc.config import get_config
from deepsc.pack import read_pack, write_pack


def _packed(tiny_data, tmp_path):
    """(config, prepared cases, pack path) for the tiny data folder."""
    import train

    cfg = get_config("light")
    cases = train.prepare_all(str(tiny_data), cfg)[1]
    path = tmp_path / "cases.pack.xz"
    write_pack(cases, cfg.preprocess, path)
    return cfg, cases, path


def test_a_pack_round_trips_the_prepared_cases_within_half_a_quantisation_step(tiny_data, tmp_path):
    cfg, cases, path = _packed(tiny_data, tmp_path)
    back = read_pack(path, cfg.preprocess)
    assert [c.case_id for c in back] == [c.case_id for c in cases]
    assert [c.label for c in back] == [c.label for c in cases]
    for a, b in zip(cases, back):
        assert b.image.shape == a.image.shape and b.stack.shape == a.stack.shape
        assert np.abs(b.image - a.image).max() <= 0.5 / 255 + 1e-6
        assert np.abs(b.stack - a.stack).max() <= 0.5 / 255 + 1e-6
        assert np.abs(b.lesion.astype(np.float32) - a.lesion.astype(np.float32)).max() <= 0.5 / 255 + 1e-3
        assert b.native_shape == a.native_shape and np.allclose(b.z_positions, a.z_positions)
        assert b.z_range == a.z_range and a.z_range is not None


def test_a_pack_made_with_other_preprocessing_is_refused(tiny_data, tmp_path):
    cfg, _, path = _packed(tiny_data, tmp_path)
    with pytest.raises(ValueError, match="another preprocessing"):
        read_pack(path, replace(cfg.preprocess, hu_min=-1000.0))


def test_train_from_a_pack_on_a_time_budget(tiny_data, tmp_path):
    import train

    _, _, path = _packed(tiny_data, tmp_path)
    out = tmp_path / "run"
    args = ["--config", "light", "--pack", str(path), "--minutes", "0.002", "--tiles-per-case", "1", "--seed", "3"]
    assert train.main([*args, "--device", "auto", "--out", str(out), "--synthetic"]) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["minutesBudget"] == 0.002 and record["data"]["cases"] == 6
    assert record["device"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    # The clock, not an epoch count, ended it, after at least one step.
    assert record["iterations"] >= 1 and record["epochsRequested"] is None
