"""TF.js graph model → ONNX: the conversion driver.

Nodes are translated in topological order from the signature's outputs back (nodes no
output needs are never converted). ``Const`` nodes become numpy constants; a node whose
inputs are all constants is folded in numpy when its op has a fold, so shape arithmetic
never reaches the ONNX graph; everything else goes through the op table of :mod:`.ops`.
The graph's inputs and outputs carry the signature's tensor names (``input_1:0``,
``tower_0/detections``) so a user recognises them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from hyperion_core.models.onnx_graph import prune
from hyperion_core.models.tfjs.attrs import TensorRef, TfNode, shape_from_json
from hyperion_core.models.tfjs.context import OpContext
from hyperion_core.models.tfjs.errors import TfjsFormatError, UnsupportedOpError
from hyperion_core.models.tfjs.graph import GraphBuilder, Value, onnx_dtype
from hyperion_core.models.tfjs.manifest import GraphModel, read_graph_model
from hyperion_core.models.tfjs.ops import OP_TABLE

PRODUCER = "hyperion_core.models.tfjs"
MIN_OPSET = 13


def convert_graph_model(
    model_json: Path, *, opset: int = 17
) -> onnx.ModelProto:
    """Convert a TF.js graph model (``model.json`` + its shards) to ONNX.

    Args:
        model_json: path of ``model.json``; shards are read from its folder.
        opset: default-domain ONNX opset (13 up to what the installed onnx knows).

    Returns:
        A checked, shape-inferred model whose inputs and outputs are named as in the
        model's ``signature``.

    Raises:
        TfjsFormatError: unreadable files (named), graph errors.
        UnsupportedOpError: an op or op variant without translation (op, node and file
            named).
    """
    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"opset {opset} outside {MIN_OPSET}..{onnx.defs.onnx_opset_version()}")
    model = read_graph_model(Path(model_json))
    builder, values = _translate(model, opset)
    outputs = _bind_outputs(builder, model, values)
    graph = helper.make_graph(
        builder.nodes,
        Path(model.path).stem,
        builder.inputs,
        outputs,
        initializer=builder.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name=PRODUCER,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    proto.doc_string = f"Converted from the TF.js graph model {model.path.name}"
    helper.set_model_props(proto, {f"tfjs.{k}": v for k, v in model.meta.items()})
    prune(proto.graph)
    onnx.checker.check_model(proto, full_check=True)
    return onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)


def _translate(model: GraphModel, opset: int) -> tuple[GraphBuilder, dict[TensorRef, Value]]:
    path = model.path
    if not model.outputs:
        raise TfjsFormatError(f"{path}: the signature lists no outputs")
    builder = GraphBuilder(opset=opset)
    builder.reserve([t.name for t in (*model.inputs, *model.outputs)])
    nodes: dict[str, TfNode] = {}
    for node in model.nodes:
        if node.name in nodes:
            raise TfjsFormatError(f"{path}: node name {node.name!r} appears twice")
        nodes[node.name] = node
    values: dict[TensorRef, Value] = {}
    for node in _topological(nodes, [t.ref for t in model.outputs], path):
        args = []
        for ref in node.inputs:
            if ref not in values:
                raise TfjsFormatError(
                    f"{path}: node {node.name!r} reads {ref}, which "
                    f"{nodes[ref.node].op} {ref.node!r} does not produce"
                )
            args.append(values[ref])
        for index, value in enumerate(_convert_node(builder, model, node, args)):
            values[TensorRef(node.name, index)] = value
    return builder, values


def _convert_node(
    builder: GraphBuilder, model: GraphModel, node: TfNode, args: list[Value]
) -> list[Value]:
    path = model.path
    if node.op == "Placeholder":
        return [_placeholder(builder, model, node)]
    if node.op == "Const":
        if node.name not in model.weights:
            raise TfjsFormatError(f"{path}: Const node {node.name!r} has no manifest weight")
        array = model.weights[node.name].astype(node.get_dtype("dtype"), copy=False)
        return [Value.of(array, node.name)]
    spec = OP_TABLE.get(node.op)
    if spec is None:
        raise UnsupportedOpError(f"{path}: unsupported op {node.op!r} (node {node.name!r})")
    try:
        if spec.fold is not None and all(a.is_const for a in args):
            return [
                Value.of(np.asarray(a), node.name) for a in spec.fold(node, [a.const for a in args])
            ]
        return spec.translate(OpContext(builder, node, path), args)
    except UnsupportedOpError:
        raise
    except (TfjsFormatError, ValueError, IndexError, KeyError, TypeError) as err:
        raise TfjsFormatError(f"{path}: node {node.name!r} ({node.op}): {err}") from err


def _placeholder(builder: GraphBuilder, model: GraphModel, node: TfNode) -> Value:
    entry = next((t for t in model.inputs if t.ref == TensorRef(node.name)), None)
    if entry is None and model.inputs:
        raise TfjsFormatError(f"{model.path}: placeholder {node.name!r} is not in the signature")
    shape = entry.shape if entry is not None else None
    if shape is None:
        shape = shape_from_json(node.attrs.get("shape", {}).get("shape"))
    name = entry.name if entry is not None else node.name
    return builder.add_input(name, node.get_dtype("dtype"), shape)


def _topological(nodes: dict[str, TfNode], outputs: list[TensorRef], path: Path) -> list[TfNode]:
    """Nodes the outputs depend on, each after its inputs (iterative depth-first search)."""
    order: list[TfNode] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for ref in outputs:
        if ref.node not in nodes:
            raise TfjsFormatError(f"{path}: signature output {ref} names no node")
        stack = [(ref.node, False)]
        while stack:
            name, finished = stack.pop()
            if finished:
                state[name] = 2
                order.append(nodes[name])
                continue
            if state.get(name) == 2:
                continue
            state[name] = 1
            stack.append((name, True))
            for source in reversed(nodes[name].inputs):
                if source.node not in nodes:
                    raise TfjsFormatError(
                        f"{path}: node {name!r} reads {source.node!r}, which is not in the graph"
                    )
                if state.get(source.node) == 1:
                    raise TfjsFormatError(f"{path}: cycle through node {source.node!r}")
                if state.get(source.node) != 2:
                    stack.append((source.node, False))
    return order


def _bind_outputs(
    builder: GraphBuilder, model: GraphModel, values: dict[TensorRef, Value]
) -> list[onnx.ValueInfoProto]:
    """Give each signature output its name: rename the producing tensor where possible,
    otherwise (a constant, an input, a tensor already bound) add an ``Identity``."""
    producers = {out: node for node in builder.nodes for out in node.output}
    input_names = {i.name for i in builder.inputs}
    renamed: dict[str, str] = {}  # tensors already given an output's name
    infos = []
    for sig in model.outputs:
        if sig.ref not in values:
            raise TfjsFormatError(f"{model.path}: signature output {sig.name!r} is not produced")
        value = values[sig.ref]
        source = builder.tensor(value)
        if source in producers and source not in input_names:
            _rename(builder.nodes, producers.pop(source), source, sig.name)
            renamed[source] = sig.name
        else:
            source = renamed.get(source, source)
            builder.nodes.append(
                helper.make_node(
                    "Identity", [source], [sig.name], name=builder.fresh(f"{sig.name}/Identity")
                )
            )
        if not _shapes_agree(sig.shape, value.shape):
            raise TfjsFormatError(
                f"{model.path}: output {sig.name!r} has shape "
                f"{value.shape}, the signature says {sig.shape}"
            )
        shape = None if value.shape is None else list(value.shape)
        infos.append(helper.make_tensor_value_info(sig.name, onnx_dtype(value.dtype), shape))
    return infos


def _shapes_agree(
    declared: tuple[int, ...] | None, inferred: tuple[int | None, ...] | None
) -> bool:
    """Whether the signature's shape and the inferred one can be the same (-1/None: any)."""
    if declared is None or inferred is None:
        return True
    if len(declared) != len(inferred):
        return False
    return all(d < 0 or i is None or d == i for d, i in zip(declared, inferred, strict=True))


def _rename(nodes: list[onnx.NodeProto], producer: onnx.NodeProto, old: str, new: str) -> None:
    producer.output[list(producer.output).index(old)] = new
    for node in nodes:
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new
