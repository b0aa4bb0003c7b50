from __future__ import annotations

import json

import torch

from deepsc.losses import total_loss
from deepsc.network import DeepSCCovid


def test_two_training_steps_on_tiny_random_data_decrease_the_loss(tiny_cfg):
    torch.manual_seed(0)
    net = DeepSCCovid(tiny_cfg)
    p = tiny_cfg.preprocess
    g = torch.Generator().manual_seed(1)
    stack = torch.rand(2, 1, p.stack_slices, p.size, p.size, generator=g)
    tile = torch.rand(2, 1, p.tile_slices, p.size, p.size, generator=g)
    target = (torch.rand(2, 1, p.tile_slices, p.size, p.size, generator=g) > 0.8).float()
    labels = torch.tensor([0, 2])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def loss_now():
        with torch.no_grad():
            return total_loss(net(stack, tile), labels, target)[0].item()

    net.train()
    before = loss_now()
    for _ in range(2):
        loss, _ = total_loss(net(stack, tile), labels, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = loss_now()
    print(f"loss {before:.4f} -> {after:.4f}")
    assert after < before


def test_train_cli_records_a_reproducible_run(tiny_data, tmp_path):
    import train

    out = tmp_path / "run"
    common = ["--config", "light", "--data", str(tiny_data), "--epochs", "1", "--tiles-per-case", "1", "--seed", "7"]
    assert train.main([*common, "--out", str(out), "--val", str(tiny_data), "--synthetic", "--data-source", "test"]) == 0
    record = json.loads((out / "training.json").read_text())
    assert record["seed"] == 7 and record["epochs"] == 1 and record["iterations"] == 3
    assert record["synthetic"] is True and record["data"]["cases"] == 6
    assert record["data"]["classes"] == {"covid19": 2, "cap": 2, "non_pneumonia": 2}
    # 40 x 36 pixels of 1.5 mm: the fields of view export.py checks the model pixel against.
    assert record["data"]["fieldOfViewMm"] == {"min": 54.0, "max": 60.0}
    summary = record["validation"]["summary"]
    assert summary["cases"] == 6 and summary["diceGrid"] == "native"
    assert 0.0 <= summary["accuracy"] <= 1.0
    per_case = json.loads((out / "validation.json").read_text())
    assert {"dice", "false_positive_ml", "probabilities", "predicted"} <= set(per_case[0])
    ckpt = torch.load(out / "deepsc-light.pt")
    assert ckpt["training"]["seed"] == 7 and ckpt["config"]["name"] == "light"
    # Same seed, same data: the same weights.
    out2 = tmp_path / "run2"
    assert train.main([*common, "--out", str(out2)]) == 0
    ckpt2 = torch.load(out2 / "deepsc-light.pt")
    for k, v in ckpt["state_dict"].items():
        assert torch.equal(v, ckpt2["state_dict"][k]), k


def test_train_cli_records_the_geometric_augmentation(tiny_data, tmp_path):
    import train

    common = ["--config", "light", "--data", str(tiny_data), "--epochs", "1", "--tiles-per-case", "1", "--seed", "7"]
    assert train.main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert json.loads((tmp_path / "plain" / "training.json").read_text())["geometricAugmentation"] is None
    assert train.main([*common, "--augment-geometry", "0.5", "--out", str(tmp_path / "aug")]) == 0
    record = json.loads((tmp_path / "aug" / "training.json").read_text())
    assert record["geometricAugmentation"]["probability"] == 0.5
    assert record["geometricAugmentation"]["thickProbability"] == 0.3


def test_init_names_and_records_the_preprocessing_a_checkpoint_predates(tiny_data, tmp_path, capsys):
    import train

    common = ["--config", "light", "--data", str(tiny_data), "--epochs", "1", "--tiles-per-case", "1", "--seed", "7"]
    assert train.main([*common, "--out", str(tmp_path / "first")]) == 0
    # A checkpoint saved before z_crop existed (the shipped one is): its preprocessing has no such key.
    ckpt = torch.load(tmp_path / "first" / "deepsc-light.pt")
    del ckpt["config"]["preprocess"]["z_crop"]
    torch.save(ckpt, tmp_path / "old.pt")
    capsys.readouterr()
    assert train.main([*common, "--init", str(tmp_path / "old.pt"), "--out", str(tmp_path / "tuned")]) == 0
    assert "old.pt predates preprocess.z_crop; fine-tuning uses z_crop = 'lung-extent'" in capsys.readouterr().out
    record = json.loads((tmp_path / "tuned" / "training.json").read_text())
    assert record["initialisedFrom"]["preprocessAdded"] == {"z_crop": "lung-extent"}
