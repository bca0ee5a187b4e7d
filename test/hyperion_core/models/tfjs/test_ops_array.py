"""Shape and data-movement ops at run time and folded over constants; references are plain
numpy indexing written out per case."""

import numpy as np
import pytest

from hyperion_core.models.tfjs.errors import UnsupportedOpError

from .tinymodel import assert_close, convert_and_run


def _ops(model):
    return [n.op_type for n in model.graph.node]


def test_transpose(tiny, rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("perm", np.array([2, 0, 1], np.int32))
    tiny.op("Transpose", "y", ["x", "perm"])
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["y:0"], x.transpose(2, 0, 1))


@pytest.mark.parametrize(
    ("shape", "tf_type"), [([4, -1], "DT_INT32"), ([2, 12], "DT_INT64"), ([-1], "DT_INT32")]
)
def test_reshape(tiny, rng, shape, tf_type):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("shape", np.array(shape, np.int64), tf_type=tf_type)
    tiny.op("Reshape", "y", ["x", "shape"], Tshape=tf_type)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["y:0"], x.reshape(shape))


def test_reshape_shape_from_sparse_to_dense_is_folded(tiny, rng):
    """onnx-tf's pattern in NanoDet: SparseToDense with an empty index list gives zeros,
    AddV2 adds them to [1, 80, -1]; only the Reshape may reach ONNX."""
    x = rng.standard_normal((1, 4, 4, 80)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("where", np.zeros((0, 1), np.int64), tf_type="DT_INT64")
    tiny.const("out_shape", np.array([3], np.int64), tf_type="DT_INT64")
    tiny.const("values", np.zeros((0,), np.int64), tf_type="DT_INT64")
    tiny.const("zero", np.array(0, np.int64), tf_type="DT_INT64")
    tiny.op(
        "SparseToDense",
        "dense",
        ["where", "out_shape", "values", "zero"],
        Tindices="DT_INT64",
        validate_indices=True,
    )
    tiny.const("base", np.array([1, 80, -1], np.int64), tf_type="DT_INT64")
    tiny.op("AddV2", "shape", ["base", "dense"], T="DT_INT64")
    tiny.op("Reshape", "y", ["x", "shape"], Tshape="DT_INT64")
    tiny.output("y")
    out, model = convert_and_run(tiny, {"x:0": x})
    assert _ops(model) == ["Reshape"]
    np.testing.assert_array_equal(out["y:0"], x.reshape(1, 80, -1))


def test_sparse_to_dense_fold_scatters(tiny, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("idx", np.array([[0, 1], [2, 3]], np.int32))
    tiny.const("shape", np.array([3, 4], np.int32))
    tiny.const("vals", np.array([5.0, 6.0], np.float32))
    tiny.const("dflt", np.array(-1.0, np.float32))
    tiny.op("SparseToDense", "d", ["idx", "shape", "vals", "dflt"])
    tiny.op("Add", "y", ["x", "d"])
    tiny.output("y")
    out, model = convert_and_run(tiny, {"x:0": x})
    dense = np.full((3, 4), -1.0, np.float32)
    dense[0, 1], dense[2, 3] = 5.0, 6.0
    assert _ops(model) == ["Add"]
    assert_close(out["y:0"], x + dense)


def test_sparse_to_dense_at_run_time_is_refused(tiny):
    tiny.placeholder("idx", (2,), dtype="DT_INT32")
    tiny.const("shape", np.array([4], np.int32))
    tiny.const("vals", np.array([1.0, 2.0], np.float32))
    tiny.const("dflt", np.array(0.0, np.float32))
    tiny.op("SparseToDense", "y", ["idx", "shape", "vals", "dflt"])
    tiny.output("y")
    with pytest.raises(UnsupportedOpError) as raised:
        convert_and_run(tiny, {})
    message = str(raised.value)
    assert "SparseToDense" in message and "'y'" in message
    assert str(tiny.folder / "model.json") in message


@pytest.mark.parametrize("axis", [1, -1, 0])
def test_concat(tiny, rng, axis):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    c = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tiny.placeholder("a", a.shape)
    tiny.placeholder("b", b.shape)
    tiny.const("c", c)
    tiny.const("axis", np.array(axis, np.int32))
    tiny.op("ConcatV2", "y", ["a", "c", "b", "axis"], N=3)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"a:0": a, "b:0": b})
    np.testing.assert_array_equal(out["y:0"], np.concatenate([a, c, b], axis=axis))


def test_split_v(tiny, rng):
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("sizes", np.array([2, -1, 1], np.int32))
    tiny.const("dim", np.array(1, np.int32))
    tiny.op("SplitV", "s", ["x", "sizes", "dim"], num_split=3)
    tiny.op("Sigmoid", "y", ["s:2"])
    for ref in ("s", "s:1", "y"):
        tiny.output(ref)
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["s:0"], x[:, :2])
    np.testing.assert_array_equal(out["s:1"], x[:, 2:6])
    assert_close(out["y:0"], 1 / (1 + np.exp(-x[:, 6:])))


@pytest.mark.parametrize("axis", [0, -1, 2])
def test_expand_dims(tiny, rng, axis):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("dim", np.array(axis, np.int32))
    tiny.op("ExpandDims", "y", ["x", "dim"], Tdim="DT_INT32")
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    np.testing.assert_array_equal(out["y:0"], np.expand_dims(x, axis))


_X = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
# (begin, end, strides, masks, expected) with expected written as numpy indexing.
_SLICES = {
    "begin/end masks": ([1, 0, 0], [3, 0, 0], [1, 1, 1], {"begin_mask": 6, "end_mask": 6}, _X[1:3]),
    "negative stride": (
        [0, -1, 0],
        [0, 0, 0],
        [1, -2, 1],
        {"begin_mask": 5, "end_mask": 7},
        _X[:, ::-2, :],
    ),
    "shrink": (
        [0, 2],
        [0, 3],
        [1, 1],
        {"begin_mask": 1, "end_mask": 1, "shrink_axis_mask": 2},
        _X[:, 2],
    ),
    "shrink last index": ([-1], [0], [1], {"shrink_axis_mask": 1}, _X[-1]),
    "ellipsis + new axis": (
        [0, 0, 1],
        [0, 0, 4],
        [1, 1, 2],
        {"ellipsis_mask": 1, "new_axis_mask": 2},
        _X[..., np.newaxis, 1:4:2],
    ),
    "centernet column": (
        [0, 0, 3],
        [0, 0, 4],
        [1, 1, 1],
        {"begin_mask": 3, "end_mask": 3},
        _X[:, :, 3:4],
    ),
    "clamped end": ([1, 1], [10, -1], [1, 1], {}, _X[1:10, 1:-1]),
    "middle only": ([0, 1], [0, 4], [1, 2], {"begin_mask": 1, "end_mask": 1}, _X[:, 1:4:2]),
}


@pytest.mark.parametrize("case", list(_SLICES))
@pytest.mark.parametrize("folded", [False, True])
def test_strided_slice(tiny, case, folded):
    begin, end, strides, masks, expected = _SLICES[case]
    if folded:
        tiny.const("x", _X)
    else:
        tiny.placeholder("x", _X.shape)
    for name, values in (("b", begin), ("e", end), ("s", strides)):
        tiny.const(name, np.array(values, np.int32))
    tiny.op("StridedSlice", "sl", ["x", "b", "e", "s"], Index="DT_INT32", **masks)
    tiny.op("Identity", "y", ["sl"])
    tiny.output("y")
    out, model = convert_and_run(tiny, {} if folded else {"x:0": _X})
    np.testing.assert_array_equal(out["y:0"], expected)
    if folded:
        assert _ops(model) == ["Identity"]  # the constant result bound to the output


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_v2(tiny, rng, axis):
    params = rng.standard_normal((6, 5)).astype(np.float32)
    indices = np.array([[4, 0], [1, 1], [3, 2]], np.int32)
    tiny.placeholder("p", params.shape)
    tiny.placeholder("i", indices.shape, dtype="DT_INT32")
    tiny.const("axis", np.array(axis, np.int32))
    tiny.op("GatherV2", "y", ["p", "i", "axis"], batch_dims=0)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"p:0": params, "i:0": indices})
    np.testing.assert_array_equal(out["y:0"], np.take(params, indices, axis=axis))


@pytest.mark.parametrize("op", ["Pad", "PadV2"])
def test_pad(tiny, rng, op):
    x = rng.standard_normal((1, 3, 4, 2)).astype(np.float32)
    pads = np.array([[0, 0], [1, 2], [2, 0], [0, 1]], np.int32)
    tiny.placeholder("x", x.shape)
    tiny.const("pads", pads)
    inputs = ["x", "pads"]
    if op == "PadV2":
        inputs.append(tiny.const("value", np.array(-np.inf, np.float32)))
    tiny.op(op, "y", inputs, Tpaddings="DT_INT32")
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    fill = -np.inf if op == "PadV2" else 0.0
    np.testing.assert_array_equal(out["y:0"], np.pad(x, pads, constant_values=fill))


def test_top_k_v2(tiny, rng):
    x = np.stack([rng.permutation(12), [3, 1, 3, 2, 3, 0, 0, 0, 0, 0, 0, 0]]).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("k", np.array(4, np.int32))
    tiny.op("TopKV2", "top", ["x", "k"], sorted=True)
    tiny.output("top")
    tiny.output("top:1")
    out, _ = convert_and_run(tiny, {"x:0": x})
    order = np.argsort(-x, axis=1, kind="stable")[:, :4]  # ties: lower index first, as TF
    np.testing.assert_array_equal(out["top:1"], order)
    assert out["top:1"].dtype == np.int32
    np.testing.assert_array_equal(out["top:0"], np.take_along_axis(x, order, axis=1))
    np.testing.assert_array_equal(out["top:1"][1], [0, 2, 4, 3])


def test_cast(tiny, rng):
    a = rng.integers(-5, 5, (3, 4)).astype(np.int32)
    tiny.placeholder("a", a.shape, dtype="DT_INT32")
    tiny.op("Cast", "y", ["a"], SrcT="DT_INT32", DstT="DT_FLOAT")
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"a:0": a})
    assert out["y:0"].dtype == np.float32
    np.testing.assert_array_equal(out["y:0"], a.astype(np.float32))


def test_identity_of_input(tiny, rng):
    x = rng.standard_normal((2, 2)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.op("Identity", "y", ["x"])
    tiny.output("y")
    out, model = convert_and_run(tiny, {"x:0": x})
    assert [o.name for o in model.graph.output] == ["y:0"]
    np.testing.assert_array_equal(out["y:0"], x)


def test_constant_chain_is_folded(tiny, rng):
    """Transpose, Reshape, StridedSlice, ConcatV2, ExpandDims, GatherV2, Cast, Pad and
    integer FloorDiv over constants leave only the runtime Add."""
    c = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    x = rng.standard_normal((3, 1, 6)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("c", c)
    tiny.const("perm", np.array([1, 0, 2], np.int32))
    tiny.op("Transpose", "t", ["c", "perm"])  # (3, 2, 4)
    tiny.const("shape", np.array([3, 8], np.int32))
    tiny.op("Reshape", "r", ["t", "shape"])  # (3, 8)
    tiny.const("b", np.array([0, 1], np.int32))
    tiny.const("e", np.array([0, 7], np.int32))
    tiny.const("s", np.array([1, 2], np.int32))
    tiny.op("StridedSlice", "sl", ["r", "b", "e", "s"], begin_mask=1, end_mask=1)  # (3, 3)
    tiny.const("axis", np.array(1, np.int32))
    tiny.op("ConcatV2", "cc", ["sl", "sl", "axis"], N=2)  # (3, 6)
    tiny.const("two", np.array(2, np.int32))
    tiny.op("FloorDiv", "fd", ["cc", "two"])
    tiny.const("idx", np.array([2, 0, 1], np.int32))
    tiny.const("zero", np.array(0, np.int32))
    tiny.op("GatherV2", "g", ["fd", "idx", "zero"])
    tiny.op("ExpandDims", "ed", ["g", "axis"])  # (3, 1, 6)
    tiny.op("Cast", "f", ["ed"], SrcT="DT_INT32", DstT="DT_FLOAT")
    tiny.const("pads", np.zeros((3, 2), np.int32))
    tiny.op("Pad", "p", ["f", "pads"])
    tiny.op("Add", "y", ["x", "p"])
    tiny.output("y")
    out, model = convert_and_run(tiny, {"x:0": x})
    r = c.transpose(1, 0, 2).reshape(3, 8)[:, 1:7:2]
    expected = (np.concatenate([r, r], axis=1) // 2)[[2, 0, 1]][:, None, :]
    assert _ops(model) == ["Add"]
    assert_close(out["y:0"], x + expected.astype(np.float32))
