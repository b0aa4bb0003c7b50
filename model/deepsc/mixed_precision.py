"""float32 ONNX graph -> mixed-precision graph for GPUs, with the rules torch.autocast uses.

Convolutions and the elementwise work on activations run in float16; reductions and the statistics built
from them (GroupNorm's means and mean squares, the classifier's lung-weighted sums, softmax) run in float32,
the large float16 tensors that feed them cast up first. Why not everything in float16: on the GPU check
(bench/README.md, "GPU") an all-float16 graph overflowed, squares of deviations and sums over a tile pass
float16's 65504, and class logits came out Inf/NaN; PyTorch's own `.half()` did too, autocast did not.
Why not PyTorch's GroupNorm export (InstanceNormalization) as before: onnxruntime's CUDA kernel for it ran
the full-size tile at 34 ms against 15 ms for the same graph with the two-pass statistics.

The pass walks the graph in order (ONNX graphs are topologically sorted) and gives each node a precision:
float32 if its op is in FLOAT32_OPS or it squares a tensor (Mul(x, x)), or if every float tensor it reads is
float32 (so a statistics chain stays float32 until it meets an activation); float16 otherwise. A float
input of the wrong precision gets a Cast (one per tensor and precision); a float constant is stored in the
precision its consumer needs. Graph inputs are cast to float16 on entry and the outputs returned as
float32, so callers see the same interface as the float32 graph's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: Ops computed in float32, as torch.autocast keeps reductions, norms and softmax in float32.
FLOAT32_OPS = frozenset(
    {
        "ReduceMean",
        "ReduceSum",
        "ReduceSumSquare",
        "ReduceL2",
        "ReduceLogSumExp",
        "Sqrt",
        "Reciprocal",
        "Pow",
        "Softmax",
        "LogSoftmax",
        "InstanceNormalization",
        "GroupNormalization",
        "LayerNormalization",
        "BatchNormalization",
    }
)

#: Inputs that are float32 whatever the graph's precision (ONNX type constraints), left as they are.
FIXED_FLOAT32_INPUTS = {"Resize": {1, 2}, "Upsample": {1}}

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def convert(src: Path, dst: Path) -> None:
    """Write the mixed-precision version of the float32 graph `src` to `dst` (checked by onnx.checker)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(src)))
    g = model.graph
    nested = sorted({n.op_type for n in g.node if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in n.attribute)})
    if nested:
        # Their bodies would need the same pass, with precisions flowing in and out: not written, so refused.
        raise ValueError(f"mixed precision: graphs with control flow ({', '.join(nested)}) are not supported; export without --fp16")
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in [*g.value_info, *g.input, *g.output]}
    # Float constants: initializers and Constant nodes, materialised per precision on demand.
    constants: dict[str, np.ndarray] = {
        i.name: numpy_helper.to_array(i) for i in g.initializer if i.data_type == F32
    }
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == F32:
                    constants[node.output[0]] = numpy_helper.to_array(a.t)
    precision: dict[str, int] = {}  # float tensor -> F32 / F16, for tensors computed at run time
    nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    casts: dict[tuple[str, int], str] = {}

    def as_precision(name: str, p: int) -> str:
        """The name of `name` in precision p, adding a Cast or a converted constant when needed."""
        if name in constants:
            if p == F32:
                return name
            key = (name, p)
            if key not in casts:
                casts[key] = f"{name}__fp16"
                new_inits.append(numpy_helper.from_array(constants[name].astype(np.float16), casts[key]))
            return casts[key]
        # A graph input is float32 data that counts as float16 for the rule below (its first consumers are
        # convolutions); float32 consumers read it as it came, not through a float16 round trip.
        source = F32 if name in graph_inputs else precision.get(name, p)
        if source == p:
            return name
        key = (name, p)
        if key not in casts:
            casts[key] = f"{name}__{'fp32' if p == F32 else 'fp16'}"
            nodes.append(helper.make_node("Cast", [name], [casts[key]], to=p, name=f"cast_{casts[key]}"))
            precision[casts[key]] = p
        return casts[key]

    graph_inputs = {inp.name for inp in g.input if inp.type.tensor_type.elem_type == F32}
    precision.update(dict.fromkeys(graph_inputs, F16))

    for node in g.node:
        if node.op_type == "Constant" and node.output[0] in constants:
            continue  # materialised where consumed
        fixed = FIXED_FLOAT32_INPUTS.get(node.op_type, set())
        ins = list(node.input)
        data = [k for k, n in enumerate(ins) if n and k not in fixed and (n in precision or n in constants)]
        runtime = [ins[k] for k in data if ins[k] not in constants]
        if node.op_type in FLOAT32_OPS or (node.op_type == "Mul" and len(set(node.input)) == 1):
            p = F32
        elif node.op_type == "Cast":
            p = F16  # a Cast to float (from bool or int) starts float16 data; below it is retargeted
        elif runtime and all(precision[n] == F32 for n in runtime):
            p = F32
        else:
            p = F16
        for k in data:
            node.input[k] = as_precision(ins[k], p)
        if node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to" and a.i == F32:
                    a.i = p
        if node.op_type == "ConstantOfShape":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type == F32 and p == F16:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
        for out in node.output:
            if elem.get(out) == F32:
                precision[out] = p
        nodes.append(node)

    # Outputs: float32 as in the source graph. A float16 result is renamed and cast back to the output's name.
    renames: dict[str, str] = {}
    tail: list[onnx.NodeProto] = []
    for out in g.output:
        if precision.get(out.name) == F16:
            renames[out.name] = f"{out.name}__fp16"
            tail.append(helper.make_node("Cast", [renames[out.name]], [out.name], to=F32, name=f"cast_out_{out.name}"))
    for node in nodes:
        for k, n in enumerate(node.output):
            node.output[k] = renames.get(n, n)
        for k, n in enumerate(node.input):
            node.input[k] = renames.get(n, n)

    kept_constants = {n.output[0] for n in g.node if n.op_type == "Constant" and n.output[0] in constants}
    used = {n for node in nodes + tail for n in node.input}
    const_nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(constants[name], name))
        for name in sorted(kept_constants & used)
    ]
    del g.node[:]
    g.node.extend(const_nodes + nodes + tail)
    g.initializer.extend(new_inits)
    # Initializers no float32 node reads any more (their float16 copies replaced them) are dropped.
    keep = [i for i in g.initializer if i.name in used or i.name in graph_inputs]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]
    model.doc_string += " (mixed precision: float16 convolutions and activations, float32 statistics)"
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)
