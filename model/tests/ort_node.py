"""Run an ONNX file with onnxruntime-node (the runtime the product uses; Python's onnxruntime is not in
Debian) from a test: feeds and outputs as JSON through a short Node script. Skips when Node or the package
is missing (the model tests also run outside the npm project)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
const { createRequire } = require("node:module");
const ort = createRequire(process.argv[1] + "/package.json")("onnxruntime-node");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  const { file, feeds } = JSON.parse(input);
  const session = await ort.InferenceSession.create(file, { executionProviders: ["cpu"] });
  const tensors = {};
  for (const [name, { data, shape }] of Object.entries(feeds)) tensors[name] = new ort.Tensor("float32", Float32Array.from(data), shape);
  const out = await session.run(tensors);
  const res = {};
  for (const [name, t] of Object.entries(out)) res[name] = { type: t.type, dims: t.dims, data: Array.from(t.data, (v) => (typeof v === "bigint" ? Number(v) : Number.isFinite(v) ? v : String(v))) };
  process.stdout.write(JSON.stringify(res));
});
"""


def run_onnx(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of the model at `path` for float32 `feeds`, by onnxruntime-node's CPU provider."""
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("needs node and the project's onnxruntime-node (npm ci)")
    payload = {"file": str(path), "feeds": {k: {"data": v.astype(np.float32).ravel().tolist(), "shape": list(v.shape)} for k, v in feeds.items()}}
    r = subprocess.run([node, "-e", _SCRIPT, str(REPO)], input=json.dumps(payload), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"onnxruntime-node failed on {path.name}: {r.stderr.strip()[-600:]}")
    out = {}
    for name, t in json.loads(r.stdout).items():
        out[name] = np.array([float(v) for v in t["data"]], dtype=np.float64).reshape(t["dims"])
    return out
