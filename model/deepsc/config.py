"""Model and preprocessing configuration of DeepSC-COVID, with the two presets `full` and `light`.

Everything the inference side needs to reproduce the model's input is in `PreprocessConfig`; export.py
writes it into model.json, and the TypeScript engine reads it from there (no hidden constants).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

#: Class order of the `class_logits` output. Names are the diagnosis.json vocabulary (DESIGN.md §3).
CLASS_NAMES: tuple[str, ...] = ("covid19", "cap", "non_pneumonia")
#: Phantom / folder-layout class names that map onto CLASS_NAMES.
CLASS_ALIASES: dict[str, str] = {
    "covid": "covid19",
    "covid19": "covid19",
    "covid-19": "covid19",
    "cap": "cap",
    "normal": "non_pneumonia",
    "non_pneumonia": "non_pneumonia",
    "non-pneumonia": "non_pneumonia",
}
#: Classes whose class activation maps count as lesion evidence (non-pneumonia has no lesions).
LESION_CLASSES: tuple[int, ...] = (0, 1)

#: Fusion weights of the segmentation heads, coarse to fine: 1/8, 1/4, 1/2, full resolution.
HEAD_FUSION_WEIGHTS: tuple[float, ...] = (0.25, 0.25, 0.5, 1.0)
#: Weights of the evidence maps (= classifier scales 1/8, 1/4, 1/2) in the task-aware loss and in the
#: fused `evidence` output.
EVIDENCE_WEIGHTS: tuple[float, ...] = (0.25, 0.25, 0.5)


@dataclass(frozen=True)
class PreprocessConfig:
    """How a CT becomes the network's `stack` and `tile` inputs. Steps, in this order:

    1. Reorient the voxel array to the closest canonical axes with x towards the patient's left, y
       posterior, z superior (LPS; axis permutations and flips only, no resampling). Arrays are [z, y, x].
    2. Clip HU to [hu_min, hu_max], scale linearly to [0, 1].
    3. Multiply by the binary lung mask (label > 0), voxel by voxel, on the native grid.
    4a. With z_crop "lung-extent", keep only the native slices from the first to the last that hold lung; the
       positions below start at that first slice. Native slices outside map back as background.
    4. Resample along z to `z_spacing_mm` with linear interpolation (if not None): output slice j sits at
       input index p = j * z_spacing_mm / dz (align-corners: slice 0 stays), output count
       floor((nz - 1) * dz / z_spacing_mm) + 1, neighbours clamped at the last slice.
    5. Resample in-plane to `size` x `size` by area averaging: output pixel i along an axis of n input
       pixels averages input pixels floor(i * n / size) .. ceil((i + 1) * n / size) - 1 (what PyTorch's
       adaptive_avg_pool2d / interpolate(mode="area") compute). Labels are resampled the same way, giving
       fractions.
    6. The whole-scan `stack`: `stack_slices` slices of that volume at indices
       floor(i * (nz' - 1) / (stack_slices - 1) + 0.5), i = 0 .. stack_slices - 1 (nearest, evenly spaced;
       repeats when the scan has fewer slices).
    7. Tiles: `tile_slices` consecutive slices of the same volume, starting every
       tile_slices - tile_overlap slices, the last tile aligned with the last slice; a volume shorter than a
       tile is padded with zeros (= masked background) at the top. The engine blends overlapping tile
       outputs with a Gaussian weight along z (sigma = tile_slices * gaussian_sigma_fraction), never below
       blending_floor of its peak so edge slices only one tile covers still count.
    """

    hu_min: float = -1400.0
    hu_max: float = 200.0
    size: int = 256
    z_spacing_mm: float | None = 2.5
    # Field of view the model grid stands for. Training here area-resizes each scan's whole field of view
    # (every phantom: 360 mm); the TypeScript engine resamples scans to pixels of field_of_view_mm / size
    # (model.json inPlane.spacingMm), so scans with another field of view keep the anatomy's scale.
    # None: the engine resizes the whole field of view too.
    field_of_view_mm: float | None = 360.0
    stack_slices: int = 48
    tile_slices: int = 24
    tile_overlap: int = 12
    gaussian_sigma_fraction: float = 0.125
    blending_floor: float = 1e-3
    lung_masking: bool = True
    # "lung-extent": the model sees only the slices from the first to the last one holding lung (step 4a);
    # "none": the whole scan. Every training phantom's lungs fill its stack, so the model only knows stacks
    # that span the lungs: a scan reaching into the abdomen or neck, or the tall aligned grid of an oblique
    # scan, otherwise feeds it lung-free tiles and a stack it never saw (bench/README.md).
    z_crop: str = "lung-extent"

    def __post_init__(self) -> None:
        if self.z_crop not in ("none", "lung-extent"):
            raise ValueError(f"z_crop must be 'none' or 'lung-extent', got {self.z_crop!r}")

    def to_manifest(self) -> dict:
        """The `preprocessing` block of model.json (camelCase, explicit units and methods)."""
        return {
            "orientation": {
                "axes": "LPS",
                "arrayOrder": "zyx",
                "method": "closest canonical axes: permutations and flips only, no resampling",
            },
            "huWindow": [self.hu_min, self.hu_max],
            "normalization": {
                "method": "clip-then-minmax",
                "formula": "(clip(hu, huMin, huMax) - huMin) / (huMax - huMin)",
                "range": [0.0, 1.0],
            },
            "lungMasking": {
                "enabled": self.lung_masking,
                "when": "after normalization, on the native grid",
                "mask": "lung label > 0 (0 background, 1 right lung, 2 left lung)",
            },
            "zCrop": {
                "method": self.z_crop,
                "definition": "lung-extent: native slices from the first to the last with lung label > 0; slices outside are background (lesion logit -128, evidence 0)",
            },
            "zResampling": {
                "spacingMm": self.z_spacing_mm,
                "method": "linear",
                "positions": "p_j = j * spacingMm / dz (input index units), j = 0 .. floor((nz-1)*dz/spacingMm)",
            },
            "inPlane": {
                "size": [self.size, self.size],
                "method": "area",
                "spacingMm": None if self.field_of_view_mm is None else self.field_of_view_mm / self.size,
                "definition": "out[i] = mean(in[floor(i*n/size) .. ceil((i+1)*n/size)-1]) per axis",
            },
            "stack": {
                "slices": self.stack_slices,
                "sampling": "nearest evenly spaced: index_i = floor(i*(nz-1)/(slices-1) + 0.5)",
            },
            "tile": {
                "slices": self.tile_slices,
                "overlap": self.tile_overlap,
                "stride": self.tile_slices - self.tile_overlap,
                "padValue": 0.0,
                "blending": "gaussian",
                "gaussianSigmaFraction": self.gaussian_sigma_fraction,
                "blendingFloor": self.blending_floor,
            },
        }


@dataclass(frozen=True)
class ModelConfig:
    """Network widths and input sizes. `full` is the paper's size; `light` is for 2-core CPUs."""

    name: str
    #: Output channels of each inception stem (4 branches of stem_channels / 4 channels each).
    stem_channels: int = 32
    #: U-Net encoder widths at 1/2 (the stem's resolution), 1/4, 1/8 and the bottleneck at 1/16 in-plane.
    unet_channels: tuple[int, int, int, int] = (32, 64, 128, 256)
    #: Width of the full-resolution refinement stage that produces the finest head.
    full_res_channels: int = 16
    #: Channels of the 1x1x1 conv applied to the lesion logits before they join the image features.
    lesion_feature_channels: int = 16
    #: Residual block widths of the classification subnet at 1/2, 1/4 and 1/8; pooled and concatenated
    #: they make the classifier's feature vector (64 + 128 + 256 = 448 at full width).
    cls_channels: tuple[int, int, int] = (64, 128, 256)
    #: GroupNorm: at most this many groups, at least 4 channels per group.
    max_groups: int = 8
    in_channels: int = 1
    num_classes: int = 3
    #: Scan-level class from the tiles' probabilities: "mean", or "lesion-weighted" (each tile weighted
    #: by scan_rule_base_ml + its predicted lesion volume in mL, so the tiles that hold the findings
    #: decide; with no lesions anywhere it is the plain mean).
    scan_rule: str = "lesion-weighted"
    scan_rule_base_ml: float = 5.0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def scan_rule_manifest(self) -> dict:
        if self.scan_rule == "mean":
            return {"method": "mean", "formula": "p_scan = mean_t softmax(class_logits_t); class = argmax p_scan"}
        return {
            "method": "lesion-weighted",
            "baseMl": self.scan_rule_base_ml,
            "formula": "p_scan = sum_t w_t softmax(class_logits_t) / sum_t w_t, w_t = baseMl + V_t; class = argmax p_scan",
            "lesionVolume": "V_t = (number of voxels of tile t with lesion_logits > 0, padding excluded) x model-grid voxel volume in mL",
        }

    @property
    def stack_shape(self) -> tuple[int, int, int, int, int]:
        p = self.preprocess
        return (1, self.in_channels, p.stack_slices, p.size, p.size)

    @property
    def tile_shape(self) -> tuple[int, int, int, int, int]:
        p = self.preprocess
        return (1, self.in_channels, p.tile_slices, p.size, p.size)

    @property
    def pooled_features(self) -> int:
        return sum(self.cls_channels)

    def validate(self) -> None:
        """Reject shapes the network cannot take (strides, pooling ratios, group sizes)."""
        p = self.preprocess
        if p.tile_slices % 8 != 0 or p.tile_slices < 8:
            raise ValueError(f"tile_slices must be a positive multiple of 8, got {p.tile_slices}")
        if p.size % 16 != 0:
            raise ValueError(f"size must be a multiple of 16, got {p.size}")
        if p.stack_slices % p.tile_slices != 0:
            raise ValueError("stack_slices must be a multiple of tile_slices (the stack is pooled onto the tile grid)")
        if not 0 <= p.tile_overlap < p.tile_slices:
            raise ValueError("tile_overlap must be in [0, tile_slices)")
        if self.stem_channels % 4 != 0:
            raise ValueError("stem_channels must be divisible by the 4 inception branches")
        if p.hu_max <= p.hu_min:
            raise ValueError("hu_max must exceed hu_min")
        if p.z_spacing_mm is not None and p.z_spacing_mm <= 0:
            raise ValueError("z_spacing_mm must be positive")
        if self.scan_rule not in ("mean", "lesion-weighted") or self.scan_rule_base_ml <= 0:
            raise ValueError("scan_rule must be 'mean' or 'lesion-weighted' with a positive scan_rule_base_ml")

    def to_dict(self) -> dict:
        return asdict(self)


def _full() -> ModelConfig:
    return ModelConfig(name="full")


def _light() -> ModelConfig:
    return ModelConfig(
        name="light",
        stem_channels=8,
        unet_channels=(8, 16, 32, 64),
        full_res_channels=4,
        lesion_feature_channels=4,
        cls_channels=(16, 32, 64),
        preprocess=PreprocessConfig(size=128, stack_slices=32, tile_slices=16, tile_overlap=8),
    )


PRESETS = {"full": _full, "light": _light}


def get_config(name: str, **overrides) -> ModelConfig:
    """A preset by name; keyword overrides replace fields (e.g. a smaller `preprocess` for tests)."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    if overrides:
        cfg = replace(cfg, **overrides)
    cfg.validate()
    return cfg


def config_from_dict(d: dict) -> ModelConfig:
    """Inverse of ModelConfig.to_dict() (checkpoints store the config as plain JSON-able data)."""
    d = dict(d)
    pre = PreprocessConfig(**d.pop("preprocess"))
    for k in ("unet_channels", "cls_channels"):
        d[k] = tuple(d[k])
    cfg = ModelConfig(preprocess=pre, **d)
    cfg.validate()
    return cfg
