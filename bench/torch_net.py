"""What bench/torch_tile.py and bench/gpu/torch_scan.py share: the command-line options that choose a
DeepSC-COVID network (a checkpoint, or an untrained one from a seed as model/export.py --random-init makes
it), a device and a float16 mode, and building it. Imported after deepsc.runtime has set the CPU env."""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
if str(MODEL_DIR) not in sys.path:
    sys.path.insert(0, str(MODEL_DIR))


def add_network_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--checkpoint", help="a train.py checkpoint")
    ap.add_argument("--config", choices=["light", "full"], help="with --random-init")
    ap.add_argument("--random-init", action="store_true", help="untrained weights, torch.manual_seed(--seed) as export.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda: the GPU check (bench/gpu/)")
    ap.add_argument("--half", action="store_true", help="float16 weights and inputs (every operation in float16, --device cuda)")
    ap.add_argument("--autocast", action="store_true", help="torch.autocast float16 (PyTorch's mixed precision, --device cuda)")


@dataclass
class Network:
    net: Any  # DeepSCCovid in evaluation mode, on `device` in `dtype`
    cfg: Any  # ModelConfig
    device: Any  # torch.device
    dtype: Any  # torch.float32 or torch.float16
    autocast: Any  # a context manager: torch.autocast for --autocast, else a no-op
    mode: str  # "float32", "float16" or "autocast-float16"


def build_network(args: argparse.Namespace) -> Network:
    import torch

    from deepsc.config import get_config
    from deepsc.network import DeepSCCovid, load_checkpoint

    if args.half and args.autocast:
        raise SystemExit("--half and --autocast are two different float16 modes: give one")
    if (args.half or args.autocast) and args.device != "cuda":
        raise SystemExit("--half and --autocast are the GPU check's float16 modes: give --device cuda")
    if args.checkpoint:
        net, cfg, _ = load_checkpoint(args.checkpoint)
    elif args.random_init and args.config:
        torch.manual_seed(args.seed)
        cfg = get_config(args.config)
        net = DeepSCCovid(cfg)
    else:
        raise SystemExit("give --checkpoint, or --config with --random-init")
    device = torch.device(args.device)
    dtype = torch.float16 if args.half else torch.float32
    autocast = torch.autocast(device_type="cuda", dtype=torch.float16) if args.autocast else contextlib.nullcontext()
    mode = "float16" if args.half else "autocast-float16" if args.autocast else "float32"
    return Network(net.eval().to(device=device, dtype=dtype), cfg, device, dtype, autocast, mode)


def synchronize(device) -> None:
    """CUDA runs asynchronously: a call's time is only known once the card has finished it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
