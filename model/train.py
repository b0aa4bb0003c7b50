#!/usr/bin/env python3
"""Train DeepSC-COVID on a folder of NIfTI cases (see deepsc/data.py for the layout).

    /usr/bin/python3 model/train.py --config light --data DIR --epochs N --out DIR [--val DIR]
    /usr/bin/python3 model/train.py --config light --pack cases.pack.xz --device cuda --minutes 4 --out DIR

The second form trains on a GPU machine from a pack (model/pack.py) for a wall-clock budget: the learning
rate follows the share of the budget spent instead of the share of the steps.

Reproducible: the seed drives weight initialisation, tile sampling and batch order; the record
(out/training.json, also inside the checkpoint) holds the seed, the cases and their classes, epochs,
iterations, the loss per epoch, wall time and, with --val, metrics on the held-out cases.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepsc.runtime import configure_cpu_env, threads_from_argv  # noqa: E402

from deepsc.config import CLASS_NAMES, ModelConfig, get_config  # noqa: E402

NON_PNEUMONIA = CLASS_NAMES.index("non_pneumonia")
from deepsc.augment import GeometricAugment  # noqa: E402
from deepsc.data import CaseFiles, TileDataset, discover_cases, load_case, load_native_masks  # noqa: E402
from deepsc.infer import evaluate_case, summarise  # noqa: E402
from deepsc.losses import LossConfig, total_loss  # noqa: E402
from deepsc.network import DeepSCCovid, count_parameters  # noqa: E402
from deepsc.pack import read_pack  # noqa: E402
from deepsc.preprocess import PreparedCase  # noqa: E402

_TORCH_2 = int(torch.__version__.split(".")[0]) >= 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="light", choices=["light", "full"])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="training cases folder")
    src.add_argument("--pack", help="prepared cases from model/pack.py (no NIfTI reading)")
    ap.add_argument("--val", help="held-out cases folder, evaluated on the native grid after training")
    ap.add_argument("--epochs", type=int, help="epochs (with --minutes: an upper bound)")
    ap.add_argument("--minutes", type=float, help="train for this wall-clock budget; the lr schedule follows the time spent")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2, help="tiles per step (>= 2 lets PyTorch use oneDNN on CPU)")
    ap.add_argument("--tiles-per-case", type=int, default=4, help="tiles drawn from each case per epoch")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this")
    ap.add_argument("--init", help="checkpoint to start from (fine-tuning)")
    ap.add_argument("--cache", help="folder for preprocessed cases (.npz), reused while inputs and preprocessing match")
    ap.add_argument("--log-every", type=int, default=0, help="also print the running loss every N steps")
    ap.add_argument("--lesion-free-weight", type=float, default=1.0, help="classification weight of lesion-free tiles of pneumonia scans")
    ap.add_argument("--cls-warmup", type=float, default=0.2, help="share of the steps over which the classification and task-aware weights ramp from 0 to 1")
    ap.add_argument("--augment-geometry", type=float, default=0.0, metavar="P",
                    help="share of samples shown as an oblique or cut scan (deepsc/augment.py); thick-slice blur at 0.6 P")
    ap.add_argument("--augment-segmentation-only", action="store_true",
                    help="augmented samples train the segmentation only (no classification loss)")
    ap.add_argument("--synthetic", action="store_true", help="the data are phantoms (recorded in the model card)")
    ap.add_argument("--data-source", default="", help="free text recorded with the data, e.g. the generator command")
    args = ap.parse_args(argv)
    if args.epochs is None and args.minutes is None:
        ap.error("give --epochs, --minutes or both")
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def _cache_key(f: CaseFiles, cfg: ModelConfig) -> str:
    """Changes whenever the preprocessing or any input file (path, size, mtime) or the label changes."""
    parts = [json.dumps(asdict(cfg.preprocess), sort_keys=True), str(f.label)]
    for path in (f.ct, f.lungs, f.lesions):
        if path is not None:
            st = path.stat()
            parts.append(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def _load_or_prepare(f: CaseFiles, cfg: ModelConfig, cache: Path | None) -> PreparedCase:
    target = cache / f"{f.case_id}-{_cache_key(f, cfg)}.npz" if cache is not None else None
    if target is not None and target.is_file():
        z = np.load(target)
        return PreparedCase(
            case_id=f.case_id,
            label=f.label,
            image=z["image"],
            lesion=z["lesion"],
            lung=z["lung"],
            stack=z["stack"],
            native_shape=tuple(int(v) for v in z["native_shape"]),
            native_spacing=tuple(float(v) for v in z["native_spacing"]),
            z_positions=z["z_positions"],
            z_range=tuple(int(v) for v in z["z_range"]) if "z_range" in z else None,
        )
    c = load_case(f, cfg.preprocess)
    # Training keeps the image in float32 and the lesion/lung fractions in float16.
    c.lesion = c.lesion.astype(np.float16)
    c.lung = c.lung.astype(np.float16)
    if target is not None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, image=c.image, lesion=c.lesion, lung=c.lung, stack=c.stack, native_shape=np.array(c.native_shape),
                 native_spacing=np.array(c.native_spacing), z_positions=c.z_positions,
                 **({"z_range": np.array(c.z_range)} if c.z_range is not None else {}))
        tmp.replace(target)
    return c


def prepare_all(folder: str, cfg: ModelConfig, cache: Path | None = None):
    files = discover_cases(folder)
    if not files:
        raise SystemExit(f"no cases (folders with ct.nii.gz) under {folder}")
    return files, [_load_or_prepare(f, cfg, cache) for f in files]


def class_counts(labels) -> dict[str, int]:
    counts = Counter(CLASS_NAMES[i] for i in labels)
    return {n: counts.get(n, 0) for n in CLASS_NAMES}


def evaluate(net: DeepSCCovid, cfg: ModelConfig, folder: str) -> tuple[dict, list[dict]]:
    net.eval()
    results = []
    for f in discover_cases(folder):
        case = load_case(f, cfg.preprocess)
        lesions, lungs = load_native_masks(f)
        results.append(evaluate_case(net, case, cfg, lesions, lungs))
    return summarise(results), results


def fields_of_view(cases) -> dict[str, float]:
    """The smallest and largest in-plane field of view (mm, either axis) among the prepared cases."""
    fov = [n * d for c in cases for n, d in zip(c.native_shape[1:], c.native_spacing[1:])]
    return {"min": round(min(fov), 2), "max": round(max(fov), 2)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    cfg = get_config(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    if args.pack:
        cases = read_pack(Path(args.pack), cfg.preprocess)
    else:
        cases = prepare_all(args.data, cfg, Path(args.cache) if args.cache else None)[1]
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    if device.type == "cuda":
        # Fixed tile shapes: let cuDNN pick its fastest 3D convolution algorithms once.
        torch.backends.cudnn.benchmark = True
    prep_s = time.time() - t0
    print(f"prepared {len(cases)} cases in {prep_s:.0f} s: {class_counts(c.label for c in cases)}", flush=True)

    net = DeepSCCovid(cfg)
    previous = None
    if args.init:
        # weights_only=False: the checkpoint also holds the training record (PyTorch >= 2.6 refuses it otherwise).
        init = torch.load(args.init, map_location="cpu", **({"weights_only": False} if _TORCH_2 else {}))
        # A key the checkpoint lacks was added to the preprocessing after it was trained, so it counts as equal.
        # Not every default reproduces what the checkpoint was trained with (field_of_view_mm's does: every
        # phantom had 360 mm; z_crop's does not: earlier runs saw the whole stack), so each is named and recorded:
        # fine-tuning never changes the preprocessing silently.
        current = cfg.to_dict()["preprocess"]
        if init["config"]["name"] != cfg.name or {**current, **init["config"]["preprocess"]} != current:
            raise SystemExit(f"--init {args.init} was trained with another configuration or preprocessing")
        added = {k: v for k, v in current.items() if k not in init["config"]["preprocess"]}
        for k, v in added.items():
            print(f"note: {Path(args.init).name} predates preprocess.{k}; fine-tuning uses {k} = {v!r}", flush=True)
        net.load_state_dict(init["state_dict"])
        previous = init.get("training")
    augment = (
        GeometricAugment(
            probability=args.augment_geometry,
            thick_probability=0.6 * args.augment_geometry,
            segmentation_only=args.augment_segmentation_only,
        )
        if args.augment_geometry > 0
        else None
    )
    dataset = TileDataset(cases, cfg.preprocess, tiles_per_case=args.tiles_per_case, seed=args.seed, augment=augment)
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(
        dataset,
        batch_size=args.batch,
        shuffle=True,
        generator=generator,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
    )
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    loss_cfg = LossConfig()
    budget_s = args.minutes * 60 if args.minutes is not None else None
    epochs = args.epochs if args.epochs is not None else 10**6
    # With a time budget the schedule runs on "virtual steps": thousandths of the budget spent.
    total_steps = 1000 if budget_s is not None else epochs * len(loader)
    warmup = min(100, max(1, total_steps // 20))
    # Classification and task-aware terms ramp up while the segmentation (dense supervision) learns the
    # lesions the classifier is fed with.
    cls_warmup = int(args.cls_warmup * total_steps)

    history = []
    step = 0
    train_start = time.time()
    epochs_done = 0
    for epoch in range(epochs):
        net.train()
        dataset.set_epoch(epoch)
        sums: Counter = Counter()
        correct = 0
        seen = 0
        for stack, tile, target, label, sample_weight in loader:
            if budget_s is not None and step > 0 and time.time() - train_start > budget_s:
                break  # the budget is spent mid-epoch: the schedule has reached its end anyway
            stack, tile, target, label = (t.to(device, non_blocking=True) for t in (stack, tile, target, label))
            now = step if budget_s is None else int(1000 * (time.time() - train_start) / budget_s)
            for g in opt.param_groups:
                g["lr"] = lr_at(now, total_steps, args.lr, warmup)
            ramp = min(1.0, (now + 1) / cls_warmup) if cls_warmup else 1.0
            step_cfg = replace(loss_cfg, classification_weight=ramp, task_aware_weight=ramp * loss_cfg.task_aware_weight)
            # A tile of a pneumonia scan that shows no lesion carries the scan's label only through the
            # whole-scan stack; --lesion-free-weight sets how much such tiles count (1: like any other).
            lesion_free = (target.flatten(1).amax(1) <= 0.5) & (label != NON_PNEUMONIA)
            class_weight = sample_weight.to(device)
            class_weight[lesion_free] *= args.lesion_free_weight
            out_ = net(stack, tile)
            loss, parts = total_loss(out_, label, target, step_cfg, class_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            step += 1
            sums.update(parts)
            correct += int((out_["class_logits"].argmax(1) == label).sum())
            seen += len(label)
            if args.log_every and step % args.log_every == 0:
                running = {k: round(v / (seen // args.batch), 4) for k, v in sums.items()}
                print(json.dumps({"step": step, "seconds": round(time.time() - train_start, 1), **running}), flush=True)
        n = max(1, seen // args.batch)
        row = {k: round(v / n, 5) for k, v in sums.items()}
        row.update(epoch=epoch + 1, tile_accuracy=round(correct / max(1, seen), 4), seconds=round(time.time() - train_start, 1))
        history.append(row)
        epochs_done = epoch + 1
        print(json.dumps(row), flush=True)
        if args.max_minutes is not None and time.time() - train_start > args.max_minutes * 60:
            print(f"stopping after epoch {epochs_done}: --max-minutes {args.max_minutes}", flush=True)
            break
        if budget_s is not None and time.time() - train_start > budget_s:
            print(f"stopping after epoch {epochs_done}: --minutes {args.minutes} spent", flush=True)
            break
    net.to("cpu")
    train_s = time.time() - train_start

    record = {
        "synthetic": bool(args.synthetic),
        "dataSource": args.data_source,
        "config": cfg.name,
        "seed": args.seed,
        "data": {
            "folder": Path(args.pack or args.data).name,
            "cases": len(cases),
            "classes": class_counts(c.label for c in cases),
            "caseIds": [c.case_id for c in cases],
            # Training resizes each scan's whole field of view to the model's size; export.py checks these
            # against the fixed model pixel (field_of_view_mm / size) model.json promises the engine.
            "fieldOfViewMm": fields_of_view(cases),
        },
        "epochsRequested": args.epochs,
        "minutesBudget": args.minutes,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "workers": args.workers,
        "epochs": epochs_done,
        "iterations": step,
        "batch": args.batch,
        "tilesPerCase": args.tiles_per_case,
        "lesionOversample": dataset.lesion_oversample,
        "geometricAugmentation": augment.describe() if augment is not None else None,
        "optimizer": {"name": "AdamW", "lr": args.lr, "weightDecay": args.weight_decay, "schedule": "warmup + cosine"},
        "loss": {
            "classification": "CE + 2 x focal (gamma 2)",
            "segmentation": "soft Dice + 2 x weighted BCE (pos weight 3), deep supervision 0.25/0.25/0.5/1 + fused",
            "taskAware": "5 x (0.25/0.25/0.5) MSE(evidence, detached predicted segmentation), in the backward pass",
            "rampUp": f"classification and task-aware weights linear 0 -> 1 over the first {args.cls_warmup:.0%} of the steps",
            "lesionFreeTileWeight": args.lesion_free_weight,
        },
        "history": history,
        "preparationSeconds": round(prep_s, 1),
        "trainingSeconds": round(train_s, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "parameters": count_parameters(net),
    }
    if previous is not None:
        # Fine-tuning: keep the whole chain of runs (the earlier ones without their per-epoch history).
        record["initialisedFrom"] = {
            "checkpoint": Path(args.init).name,
            "training": {k: v for k, v in previous.items() if k != "history"},
            # Preprocessing keys the checkpoint predates, with the values this run used.
            "preprocessAdded": added,
        }
    if args.val:
        t1 = time.time()
        summary, per_case = evaluate(net, cfg, args.val)
        record["validation"] = {
            "folder": Path(args.val).name,
            "scanRule": cfg.scan_rule_manifest(),
            "summary": summary,
            "seconds": round(time.time() - t1, 1),
        }
        (out / "validation.json").write_text(json.dumps(per_case, indent=2) + "\n")
        print(json.dumps(summary), flush=True)

    ckpt = out / f"deepsc-{cfg.name}.pt"
    torch.save({"config": cfg.to_dict(), "state_dict": net.state_dict(), "training": record}, ckpt)
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {ckpt}", flush=True)
    return 0


if __name__ == "__main__":
    configure_cpu_env(threads_from_argv(sys.argv[1:]))
    raise SystemExit(main())
