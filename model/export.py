#!/usr/bin/env python3
"""Export DeepSC-COVID to ONNX with its model.json manifest and a parity fixture.

    /usr/bin/python3 model/export.py --checkpoint RUN/deepsc-light.pt --out gpu-job/models [--fp16]
    /usr/bin/python3 model/export.py --config full --random-init --out /tmp/full   # untrained, for timing

Writes, under --out:
  deepsc-<config>.onnx        opset 17, inputs stack [N,1,S,H,W] and tile [N,1,T,H,W] float32 (N dynamic,
                              the same for both), outputs class_logits [N,3], lesion_logits [N,1,T,H,W],
                              evidence [N,1,T,H,W]
  deepsc-<config>-fp16.onnx   with --fp16: mixed precision for GPUs (float16 convolutions and activations,
                              float32 statistics: deepsc/mixed_precision.py); inputs and outputs stay float32
                              (Cast nodes at the graph's edges), so the engine code is the same
  model.json                  the manifest the inference engine reads (no hidden constants)
  parity-<config>.json        fixed inputs (generated from a formula, no binary blobs) and PyTorch's outputs,
                              for the onnxruntime-node parity test (<= 1e-4 on the logits)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import inspect
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepsc.runtime import configure_cpu_env, threads_from_argv  # noqa: E402

from deepsc.config import CLASS_NAMES, EVIDENCE_WEIGHTS, HEAD_FUSION_WEIGHTS, ModelConfig, get_config  # noqa: E402
from deepsc.fixture import hash_tensor  # noqa: E402
from deepsc.mixed_precision import convert as convert_to_mixed_precision  # noqa: E402
from deepsc.network import DeepSCCovid, InferenceGraph, count_parameters, load_checkpoint  # noqa: E402

OPSET = 17
MODEL_NAME = "deepsc-covid"
LICENSE = "Apache-2.0"
REFERENCE = "Wang et al., Joint learning of 3D lesion segmentation and classification for explainable COVID-19 diagnosis, IEEE TMI 40(9) 2021, doi:10.1109/TMI.2021.3079709"
PARITY_STRIDE = 61
PARITY_TOLERANCE = 1e-4


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def field_of_view_problem(field_of_view_mm: float | None, training: dict | None) -> str | None:
    """Why model.json must not promise the engine a fixed model pixel, or None.

    Training area-resizes each scan's whole field of view to the model's size (deepsc/preprocess.py), so a fixed
    pixel of field_of_view_mm / size matches training only when every training scan had that field of view
    (every phantom: 360 mm). Records that predate fieldOfViewMm were phantom runs at 360 mm.
    """
    # Every stage counts: fine-tuning on 360 mm phantoms does not undo real scans seen before.
    stages, record = [], training
    while record:
        fov = (record.get("data") or {}).get("fieldOfViewMm")
        if fov is not None:
            stages.append(fov)
        record = (record.get("initialisedFrom") or {}).get("training")
    if field_of_view_mm is None or not stages:
        return None
    fov = {"min": min(f["min"] for f in stages), "max": max(f["max"] for f in stages)}
    if fov["min"] >= field_of_view_mm * 0.99 and fov["max"] <= field_of_view_mm * 1.01:
        return None
    return (
        f"the training scans' fields of view ran from {fov['min']:.0f} to {fov['max']:.0f} mm, but model.json would "
        f"tell the engine to see every scan at the pixel of a {field_of_view_mm:.0f} mm field of view: training saw "
        "each scan's whole field of view resized, so the engine would show the model another scale. Export with "
        "--whole-field-of-view, or train on scans resampled to that field of view"
    )


def load_network(args) -> tuple[DeepSCCovid, ModelConfig, dict | None]:
    if args.checkpoint:
        net, cfg, ckpt = load_checkpoint(args.checkpoint)
        return net, cfg, ckpt.get("training")
    if not args.random_init:
        raise SystemExit("give --checkpoint, or --config with --random-init for an untrained model")
    torch.manual_seed(args.seed)
    cfg = get_config(args.config)
    return DeepSCCovid(cfg).eval(), cfg, None


def hash_input(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Deterministic inputs in [0, 1] that TypeScript reproduces exactly (deepsc/fixture.py)."""
    return hash_tensor(shape, seed).numpy()


def export_onnx(net: DeepSCCovid, cfg: ModelConfig, path: Path) -> None:
    graph = InferenceGraph(net).eval()
    stack = torch.zeros(cfg.stack_shape)
    tile = torch.zeros(cfg.tile_shape)
    batch = {0: "batch"}
    # The TorchScript-based exporter: the export forms in network.py (GroupNorm.two_pass, LesionSubnet.decode)
    # rely on tracing, and PyTorch >= 2.9 would otherwise pick its dynamo exporter (1.13 has only this one).
    tracing = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(
            graph,
            (stack, tile),
            str(path),
            opset_version=OPSET,
            input_names=["stack", "tile"],
            output_names=["class_logits", "lesion_logits", "evidence"],
            dynamic_axes={"stack": batch, "tile": batch, "class_logits": batch, "lesion_logits": batch, "evidence": batch},
            do_constant_folding=True,
            **tracing,
        )
    model = onnx.load(str(path))
    # The exporter's shape inference loses the static dims after Clip; state every output's shape.
    p = cfg.preprocess
    shapes = {
        "class_logits": ["batch", cfg.num_classes],
        "lesion_logits": ["batch", 1, p.tile_slices, p.size, p.size],
        "evidence": ["batch", 1, p.tile_slices, p.size, p.size],
    }
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        for d, v in zip(dims, shapes[out.name]):
            if isinstance(v, str):
                d.dim_param = v
            else:
                d.dim_value = v
    model.producer_name = MODEL_NAME
    model.doc_string = "DeepSC-COVID (synthetic-phantom weights unless model.json says otherwise); not for clinical use"
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def parity_fixture(net: DeepSCCovid, cfg: ModelConfig, onnx_file: str, onnx_sha: str, seed: int) -> dict:
    stack = hash_input(cfg.stack_shape, seed)
    tile = hash_input(cfg.tile_shape, seed + 1)
    with torch.no_grad():
        cl, ll, ev = InferenceGraph(net)(torch.from_numpy(stack), torch.from_numpy(tile))

    def summary(t: torch.Tensor) -> dict:
        a = t.numpy().astype(np.float64).ravel()
        idx = np.arange(0, a.size, PARITY_STRIDE)
        return {
            "shape": list(t.shape),
            "sum": float(a.sum()),
            "sumAbs": float(np.abs(a).sum()),
            "min": float(a.min()),
            "max": float(a.max()),
            "sampleStride": PARITY_STRIDE,
            "samples": [float(np.float32(v)) for v in a[idx]],
        }

    return {
        "schemaVersion": 1,
        "model": onnx_file,
        "sha256": onnx_sha,
        "generator": {
            "name": "u32hash",
            "formula": "x[i] = ((i * 2654435761 + seed) mod 2^32) / 2^32, as float32; i = flat C-order index",
            "inputs": {"stack": {"seed": seed, "shape": list(cfg.stack_shape)}, "tile": {"seed": seed + 1, "shape": list(cfg.tile_shape)}},
        },
        # |ort - torch| <= abs + rel * |torch|: the 1e-4 outright on every output. Measured with
        # onnxruntime-node 1.30 CPU and the light model: class logits 2.4e-7, lesion logits 1.5e-5 (|logit|
        # up to 46) on these noise inputs; before network.GroupNorm's export form, 3.1e-5 and 1.8e-4.
        "tolerance": {
            "class_logits": {"abs": PARITY_TOLERANCE, "rel": 0.0},
            "lesion_logits": {"abs": PARITY_TOLERANCE, "rel": 0.0},
            "evidence": {"abs": PARITY_TOLERANCE, "rel": 0.0},
        },
        "outputs": {
            "class_logits": {"shape": list(cl.shape), "values": [float(v) for v in cl.numpy().ravel()]},
            "lesion_logits": summary(ll),
            "evidence": summary(ev),
        },
        "producedWith": {"torch": torch.__version__, "numpy": np.__version__},
    }


def io_spec(cfg: ModelConfig) -> tuple[list[dict], list[dict]]:
    p = cfg.preprocess
    tile_out = [1, 1, p.tile_slices, p.size, p.size]
    inputs = [
        {
            "name": "stack",
            "shape": list(cfg.stack_shape),
            "dtype": "float32",
            "dynamicAxes": {"0": "batch"},
            "description": f"{p.stack_slices} evenly spaced slices of the whole preprocessed scan (global context); the same for every tile of a scan",
        },
        {
            "name": "tile",
            "shape": list(cfg.tile_shape),
            "dtype": "float32",
            "dynamicAxes": {"0": "batch"},
            "description": f"{p.tile_slices} consecutive slices of the preprocessed scan; the region segmented",
        },
    ]
    outputs = [
        {
            "name": "class_logits",
            "shape": [1, len(CLASS_NAMES)],
            "dtype": "float32",
            "dynamicAxes": {"0": "batch"},
            "description": "per-tile class logits in `classes` order; softmax gives probabilities",
        },
        {
            "name": "lesion_logits",
            "shape": tile_out,
            "dtype": "float32",
            "dynamicAxes": {"0": "batch"},
            "description": f"fused segmentation logits (heads 1/8, 1/4, 1/2, full weighted {list(HEAD_FUSION_WEIGHTS)}); lesion where > 0",
        },
        {
            "name": "evidence",
            "shape": tile_out,
            "dtype": "float32",
            "dynamicAxes": {"0": "batch"},
            "description": f"lesion evidence in [0, 1]: class activation maps of covid19 and cap weighted by their probabilities, scales 1/8, 1/4, 1/2 fused {list(EVIDENCE_WEIGHTS)}",
        },
    ]
    return inputs, outputs


# The engine's lungScale rule (gpu-job/pipeline/preprocess/lung-scale.ts): the model pixel follows the
# patient's size from this ratio to the training bodies' lung spread, clamped to LUNG_SCALE_RANGE, and stays
# put while within LUNG_SCALE_TOLERANCE of 1. LUNG_SCALE_CHECKED is what bench/scan-kinds.ts checked: bodies
# scaled 0.7 and 1.4 right in every class once resampled; at 0.6 (a child's chest) the normal phantom only
# just (non-pneumonia 0.67, 3.3 mL of false lesion), so beyond it the engine resamples all the same (better
# than stopping at 0.7, where that normal was called COVID-19 0.90) and warns LUNG_SIZE_OUT_OF_RANGE.
# The checked range reaches 1 % past 0.7 and 1.4: the spread follows the body's scale within 0.2 %, and the
# 0.7 body itself read 0.6993 on one axis.
LUNG_SCALE_RANGE = [0.5, 1.5]
LUNG_SCALE_CHECKED = [0.69, 1.41]
LUNG_SCALE_TOLERANCE = 0.05


def preprocessing_manifest(cfg: ModelConfig, args) -> dict:
    """cfg's preprocessing block, with the engine's lungScale rule when --lung-spread-mm names the training bodies'."""
    p = cfg.preprocess.to_manifest()
    if args.lung_spread_mm is not None:
        p["inPlane"]["lungScale"] = {
            "referenceSpreadMm": list(args.lung_spread_mm),
            "range": LUNG_SCALE_RANGE,
            "checkedRange": LUNG_SCALE_CHECKED,
            "tolerance": LUNG_SCALE_TOLERANCE,
            "definition": "model pixel along x (y) = spacingMm * clamp(spread_x (y) / referenceSpreadMm[0 (1)], range), "
            "1 while within tolerance of 1; spread = standard deviations of the lung voxels' LPS (x, y) along their "
            "in-plane principal axes, the larger first; only for both lungs whole in plane; the analysis warns "
            "LUNG_SIZE_OUT_OF_RANGE for ratios beyond checkedRange",
        }
    return p


# What model.json's `envelope` holds (gpu-job/pipeline/model/model-manifest.ts): where the model's answers were
# checked to hold, from benchmarks run on this model; the engine warns beyond it.
ENVELOPE_FIELDS = ("trainingFieldOfViewMm", "narrowestFieldOfViewMm", "rollCheckedDeg", "rollWarningDeg", "thickSliceRatio")


def read_envelope(path: str) -> dict:
    """An --envelope file: the five figures (numbers) and an optional `checkedOn` naming where they come from."""
    e = json.loads(Path(path).read_text())
    missing = [k for k in ENVELOPE_FIELDS if not isinstance(e.get(k), (int, float)) or isinstance(e.get(k), bool)]
    if missing:
        raise ValueError(f"{path}: needs numbers for {', '.join(missing)}")
    if e["rollWarningDeg"] < e["rollCheckedDeg"] or e["thickSliceRatio"] < 1:
        raise ValueError(f"{path}: rollWarningDeg must be at least rollCheckedDeg, thickSliceRatio at least 1")
    unknown = set(e) - set(ENVELOPE_FIELDS) - {"checkedOn"}
    if unknown:
        raise ValueError(f"{path}: unknown fields {', '.join(sorted(unknown))}")
    return e


def manifest(cfg: ModelConfig, net: DeepSCCovid, onnx_path: Path, training: dict | None, args, fp16: Path | None, parity: str) -> dict:
    inputs, outputs = io_spec(cfg)
    synthetic = True if training is None else bool(training.get("synthetic", False))
    train_block: dict
    if training is None:
        train_block = {"trained": False, "synthetic": True, "note": "random initialisation (seed recorded); for timing only"}
        train_block["seed"] = args.seed
    else:
        train_block = {
            "trained": True,
            "synthetic": synthetic,
            "dataSource": training.get("dataSource", ""),
            "seed": training["seed"],
            "data": {k: v for k, v in training["data"].items() if k != "caseIds"},
            "epochs": training["epochs"],
            "iterations": training["iterations"],
            "batch": training["batch"],
            "trainingSeconds": training["trainingSeconds"],
            "threads": training["threads"],
            # Earlier records predate the field: they all ran on the CPU.
            "device": training.get("device", "cpu"),
            "loss": training["loss"],
            # Oblique, cut and thick-slice views (deepsc/augment.py); absent in records that predate it.
            "geometricAugmentation": training.get("geometricAugmentation"),
            "finalEpoch": training["history"][-1] if training["history"] else None,
            "metrics": training.get("validation"),
        }
        # A fine-tuned model lists the runs it started from, oldest first.
        stages = []
        prev = training.get("initialisedFrom")
        while prev is not None:
            t = prev["training"]
            stages.insert(0, {
                "checkpoint": prev["checkpoint"],
                "seed": t.get("seed"),
                "data": {k: v for k, v in t.get("data", {}).items() if k != "caseIds"},
                "epochs": t.get("epochs"),
                "iterations": t.get("iterations"),
                "optimizer": t.get("optimizer"),
                "trainingSeconds": t.get("trainingSeconds"),
                "device": t.get("device", "cpu"),
                "geometricAugmentation": t.get("geometricAugmentation"),
                "validationSummary": (t.get("validation") or {}).get("summary"),
            })
            prev = t.get("initialisedFrom")
        if stages:
            train_block["previousStages"] = stages
            train_block["totalIterations"] = training["iterations"] + sum(st["iterations"] or 0 for st in stages)
            train_block["totalTrainingSeconds"] = round(training["trainingSeconds"] + sum(st["trainingSeconds"] or 0 for st in stages), 1)
        train_block["optimizer"] = training.get("optimizer")
    use = (
        "Research and software testing only. Trained on synthetic phantoms; not for clinical use."
        if synthetic
        else "Research use only; not a medical device; not for clinical use."
    )
    m = {
        "schemaVersion": 1,
        "name": MODEL_NAME,
        "version": args.version,
        "config": cfg.name,
        "file": onnx_path.name,
        "sha256": sha256(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "format": {"type": "onnx", "opset": OPSET, "precision": "fp32"},
        "parameters": count_parameters(net),
        "inputs": inputs,
        "outputs": outputs,
        "classes": list(CLASS_NAMES),
        "classification": {
            "output": "class_logits",
            "activation": "softmax",
            "scanRule": cfg.scan_rule_manifest(),
        },
        "segmentation": {
            "output": "lesion_logits",
            "activation": "sigmoid",
            "threshold": 0.0,
            "thresholdOn": "blended logits",
            # The engine's weight of an oblique scan's LPS-aligned view against its own grid (gpu-job/README.md).
            "obliqueViews": {"alignedWeight": args.aligned_view_weight},
        },
        "evidenceMap": {"output": "evidence", "range": [0.0, 1.0], "blending": "same Gaussian tile blending as the logits"},
        "preprocessing": preprocessing_manifest(cfg, args),
        "architecture": {
            "reference": REFERENCE,
            "stemChannels": cfg.stem_channels,
            "unetChannels": list(cfg.unet_channels),
            "classifierChannels": list(cfg.cls_channels),
            "pooledFeatures": cfg.pooled_features,
            "headFusionWeights": list(HEAD_FUSION_WEIGHTS),
            "evidenceWeights": list(EVIDENCE_WEIGHTS),
        },
        "training": train_block,
        **({"envelope": args.envelope_block} if getattr(args, "envelope_block", None) else {}),
        "synthetic": synthetic,
        "license": LICENSE,
        "intendedUse": use,
        "notForClinicalUse": True,
        "parityFixture": parity,
        "exportedWith": {"torch": torch.__version__, "onnx": onnx.__version__, "date": _dt.date.today().isoformat()},
    }
    if fp16 is not None:
        m["variants"] = {
            "fp16": {
                "file": fp16.name,
                "sha256": sha256(fp16),
                "bytes": fp16.stat().st_size,
                "precision": "fp16",
                "io": "float32 inputs and outputs (Cast nodes inside the graph)",
                "arithmetic": "mixed: float16 convolutions and activations, float32 reductions and normalisation statistics",
                "intendedProvider": "cuda",
            }
        }
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="a train.py checkpoint (deepsc-<config>.pt)")
    ap.add_argument("--config", default="light", choices=["light", "full"], help="with --random-init")
    ap.add_argument("--random-init", action="store_true", help="export untrained weights (timing, tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--fp16", action="store_true", help="also write the float16 variant (GPU)")
    ap.add_argument("--parity-seed", type=int, default=12345)
    ap.add_argument(
        "--aligned-view-weight",
        type=float,
        default=0.5,
        help="weight of an oblique scan's LPS-aligned view in the engine's mean of its two views; measure it "
        "for each model with bench/oblique-views.ts (0.5: the plain mean)",
    )
    ap.add_argument(
        "--lung-spread-mm",
        type=float,
        nargs=2,
        metavar=("LEFT_RIGHT", "FRONT_BACK"),
        help="the training bodies' lung spread (mm; bench/README.md \"Other bodies\" measures it on our lung mask): "
        "writes the engine's lungScale rule, which resamples larger and smaller chests to that size. Only for a "
        "model trained on one body size; omit it for a model trained on real patients",
    )
    ap.add_argument(
        "--whole-field-of-view",
        action="store_true",
        help="model.json without a fixed in-plane pixel: the engine resizes each scan's whole field of view to the "
        "model's size, as training did (for models trained on scans of different fields of view)",
    )
    ap.add_argument(
        "--envelope",
        metavar="FILE",
        help="JSON with where this model was checked to hold (trainingFieldOfViewMm, narrowestFieldOfViewMm, "
        "rollCheckedDeg, rollWarningDeg, thickSliceRatio, checkedOn), measured with bench/scan-kinds.ts and "
        "bench/patient-roll.ts on this model; model/weights/envelope.json is the shipped model's. Without it the "
        "engine uses the shipped model's figures",
    )
    args = ap.parse_args(argv)
    if args.envelope is not None:
        try:
            args.envelope_block = read_envelope(args.envelope)
        except (OSError, ValueError) as e:
            ap.error(f"--envelope: {e}")
    if args.lung_spread_mm is not None and min(args.lung_spread_mm) <= 0:
        ap.error("--lung-spread-mm needs two positive values")
    if not 0 <= args.aligned_view_weight <= 1:
        ap.error("--aligned-view-weight must be between 0 and 1")
    torch.set_num_threads(1)

    net, cfg, training = load_network(args)
    if args.whole_field_of_view:
        cfg = replace(cfg, preprocess=replace(cfg.preprocess, field_of_view_mm=None))
    problem = field_of_view_problem(cfg.preprocess.field_of_view_mm, training)
    if problem:
        ap.error(problem)
    if args.lung_spread_mm is not None and cfg.preprocess.field_of_view_mm is None:
        ap.error("--lung-spread-mm needs a model with a fixed in-plane pixel (field_of_view_mm)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"deepsc-{cfg.name}.onnx"
    export_onnx(net, cfg, onnx_path)
    fp16_path = None
    if args.fp16:
        fp16_path = out / f"deepsc-{cfg.name}-fp16.onnx"
        convert_to_mixed_precision(onnx_path, fp16_path)
    parity_name = f"parity-{cfg.name}.json"
    parity = parity_fixture(net, cfg, onnx_path.name, sha256(onnx_path), args.parity_seed)
    (out / parity_name).write_text(json.dumps(parity) + "\n")
    m = manifest(cfg, net, onnx_path, training, args, fp16_path, parity_name)
    (out / "model.json").write_text(json.dumps(m, indent=2) + "\n")
    print(f"wrote {onnx_path} ({m['bytes'] / 1e6:.1f} MB, {m['parameters']} parameters), model.json, {parity_name}")
    return 0


if __name__ == "__main__":
    configure_cpu_env(threads_from_argv(sys.argv[1:]))
    raise SystemExit(main())
