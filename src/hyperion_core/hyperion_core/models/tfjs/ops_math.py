"""Element-wise arithmetic, comparisons, activations and reductions.

TF broadcasting is numpy broadcasting, as is ONNX's multidirectional broadcasting, so
binary ops map one to one; only the floor variants of division need care:
``FloorDiv``/``FloorMod`` round toward negative infinity (numpy's ``//`` and ``%``), while
ONNX ``Div`` on integers truncates toward zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hyperion_core.models.tfjs.attrs import TfNode
from hyperion_core.models.tfjs.context import OpContext, OpSpec
from hyperion_core.models.tfjs.graph import Value

NumpyBinary = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _same_dtype(ctx: OpContext, a: Value, b: Value) -> tuple[Value, Value]:
    """Constants take the dtype of the runtime operand (TF requires equal dtypes anyway)."""
    if a.is_const and not b.is_const:
        a = ctx.as_dtype(a, b.dtype)
    elif b.is_const and not a.is_const:
        b = ctx.as_dtype(b, a.dtype)
    return a, b


def _binary(onnx_op: str, numpy_op: NumpyBinary) -> OpSpec:
    def translate(ctx: OpContext, inputs: list[Value]) -> list[Value]:
        a, b = _same_dtype(ctx, *inputs[:2])
        return [ctx.emit1(onnx_op, [a, b])]

    def fold(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
        return [
            np.asarray(numpy_op(args[0], args[1])).astype(
                np.bool_ if onnx_op == "Equal" else args[0].dtype
            )
        ]

    return OpSpec(translate, fold)


def _floor_div(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    a, b = _same_dtype(ctx, *inputs[:2])
    if np.issubdtype(a.dtype, np.integer):
        # a - (a mod b) is an exact multiple of b, so the truncating Div is exact.
        remainder = ctx.emit1("Mod", [a, b], fmod=0)
        return [ctx.emit1("Div", [ctx.emit1("Sub", [a, remainder]), b])]
    return [ctx.emit1("Floor", [ctx.emit1("Div", [a, b])])]


def _floor_mod(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    a, b = _same_dtype(ctx, *inputs[:2])
    if np.issubdtype(a.dtype, np.integer):
        return [ctx.emit1("Mod", [a, b], fmod=0)]  # sign of the divisor, as TF
    quotient = ctx.emit1("Floor", [ctx.emit1("Div", [a, b])])
    return [ctx.emit1("Sub", [a, ctx.emit1("Mul", [quotient, b])])]


def _bias_add(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, bias = inputs
    if ctx.node.get_str("data_format", "NHWC") == "NCHW" and x.rank is not None:
        # The bias runs along axis 1: shape it (C, 1, ..., 1) for broadcasting.
        shape = np.array([-1] + [1] * (x.rank - 2), np.int64)
        bias = Value.of(ctx.constant(bias, "bias").reshape(shape), bias.label)
    x, bias = _same_dtype(ctx, x, bias)
    return [ctx.emit1("Add", [x, bias])]


def activation(ctx: OpContext, kind: str, x: Value, extra: Value | None = None) -> Value:
    """Apply a TF activation by name (also used by the fused convolutions).

    Args:
        kind: ``Relu``, ``Relu6``, ``LeakyRelu`` (``alpha`` or ``leakyrelu_alpha`` attr,
            TF default 0.2), ``Elu``, ``Sigmoid``, ``Tanh``, or ``Prelu`` (slope ``extra``,
            broadcast against ``x`` as given).
    """
    if kind == "Relu":
        return ctx.emit1("Relu", [x])
    if kind == "Relu6":
        zero, six = np.zeros((), x.dtype), np.full((), 6, x.dtype)
        return ctx.emit1("Clip", [x, Value.of(zero, "zero"), Value.of(six, "six")])
    if kind == "LeakyRelu":
        key = "alpha" if ctx.node.has("alpha") else "leakyrelu_alpha"
        return ctx.emit1("LeakyRelu", [x], alpha=ctx.node.get_float(key, 0.2))
    if kind in ("Elu", "Sigmoid", "Tanh"):
        return ctx.emit1(kind, [x])
    if kind == "Prelu" and extra is not None:
        return ctx.emit1("PRelu", [x, ctx.as_dtype(extra, x.dtype)])
    raise ctx.unsupported(f"activation {kind!r}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


_UNARY_FOLDS: dict[str, Callable[[np.ndarray, TfNode], np.ndarray]] = {
    "Relu": lambda x, n: np.maximum(x, 0).astype(x.dtype),
    "Relu6": lambda x, n: np.clip(x, 0, 6).astype(x.dtype),
    "LeakyRelu": lambda x, n: np.where(x > 0, x, x * n.get_float("alpha", 0.2)).astype(x.dtype),
    "Sigmoid": lambda x, n: _sigmoid(x),
    "Tanh": lambda x, n: np.tanh(x),
    "Elu": lambda x, n: np.where(x > 0, x, np.expm1(np.minimum(x, 0))).astype(x.dtype),
}


def _unary(kind: str) -> OpSpec:
    def translate(ctx: OpContext, inputs: list[Value]) -> list[Value]:
        return [activation(ctx, kind, inputs[0])]

    def fold(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
        return [_UNARY_FOLDS[kind](args[0], node)]

    return OpSpec(translate, fold)


_REDUCTIONS = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin"}
_NUMPY_REDUCTIONS = {"Mean": np.mean, "Sum": np.sum, "Max": np.max, "Min": np.min}


def _reduce(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, axes_value = inputs
    axes = np.asarray(ctx.constant(axes_value, "reduction_indices"), np.int64).reshape(-1)
    if axes.size == 0:
        return [x]  # TF reduces nothing; ONNX would reduce everything
    onnx_op = _REDUCTIONS[ctx.node.op]
    keepdims = int(ctx.node.get_bool("keep_dims", False))
    # ReduceSum took axes as an input from opset 13, the other reductions from opset 18.
    if ctx.opset >= 18 or (onnx_op == "ReduceSum" and ctx.opset >= 13):
        return [ctx.emit1(onnx_op, [x, Value.of(axes, "axes")], keepdims=keepdims)]
    return [ctx.emit1(onnx_op, [x], axes=axes.tolist(), keepdims=keepdims)]


def _fold_reduce(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    x, axes = args
    axes = tuple(int(a) for a in np.asarray(axes).reshape(-1))
    result = _NUMPY_REDUCTIONS[node.op](x, axis=axes, keepdims=node.get_bool("keep_dims", False))
    return [np.asarray(result).astype(x.dtype)]


def _cast(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    return [ctx.as_dtype(inputs[0], ctx.node.get_dtype("DstT"))]


def _fold_cast(node: TfNode, args: list[np.ndarray]) -> list[np.ndarray]:
    return [args[0].astype(node.get_dtype("DstT"))]


OPS: dict[str, OpSpec] = {
    "Add": _binary("Add", np.add),
    "AddV2": _binary("Add", np.add),
    "Sub": _binary("Sub", np.subtract),
    "Mul": _binary("Mul", np.multiply),
    "RealDiv": _binary("Div", np.divide),
    "Maximum": _binary("Max", np.maximum),
    "Minimum": _binary("Min", np.minimum),
    "Equal": _binary("Equal", np.equal),
    "FloorDiv": OpSpec(_floor_div, _binary("Div", np.floor_divide).fold),
    "FloorMod": OpSpec(_floor_mod, _binary("Mod", np.mod).fold),
    "BiasAdd": OpSpec(_bias_add),
    "Cast": OpSpec(_cast, _fold_cast),
    **{kind: _unary(kind) for kind in _UNARY_FOLDS},
    **{kind: OpSpec(_reduce, _fold_reduce) for kind in _REDUCTIONS},
}
