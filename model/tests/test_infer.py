from __future__ import annotations

import numpy as np
import torch

from conftest import tiny_config
from deepsc.config import get_config
from deepsc.infer import dice, predict_case, scan_probabilities, summarise
from deepsc.network import DeepSCCovid
from deepsc.preprocess import prepare_case


def test_lesion_weighted_rule_lets_the_tiles_with_findings_decide():
    cfg = get_config("light")
    tiles = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1]])
    vols = np.array([0.0, 0.0, 45.0])  # mL of predicted lesion per tile
    mean = scan_probabilities(tiles, vols, cfg, "mean")
    weighted = scan_probabilities(tiles, vols, cfg)
    assert int(np.argmax(mean)) == 2 and int(np.argmax(weighted)) == 0
    np.testing.assert_allclose(weighted, (5 * tiles[0] + 5 * tiles[1] + 50 * tiles[2]) / 60)
    # No lesions anywhere: the plain mean.
    np.testing.assert_allclose(scan_probabilities(tiles, np.zeros(3), cfg), mean)
    assert cfg.scan_rule_manifest()["baseMl"] == 5.0


def test_dice_edge_cases():
    a = np.zeros((2, 2), bool)
    assert dice(a, a) == 1.0
    b = a.copy()
    b[0, 0] = True
    assert dice(b, a) == 0.0 and dice(b, b) == 1.0


def test_predict_case_blends_tiles_over_the_whole_volume():
    cfg = tiny_config()
    p = cfg.preprocess
    torch.manual_seed(0)
    net = DeepSCCovid(cfg).eval()
    hu = np.full((30, 40, 40), -850.0, dtype=np.float32)
    lungs = np.ones(hu.shape, dtype=np.uint8)
    case = prepare_case("c", 0, hu, lungs, None, (2.5, 1.0, 1.0), p)
    pred = predict_case(net, case, cfg)
    assert pred.lesion_logits.shape == (30, p.size, p.size) and pred.evidence.shape == pred.lesion_logits.shape
    assert pred.tile_probabilities.shape == (7, 3)  # starts 0, 4, ..., 20 and 22 (flush with the end)
    assert np.isclose(pred.probabilities.sum(), 1.0)
    s = summarise([{"label": "covid19", "predicted": "covid19", "dice": 0.9, "false_positive_ml": 0.0, "predicted_mean": "cap", "predicted_lesion-weighted": "covid19"}])
    assert s["accuracy"] == 1.0 and s["accuracyByScanRule"] == {"mean": 0.0, "lesion-weighted": 1.0}
