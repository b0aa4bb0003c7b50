#!/usr/bin/env python3
"""Evaluate a checkpoint on a folder of cases (same layout as training), on each case's native grid.

    /usr/bin/python3 model/evaluate.py --checkpoint RUN/deepsc-light.pt --data VAL_DIR [--out metrics.json]

Metrics (deepsc/infer.py): 3-class accuracy and confusion matrix with the manifest's scan rule, lesion
Dice per COVID-19 / CAP case (mask = blended logits > 0 mapped back to the native grid, inside the lung
mask), and the false-positive lesion volume (mL) on non-pneumonia cases.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepsc.runtime import configure_cpu_env, threads_from_argv  # noqa: E402

from deepsc.data import discover_cases, load_case, load_native_masks  # noqa: E402
from deepsc.infer import evaluate_case, summarise  # noqa: E402
from deepsc.network import load_checkpoint  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", help="write {summary, cases} here")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, cfg, _ = load_checkpoint(args.checkpoint)
    t0 = time.time()
    results = []
    for f in discover_cases(args.data):
        case = load_case(f, cfg.preprocess)
        lesions, lungs = load_native_masks(f)
        r = evaluate_case(net, case, cfg, lesions, lungs)
        results.append(r)
        print(json.dumps(r), flush=True)
    summary = summarise(results)
    summary["scanRule"] = cfg.scan_rule_manifest()
    summary["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(summary), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "cases": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    configure_cpu_env(threads_from_argv(sys.argv[1:]))
    raise SystemExit(main())
