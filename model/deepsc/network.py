"""DeepSC-COVID: joint 3D lesion segmentation and COVID-19 / CAP / non-pneumonia classification.

After Wang et al., IEEE TMI 40(9) 2021 (doi 10.1109/TMI.2021.3079709), as summarised in DESIGN.md §4.
No weights or full code of the paper are public; this is a faithful re-implementation of what is known.

Two inputs, three subnets:

* ``stack`` [B, 1, S, H, W] — S evenly spaced axial slices of the whole scan (48 at full size). It is the
  network's view of the *whole* chest: the global context (how many lesions, where, both lungs or one)
  that a scan-level diagnosis needs.
* ``tile`` [B, 1, T, H, W] — T consecutive slices (24 at full size) of the same preprocessed scan, the
  region the network *segments*. The inference engine slides tiles along z and blends their outputs;
  the stack is the same for every tile of a scan.

1. Cross-task feature subnet: one 3D inception stem per input (4 branches, stride 2, GroupNorm), mixed by
   a cross-stitch unit. The two streams do not share a z axis (the stack spans the scan, the tile a part
   of it), so before mixing the stack features are average-pooled along z onto the tile's depth and the
   tile features are repeated along z onto the stack's depth; in-plane both are on the same H x W grid of
   the same scan, so mixing is aligned in-plane. The tile stream (mostly tile, some whole-scan context)
   feeds the lesion subnet; both streams feed the classification subnet.
2. 3D lesion subnet: a U-Net (32/64/128/256 at full width) on the tile stream, with segmentation heads at
   1/8, 1/4, 1/2 and full resolution, upsampled and fused with weights 0.25/0.25/0.5/1 into
   ``lesion_logits`` (full tile resolution; lesion where > 0).
3. Classification subnet, fed by the lesion output: the fused lesion logits (as probabilities, detached,
   pooled to 1/2, through a 1x1x1 conv, scaled by a learnable scalar) concatenated with the image
   features (tile stream and the stack stream pooled onto the tile grid), three residual blocks
   (64/128/256 at 1/2, 1/4, 1/8), lung-weighted global average pooling of all three (64 + 128 + 256 =
   448 features), standardised with running statistics, and a linear layer to 3 classes (covid19, cap,
   non_pneumonia). Why each of these choices: see ClassificationSubnet and ResBlock.

Because the classifier is linear over (lung-weighted, standardised) globally averaged features, the class
logits decompose exactly into class activation maps (CAMs): logit_c = sum_k sum_v CAM_k,c(v) /
(sum_v m_k(v) + 1) + bias_c, with CAM_k,c = m_k * sum_ch W[c, ch_k] * (F_k[ch] - mu) / sd and m_k the
lung share of each voxel at block k's resolution. The lesion evidence map at scale k is the CAM of the pneumonia
classes weighted by their predicted probabilities, E_k = sum_{c in covid19, cap} p_c * CAM_k,c; the
``evidence`` output fuses E at 1/8, 1/4, 1/2 (0.25/0.25/0.5) at full tile resolution, clipped to [0, 1].
The task-aware loss (losses.py) ties E_k to the segmentation at the same scale, and trains.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import EVIDENCE_WEIGHTS, HEAD_FUSION_WEIGHTS, LESION_CLASSES, ModelConfig, config_from_dict


class GroupNorm(nn.GroupNorm):
    """nn.GroupNorm, exported to ONNX in a form whose float32 statistics stay accurate on large groups.

    PyTorch exports GroupNorm as InstanceNormalization over each group flattened, and onnxruntime's CPU
    kernel sums a group's values one after another: on a scan's tiles (a group of the stem holds 2 x 16 x 64
    x 64 = 131 072 values, mostly the same lung-masked background) its mean and variance drift by ~1e-4
    relative, which the network amplifies to 1e-2 on the lesion logits (against PyTorch's own 3e-5 from the
    float64 result; bench/README.md, parity). The export instead averages along W, then H, then the rest
    (each sum at most a few hundred terms) and normalises with the deviations from that mean (two passes).
    The same mathematics: training and PyTorch inference keep the fused kernel; the state dict is unchanged.
    It is also the faster form on the GPU (onnxruntime's CUDA InstanceNormalization: 34 ms against 15 ms per
    full-size tile), and the float16 variant keeps its statistics in float32 (deepsc/mixed_precision.py).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return self.two_pass(x)
        return super().forward(x)

    def two_pass(self, x: torch.Tensor) -> torch.Tensor:
        """The export form: nested means, then the deviations' mean square; x is [B, C, D, H, W]."""
        b, c, d, h, w = x.shape
        g = self.num_groups
        xg = x.reshape(b, g, (c // g) * d, h, w)

        def mean(t: torch.Tensor) -> torch.Tensor:
            return t.mean(dim=4, keepdim=True).mean(dim=3, keepdim=True).mean(dim=2, keepdim=True)

        dev = xg - mean(xg)
        inv_sd = 1.0 / torch.sqrt(mean(dev * dev) + self.eps)  # [b, g, 1, 1, 1]
        # One multiply and one add over the volume: the affine weight folded into the per-group 1/sd.
        per_channel = inv_sd.reshape(b, g, 1).expand(b, g, c // g).reshape(b, c, 1, 1, 1)
        scale = per_channel * self.weight.view(1, c, 1, 1, 1)
        return dev.reshape(b, c, d, h, w) * scale + self.bias.view(1, c, 1, 1, 1)


def group_norm(channels: int, max_groups: int) -> GroupNorm:
    """GroupNorm with the most groups <= max_groups that keep at least 4 channels per group."""
    groups = 1
    for g in range(min(max_groups, max(1, channels // 4)), 0, -1):
        if channels % g == 0:
            groups = g
            break
    return GroupNorm(groups, channels)


def repeat_nearest(x: torch.Tensor, scale: tuple[int, int, int]) -> torch.Tensor:
    """Nearest upsampling of [B, C, D, H, W] by integer factors: each voxel repeated scale[i] times per axis.

    The same values as F.interpolate(mode="nearest") with integer scale factors (and the same gradient),
    written as a broadcast (reshape, expand, reshape) because that exports to ONNX as Expand, which
    onnxruntime's CPU provider runs several times faster than its 5-D nearest Resize (bench/README.md,
    per-tile speed).
    """
    sd, sh, sw = scale
    if sd == sh == sw == 1:
        return x
    b, c, d, h, w = x.shape
    y = x.reshape(b, c, d, 1, h, 1, w, 1).expand(b, c, d, sd, h, sh, w, sw)
    return y.reshape(b, c, d * sd, h * sh, w * sw)


# How the three taps of a 3x3x3 kernel on a grid upsampled by nearest neighbour fall on the coarse grid, per
# axis (factor, output phase) -> [coarse offset, tap]. Factor 2, phase 0 (even fine voxels) reads coarse
# offsets (-1, 0) with taps (-1) and (0, +1); phase 1 (odd) reads (0, +1) with taps (-1, 0) and (+1).
_TAP_FOLD = {
    (1, 0): ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    (2, 0): ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
    (2, 1): ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}


def conv_of_nearest_upsampled(y: torch.Tensor, weight: torch.Tensor, scale: tuple[int, int, int]) -> torch.Tensor:
    """F.conv3d(repeat_nearest(y, scale), weight, padding=1) for a 3x3x3 weight, computed on y's coarse grid.

    Each output phase (even or odd fine voxel per upsampled axis) of a convolution over a nearest-upsampled
    input is a 2-tap convolution of the coarse input along that axis, with the 3 taps folded onto 2
    (sub-pixel convolution). One convolution with every phase's folded weights as extra output channels
    runs on the coarse grid (8x fewer positions for factor 2 in all axes), then the phases are interleaved.
    The same sums in another order; onnxruntime's CPU provider runs it about twice as fast as the convolution
    of the upsampled tensor, whose few channels make its im2col + GEMM memory-bound (bench/README.md,
    per-tile CPU time).
    """
    b, _, n0, n1, n2 = y.shape
    phases = [(p0, p1, p2) for p0 in range(scale[0]) for p1 in range(scale[1]) for p2 in range(scale[2])]
    # Under export, the weight's shape and values are read as constants (the tracer warns about exactly that):
    # the folded weights are computed outside the traced graph, so they export as one constant initializer
    # (traced arithmetic on the parameters would leave the kernel's shape unknown to the ONNX exporter).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        if tuple(weight.shape[2:]) != (3, 3, 3) or scale[0] not in (1, 2) or tuple(scale[1:]) != (2, 2):
            raise ValueError("conv_of_nearest_upsampled takes a 3x3x3 kernel, factor 2 in plane and 1 or 2 in z")
        out = weight.shape[0]
        w = weight.detach().cpu().double().numpy()
        folded = np.concatenate(
            [
                np.einsum("ai,bj,ck,ouijk->ouabc", *(np.array(_TAP_FOLD[(s, p)]) for s, p in zip(scale, phase)), w)
                for phase in phases
            ]
        )
        kernel = torch.from_numpy(folded).to(dtype=weight.dtype, device=weight.device)
    # Padding 1: an upsampled axis gives n + 1 outputs (phase p is outputs p .. p + n - 1), the others n.
    z = F.conv3d(y, kernel, padding=1)
    parts = [
        z[:, i * out : (i + 1) * out, p0 : p0 + n0, p1 : p1 + n1, p2 : p2 + n2]
        for i, (p0, p1, p2) in enumerate(phases)
    ]
    # Interleave: stacked as [b, out, n0, (p0, p1, p2), n1, n2], the in-plane phases are a pixel shuffle
    # (ONNX DepthToSpace) of channels (out, n0, p0, p1, p2), and (n0, p0) is the fine z index.
    fine = F.pixel_shuffle(torch.stack(parts, 3).reshape(b, out * n0 * len(phases), n1, n2), 2)
    return fine.reshape(b, out, n0 * scale[0], n1 * 2, n2 * 2)


class ConvNormAct(nn.Sequential):
    def __init__(self, cin: int, cout: int, max_groups: int, kernel=3, stride=1):
        k = (kernel,) * 3 if isinstance(kernel, int) else kernel
        pad = tuple(x // 2 for x in k)
        super().__init__(
            nn.Conv3d(cin, cout, k, stride=stride, padding=pad, bias=False),
            group_norm(cout, max_groups),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, max_groups: int):
        super().__init__(ConvNormAct(cin, cout, max_groups), ConvNormAct(cout, cout, max_groups))


class InceptionStem(nn.Module):
    """3D inception stem: four parallel branches, each halving D, H and W, concatenated, then normalised.

    Branches (out/4 channels each): 1x1x1 conv; 3x3x3 conv; two 3x3x3 convs (a factorised 5x5x5);
    3x3x3 max pooling then a 1x1x1 conv. The concatenation is group-normalised and rectified.
    """

    def __init__(self, cin: int, cout: int, max_groups: int):
        super().__init__()
        b = cout // 4
        self.b1 = nn.Conv3d(cin, b, 1, stride=2, bias=False)
        self.b2 = nn.Conv3d(cin, b, 3, stride=2, padding=1, bias=False)
        self.b3 = nn.Sequential(ConvNormAct(cin, b, max_groups), nn.Conv3d(b, b, 3, stride=2, padding=1, bias=False))
        self.b4 = nn.Sequential(nn.MaxPool3d(3, stride=2, padding=1), nn.Conv3d(cin, b, 1, bias=False))
        self.norm = nn.Sequential(group_norm(cout, max_groups), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)
        return self.norm(y)


class CrossStitch(nn.Module):
    """Cross-stitch unit (Misra et al. 2016) between the tile stream and the whole-scan stack stream.

    Per channel: tile' = a_tt * tile + a_ts * P(stack), stack' = a_ss * stack + a_st * U(tile), where P
    average-pools the stack's z onto the tile's depth and U repeats the tile's z onto the stack's depth.
    Initialised with self weights 0.8 and cross weights 0.2 (the paper's alpha/beta); all four learn.
    """

    def __init__(self, channels: int, ratio: int, alpha: float = 0.8, beta: float = 0.2):
        super().__init__()
        self.ratio = ratio
        self.alpha = nn.Parameter(torch.full((2, channels), alpha))  # [tile self, stack self]
        self.beta = nn.Parameter(torch.full((2, channels), beta))  # [stack -> tile, tile -> stack]

    def stack_to_tile(self, s: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(s, kernel_size=(self.ratio, 1, 1)) if self.ratio > 1 else s

    def tile_to_stack(self, t: torch.Tensor) -> torch.Tensor:
        return repeat_nearest(t, (self.ratio, 1, 1))

    def forward(self, t: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        def w(v: torch.Tensor) -> torch.Tensor:
            return v.view(1, -1, 1, 1, 1)

        t2 = w(self.alpha[0]) * t + w(self.beta[0]) * self.stack_to_tile(s)
        s2 = w(self.alpha[1]) * s + w(self.beta[1]) * self.tile_to_stack(t)
        return t2, s2


class CrossTaskFeatureSubnet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        p = cfg.preprocess
        self.stack_stem = InceptionStem(cfg.in_channels, cfg.stem_channels, cfg.max_groups)
        self.tile_stem = InceptionStem(cfg.in_channels, cfg.stem_channels, cfg.max_groups)
        self.cross_stitch = CrossStitch(cfg.stem_channels, p.stack_slices // p.tile_slices)

    def forward(self, stack: torch.Tensor, tile: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (tile stream [B,C,T/2,H/2,W/2], stack stream [B,C,S/2,H/2,W/2])."""
        return self.cross_stitch(self.tile_stem(tile), self.stack_stem(stack))


#: Upsampling factors of the heads and evidence maps at 1/8, 1/4, 1/2 (and full) resolution.
SCALE_FACTORS: tuple[int, ...] = (8, 4, 2, 1)


def _upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Trilinear upsampling by an integer factor (half-pixel centres: ONNX Resize linear, half_pixel)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=(float(factor),) * 3, mode="trilinear", align_corners=False)


class UpProject(nn.Module):
    """1x1x1 conv to the skip's width at the coarse resolution, then nearest upsampling by `scale`."""

    def __init__(self, cin: int, cout: int, scale: tuple[int, int, int]):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 1)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return repeat_nearest(self.conv(x), self.scale)


class LesionSubnet(nn.Module):
    """3D U-Net (32/64/128/256 at full width) on the tile stream, with four segmentation heads.

    Level 0 is the cross-stitched tile stream itself (the stem's 32 channels at 1/2 resolution); the
    encoder continues at 1/4 and 1/8, and the 256-channel bottleneck is pooled in-plane only (tiles are
    shallow in z: 24 slices are 3 at 1/8). Each decoder level upsamples (1x1x1 conv + nearest), concatenates
    the skip and applies one 3x3x3 conv. A full-resolution stage then upsamples the 1/2 features and
    combines them with features of the raw tile, so boundaries are drawn at the input's resolution.
    Heads: 1x1x1 convs to one lesion logit per voxel at 1/8, 1/4, 1/2 and full resolution.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        g = cfg.max_groups
        c0, c1, c2, c3 = cfg.unet_channels
        if c0 != cfg.stem_channels:
            raise ValueError("unet_channels[0] must equal stem_channels: the tile stream is the U-Net's level 0")
        f = cfg.full_res_channels
        self.enc1 = DoubleConv(c0, c1, g)
        self.enc2 = DoubleConv(c1, c2, g)
        self.bottleneck = DoubleConv(c2, c3, g)
        self.up2 = UpProject(c3, c2, (1, 2, 2))
        self.dec2 = ConvNormAct(2 * c2, c2, g)
        self.up1 = UpProject(c2, c1, (2, 2, 2))
        self.dec1 = ConvNormAct(2 * c1, c1, g)
        self.up0 = UpProject(c1, c0, (2, 2, 2))
        self.dec0 = ConvNormAct(2 * c0, c0, g)
        self.up_full = UpProject(c0, f, (2, 2, 2))
        self.raw = ConvNormAct(cfg.in_channels, f, g)
        self.dec_full = ConvNormAct(2 * f, f, g)
        self.heads = nn.ModuleList([nn.Conv3d(c, 1, 1) for c in (c2, c1, c0, f)])
        # Lesions are a few % of a tile: start every head at a prior of ~2 % lesion (the fused logits, a
        # weighted sum of the heads, start near -8) instead of 50 %, so training does not first spend
        # its steps learning that most voxels are background (Lin et al. 2017's prior initialisation).
        for h in self.heads:
            nn.init.constant_(h.bias, -4.0)

    def forward(self, feats: torch.Tensor, tile: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns (fused logits at full tile resolution, [head 1/8, 1/4, 1/2, full])."""
        e0 = feats
        e1 = self.enc1(F.max_pool3d(e0, 2))
        e2 = self.enc2(F.max_pool3d(e1, 2))
        b = self.bottleneck(F.max_pool3d(e2, (1, 2, 2)))
        d2 = self.decode(self.up2, b, e2, self.dec2)
        d1 = self.decode(self.up1, d2, e1, self.dec1)
        d0 = self.decode(self.up0, d1, e0, self.dec0)
        df = self.decode(self.up_full, d0, self.raw(tile), self.dec_full)
        heads = [h(x) for h, x in zip(self.heads, (d2, d1, d0, df))]
        fused = sum(w * _upsample(h, f) for w, h, f in zip(HEAD_FUSION_WEIGHTS, heads, SCALE_FACTORS))
        return fused, heads

    @staticmethod
    def decode(up: UpProject, coarse: torch.Tensor, skip: torch.Tensor, block: ConvNormAct) -> torch.Tensor:
        """block(cat([up(coarse), skip])): one decoder level.

        Exported with the convolution split over the concatenation, and its upsampled half computed on the
        coarse grid (conv_of_nearest_upsampled): the same mathematics, less work for onnxruntime (the
        light tile 12-16 % faster on the CPU, model 0.3.4). Training and PyTorch inference keep the plain
        form; the state dict is unchanged.
        """
        if not torch.onnx.is_in_onnx_export():
            return block(torch.cat([up(coarse), skip], 1))
        return LesionSubnet.decode_split(up, coarse, skip, block)

    @staticmethod
    def decode_split(up: UpProject, coarse: torch.Tensor, skip: torch.Tensor, block: ConvNormAct) -> torch.Tensor:
        """decode's export form (the weights are read as constants: for export and tests, not training)."""
        conv, norm, act = block
        plain = (
            conv.kernel_size == (3, 3, 3)
            and conv.stride == (1, 1, 1)
            and conv.padding == (1, 1, 1)
            and conv.dilation == (1, 1, 1)
            and conv.groups == 1
            and conv.padding_mode == "zeros"
        )
        if not plain or conv.bias is not None:
            raise ValueError("decode's export form takes a plain 3x3x3, stride 1, zero-padded convolution without bias")
        y = up.conv(coarse)
        c = up.conv.out_channels
        # Sliced outside the trace (like the folded weights): a traced slice of a parameter leaves the
        # kernel's shape unknown to the exporter.
        w = conv.weight.detach()
        mixed = conv_of_nearest_upsampled(y, w[:, :c], up.scale) + F.conv3d(skip, w[:, c:].clone(), padding=1)
        return act(norm(mixed))


class ResBlock(nn.Module):
    """conv-GN-ReLU-conv plus a (1x1x1 conv) shortcut; the sum is NOT normalised.

    The classifier pools these outputs globally. A GroupNorm at the end of a block would fix each
    group's spatial mean and variance per sample, and global pooling would then lose exactly what the
    class depends on (how much of the tile is lesion); left unnormalised, the pooled features keep it.
    The next block's GroupNorm (after its first conv) normalises as usual.
    """

    def __init__(self, cin: int, cout: int, stride: int, max_groups: int):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm1 = group_norm(cout, max_groups)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv3d(cin, cout, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return self.conv2(y) + self.shortcut(x)


class ClassificationSubnet(nn.Module):
    """Residual classifier over [lesion features, tile stream, stack stream on the tile grid].

    Pooling is a lung-weighted global average: pooled_k = sum_v m_k(v) F_k(v) / (sum_v m_k(v) + 1), where
    m_k is the share of lung in each voxel at that block's resolution, read off the (lung-masked) inputs
    (> 0 inside the lungs; the tile's and the pooled stack's occupancy, whichever is larger). Lesions are
    a few % of the lungs but well under 1 % of a tile: averaging over the lungs rather than the whole box
    keeps their signal from being diluted by the masked background, and a tile without lung contributes
    only the bias. Returns the logits and the class activation maps cam_k = m_k * W_k (F_k - mu_k) / sd_k
    per block (mu, sd: running statistics of the pooled features), so that
    logits = sum_k sum_v cam_k / (sum_v m_k + 1) + bias exactly, and a voxel that looks like an average
    one carries no evidence.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        g = cfg.max_groups
        p = cfg.preprocess
        self.ratio = p.stack_slices // p.tile_slices
        self.lesion_conv = nn.Conv3d(1, cfg.lesion_feature_channels, 1)
        #: Learnable weight of the lesion evidence against the image features. It starts at 10: lesions
        #: fill a few % of the lungs, so their pooled share is ~0.01-0.3, and at weight 1 the classifier
        #: would need weights of ~100 (thousands of optimiser steps) to move a logit by O(1).
        self.lesion_scale = nn.Parameter(torch.tensor(10.0))
        cin = cfg.lesion_feature_channels + 2 * cfg.stem_channels
        k1, k2, k3 = cfg.cls_channels
        self.blocks = nn.ModuleList([ResBlock(cin, k1, 1, g), ResBlock(k1, k2, 2, g), ResBlock(k2, k3, 2, g)])
        self.fc = nn.Linear(cfg.pooled_features, cfg.num_classes)
        # Running mean and variance of the pooled features; the linear layer sees them standardised,
        # (v - mu) / sqrt(var + eps). Like a BatchNorm that uses its running statistics in training too
        # (tiles come two at a time: batch statistics would be noise). It removes the large
        # sample-independent part of the pooled features, which otherwise dominates the classifier's
        # gradient (Adam then swings every sample's logits together and never separates the classes),
        # and puts a lesion share of a few % on the same scale as everything else. In inference the
        # statistics are constants (exported as such). Updated in training mode only.
        self.register_buffer("feature_mean", torch.zeros(cfg.pooled_features))
        self.register_buffer("feature_var", torch.ones(cfg.pooled_features))
        self.feature_momentum = 0.02
        self.feature_eps = 1e-4

    def lung_weights(self, tile: torch.Tensor, stack: torch.Tensor) -> list[torch.Tensor]:
        """Lung occupancy at 1/2, 1/4, 1/8 of the tile grid, from the inputs (> 0 is lung)."""
        occ_tile = F.avg_pool3d((tile > 0).to(tile.dtype), 2)
        occ_stack = F.avg_pool3d((stack > 0).to(stack.dtype), (2 * self.ratio, 2, 2))
        m = torch.maximum(occ_tile, occ_stack)
        return [m, F.avg_pool3d(m, 2), F.avg_pool3d(m, 4)]

    def forward(
        self,
        lesion_logits: torch.Tensor,
        tile_feats: torch.Tensor,
        stack_feats: torch.Tensor,
        tile: torch.Tensor,
        stack: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        # Probabilities, not raw logits: the background's large negative logits would otherwise dominate
        # the pooled features; sigmoid maps background to 0 and lesions to 1. Detached: the segmentation is
        # trained by its own dense loss, and the classifier's one-label-per-tile gradient, noisy early in
        # training, would otherwise drive the lesion logits to "no lesion anywhere".
        prob = torch.sigmoid(lesion_logits.detach())
        lesion = self.lesion_scale * self.lesion_conv(F.avg_pool3d(prob, 2))
        stack_on_tile = F.avg_pool3d(stack_feats, (self.ratio, 1, 1)) if self.ratio > 1 else stack_feats
        x = torch.cat([lesion, tile_feats, stack_on_tile], 1)
        feats = []
        weights = self.lung_weights(tile, stack)
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        if self.training:
            with torch.no_grad():
                pooled = torch.cat([(f * m).sum(dim=(2, 3, 4)) / (m.sum(dim=(2, 3, 4)) + 1.0) for f, m in zip(feats, weights)], 1)
                self.feature_mean.lerp_(pooled.mean(0), self.feature_momentum)
                self.feature_var.lerp_(((pooled - self.feature_mean) ** 2).mean(0), self.feature_momentum)
        cams = []
        logits = self.fc.bias.unsqueeze(0)
        start = 0
        for f, m in zip(feats, weights):
            c = f.shape[1]
            w = self.fc.weight[:, start : start + c]
            mu = self.feature_mean[start : start + c].view(1, c, 1, 1, 1)
            inv_sd = torch.rsqrt(self.feature_var[start : start + c] + self.feature_eps).view(1, c, 1, 1, 1)
            cam = m * F.conv3d((f - mu) * inv_sd, w.reshape(w.shape[0], c, 1, 1, 1))
            cams.append(cam)
            logits = logits + cam.sum(dim=(2, 3, 4)) / (m.sum(dim=(2, 3, 4)) + 1.0)
            start += c
        return logits, cams


class DeepSCCovid(nn.Module):
    """The whole network. forward() returns a dict; `InferenceGraph` wraps it for ONNX export.

    Keys: class_logits [B,3]; lesion_logits [B,1,T,H,W] (fused); evidence [B,1,T,H,W] in [0,1];
    heads (segmentation logits at 1/8, 1/4, 1/2, full); cams (class activation maps at 1/2, 1/4, 1/8,
    classifier block order); evidence_maps (E_k at 1/8, 1/4, 1/2, matching heads[:3]).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.features = CrossTaskFeatureSubnet(cfg)
        self.lesion = LesionSubnet(cfg)
        self.classifier = ClassificationSubnet(cfg)

    @staticmethod
    def evidence_from_cams(cams: list[torch.Tensor], weights: torch.Tensor) -> list[torch.Tensor]:
        """E_k = sum over lesion classes c of weights[:, c] * CAM_k,c, coarse to fine (1/8, 1/4, 1/2)."""
        maps = []
        for cam in reversed(cams):
            e = sum(weights[:, c].view(-1, 1, 1, 1, 1) * cam[:, c : c + 1] for c in LESION_CLASSES)
            maps.append(e)
        return maps

    def forward(self, stack: torch.Tensor, tile: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        tile_feats, stack_feats = self.features(stack, tile)
        lesion_logits, heads = self.lesion(tile_feats, tile)
        class_logits, cams = self.classifier(lesion_logits, tile_feats, stack_feats, tile, stack)
        probs = torch.softmax(class_logits, dim=1)
        maps = self.evidence_from_cams(cams, probs)
        evidence = sum(w * _upsample(e, f) for w, e, f in zip(EVIDENCE_WEIGHTS, maps, SCALE_FACTORS))
        return {
            "class_logits": class_logits,
            "lesion_logits": lesion_logits,
            "evidence": torch.clamp(evidence, 0.0, 1.0),
            "heads": heads,
            "cams": cams,
            "evidence_maps": maps,
        }


class InferenceGraph(nn.Module):
    """The exported graph: (stack, tile) -> (class_logits, lesion_logits, evidence)."""

    def __init__(self, net: DeepSCCovid):
        super().__init__()
        self.net = net

    def forward(self, stack: torch.Tensor, tile: torch.Tensor):
        out = self.net(stack, tile)
        return out["class_logits"], out["lesion_logits"], out["evidence"]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_checkpoint(path) -> tuple[DeepSCCovid, ModelConfig, dict]:
    """A train.py checkpoint as a network in evaluation mode, its configuration, and the checkpoint itself
    (its `training` record, for the scripts that carry it on)."""
    # Our own checkpoints carry their config and training record as plain Python objects, which PyTorch >= 2.6's
    # default weights_only=True loader refuses (the GPU machine's PyTorch is newer than Debian's 1.13).
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    cfg = config_from_dict(ckpt["config"])
    net = DeepSCCovid(cfg)
    net.load_state_dict(ckpt["state_dict"])
    return net.eval(), cfg, ckpt
