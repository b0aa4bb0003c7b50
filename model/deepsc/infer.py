"""Reference whole-scan inference and metrics (Python mirror of the engine's documented rules).

Sliding window along z with the manifest's tile size and overlap, Gaussian blending of lesion logits and
evidence, and the scan-level rule recorded in model.json (ModelConfig.scan_rule_manifest): by default
the tiles' softmax probabilities averaged with weights base + predicted lesion volume of the tile. The
lesion mask is the blended logit > 0, mapped back to the native grid by linear interpolation, inside the
lung mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import CLASS_NAMES, ModelConfig
from .network import DeepSCCovid
from .preprocess import PreparedCase, extract_tile, gaussian_weights, tile_starts, to_native

@dataclass
class ScanPrediction:
    probabilities: np.ndarray  # [3], by the configuration's scan rule
    lesion_logits: torch.Tensor  # [Z', size, size] blended
    evidence: torch.Tensor  # [Z', size, size] blended
    tile_probabilities: np.ndarray  # [tiles, 3]
    tile_lesion_ml: np.ndarray  # [tiles]

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))


@torch.no_grad()
def predict_case(net: DeepSCCovid, case: PreparedCase, cfg: ModelConfig, batch: int = 2) -> ScanPrediction:
    p = cfg.preprocess
    t = p.tile_slices
    nz = case.image.shape[0]
    starts = tile_starts(nz, t, p.tile_overlap)
    w = torch.from_numpy(gaussian_weights(t, p.gaussian_sigma_fraction, p.blending_floor)).view(-1, 1, 1)
    depth = max(nz, t)
    acc = torch.zeros(depth, p.size, p.size)
    ev = torch.zeros_like(acc)
    norm = torch.zeros(depth, 1, 1)
    # The network's device and dtype (the GPU check runs it on CUDA, in float16 too); blending stays on the CPU.
    param = next(net.parameters())
    stack = torch.from_numpy(case.stack)[None, None].to(param.device, param.dtype)
    probs = []
    lesion_ml = []
    for i in range(0, len(starts), batch):
        chunk = starts[i : i + batch]
        tiles = torch.stack([torch.from_numpy(extract_tile(case.image, s, t))[None] for s in chunk])
        raw = net(stack.expand(len(chunk), -1, -1, -1, -1), tiles.to(param.device, param.dtype))
        out = {k: raw[k].float().cpu() for k in ("class_logits", "lesion_logits", "evidence")}
        probs.append(torch.softmax(out["class_logits"], 1))
        for j, s in enumerate(chunk):
            real = min(t, nz - s)  # padding slices excluded
            lesion_ml.append(float((out["lesion_logits"][j, 0, :real] > 0).sum()) * case.model_voxel_ml)
            acc[s : s + t] += w * out["lesion_logits"][j, 0]
            ev[s : s + t] += w * out["evidence"][j, 0]
            norm[s : s + t] += w
    acc = (acc / norm)[:nz]
    ev = (ev / norm)[:nz]
    tile_probs = torch.cat(probs).numpy()
    vols = np.array(lesion_ml)
    return ScanPrediction(scan_probabilities(tile_probs, vols, cfg), acc, ev, tile_probs, vols)


def scan_probabilities(tile_probs: np.ndarray, tile_lesion_ml: np.ndarray, cfg: ModelConfig, rule: str | None = None) -> np.ndarray:
    """The scan-level rule of ModelConfig (or `rule` to compare another)."""
    rule = rule or cfg.scan_rule
    if rule == "mean":
        return tile_probs.mean(0)
    w = cfg.scan_rule_base_ml + tile_lesion_ml
    return (tile_probs * w[:, None]).sum(0) / w.sum()


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    inter = np.logical_and(pred, truth).sum()
    total = pred.sum() + truth.sum()
    return 1.0 if total == 0 else float(2.0 * inter / total)


def evaluate_case(
    net: DeepSCCovid,
    case: PreparedCase,
    cfg: ModelConfig,
    native_lesions: np.ndarray | None = None,
    native_lungs: np.ndarray | None = None,
) -> dict:
    """Class probabilities and lesion metrics of one case; on the native grid when its masks are given."""
    pred = predict_case(net, case, cfg)
    result = {
        "case": case.case_id,
        "label": CLASS_NAMES[case.label],
        "predicted": CLASS_NAMES[pred.predicted],
        "probabilities": {n: round(float(v), 5) for n, v in zip(CLASS_NAMES, pred.probabilities)},
        "scanRule": cfg.scan_rule,
    }
    for rule in ("mean", "lesion-weighted"):
        p = scan_probabilities(pred.tile_probabilities, pred.tile_lesion_ml, cfg, rule)
        result[f"predicted_{rule}"] = CLASS_NAMES[int(np.argmax(p))]
    # Model grid: the resampled truth (fractions > 0.5) vs the blended logits.
    model_pred = (pred.lesion_logits.numpy() > 0) & (case.lung > 0.5)
    model_truth = case.lesion > 0.5
    result["dice_model_grid"] = round(dice(model_pred, model_truth), 5)
    result["predicted_ml_model_grid"] = round(float(model_pred.sum()) * case.model_voxel_ml, 3)
    if native_lesions is not None and native_lungs is not None:
        logits = to_native(pred.lesion_logits, case).numpy()
        native_pred = (logits > 0) & (native_lungs > 0)
        truth = native_lesions > 0
        dz, dy, dx = case.native_spacing
        voxel_ml = dz * dy * dx / 1000.0
        result["dice"] = round(dice(native_pred, truth), 5)
        result["predicted_ml"] = round(float(native_pred.sum()) * voxel_ml, 3)
        result["truth_ml"] = round(float(truth.sum()) * voxel_ml, 3)
        result["false_positive_ml"] = round(float(np.logical_and(native_pred, ~truth).sum()) * voxel_ml, 3)
    return result


def summarise(results: list[dict]) -> dict:
    """Accuracy, confusion matrix, Dice on lesion classes, false-positive volume on non-pneumonia."""
    n = len(results)
    confusion = [[0] * len(CLASS_NAMES) for _ in CLASS_NAMES]
    for r in results:
        confusion[CLASS_NAMES.index(r["label"])][CLASS_NAMES.index(r["predicted"])] += 1
    correct = sum(confusion[i][i] for i in range(len(CLASS_NAMES)))
    by_rule = {
        rule: round(sum(r[f"predicted_{rule}"] == r["label"] for r in results) / n, 4)
        for rule in ("mean", "lesion-weighted")
        if n and f"predicted_{rule}" in results[0]
    }
    key = "dice" if results and "dice" in results[0] else "dice_model_grid"
    summary: dict = {
        "cases": n,
        "accuracy": round(correct / n, 4) if n else None,
        "confusion": {"rows": "truth", "columns": "predicted", "order": list(CLASS_NAMES), "matrix": confusion},
        "diceGrid": "native" if key == "dice" else "model",
        "accuracyByScanRule": by_rule,
    }
    for name in ("covid19", "cap"):
        ds = [r[key] for r in results if r["label"] == name]
        if ds:
            summary[f"dice_{name}"] = {
                "mean": round(float(np.mean(ds)), 4),
                "min": round(float(np.min(ds)), 4),
                "n": len(ds),
            }
    fp_key = "false_positive_ml" if key == "dice" else "predicted_ml_model_grid"
    fps = [r[fp_key] for r in results if r["label"] == "non_pneumonia"]
    if fps:
        summary["non_pneumonia_false_positive_ml"] = {
            "mean": round(float(np.mean(fps)), 3),
            "max": round(float(np.max(fps)), 3),
            "n": len(fps),
        }
    return summary
