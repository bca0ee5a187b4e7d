"""Element-wise ops, activations and reductions against numpy, at run time and folded."""

import numpy as np
import pytest

from .tinymodel import assert_close, convert_and_run

_BINARY = {
    "Add": np.add,
    "AddV2": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "RealDiv": np.divide,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
}


@pytest.mark.parametrize("op", list(_BINARY))
@pytest.mark.parametrize("second", ["runtime", "const"])
def test_binary(tiny, rng, op, second):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (1, 4)).astype(np.float32)  # broadcast along the last axis
    tiny.placeholder("a", a.shape)
    if second == "runtime":
        tiny.placeholder("b", b.shape)
    else:
        tiny.const("b", b, quantize="float16")
        b = b.astype(np.float16).astype(np.float32)
    tiny.op(op, "y", ["b", "a"], T="DT_FLOAT")  # constant first, as grappler writes Mul
    tiny.output("y")
    feeds = {"a:0": a, **({"b:0": b} if second == "runtime" else {})}
    out, _ = convert_and_run(tiny, feeds)
    assert_close(out["y:0"], _BINARY[op](b, a))


@pytest.mark.parametrize("dtype", ["DT_INT32", "DT_FLOAT"])
def test_floor_div_and_mod(tiny, dtype):
    """Floor semantics with negative operands: -7 // 2 == -4, -7 % 2 == 1, 7 % -2 == -1."""
    numpy_type = np.int32 if dtype == "DT_INT32" else np.float32
    a = np.array([-7, 7, -7, 7, 6, -6, 0, 5], numpy_type)
    b = np.array([2, 2, -2, -2, 3, 4, 3, -3], numpy_type)
    tiny.placeholder("a", a.shape, dtype=dtype)
    tiny.placeholder("b", b.shape, dtype=dtype)
    tiny.op("FloorDiv", "q", ["a", "b"], T=dtype)
    tiny.op("FloorMod", "r", ["a", "b"], T=dtype)
    tiny.output("q")
    tiny.output("r")
    out, _ = convert_and_run(tiny, {"a:0": a, "b:0": b})
    np.testing.assert_array_equal(out["q:0"], np.floor_divide(a, b))
    np.testing.assert_array_equal(out["r:0"], np.mod(a, b))
    np.testing.assert_array_equal(out["q:0"][:4], [-4, 3, 3, -4])


def test_floor_div_by_constant_on_top_k_indices(tiny, rng):
    """CenterNet's decoding: int32 indices // 80 and % 128 against scalar constants."""
    flat = rng.standard_normal((1, 64 * 80)).astype(np.float32)
    tiny.placeholder("x", flat.shape)
    tiny.const("k", np.array(10, np.int32))
    tiny.op("TopKV2", "top", ["x", "k"], sorted=True)
    tiny.const("classes", np.array(80, np.int32))
    tiny.const("width", np.array(8, np.int32))
    tiny.op("FloorDiv", "cell", ["top:1", "classes"])
    tiny.op("FloorMod", "cls", ["top:1", "classes"])
    tiny.op("FloorMod", "col", ["cell", "width"])
    for ref in ("cls", "col"):
        tiny.output(ref)
    out, _ = convert_and_run(tiny, {"x:0": flat})
    index = np.argsort(-flat[0], kind="stable")[:10]
    np.testing.assert_array_equal(out["cls:0"][0], index % 80)
    np.testing.assert_array_equal(out["col:0"][0], (index // 80) % 8)


def test_equal_and_cast(tiny, rng):
    a = rng.integers(0, 3, (4, 5)).astype(np.float32)
    b = rng.integers(0, 3, (4, 5)).astype(np.float32)
    tiny.placeholder("a", a.shape)
    tiny.placeholder("b", b.shape)
    tiny.op("Equal", "eq", ["a", "b"], incompatible_shape_error=True)
    tiny.op("Cast", "y", ["eq"], SrcT="DT_BOOL", DstT="DT_FLOAT")
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"a:0": a, "b:0": b})
    np.testing.assert_array_equal(out["y:0"], (a == b).astype(np.float32))


_UNARY = {
    "Relu": lambda x: np.maximum(x, 0),
    "Relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "LeakyRelu": lambda x: np.where(x >= 0, x, 0.1 * x),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "Tanh": np.tanh,
    "Elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
}


@pytest.mark.parametrize("op", list(_UNARY))
@pytest.mark.parametrize("folded", [False, True])
def test_unary(tiny, rng, op, folded):
    x = 4 * rng.standard_normal((3, 7)).astype(np.float32)
    if folded:  # the op over a constant, added to a runtime zero
        tiny.const("x", x)
        tiny.placeholder("z", x.shape)
        tiny.op(op, "u", ["x"], alpha=0.1)
        tiny.op("Add", "y", ["u", "z"])
    else:
        tiny.placeholder("x", x.shape)
        tiny.op(op, "y", ["x"], alpha=0.1)
    tiny.output("y")
    feeds = {"z:0": np.zeros_like(x)} if folded else {"x:0": x}
    out, model = convert_and_run(tiny, feeds)
    assert_close(out["y:0"], _UNARY[op](x.astype(np.float64)))
    if folded:
        assert [n.op_type for n in model.graph.node] == ["Add"]


@pytest.mark.parametrize("op", ["Mean", "Sum", "Max", "Min"])
@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("opset", [17, 18])
def test_reductions(tiny, rng, op, keep_dims, opset):
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("axes", np.array([1, -2], np.int32))
    tiny.op(op, "y", ["x", "axes"], keep_dims=keep_dims, Tidx="DT_INT32")
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x}, opset=opset)
    numpy_op = {"Mean": np.mean, "Sum": np.sum, "Max": np.max, "Min": np.min}[op]
    assert_close(out["y:0"], numpy_op(x.astype(np.float64), axis=(1, 2), keepdims=keep_dims))


def test_mean_over_no_axes_is_identity(tiny, rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("axes", np.zeros((0,), np.int32))
    tiny.op("Mean", "y", ["x", "axes"], keep_dims=False)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["y:0"], x)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_bias_add(tiny, rng, data_format):
    shape = (1, 4, 5, 3) if data_format == "NHWC" else (1, 3, 4, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("b", bias)
    tiny.op("BiasAdd", "y", ["x", "b"], data_format=data_format)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    expected = x + (bias if data_format == "NHWC" else bias[:, None, None])
    assert_close(out["y:0"], expected)
