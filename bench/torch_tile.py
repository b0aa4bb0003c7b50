#!/usr/bin/env python3
"""PyTorch's side of bench/tile-speed.ts: time DeepSC-COVID's exported graph on one tile, on the CPU.

    /usr/bin/python3 bench/torch_tile.py --checkpoint model/weights/deepsc-light.pt --threads 1 \
        --batches 1,2 --runs 20 --warmup 3
    /usr/bin/python3 bench/torch_tile.py --config full --random-init --seed 0 --threads 2 --batches 1 --runs 3
    python3 bench/torch_tile.py --checkpoint model/weights/deepsc-light.pt --device cuda --half --batches 1   (GPU check)
    python3 bench/torch_tile.py --checkpoint model/weights/deepsc-light.pt --device cuda --autocast --batches 1

--half casts weights and inputs to float16 (every operation in float16); --autocast keeps them float32 and runs
under torch.autocast(float16), PyTorch's usual mixed precision (convolutions in float16, normalisation and
reductions in float32). Class logits that are not finite (float16 overflow) are printed as null and counted.

The graph is `InferenceGraph` (what model/export.py exports), so PyTorch and onnxruntime run the same
model. Inputs come from the parity fixture's formula (deepsc/fixture.py: stack seed S, tile seed S + 1),
which the TypeScript side computes bit for bit; a batch of 2 repeats the same stack and tile. The process
re-executes itself once with deepsc/runtime.py's OpenMP and malloc settings for --threads, as the model's
own scripts do. Prints one JSON object on stdout: per batch size, every timed call in ms and the median
per tile (call / batch), and the batch-1 class logits (to check the two runtimes ran the same thing).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

from torch_net import add_network_args, build_network, synchronize  # puts model/ on sys.path

from deepsc.runtime import configure_cpu_env, threads_from_argv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_args(ap)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--input-seed", type=int, default=12345, help="the parity fixture's seed")
    ap.add_argument("--host-io", action="store_true", help="time copying the inputs to the device and the outputs back too, as onnxruntime-node's session does")
    args = ap.parse_args(argv)

    import torch

    from deepsc.fixture import hash_tensor
    from deepsc.network import InferenceGraph

    torch.set_num_threads(args.threads)
    built = build_network(args)
    cfg, device, dtype = built.cfg, built.device, built.dtype
    graph = InferenceGraph(built.net).eval().to(device=device, dtype=dtype)
    stack1 = hash_tensor(cfg.stack_shape, args.input_seed).to(device=device, dtype=dtype)
    tile1 = hash_tensor(cfg.tile_shape, args.input_seed + 1).to(device=device, dtype=dtype)

    result: dict = {
        "config": cfg.name,
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": args.threads,
        "device": args.device,
        "dtype": built.mode,
        "hostIo": args.host_io,
        "cudnnAllowTf32": torch.backends.cudnn.allow_tf32,
        "matmulAllowTf32": torch.backends.cuda.matmul.allow_tf32,
        "torchThreads": torch.get_num_threads(),
        "stackShape": list(cfg.stack_shape),
        "tileShape": list(cfg.tile_shape),
        "runs": args.runs,
        "warmup": args.warmup,
        "batches": {},
    }
    def call(stack, tile):
        if not args.host_io:
            return graph(stack, tile)
        # Host arrays in, host arrays out, like the product's session (pinned memory would be faster: the
        # product does not use it either).
        out = graph(stack.to(device=device, dtype=dtype), tile.to(device=device, dtype=dtype))
        return tuple(o.cpu() for o in out)

    with torch.no_grad(), built.autocast:
        for batch in [int(b) for b in args.batches.split(",")]:
            stack = stack1.repeat(batch, 1, 1, 1, 1)
            tile = tile1.repeat(batch, 1, 1, 1, 1)
            if args.host_io:
                stack, tile = stack.float().cpu(), tile.float().cpu()
            for _ in range(args.warmup):
                out = call(stack, tile)
            synchronize(device)
            calls = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                out = call(stack, tile)
                synchronize(device)
                calls.append((time.perf_counter() - t0) * 1000.0)
            result["batches"][str(batch)] = {
                "callMs": [round(c, 3) for c in calls],
                "medianCallMs": statistics.median(calls),
                "medianPerTileMs": statistics.median(calls) / batch,
            }
            if batch == 1:
                logits = [float(v) for v in out[0].float().reshape(-1).cpu()]
                result["classLogits"] = [v if math.isfinite(v) else None for v in logits]
                result["nonFiniteClassLogits"] = sum(not math.isfinite(v) for v in logits)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    configure_cpu_env(threads_from_argv(sys.argv[1:]))
    raise SystemExit(main())
