from __future__ import annotations

import hashlib
import importlib.util
import json
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import export
from deepsc.network import DeepSCCovid, InferenceGraph


@pytest.fixture(scope="module")
def light_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    assert export.main(["--config", "light", "--random-init", "--seed", "3", "--out", str(out), "--fp16"]) == 0
    return out


def test_onnx_passes_the_checker_with_the_documented_io(light_export):
    path = light_export / "deepsc-light.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    ins = {i.name: dims(i) for i in model.graph.input}
    outs = {o.name: dims(o) for o in model.graph.output}
    assert ins == {"stack": ["batch", 1, 32, 128, 128], "tile": ["batch", 1, 16, 128, 128]}
    assert outs == {"class_logits": ["batch", 3], "lesion_logits": ["batch", 1, 16, 128, 128], "evidence": ["batch", 1, 16, 128, 128]}
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in [*model.graph.input, *model.graph.output])
    assert path.stat().st_size < 10e6


def test_model_json_describes_the_model_completely(light_export):
    m = json.loads((light_export / "model.json").read_text())
    onnx_bytes = (light_export / m["file"]).read_bytes()
    assert m["sha256"] == hashlib.sha256(onnx_bytes).hexdigest() and m["bytes"] == len(onnx_bytes)
    assert m["classes"] == ["covid19", "cap", "non_pneumonia"]
    assert [i["name"] for i in m["inputs"]] == ["stack", "tile"]
    assert [o["name"] for o in m["outputs"]] == ["class_logits", "lesion_logits", "evidence"]
    assert m["inputs"][1]["shape"] == [1, 1, 16, 128, 128] and m["inputs"][0]["dtype"] == "float32"
    pre = m["preprocessing"]
    assert pre["huWindow"] == [-1400.0, 200.0]
    assert pre["inPlane"]["size"] == [128, 128] and pre["stack"]["slices"] == 32
    assert pre["tile"] == {**pre["tile"], "slices": 16, "overlap": 8, "stride": 8}
    assert pre["lungMasking"]["enabled"] is True and pre["zResampling"]["spacingMm"] == 2.5
    assert m["format"]["opset"] >= 17 and m["parameters"] > 0
    assert m["synthetic"] is True and m["notForClinicalUse"] is True
    assert "not for clinical use" in m["intendedUse"]
    assert m["training"]["trained"] is False and m["license"]
    # Without --aligned-view-weight the engine gets the plain mean of an oblique scan's two views.
    assert m["segmentation"]["obliqueViews"] == {"alignedWeight": 0.5}
    fp16 = m["variants"]["fp16"]
    assert fp16["sha256"] == hashlib.sha256((light_export / fp16["file"]).read_bytes()).hexdigest()


def test_fp16_variant_keeps_float32_io_and_passes_the_checker(light_export):
    model = onnx.load(str(light_export / "deepsc-light-fp16.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for i in [*model.graph.input, *model.graph.output])
    floats = [i for i in model.graph.initializer if i.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert sum(i.data_type == onnx.TensorProto.FLOAT16 for i in floats) > 0.9 * len(floats)


def test_group_norm_is_explicit_in_both_graphs(light_export):
    """Nested means, not InstanceNormalization: onnxruntime's CPU kernel loses 1e-2 there in float32, and its
    CUDA kernel took 34 ms per full-size tile against 15 ms (bench/README.md, GPU)."""
    for name in ("deepsc-light.onnx", "deepsc-light-fp16.onnx"):
        ops = {n.op_type for n in onnx.load(str(light_export / name)).graph.node}
        assert "InstanceNormalization" not in ops and "ReduceMean" in ops, name


def test_parity_fixture_reproduces_pytorch_from_its_formula(light_export):
    fx = json.loads((light_export / "parity-light.json").read_text())
    g = fx["generator"]["inputs"]
    stack = export.hash_input(tuple(g["stack"]["shape"]), g["stack"]["seed"])
    # The documented formula, evaluated independently.
    i = 12345
    assert stack.ravel()[i] == np.float32(((i * 2654435761 + g["stack"]["seed"]) % 2**32) / 2**32)
    tile = export.hash_input(tuple(g["tile"]["shape"]), g["tile"]["seed"])
    torch.manual_seed(3)
    from deepsc.config import get_config

    net = DeepSCCovid(get_config("light")).eval()
    with torch.no_grad():
        cl, ll, _ = InferenceGraph(net)(torch.from_numpy(stack), torch.from_numpy(tile))
    np.testing.assert_allclose(cl.numpy().ravel(), fx["outputs"]["class_logits"]["values"], atol=1e-6)
    s = fx["outputs"]["lesion_logits"]
    np.testing.assert_allclose(ll.numpy().ravel()[:: s["sampleStride"]], s["samples"], atol=1e-6)
    assert fx["tolerance"]["class_logits"] == {"abs": 1e-4, "rel": 0.0}


def test_checkpoint_export_carries_the_training_record(tmp_path, tiny_cfg):
    net = DeepSCCovid(tiny_cfg)
    record = {"synthetic": True, "dataSource": "test", "seed": 5, "data": {"cases": 3, "caseIds": ["a"]}, "epochs": 2,
              "iterations": 4, "batch": 2, "trainingSeconds": 1.0, "threads": 1, "loss": {}, "history": [{"loss": 1.0}],
              "validation": {"summary": {"accuracy": 1.0}}}
    ckpt = tmp_path / "c.pt"
    torch.save({"config": tiny_cfg.to_dict(), "state_dict": net.state_dict(), "training": record}, ckpt)
    out = tmp_path / "o"
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out), "--version", "9.9.9"]) == 0
    m = json.loads((out / "model.json").read_text())
    assert m["version"] == "9.9.9" and m["training"]["trained"] is True and m["training"]["seed"] == 5
    assert "caseIds" not in m["training"]["data"] and m["training"]["metrics"]["summary"]["accuracy"] == 1.0
    assert m["inputs"][1]["shape"] == [1, 1, 8, 32, 32]


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="python3-onnxruntime is not in Debian; the TypeScript side checks parity with onnxruntime-node")
def test_onnxruntime_matches_pytorch(light_export):
    import onnxruntime as ort

    fx = json.loads((light_export / "parity-light.json").read_text())
    g = fx["generator"]["inputs"]
    sess = ort.InferenceSession(str(light_export / "deepsc-light.onnx"))
    out = sess.run(None, {"stack": export.hash_input(tuple(g["stack"]["shape"]), g["stack"]["seed"]),
                          "tile": export.hash_input(tuple(g["tile"]["shape"]), g["tile"]["seed"])})
    np.testing.assert_allclose(out[0].ravel(), fx["outputs"]["class_logits"]["values"], atol=1e-4)


def test_aligned_view_weight_is_recorded_and_checked(tmp_path):
    out = tmp_path / "weighted"
    args = ["--config", "light", "--random-init", "--out", str(out), "--aligned-view-weight", "0.8"]
    assert export.main(args) == 0
    m = json.loads((out / "model.json").read_text())
    assert m["segmentation"]["obliqueViews"] == {"alignedWeight": 0.8}
    with pytest.raises(SystemExit):
        export.main(["--config", "light", "--random-init", "--out", str(tmp_path / "bad"), "--aligned-view-weight", "1.5"])
    assert not (tmp_path / "bad" / "model.json").exists()


def test_lung_spread_writes_the_engine_lung_scale_rule(tmp_path):
    out = tmp_path / "scaled"
    args = ["--config", "light", "--random-init", "--out", str(out), "--lung-spread-mm", "85.6", "42.7"]
    assert export.main(args) == 0
    rule = json.loads((out / "model.json").read_text())["preprocessing"]["inPlane"]["lungScale"]
    assert rule["referenceSpreadMm"] == [85.6, 42.7]
    assert rule["range"][0] <= 1 <= rule["range"][1] and 0 <= rule["tolerance"] < 0.5
    # The checked range lies within the clamp: beyond it the engine resamples but warns.
    lo, hi = rule["checkedRange"]
    assert rule["range"][0] <= lo <= 1 <= hi <= rule["range"][1]
    plain = tmp_path / "plain"
    assert export.main(["--config", "light", "--random-init", "--out", str(plain)]) == 0
    assert "lungScale" not in json.loads((plain / "model.json").read_text())["preprocessing"]["inPlane"]
    with pytest.raises(SystemExit):
        export.main(["--config", "light", "--random-init", "--out", str(tmp_path / "bad"), "--lung-spread-mm", "0", "40"])
    assert not (tmp_path / "bad" / "model.json").exists()


def test_a_fixed_model_pixel_is_refused_when_training_saw_other_fields_of_view(tmp_path, tiny_cfg):
    # Training resizes each scan's whole field of view; a fixed pixel (field_of_view_mm / size) in model.json
    # would make the engine show the model scans at another scale than it learnt.
    assert export.field_of_view_problem(360.0, {"data": {"fieldOfViewMm": {"min": 360.0, "max": 360.0}}}) is None
    assert export.field_of_view_problem(360.0, {"data": {}}) is None  # records before the field: phantoms, 360 mm
    assert export.field_of_view_problem(None, {"data": {"fieldOfViewMm": {"min": 300.0, "max": 450.0}}}) is None
    # A fine-tuning stage on 360 mm phantoms after real scans: the earlier stage still counts.
    tuned = {"data": {"fieldOfViewMm": {"min": 360.0, "max": 360.0}},
             "initialisedFrom": {"training": {"data": {"fieldOfViewMm": {"min": 300.0, "max": 450.0}}}}}
    assert export.field_of_view_problem(360.0, tuned) is not None
    problem = export.field_of_view_problem(360.0, {"data": {"fieldOfViewMm": {"min": 300.0, "max": 450.0}}})
    assert problem is not None and "--whole-field-of-view" in problem
    net = DeepSCCovid(tiny_cfg)
    record = {"synthetic": False, "dataSource": "test", "seed": 5, "epochs": 2, "iterations": 4, "batch": 2,
              "data": {"cases": 3, "caseIds": ["a"], "fieldOfViewMm": {"min": 300.0, "max": 450.0}},
              "trainingSeconds": 1.0, "threads": 1, "loss": {}, "history": [{"loss": 1.0}],
              "validation": {"summary": {"accuracy": 1.0}}}
    ckpt = tmp_path / "c.pt"
    torch.save({"config": tiny_cfg.to_dict(), "state_dict": net.state_dict(), "training": record}, ckpt)
    with pytest.raises(SystemExit):
        export.main(["--checkpoint", str(ckpt), "--out", str(tmp_path / "fixed")])
    assert not (tmp_path / "fixed" / "model.json").exists()
    out = tmp_path / "whole"
    assert export.main(["--checkpoint", str(ckpt), "--out", str(out), "--whole-field-of-view"]) == 0
    assert json.loads((out / "model.json").read_text())["preprocessing"]["inPlane"]["spacingMm"] is None



def test_envelope_file_is_checked_and_written(tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "weights" / "envelope.json"
    out = tmp_path / "enveloped"
    assert export.main(["--config", "light", "--random-init", "--out", str(out), "--envelope", str(shipped)]) == 0
    m = json.loads((out / "model.json").read_text())
    assert m["envelope"] == json.loads(shipped.read_text())
    assert m["preprocessing"]["tile"]["blendingFloor"] == 1e-3
    plain = tmp_path / "plain"
    assert export.main(["--config", "light", "--random-init", "--out", str(plain)]) == 0
    assert "envelope" not in json.loads((plain / "model.json").read_text())
    bad = tmp_path / "bad.json"
    for body in ({"trainingFieldOfViewMm": 360}, {**json.loads(shipped.read_text()), "rollWarningDeg": 10}, {**json.loads(shipped.read_text()), "extra": 1}):
        bad.write_text(json.dumps(body))
        with pytest.raises(SystemExit):
            export.main(["--config", "light", "--random-init", "--out", str(tmp_path / "refused"), "--envelope", str(bad)])
    assert not (tmp_path / "refused" / "model.json").exists()
