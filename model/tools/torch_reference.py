#!/usr/bin/env python3
"""PyTorch's outputs for inputs the TypeScript engine fed onnxruntime: the live side of the scan parity test.

    /usr/bin/python3 model/tools/torch_reference.py --checkpoint model/weights/deepsc-light.pt --dir DIR

DIR/cases.json lists the cases: [{"name": "t0", "stack": [1, 1, 32, 128, 128], "tile": [1, 1, 16, 128, 128]}];
each case's inputs are DIR/<name>.stack.f32 and DIR/<name>.tile.f32 (float32, little endian, C order). The
graph is InferenceGraph, the one model/export.py exports, run twice: in float32 (what PyTorch users run) and
in float64 (the network's exact result, to a float32 runtime's precision), on the same float32 inputs. For
each case this writes DIR/<name>.<output>.<f32|f64>.f32 (float32 files either way) for class_logits,
lesion_logits and evidence, and prints the torch version.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepsc.runtime import configure_cpu_env  # noqa: E402

OUTPUTS = ("class_logits", "lesion_logits", "evidence")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="the train.py checkpoint the ONNX was exported from")
    ap.add_argument("--dir", required=True, help="folder with cases.json and the inputs; outputs go there too")
    args = ap.parse_args(argv)

    import torch

    from deepsc.network import InferenceGraph, load_checkpoint

    torch.set_num_threads(1)
    net, _, _ = load_checkpoint(args.checkpoint)
    graphs = {
        "f32": (InferenceGraph(net).eval(), torch.float32),
        "f64": (InferenceGraph(copy.deepcopy(net).double()).eval(), torch.float64),
    }

    folder = Path(args.dir)
    cases = json.loads((folder / "cases.json").read_text())
    with torch.no_grad():
        for case in cases:
            feeds = [
                torch.from_numpy(np.fromfile(folder / f"{case['name']}.{name}.f32", dtype="<f4").reshape(case[name]))
                for name in ("stack", "tile")
            ]
            for tag, (graph, dtype) in graphs.items():
                for name, value in zip(OUTPUTS, graph(*(f.to(dtype) for f in feeds))):
                    value.numpy().astype("<f4").tofile(folder / f"{case['name']}.{name}.{tag}.f32")
    print(json.dumps({"torch": torch.__version__, "cases": len(cases)}))
    return 0


if __name__ == "__main__":
    configure_cpu_env(1)
    raise SystemExit(main())
