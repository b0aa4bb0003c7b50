"""deepsc/mixed_precision.py: which nodes run in float16 and which in float32, where the Casts go, and that
the float16 graph's interface stays float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import export
from deepsc.mixed_precision import convert
from deepsc.network import DeepSCCovid
from ort_node import run_onnx

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def output_types(path) -> tuple[onnx.ModelProto, dict[str, int]]:
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    return model, {v.name: v.type.tensor_type.elem_type for v in [*g.value_info, *g.input, *g.output]}


def test_network_statistics_in_float32_convolutions_in_float16(tmp_path, tiny_cfg):
    src, dst = tmp_path / "f32.onnx", tmp_path / "f16.onnx"
    export.export_onnx(DeepSCCovid(tiny_cfg).eval(), tiny_cfg, src)
    convert(src, dst)
    model, types = output_types(dst)
    by_op: dict[str, set[int]] = {}
    for n in model.graph.node:
        if n.output and types.get(n.output[0]) in (F32, F16):
            by_op.setdefault(n.op_type, set()).add(types[n.output[0]])
    assert by_op["Conv"] == {F16}
    for op in ("ReduceMean", "ReduceSum", "Sqrt", "Softmax"):
        assert by_op[op] == {F32}, op
    squares = [n for n in model.graph.node if n.op_type == "Mul" and len(set(n.input)) == 1]
    assert squares and all(types[n.output[0]] == F32 for n in squares)
    assert all(t.type.tensor_type.elem_type == F32 for t in [*model.graph.input, *model.graph.output])
    # Most of the weights (the convolutions') are stored in float16.
    inits = [i for i in model.graph.initializer if i.data_type in (F32, F16)]
    assert sum(i.data_type == F16 for i in inits) > 0.9 * len(inits)


def test_casts_at_the_boundaries_only(tmp_path):
    """x -> Conv -> ReduceMean -> Sqrt -> Mul(conv, sqrt) -> y, and a ReduceMean on x itself."""
    w = numpy_helper.from_array(np.full((1, 1, 1, 1), 2.0, np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("ReduceMean", ["c"], ["m"], axes=[2, 3], keepdims=1),
        helper.make_node("Sqrt", ["m"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["y"]),
        helper.make_node("ReduceMean", ["x"], ["xm"], axes=[2, 3], keepdims=1),
    ]
    io = lambda n: helper.make_tensor_value_info(n, F32, [1, 1, 4, 4])  # noqa: E731
    graph = helper.make_graph(nodes, "g", [io("x")], [io("y"), helper.make_tensor_value_info("xm", F32, [1, 1, 1, 1])], [w])
    src, dst = tmp_path / "a.onnx", tmp_path / "b.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    convert(src, dst)
    model, types = output_types(dst)
    node = {n.output[0]: n for n in model.graph.node}
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    # x -> float16 for the Conv; c -> float32 for the statistics; s -> float16 back into the activations;
    # y's float16 result -> float32 output. No others: the ReduceMean on x reads the float32 input itself.
    assert len(casts) == 4
    assert types["c"] == F16 and types["m"] == F32 and types["s"] == F32
    assert node["xm"].input[0] == "x"
    assert types[node["y"].input[0]] == F16 and node["y"].op_type == "Cast"
    assert {i.name: i.data_type for i in model.graph.initializer} == {"w__fp16": F16}


def test_control_flow_is_refused_not_half_converted(tmp_path):
    body = helper.make_graph([helper.make_node("Identity", ["x"], ["b"])], "body", [], [helper.make_tensor_value_info("b", F32, [1])])
    cond = numpy_helper.from_array(np.array(True), "cond")
    graph = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=body, else_branch=body)],
        "g",
        [helper.make_tensor_value_info("x", F32, [1])],
        [helper.make_tensor_value_info("y", F32, [1])],
        [cond],
    )
    src = tmp_path / "if.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    with pytest.raises(ValueError, match="control flow \\(If\\)"):
        convert(src, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


# Edge cases of general graphs (a hospital's own export goes through the same pass): each graph is converted,
# loaded and run by onnxruntime-node, and must give the float32 graph's outputs.
W = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")


def info(name, shape=(1, 1, 4, 4), dtype=F32):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def same_outputs(tmp_path, nodes, inputs, outputs, inits=(W,), feeds=None, rtol=1e-3):
    """Convert, run both graphs on the same feeds, compare every output; returns the converted model."""
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    src, dst = tmp_path / "f32.onnx", tmp_path / "mixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(src))
    convert(src, dst)
    feeds = feeds or {"x": np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) / 4}
    ref, got = run_onnx(src, feeds), run_onnx(dst, feeds)
    assert set(got) == set(ref)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], rtol=rtol, err_msg=name)
    return onnx.load(str(dst))


def test_shape_arithmetic_through_float_stays_exact(tmp_path):
    """Shape -> Cast(float) -> x 70000 -> Cast(int64): float16 would give inf, then INT64_MIN."""
    big = numpy_helper.from_array(np.array([70000.0], np.float32), "big")
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Cast", ["s"], ["sf"], to=F32),
        helper.make_node("Mul", ["sf", "big"], ["p"]),
        helper.make_node("Cast", ["p"], ["pi"], to=TensorProto.INT64),
        helper.make_node("Conv", ["x", "w"], ["y"]),
    ]
    same_outputs(tmp_path, nodes, [info("x")], [info("y"), info("pi", [4], TensorProto.INT64)], [W, big], rtol=0)


def test_cast_keeps_a_float32_statistic_in_float32(tmp_path):
    """ReduceSum over 4096 values of ~30 (> 65504) -> Cast(float) -> Add: no float16 on the way."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("ReduceSum", ["c"], ["s"], keepdims=1),
        helper.make_node("Cast", ["s"], ["s2"], to=F32),
        helper.make_node("Add", ["s2", "s2"], ["y"]),
    ]
    feeds = {"x": np.full((1, 1, 64, 64), 30.0, np.float32)}
    model = same_outputs(tmp_path, nodes, [info("x", (1, 1, 64, 64))], [info("y", (1, 1, 1, 1))], feeds=feeds, rtol=1e-6)
    assert all(n.op_type != "Cast" or n.input[0] != "s" for n in model.graph.node if n.output[0] != "s2")


def test_constants_from_attributes_and_shared_between_precisions(tmp_path):
    k2 = numpy_helper.from_array(np.array(2.0, np.float32), "kv")
    nodes = [
        helper.make_node("Constant", [], ["k"], value=k2),
        helper.make_node("Constant", [], ["kf"], value_float=3.0),
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Mul", ["c", "k"], ["a"]),  # float16 consumer
        helper.make_node("Mul", ["a", "kf"], ["y"]),
        helper.make_node("ReduceMean", ["c"], ["m"], keepdims=1),
        helper.make_node("Mul", ["m", "k"], ["z"]),  # float32 consumer of the same constant
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["zeros"]),  # float32 zeros by default
        helper.make_node("Add", ["y", "zeros"], ["y2"]),
    ]
    same_outputs(tmp_path, nodes, [info("x")], [info("y2"), info("z", (1, 1, 1, 1))])


def test_constant_beyond_float16_keeps_its_consumer_in_float32(tmp_path):
    fill = numpy_helper.from_array(np.array(-1e9, np.float32), "fill")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Add", ["c", "fill"], ["y"])]
    model = same_outputs(tmp_path, nodes, [info("x")], [info("y")], [W, fill], rtol=1e-6)
    assert "fill" in {i.name for i in model.graph.initializer}


def test_outputs_that_are_inputs_initializers_or_constants(tmp_path):
    b = numpy_helper.from_array(np.ones((1, 1, 4, 4), np.float32), "b")
    k = numpy_helper.from_array(np.full((1, 1, 4, 4), 2.0, np.float32), "kv")
    nodes = [
        helper.make_node("Constant", [], ["k"], value=k),
        helper.make_node("Conv", ["x", "w"], ["y"]),
        helper.make_node("Relu", ["y"], ["r"]),  # an output also read inside the graph
    ]
    same_outputs(tmp_path, nodes, [info("x")], [info("y"), info("r"), info("x"), info("b"), info("k")], [W, b])


def test_resize_scales_computed_at_run_time_stay_float32(tmp_path):
    sc = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Cast", ["s"], ["sf"], to=F32),
        helper.make_node("Div", ["sf", "sf"], ["one"]),
        helper.make_node("Mul", ["one", "sc"], ["scales"]),
        helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest"),
    ]
    same_outputs(tmp_path, nodes, [info("x")], [info("y", (1, 1, 8, 8))], [W, sc])


def test_an_initializer_listed_as_input_can_still_be_fed(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"])]
    feeds = {"x": np.ones((1, 1, 4, 4), np.float32), "w": np.full((1, 1, 1, 1), 5.0, np.float32)}
    model = same_outputs(tmp_path, nodes, [info("x"), info("w", (1, 1, 1, 1))], [info("y")], feeds=feeds)
    assert {i.name: i.data_type for i in model.graph.initializer} == {"w": F32}


def test_the_shipped_fp16_variant_is_this_conversion_of_the_shipped_model(tmp_path):
    """gpu-job/models' fp16 file is what this pass makes of its fp32 file, byte for byte: a change to the
    pass that would change the shipped graph (measured on the GPU, bench/README.md) fails here until the model
    is re-exported and re-checked."""
    models = Path(__file__).resolve().parents[2] / "gpu-job" / "models"
    out = tmp_path / "fp16.onnx"
    convert(models / "deepsc-light.onnx", out)
    assert out.read_bytes() == (models / "deepsc-light-fp16.onnx").read_bytes()
