"""The conversion driver: graph order, signature names, outputs, and graph-level errors."""

import json

import numpy as np
import onnx
import pytest

from hyperion_core.models.tfjs.converter import convert_graph_model
from hyperion_core.models.tfjs.errors import TfjsFormatError, UnsupportedOpError

from .tinymodel import convert_and_run


def test_unknown_op_names_op_node_and_file(tiny):
    tiny.placeholder("x", (2,))
    tiny.op("Erfinv", "strange/node", ["x"])
    tiny.output("strange/node")
    path = tiny.write()
    with pytest.raises(UnsupportedOpError) as raised:
        convert_graph_model(path)
    message = str(raised.value)
    assert "'Erfinv'" in message and "'strange/node'" in message and str(path) in message


def test_unsupported_variant_names_op_node_and_file(tiny, rng):
    tiny.placeholder("x", (1, 4, 4, 2))
    tiny.const("w", rng.standard_normal((3, 3, 2, 2)).astype(np.float32))
    tiny.const("b", np.zeros(2, np.float32))
    tiny.op(
        "_FusedConv2D",
        "conv",
        ["x", "w", "b"],
        fused_ops=["FusedBatchNorm"],
        padding="SAME",
        strides=[1, 1, 1, 1],
    )
    tiny.output("conv")
    path = tiny.write()
    with pytest.raises(UnsupportedOpError, match=r"_FusedConv2D.*'conv'.*FusedBatchNorm") as e:
        convert_graph_model(path)
    assert str(path) in str(e.value)


def test_nodes_in_any_order_and_unused_nodes_ignored(tiny, rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    tiny.op("Relu", "y", ["h"])
    tiny.op("Mul", "h", ["x", "two"])
    tiny.op("NoSuchOp", "dead", ["x"])  # not needed by any output: never converted
    tiny.const("two", np.array(2.0, np.float32))
    tiny.placeholder("x", x.shape)
    tiny.output("y")
    out, model = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_allclose(out["y:0"], np.maximum(2 * x, 0))
    assert [n.op_type for n in model.graph.node] == ["Mul", "Relu"]


def test_signature_names_kept(tiny, rng):
    """CenterNet names its tensors without ':0'; they are used verbatim."""
    x = rng.standard_normal((1, 2)).astype(np.float32)
    tiny.placeholder("tower_0/images", x.shape, signature_name="tower_0/images")
    tiny.op("Sigmoid", "tower_0/Sigmoid", ["tower_0/images"])
    tiny.op("Identity", "tower_0/keypoints", ["tower_0/Sigmoid"])
    tiny.output("tower_0/keypoints", signature_name="tower_0/keypoints")
    out, model = convert_and_run(tiny, {"tower_0/images": x})
    assert [i.name for i in model.graph.input] == ["tower_0/images"]
    assert [o.name for o in model.graph.output] == ["tower_0/keypoints"]
    np.testing.assert_allclose(out["tower_0/keypoints"], 1 / (1 + np.exp(-x)), rtol=1e-6)


def test_outputs_sharing_a_tensor_and_a_constant_output(tiny, rng):
    x = rng.standard_normal((3,)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.op("Relu", "r", ["x"])
    tiny.op("Identity", "a", ["r"])
    tiny.op("Identity", "b", ["r"])
    tiny.const("c", np.array([1.0, 2.0], np.float32))
    for ref in ("a", "b", "c"):
        tiny.output(ref)
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["a:0"], np.maximum(x, 0))
    np.testing.assert_array_equal(out["b:0"], np.maximum(x, 0))
    np.testing.assert_array_equal(out["c:0"], [1.0, 2.0])


def test_model_is_checked_shape_inferred_and_labelled(tiny, rng):
    tiny.placeholder("x", (1, 8, 8, 3))
    tiny.const("w", rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    tiny.op("Conv2D", "c", ["x", "w"], padding="SAME", strides=[1, 2, 2, 1])
    tiny.op("Relu", "y", ["c"])
    tiny.output("y")
    model = convert_graph_model(tiny.write(), opset=17)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 4, 4, 4]
    assert len(model.graph.value_info) > 0  # intermediate shapes inferred
    props = {p.key: p.value for p in model.metadata_props}
    assert props["tfjs.generatedBy"] == "test"


def test_const_without_weight(tiny):
    tiny.placeholder("x", (2,))
    tiny.op("Add", "y", ["x", "ghost"])
    tiny.nodes.append({"name": "ghost", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}})
    tiny.output("y")
    path = tiny.write()
    with pytest.raises(TfjsFormatError, match="'ghost' has no manifest weight") as raised:
        convert_graph_model(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("cycle", "cycle through node"),
        ("missing input", "'nowhere', which is not in the graph"),
        ("bad output", "names no node"),
        ("shape", "the signature says"),
        ("no outputs", "lists no outputs"),
    ],
)
def test_graph_errors_name_the_file(tiny, edit, expected):
    tiny.placeholder("x", (2,))
    tiny.op("Relu", "a", ["x"])
    tiny.op("Relu", "y", ["a"])
    tiny.output("y")
    path = tiny.write()
    document = json.loads(path.read_text())
    nodes = {n["name"]: n for n in document["modelTopology"]["node"]}
    outputs = document["signature"]["outputs"]
    if edit == "cycle":
        nodes["a"]["input"] = ["y"]
    elif edit == "missing input":
        nodes["a"]["input"] = ["nowhere"]
    elif edit == "bad output":
        outputs["ghost:0"] = {"name": "ghost:0"}
    elif edit == "shape":
        outputs["y:0"]["tensorShape"] = {"dim": [{"size": "3"}]}
    else:
        document["signature"]["outputs"] = {}
    path.write_text(json.dumps(document))
    with pytest.raises(TfjsFormatError, match=expected) as raised:
        convert_graph_model(path)
    assert str(path) in str(raised.value)


def test_opset_out_of_range(tiny):
    tiny.placeholder("x", (2,))
    tiny.output("x")
    with pytest.raises(ValueError, match="opset 11"):
        convert_graph_model(tiny.write(), opset=11)
