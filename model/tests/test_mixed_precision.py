"""deepsc/mixed_precision.py: which nodes run in float16 and which in float32, where the Casts go, and that
the float16 graph's interface stays float32."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import export
from deepsc.mixed_precision import convert
from deepsc.network import DeepSCCovid

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
