#!/usr/bin/env python3
"""PyTorch's side of the per-scan GPU check: the whole-scan inference of model/deepsc/infer.py (sliding window
along z, Gaussian blending, the scan rule), timed on one prepared scan, to set beside the engine's
`inference` stage on the same scan (bench/gpu/check.ts).

    /usr/bin/python3 model/pack.py --config light --data DIR --out light.pack.xz    (here: DIR holds the scan)
    python3 bench/gpu/torch_scan.py --pack light.pack.xz --checkpoint model/weights/deepsc-light.pt --device cuda [--autocast]
    python3 bench/gpu/torch_scan.py --pack full.pack.xz --config full --random-init --seed 0 --device cuda

The pack holds the scan as training sees it (deepsc/pack.py: the lung-masked, normalised model-grid image,
quantised to 1/255 of the HU window), because the GPU machine has no NIfTI reader. What is timed: predict_case,
batch 1 as the engine runs: tiles cut on the CPU, the network on --device, outputs back to the CPU and blended
there, as the engine does. Not timed: lung segmentation and preprocessing (the engine's earlier stages). Prints
one JSON object: every run's ms, the median, the tile count and the scan's probabilities.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH_DIR))

from torch_net import add_network_args, build_network, synchronize  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_args(ap)
    ap.add_argument("--pack", required=True, help="model/pack.py's file with the scan (its first case)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    from deepsc.config import CLASS_NAMES
    from deepsc.infer import predict_case
    from deepsc.pack import read_pack
    from deepsc.preprocess import tile_starts

    built = build_network(args)
    case = read_pack(Path(args.pack), built.cfg.preprocess)[0]
    p = built.cfg.preprocess
    calls = []
    with torch.no_grad(), built.autocast:
        for i in range(args.warmup + args.runs):
            t0 = time.perf_counter()
            pred = predict_case(built.net, case, built.cfg, batch=1)
            synchronize(built.device)
            if i >= args.warmup:
                calls.append((time.perf_counter() - t0) * 1000.0)
    result = {
        "config": built.cfg.name,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(built.device) if built.device.type == "cuda" else None,
        "device": args.device,
        "dtype": built.mode,
        "case": case.case_id,
        "modelGrid": list(case.image.shape),
        "tiles": len(tile_starts(case.image.shape[0], p.tile_slices, p.tile_overlap)),
        "callMs": [round(c, 1) for c in calls],
        "medianMs": statistics.median(calls),
        "probabilities": {n: float(v) for n, v in zip(CLASS_NAMES, pred.probabilities)},
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
