"""float32 ONNX graph -> mixed-precision graph for GPUs, with the rules torch.autocast uses.

Convolutions and the elementwise work on activations run in float16; reductions and the statistics built
from them (GroupNorm's means and mean squares, the classifier's lung-weighted sums, softmax) run in float32,
the large float16 tensors that feed them cast up first. Why not everything in float16: on the GPU check
(bench/README.md, "GPU") an all-float16 graph overflowed, squares of deviations and sums over a tile pass
float16's 65504, and class logits came out Inf/NaN; PyTorch's own `.half()` did too, autocast did not.
Why not PyTorch's GroupNorm export (InstanceNormalization) as before: onnxruntime's CUDA kernel for it ran
the full-size tile at 34 ms against 15 ms for the same graph with the two-pass statistics.

The pass walks the graph in order (ONNX graphs are topologically sorted) and gives each node a precision:
float32 if its op is in FLOAT32_OPS or it squares a tensor (Mul(x, x)), if a float constant it reads does not
fit float16, or if every float tensor it reads is float32 (so a statistics chain stays float32 until it meets
an activation); float16 otherwise. A float input of the wrong precision gets a Cast (one per tensor and
precision); a float constant is stored in the precision its consumer needs. Left as they are (float32): nodes
that read no float tensor (constants from attributes, ConstantOfShape, random ops), Casts from integers (shape
arithmetic can pass float16's 2048 exact integers), and a Cast reads its float input in whatever precision it
has; a Cast from bool (0 or 1) starts float16 data. Graph inputs are cast to float16 where activations read
them and read as they are where float32 nodes do; outputs are returned as float32, so callers see the same
interface as the float32 graph's.
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
    graph_inputs = {inp.name for inp in g.input if inp.type.tensor_type.elem_type == F32}
    outputs = {o.name for o in g.output}
    # Float constants: initializers (not those listed as inputs too: those a caller may feed) and Constant
    # nodes, materialised per precision on demand.
    constants: dict[str, np.ndarray] = {
        i.name: numpy_helper.to_array(i) for i in g.initializer if i.data_type == F32 and i.name not in graph_inputs
    }
    constant_nodes: set[str] = set()  # outputs of float Constant nodes, re-created where still read
    for node in g.node:
        value = _constant_float32(node)
        if value is not None:
            constants[node.output[0]] = value
            constant_nodes.add(node.output[0])
    # Float tensors computed at run time -> F32 / F16. Graph inputs count as float16 for the rule (their first
    # consumers are convolutions) while their data stays float32 (see as_precision).
    precision: dict[str, int] = dict.fromkeys(graph_inputs, F16)
    nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    casts: dict[tuple[str, int], str] = {}

    def source_precision(name: str) -> int:
        return F32 if name in graph_inputs or name in constants else precision[name]

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
        if source_precision(name) == p:
            return name
        key = (name, p)
        if key not in casts:
            casts[key] = f"{name}__{'fp32' if p == F32 else 'fp16'}"
            nodes.append(helper.make_node("Cast", [name], [casts[key]], to=p, name=f"cast_{casts[key]}"))
            precision[casts[key]] = p
        return casts[key]

    def is_float(name: str) -> bool:
        return name in precision or name in constants

    for node in g.node:
        if node.output and node.output[0] in constant_nodes:
            continue  # materialised where consumed
        fixed = FIXED_FLOAT32_INPUTS.get(node.op_type, set())
        data = [k for k, n in enumerate(node.input) if n and k not in fixed and is_float(n)]
        runtime = [node.input[k] for k in data if node.input[k] not in constants]
        if node.op_type == "Cast":
            src = node.input[0]
            if is_float(src):
                p = source_precision(src)
            else:
                p = F16 if elem.get(src) == TensorProto.BOOL else F32
            for a in node.attribute:
                if a.name == "to" and a.i == F32:
                    a.i = p
        else:
            if not data:
                p = F32
            elif node.op_type in FLOAT32_OPS or (node.op_type == "Mul" and len(set(node.input)) == 1):
                p = F32
            elif any(node.input[k] in constants and not _fits_float16(constants[node.input[k]]) for k in data):
                p = F32
            elif runtime and all(precision[n] == F32 for n in runtime):
                p = F32
            else:
                p = F16
            for k in data:
                node.input[k] = as_precision(node.input[k], p)
            for k in fixed:
                if k < len(node.input) and node.input[k] and node.input[k] not in constants and is_float(node.input[k]):
                    node.input[k] = as_precision(node.input[k], F32)
        for out in node.output:
            if elem.get(out) == F32:
                precision[out] = p
        nodes.append(node)

    # Outputs: float32 as in the source graph. A float16 result is renamed and cast back to the output's name.
    renames: dict[str, str] = {}
    tail: list[onnx.NodeProto] = []
    for out in g.output:
        if out.name not in graph_inputs and out.name not in constants and precision.get(out.name) == F16:
            renames[out.name] = f"{out.name}__fp16"
            tail.append(helper.make_node("Cast", [renames[out.name]], [out.name], to=F32, name=f"cast_out_{out.name}"))
    for node in nodes:
        for k, n in enumerate(node.output):
            node.output[k] = renames.get(n, n)
        for k, n in enumerate(node.input):
            node.input[k] = renames.get(n, n)

    used = {n for node in nodes + tail for n in node.input} | outputs
    const_nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(constants[name], name))
        for name in sorted(constant_nodes & used)
    ]
    del g.node[:]
    g.node.extend(const_nodes + nodes + tail)
    g.initializer.extend(new_inits)
    # Initializers no node reads any more (their float16 copies replaced them) are dropped.
    keep = [i for i in g.initializer if i.name in used or i.name in graph_inputs]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]
    model.doc_string += " (mixed precision: float16 convolutions and activations, float32 statistics)"
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)


def _constant_float32(node: onnx.NodeProto) -> np.ndarray | None:
    """A Constant node's value when it is float32 (value, value_float or value_floats), else None."""
    if node.op_type != "Constant":
        return None
    for a in node.attribute:
        if a.name == "value" and a.t.data_type == F32:
            return numpy_helper.to_array(a.t)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
    return None


def _fits_float16(a: np.ndarray) -> bool:
    """Whether float16 holds every finite value of a (a mask fill of -1e9 or a 70000 would become inf)."""
    finite = a[np.isfinite(a)]
    return finite.size == 0 or float(np.abs(finite).max()) <= float(np.finfo(np.float16).max)
