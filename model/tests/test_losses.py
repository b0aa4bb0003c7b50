from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from deepsc.losses import (
    LossConfig,
    classification_loss,
    focal_loss,
    segmentation_loss,
    soft_dice_loss,
    task_aware_loss,
    total_loss,
)
from deepsc.network import DeepSCCovid


def _batch(cfg, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    p = cfg.preprocess
    stack = torch.rand(batch, 1, p.stack_slices, p.size, p.size, generator=g)
    tile = torch.rand(batch, 1, p.tile_slices, p.size, p.size, generator=g)
    target = torch.zeros(batch, 1, p.tile_slices, p.size, p.size)
    target[:, :, 2:6, 8:20, 8:20] = 1.0
    labels = torch.tensor([0, 1][:batch])
    return stack, tile, target, labels


def test_focal_loss_matches_its_formula():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    target = torch.tensor([0, 2])
    p = torch.softmax(logits, 1)[torch.arange(2), target]
    expected = (-(1 - p) ** 2 * torch.log(p)).mean()
    assert torch.allclose(focal_loss(logits, target, 2.0), expected)
    ce = F.cross_entropy(logits, target)
    assert torch.allclose(classification_loss(logits, target), ce + 2 * expected)


def test_soft_dice_is_near_zero_for_a_perfect_mask_and_penalises_volume_on_empty_targets():
    t = torch.zeros(1, 1, 4, 8, 8)
    t[..., 1:3, 2:6, 2:6] = 1
    perfect = (t * 2 - 1) * 30  # logits: +30 inside, -30 outside
    assert float(soft_dice_loss(perfect, t)) < 1e-3
    empty = torch.zeros_like(t)
    assert float(soft_dice_loss(torch.full_like(t, -30.0), empty)) < 1e-3
    assert float(soft_dice_loss(torch.full_like(t, 30.0), empty)) > 0.99


def test_segmentation_loss_supervises_every_head(tiny_cfg):
    net = DeepSCCovid(tiny_cfg)
    stack, tile, target, _ = _batch(tiny_cfg)
    out = net(stack, tile)
    loss = segmentation_loss(out["lesion_logits"], out["heads"], target)
    grads = torch.autograd.grad(loss, [h.weight for h in net.lesion.heads])
    assert all(float(g.abs().sum()) > 0 for g in grads)


def test_task_aware_gradient_reaches_the_classifier(tiny_cfg):
    """The task-aware term alone, backpropagated, changes the classification subnet's parameters."""
    torch.manual_seed(0)
    net = DeepSCCovid(tiny_cfg)
    stack, tile, target, _ = _batch(tiny_cfg)
    out = net(stack, tile)
    loss = task_aware_loss(out, target)
    assert float(loss) > 0
    loss.backward()
    cls = net.classifier
    assert float(cls.fc.weight.grad.abs().sum()) > 0
    for block in cls.blocks:
        assert float(block.conv1.weight.grad.abs().sum()) > 0
    assert float(cls.lesion_conv.weight.grad.abs().sum()) > 0
    # ...and through the classifier's inputs into the shared feature subnet.
    assert float(net.features.tile_stem.b2.weight.grad.abs().sum()) > 0


def test_total_loss_backward_includes_the_task_aware_term(tiny_cfg):
    """One backward() of the total loss = the gradients of its three parts, task-aware included."""
    torch.manual_seed(0)
    net = DeepSCCovid(tiny_cfg)
    stack, tile, target, labels = _batch(tiny_cfg)
    out = net(stack, tile)
    loss, parts = total_loss(out, labels, target)
    assert set(parts) == {"loss", "classification", "segmentation", "task_aware"}
    assert math.isclose(parts["loss"], parts["classification"] + parts["segmentation"] + parts["task_aware"], rel_tol=1e-5)
    w = net.classifier.fc.weight
    g_total = torch.autograd.grad(loss, w, retain_graph=True)[0]
    without = LossConfig(task_aware_weight=0.0)
    loss2, _ = total_loss(out, labels, target, without)
    g_without = torch.autograd.grad(loss2, w, retain_graph=True)[0]
    g_task = torch.autograd.grad(task_aware_loss(out, target), w)[0]
    assert not torch.allclose(g_total, g_without)
    assert torch.allclose(g_total, g_without + g_task, atol=1e-6)


def test_task_aware_truth_target_uses_the_pooled_ground_truth(tiny_cfg):
    net = DeepSCCovid(tiny_cfg)
    stack, tile, target, _ = _batch(tiny_cfg)
    out = net(stack, tile)
    a = task_aware_loss(out, target, LossConfig(task_aware_target="truth"))
    b = task_aware_loss(out, torch.zeros_like(target), LossConfig(task_aware_target="truth"))
    assert not torch.isclose(a, b)


def test_classification_weights_remove_a_tile_from_the_mean():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    target = torch.tensor([0, 2])
    only_first = classification_loss(logits[:1], target[:1])
    assert torch.allclose(classification_loss(logits, target, weight=torch.tensor([1.0, 0.0])), only_first)
    assert torch.allclose(classification_loss(logits, target, weight=torch.ones(2)), classification_loss(logits, target))
