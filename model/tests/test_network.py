from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import SLOW, tiny_config
from deepsc.config import CLASS_NAMES, get_config
from deepsc.network import (
    ConvNormAct,
    DeepSCCovid,
    GroupNorm,
    LesionSubnet,
    UpProject,
    conv_of_nearest_upsampled,
    count_parameters,
    repeat_nearest,
)

PAPER_PARAMETERS = 8.24e6


def test_full_parameter_count_matches_the_paper_within_2_percent():
    n = count_parameters(DeepSCCovid(get_config("full")))
    print(f"full: {n} parameters ({n / PAPER_PARAMETERS - 1:+.2%} vs the paper's 8.24 M)")
    assert abs(n / PAPER_PARAMETERS - 1) < 0.02


def test_light_is_small_enough_for_a_10_mb_onnx_file():
    n = count_parameters(DeepSCCovid(get_config("light")))
    print(f"light: {n} parameters")
    assert n * 4 < 5e6  # fp32 weights well under 10 MB


def test_classes_are_in_the_documented_order():
    assert CLASS_NAMES == ("covid19", "cap", "non_pneumonia")


@pytest.mark.parametrize("scale", [(2, 2, 2), (1, 2, 2), (2, 1, 1), (3, 1, 2), (1, 1, 1)])
def test_repeat_nearest_is_nearest_interpolation_in_values_and_gradients(scale):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5, 6, requires_grad=True)
    ref = F.interpolate(x, scale_factor=tuple(float(s) for s in scale), mode="nearest")
    got = repeat_nearest(x, scale)
    assert torch.equal(got, ref)
    w = torch.randn_like(ref)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    (g_got,) = torch.autograd.grad((got * w).sum(), x)
    assert torch.allclose(g_got, g_ref, atol=1e-6)


@pytest.mark.parametrize("scale", [(2, 2, 2), (1, 2, 2)])
def test_conv_of_nearest_upsampled_is_the_convolution_of_the_upsampled_input(scale):
    torch.manual_seed(2)
    # Odd sizes and batch 2: the phases' offsets and the padding at every border are exercised.
    y = torch.randn(2, 3, 3, 5, 7, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, 3, dtype=torch.float64)
    ref = F.conv3d(repeat_nearest(y, scale), w, padding=1)
    got = conv_of_nearest_upsampled(y, w, scale)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-12)


@pytest.mark.parametrize(
    "kernel,scale", [((4, 3, 3, 1, 1), (2, 2, 2)), ((4, 3, 3, 3, 3), (2, 1, 2)), ((4, 3, 3, 3, 3), (3, 2, 2))]
)
def test_conv_of_nearest_upsampled_refuses_what_it_does_not_compute(kernel, scale):
    with pytest.raises(ValueError, match="3x3x3 kernel"):
        conv_of_nearest_upsampled(torch.zeros(1, 3, 2, 2, 2), torch.zeros(kernel), scale)


@pytest.mark.parametrize("scale", [(2, 2, 2), (1, 2, 2)])
def test_decoder_export_form_is_the_decoder(scale):
    torch.manual_seed(3)
    up, block = UpProject(6, 4, scale).double(), ConvNormAct(8, 5, max_groups=2).double()
    with torch.no_grad():
        block[1].weight.uniform_(0.5, 2.0)
        block[1].bias.uniform_(-1.0, 1.0)
    coarse = torch.randn(2, 6, 3, 4, 5, dtype=torch.float64)
    skip = torch.randn(2, 4, 3 * scale[0], 8, 10, dtype=torch.float64)
    with torch.no_grad():
        ref = block(torch.cat([up(coarse), skip], 1))
        got = LesionSubnet.decode_split(up, coarse, skip, block)
    assert torch.allclose(got, ref, atol=1e-10)


@pytest.mark.parametrize("groups,channels", [(1, 2), (2, 8), (4, 16)])
def test_group_norm_export_form_is_group_norm(groups, channels):
    torch.manual_seed(1)
    norm = GroupNorm(groups, channels).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1.0, 1.0)
    # Mostly one constant (lung-masked background) with a textured region, as the stem sees a tile.
    x = torch.full((2, channels, 6, 8, 10), 0.7, dtype=torch.float64)
    x[:, :, 2:4, 3:6, 4:9] += torch.randn(2, channels, 2, 3, 5, dtype=torch.float64)
    assert torch.allclose(norm.two_pass(x), norm(x), atol=1e-10)


def _check_shapes(cfg, batch=1):
    torch.manual_seed(0)
    net = DeepSCCovid(cfg).eval()
    p = cfg.preprocess
    stack = torch.rand(batch, 1, p.stack_slices, p.size, p.size)
    tile = torch.rand(batch, 1, p.tile_slices, p.size, p.size)
    with torch.no_grad():
        out = net(stack, tile)
    t, s = p.tile_slices, p.size
    assert out["class_logits"].shape == (batch, 3)
    assert out["lesion_logits"].shape == (batch, 1, t, s, s)
    assert out["evidence"].shape == (batch, 1, t, s, s)
    assert [h.shape for h in out["heads"]] == [
        (batch, 1, t // 8, s // 8, s // 8),
        (batch, 1, t // 4, s // 4, s // 4),
        (batch, 1, t // 2, s // 2, s // 2),
        (batch, 1, t, s, s),
    ]
    k1, k2, k3 = cfg.cls_channels
    assert [c.shape for c in out["cams"]] == [
        (batch, 3, t // 2, s // 2, s // 2),
        (batch, 3, t // 4, s // 4, s // 4),
        (batch, 3, t // 8, s // 8, s // 8),
    ]
    assert [e.shape for e in out["evidence_maps"]] == [h.shape for h in out["heads"][:3]]
    assert float(out["evidence"].min()) >= 0.0 and float(out["evidence"].max()) <= 1.0
    assert all(torch.isfinite(v).all() for v in (out["class_logits"], out["lesion_logits"], out["evidence"]))
    return net, out


def test_light_output_shapes_at_its_real_input_size():
    cfg = get_config("light")
    assert cfg.stack_shape == (1, 1, 32, 128, 128) and cfg.tile_shape == (1, 1, 16, 128, 128)
    _check_shapes(cfg, batch=2)


def test_full_widths_output_shapes_on_a_small_grid():
    _check_shapes(tiny_config("full"))


@pytest.mark.skipif(not SLOW, reason="real-size full forward pass takes ~15 s; DEEPSC_SLOW_TESTS=1")
def test_full_output_shapes_at_its_real_input_size():
    cfg = get_config("full")
    assert cfg.stack_shape == (1, 1, 48, 256, 256) and cfg.tile_shape == (1, 1, 24, 256, 256)
    _check_shapes(cfg)


def test_class_logits_are_exactly_the_lung_weighted_cam_sums_plus_bias(tiny_cfg):
    net, out = _check_shapes(tiny_cfg, batch=2)
    p = tiny_cfg.preprocess
    torch.manual_seed(0)
    stack = torch.rand(2, 1, p.stack_slices, p.size, p.size)
    tile = torch.rand(2, 1, p.tile_slices, p.size, p.size)
    tile[:, :, :, : p.size // 2] = 0  # half the tile outside the lungs
    with torch.no_grad():
        out = net(stack, tile)
        weights = net.classifier.lung_weights(tile, stack)
    recon = net.classifier.fc.bias + sum(c.sum(dim=(2, 3, 4)) / (m.sum(dim=(2, 3, 4)) + 1.0) for c, m in zip(out["cams"], weights))
    assert torch.allclose(recon, out["class_logits"], atol=1e-5)


def test_lung_weights_follow_the_masked_inputs(tiny_cfg):
    net = DeepSCCovid(tiny_cfg)
    p = tiny_cfg.preprocess
    tile = torch.zeros(1, 1, p.tile_slices, p.size, p.size)
    tile[..., : p.size // 2] = 0.3  # lung in the left half of every slice
    stack = torch.zeros(1, 1, p.stack_slices, p.size, p.size)
    m1, m2, m3 = net.classifier.lung_weights(tile, stack)
    assert m1.shape[2:] == (p.tile_slices // 2, p.size // 2, p.size // 2) and m3.shape[2:] == (p.tile_slices // 8, p.size // 8, p.size // 8)
    assert float(m1.mean()) == 0.5 and float(m1[..., : p.size // 4].min()) == 1.0 and float(m1[..., p.size // 4 :].max()) == 0.0
    stack[:, :, :, :, p.size // 2 :] = 0.3
    assert float(net.classifier.lung_weights(tile, stack)[0].min()) == 1.0


def test_fused_lesion_logits_are_the_weighted_heads(tiny_cfg):
    import torch.nn.functional as F

    _, out = _check_shapes(tiny_cfg)
    up = lambda h, f: F.interpolate(h, scale_factor=(f,) * 3, mode="trilinear", align_corners=False)  # noqa: E731
    h8, h4, h2, h1 = out["heads"]
    expected = 0.25 * up(h8, 8.0) + 0.25 * up(h4, 4.0) + 0.5 * up(h2, 2.0) + h1
    assert torch.allclose(expected, out["lesion_logits"], atol=1e-5)


def test_evidence_is_zero_when_no_pneumonia_class_is_probable(tiny_cfg):
    torch.manual_seed(1)
    net = DeepSCCovid(tiny_cfg).eval()
    with torch.no_grad():
        net.classifier.fc.bias.copy_(torch.tensor([-50.0, -50.0, 50.0]))  # non-pneumonia certain
        p = tiny_cfg.preprocess
        out = net(torch.rand(1, 1, p.stack_slices, p.size, p.size), torch.rand(1, 1, p.tile_slices, p.size, p.size))
    assert float(out["evidence"].abs().max()) < 1e-6


def test_cross_stitch_starts_at_alpha_0_8_beta_0_2_and_learns():
    net = DeepSCCovid(tiny_config())
    cs = net.features.cross_stitch
    assert torch.allclose(cs.alpha, torch.full_like(cs.alpha, 0.8))
    assert torch.allclose(cs.beta, torch.full_like(cs.beta, 0.2))
    assert cs.alpha.requires_grad and cs.beta.requires_grad


def test_stack_changes_tile_outputs_global_context(tiny_cfg):
    """The whole-scan stack reaches the tile's outputs (cross-stitch and classifier), not only the tile."""
    torch.manual_seed(2)
    net = DeepSCCovid(tiny_cfg).eval()
    p = tiny_cfg.preprocess
    tile = torch.rand(1, 1, p.tile_slices, p.size, p.size)
    with torch.no_grad():
        a = net(torch.zeros(1, 1, p.stack_slices, p.size, p.size), tile)
        b = net(torch.rand(1, 1, p.stack_slices, p.size, p.size), tile)
    assert not torch.allclose(a["class_logits"], b["class_logits"])
    assert not torch.allclose(a["lesion_logits"], b["lesion_logits"])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(size=30), "multiple of 16"),
        (dict(tile_slices=12), "multiple of 8"),
        (dict(stack_slices=20, tile_slices=8), "multiple of tile_slices"),
        (dict(tile_overlap=16, tile_slices=16), "tile_overlap"),
        (dict(hu_min=100.0, hu_max=0.0), "hu_max"),
    ],
)
def test_invalid_configurations_are_rejected(overrides, message):
    from deepsc.config import PreprocessConfig

    base = dict(size=32, stack_slices=16, tile_slices=8, tile_overlap=4)
    base.update(overrides)
    with pytest.raises(ValueError, match=message):
        get_config("light", preprocess=PreprocessConfig(**base))


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="unknown config"):
        get_config("huge")


def test_classifier_statistics_update_in_training_only_and_are_constants_in_inference(tiny_cfg):
    torch.manual_seed(0)
    net = DeepSCCovid(tiny_cfg)
    p = tiny_cfg.preprocess
    stack = torch.rand(2, 1, p.stack_slices, p.size, p.size)
    tile = torch.rand(2, 1, p.tile_slices, p.size, p.size)
    cls = net.classifier
    mean0, var0 = cls.feature_mean.clone(), cls.feature_var.clone()
    net.eval()
    with torch.no_grad():
        a = net(stack, tile)["class_logits"]
    assert torch.equal(cls.feature_mean, mean0) and torch.equal(cls.feature_var, var0)
    net.train()
    net(stack, tile)
    assert not torch.equal(cls.feature_mean, mean0) and not torch.equal(cls.feature_var, var0)
    net.eval()
    with torch.no_grad():
        b = net(stack, tile)["class_logits"]
    assert not torch.allclose(a, b)  # the statistics are part of the inference function


def test_classifier_reads_the_lesion_output_without_training_it(tiny_cfg):
    """The classifier is fed by the lesion probabilities (detached): its loss leaves the heads alone."""
    torch.manual_seed(0)
    net = DeepSCCovid(tiny_cfg)
    p = tiny_cfg.preprocess
    stack = torch.rand(1, 1, p.stack_slices, p.size, p.size)
    tile = torch.rand(1, 1, p.tile_slices, p.size, p.size)
    out = net(stack, tile)
    out["class_logits"][0, 0].backward()
    assert all(h.weight.grad is None or float(h.weight.grad.abs().sum()) == 0 for h in net.lesion.heads)
    assert float(net.classifier.lesion_conv.weight.grad.abs().sum()) > 0
    # ...but the lesion probabilities do change the class logits.
    with torch.no_grad():
        net.eval()
        base = net(stack, tile)["class_logits"]
        for h in net.lesion.heads:
            h.bias.fill_(8.0)  # lesion everywhere
        assert not torch.allclose(base, net(stack, tile)["class_logits"])
