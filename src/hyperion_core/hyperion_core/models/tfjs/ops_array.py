"""Shape and data-movement ops: reshape, transpose, concat, split, slice, gather, pad,
top-k, and ``SparseToDense`` (fold-only: it appears in onnx-tf graphs as shape arithmetic
over constants).

Index-like TF constants (shapes, perms, axes) may be int32 or int64; ONNX wants int64 for
shapes, pads, split sizes and slice bounds, so they are converted here.
"""

from __future__ import annotations

import numpy as np

from hyperion_core.models.tfjs.attrs import TfNode
from hyperion_core.models.tfjs.context import OpContext, OpSpec
from hyperion_core.models.tfjs.graph import Value
from hyperion_core.models.tfjs.slicing import SlicePlan, plan_strided_slice


def _ints(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, np.int64).reshape(-1)


def _identity(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    return [inputs[0]]


def _transpose(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    perm = _ints(ctx.constant(inputs[1], "perm")).tolist()
    return [ctx.transpose(inputs[0], perm)]


def _reshape(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, shape = inputs
    if shape.is_const:
        dims = _ints(shape.const)
        # TF's 0 is a zero-sized dim; ONNX reads 0 as "copy" unless allowzero is set.
        allowzero = 1 if (dims == 0).any() else None
        return [ctx.emit1("Reshape", [x, Value.of(dims, "shape")], allowzero=allowzero)]
    return [ctx.emit1("Reshape", [x, ctx.as_dtype(shape, np.dtype(np.int64))])]


def _concat(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    *parts, axis = inputs
    runtime = next(p for p in parts if not p.is_const)
    parts = [ctx.as_dtype(p, runtime.dtype) for p in parts]
    axis_value = int(ctx.constant(axis, "axis"))
    return [ctx.emit1("Concat", parts, axis=axis_value)]


def _split_sizes(ctx: OpContext, x: Value, sizes: np.ndarray, axis: int) -> np.ndarray:
    sizes = _ints(sizes).copy()
    unknown = np.flatnonzero(sizes == -1)
    if unknown.size:
        total = ctx.static_shape(x, "SplitV input with a -1 size")[axis]
        sizes[unknown[0]] = total - (sizes.sum() + 1)
    return sizes


def _split_v(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, sizes, axis = inputs
    axis_value = int(ctx.constant(axis, "split_dim"))
    split = _split_sizes(ctx, x, ctx.constant(sizes, "size_splits"), axis_value)
    return ctx.emit("Split", [x, Value.of(split, "split")], outputs=len(split), axis=axis_value)


def _fold_split_v(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    x, sizes, axis = args
    sizes = _ints(sizes).copy()
    if (sizes == -1).any():
        sizes[sizes == -1] = x.shape[int(axis)] - (sizes.sum() + 1)
    return np.split(x, np.cumsum(sizes)[:-1], axis=int(axis))


def _expand_dims(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, axis = inputs
    axes = _ints(ctx.constant(axis, "dim"))
    return [ctx.emit1("Unsqueeze", [x, Value.of(axes, "axes")])]


def _slice_plan(
    node: TfNode, rank: int, begin: np.ndarray, end: np.ndarray, strides: np.ndarray
) -> SlicePlan:
    return plan_strided_slice(
        rank,
        _ints(begin).tolist(),
        _ints(end).tolist(),
        _ints(strides).tolist(),
        begin_mask=node.get_int("begin_mask", 0),
        end_mask=node.get_int("end_mask", 0),
        ellipsis_mask=node.get_int("ellipsis_mask", 0),
        new_axis_mask=node.get_int("new_axis_mask", 0),
        shrink_axis_mask=node.get_int("shrink_axis_mask", 0),
    )


def _strided_slice(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, begin, end, strides = inputs
    if x.rank is None:
        raise ctx.unsupported("input of unknown rank")
    try:
        plan = _slice_plan(
            ctx.node,
            x.rank,
            ctx.constant(begin, "begin"),
            ctx.constant(end, "end"),
            ctx.constant(strides, "strides"),
        )
    except ValueError as err:
        raise ctx.unsupported(str(err)) from err
    out = x
    if plan.axes:
        bounds = [
            Value.of(np.array(v, np.int64), k)
            for k, v in (
                ("starts", plan.starts),
                ("ends", plan.ends),
                ("axes", plan.axes),
                ("steps", plan.steps),
            )
        ]
        out = ctx.emit1("Slice", [out, *bounds])
    if plan.squeeze:
        out = ctx.emit1("Squeeze", [out, Value.of(np.array(plan.squeeze, np.int64), "axes")])
    if plan.unsqueeze:
        out = ctx.emit1("Unsqueeze", [out, Value.of(np.array(plan.unsqueeze, np.int64), "axes")])
    return [out]


def _fold_strided_slice(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    x, begin, end, strides = args
    return [_slice_plan(node, x.ndim, begin, end, strides).apply(x)]


def _gather(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    params, indices, axis = inputs
    if ctx.node.get_int("batch_dims", 0) != 0:
        raise ctx.unsupported("batch_dims other than 0")
    return [ctx.emit1("Gather", [params, indices], axis=int(ctx.constant(axis, "axis")))]


def _fold_gather(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    params, indices, axis = args
    return [np.take(params, indices, axis=int(axis))]


def _pad(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, paddings = inputs[:2]
    pairs = np.asarray(ctx.constant(paddings, "paddings"), np.int64).reshape(-1, 2)
    pads = np.concatenate([pairs[:, 0], pairs[:, 1]])  # ONNX: all begins, then all ends
    fill = np.zeros((), x.dtype)
    if len(inputs) > 2:
        fill = np.asarray(ctx.constant(inputs[2], "constant_values"), x.dtype).reshape(())
    return [ctx.emit1("Pad", [x, Value.of(pads, "pads"), Value.of(fill, "pad_value")])]


def _fold_pad(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    x, paddings = args[:2]
    fill = args[2].reshape(()) if len(args) > 2 else 0
    pairs = np.asarray(paddings, np.int64).reshape(-1, 2)
    return [np.pad(x, pairs, constant_values=fill)]


def _top_k(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, k = inputs
    # sorted=False leaves TF's order unspecified, so the sorted output is valid for both.
    count = _ints(ctx.constant(k, "k"))[:1]
    values, indices = ctx.emit(
        "TopK", [x, Value.of(count, "k")], outputs=2, axis=-1, largest=1, sorted=1
    )
    index_type = ctx.node.get_dtype("index_type", np.dtype(np.int32))
    return [values, ctx.as_dtype(indices, index_type)]


def _sparse_to_dense(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    raise ctx.unsupported("only constant inputs are supported (folded at conversion)")


def _fold_sparse_to_dense(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    indices, shape, values, default = args
    shape = tuple(_ints(shape).tolist())
    out = np.full(shape, np.asarray(default).reshape(()), dtype=values.dtype)
    indices = np.asarray(indices, np.int64)
    if indices.ndim < 2:  # a scalar or a vector indexes a 1-D output
        indices = indices.reshape(-1, 1)
    if indices.shape[0]:
        out[tuple(indices.T)] = values
    return [out]


OPS: dict[str, OpSpec] = {
    "Identity": OpSpec(_identity, lambda node, args: [args[0]]),
    "Transpose": OpSpec(_transpose, lambda node, args: [np.transpose(args[0], _ints(args[1]))]),
    "Reshape": OpSpec(_reshape, lambda node, args: [np.reshape(args[0], _ints(args[1]))]),
    "ConcatV2": OpSpec(_concat, lambda node, args: [np.concatenate(args[:-1], axis=int(args[-1]))]),
    "SplitV": OpSpec(_split_v, _fold_split_v),
    "ExpandDims": OpSpec(
        _expand_dims, lambda node, args: [np.expand_dims(args[0], tuple(_ints(args[1])))]
    ),
    "StridedSlice": OpSpec(_strided_slice, _fold_strided_slice),
    "GatherV2": OpSpec(_gather, _fold_gather),
    "Pad": OpSpec(_pad, _fold_pad),
    "PadV2": OpSpec(_pad, _fold_pad),
    "TopKV2": OpSpec(_top_k),
    "SparseToDense": OpSpec(_sparse_to_dense, _fold_sparse_to_dense),
}
