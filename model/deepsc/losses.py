"""Losses of DeepSC-COVID.

total = classification + segmentation + task-aware, all in one graph, so ONE backward() trains every
term. (The authors' released code computes the task-aware term after backward(), where it trains
nothing; here it is part of the loss that is differentiated.)

* classification: cross-entropy + 2 x focal loss (gamma 2).
* segmentation: soft Dice + 2 x weighted binary cross-entropy on the fused logits and, as deep
  supervision, on each head (1/8, 1/4, 1/2, full with weights 0.25/0.25/0.5/1) against the target
  average-pooled to the head's resolution (soft fractions). Normalised by the total head weight.
* task-aware: 5 x sum_k w_k MSE(E_k, S_k) over the scales 1/8, 1/4, 1/2 (w = 0.25/0.25/0.5), where E_k is
  the lesion evidence map (class activation maps of the pneumonia classes weighted by the predicted,
  detached class probabilities) and S_k the segmentation at that scale: by default the predicted lesion
  probability, detached, so the segmentation teaches the classifier where to look and not the reverse
  (`target="truth"` uses the pooled ground truth instead). Its gradient reaches the classification
  subnet (residual blocks and the linear layer) and the shared features below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import EVIDENCE_WEIGHTS, HEAD_FUSION_WEIGHTS
from .network import DeepSCCovid


@dataclass(frozen=True)
class LossConfig:
    focal_gamma: float = 2.0
    focal_weight: float = 2.0
    bce_weight: float = 2.0
    #: Weight of lesion voxels in the binary cross-entropy (lesions are a few % of a tile).
    lesion_pos_weight: float = 3.0
    dice_smooth: float = 1.0
    task_aware_weight: float = 5.0
    #: "prediction": E_k follows the detached predicted segmentation; "truth": the pooled ground truth.
    task_aware_target: str = "prediction"
    classification_weight: float = 1.0
    segmentation_weight: float = 1.0


def _weighted_mean(v: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return v.mean()
    return (v * weight).sum() / weight.sum().clamp_min(1e-6)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-class focal loss (Lin et al. 2017), (weighted) mean over the batch."""
    logp = F.log_softmax(logits, dim=1).gather(1, target.view(-1, 1)).squeeze(1)
    return _weighted_mean(-((1.0 - logp.exp()) ** gamma) * logp, weight)


def classification_loss(
    logits: torch.Tensor, target: torch.Tensor, cfg: LossConfig = LossConfig(), weight: torch.Tensor | None = None
) -> torch.Tensor:
    """CE + focal_weight x focal; `weight` (per sample) scales each tile's share of the batch mean."""
    ce = _weighted_mean(F.cross_entropy(logits, target, reduction="none"), weight)
    return ce + cfg.focal_weight * focal_loss(logits, target, cfg.focal_gamma, weight)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per sample, averaged. With an empty target it still penalises predicted volume."""
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    dice = (2.0 * inter + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return (1.0 - dice).mean()


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, pos_weight: float) -> torch.Tensor:
    w = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, target, pos_weight=w)


def pool_to(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Average-pool a full-resolution [B,1,T,H,W] target onto `like`'s spatial shape (lesion fractions)."""
    if target.shape[2:] == like.shape[2:]:
        return target
    return F.adaptive_avg_pool3d(target, like.shape[2:])


def segmentation_loss(
    fused: torch.Tensor, heads: list[torch.Tensor], target: torch.Tensor, cfg: LossConfig = LossConfig()
) -> torch.Tensor:
    def term(logits: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return soft_dice_loss(logits, t, cfg.dice_smooth) + cfg.bce_weight * weighted_bce(logits, t, cfg.lesion_pos_weight)

    total = term(fused, target)
    for w, h in zip(HEAD_FUSION_WEIGHTS, heads):
        total = total + w * term(h, pool_to(target, h))
    return total / (1.0 + sum(HEAD_FUSION_WEIGHTS))


def task_aware_loss(out: dict, target: torch.Tensor | None, cfg: LossConfig = LossConfig()) -> torch.Tensor:
    """5 x sum_k w_k MSE(E_k, S_k) at 1/8, 1/4, 1/2 (see the module docstring)."""
    probs = torch.softmax(out["class_logits"], dim=1).detach()
    maps = DeepSCCovid.evidence_from_cams(out["cams"], probs)
    heads = out["heads"][: len(maps)]
    total = out["class_logits"].new_zeros(())
    for w, e, h in zip(EVIDENCE_WEIGHTS, maps, heads):
        if cfg.task_aware_target == "truth":
            if target is None:
                raise ValueError("task_aware_target='truth' needs the segmentation target")
            s = pool_to(target, h)
        else:
            s = torch.sigmoid(h).detach()
        total = total + w * F.mse_loss(e, s)
    return cfg.task_aware_weight * total


def total_loss(
    out: dict,
    labels: torch.Tensor,
    seg_target: torch.Tensor,
    cfg: LossConfig = LossConfig(),
    class_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss and its parts (as floats, for logging). class_weight: per-tile weights of the
    classification term (None: all 1)."""
    cls = classification_loss(out["class_logits"], labels, cfg, class_weight)
    seg = segmentation_loss(out["lesion_logits"], out["heads"], seg_target, cfg)
    task = task_aware_loss(out, seg_target, cfg)
    loss = cfg.classification_weight * cls + cfg.segmentation_weight * seg + task
    return loss, {"loss": loss.item(), "classification": cls.item(), "segmentation": seg.item(), "task_aware": task.item()}
