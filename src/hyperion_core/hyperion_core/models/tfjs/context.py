"""What an op translation sees: the TF node, its builder, and error helpers.

A translation is ``translate(ctx, inputs) -> outputs`` over :class:`~.graph.Value` s; an
optional ``fold(node, arrays) -> arrays`` evaluates the op in numpy when every input is a
constant, so shape arithmetic never reaches the ONNX graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperion_core.models.tfjs.attrs import TfNode
from hyperion_core.models.tfjs.errors import UnsupportedOpError
from hyperion_core.models.tfjs.graph import GraphBuilder, Value, onnx_dtype

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


@dataclass(frozen=True)
class OpContext:
    """One TF node being translated.

    Args:
        builder: the graph under construction.
        node: the TF node.
        model_file: the ``model.json`` (named in errors).
    """

    builder: GraphBuilder
    node: TfNode
    model_file: Path

    @property
    def opset(self) -> int:
        """Default-domain opset of the graph."""
        return self.builder.opset

    def emit(
        self,
        op_type: str,
        inputs: Sequence[Value | np.ndarray | None],
        *,
        outputs: int = 1,
        **attrs: Any,
    ) -> list[Value]:
        """Add an ONNX node named after this TF node (see :meth:`GraphBuilder.emit`)."""
        return self.builder.emit(op_type, inputs, hint=self.node.name, outputs=outputs, **attrs)

    def emit1(
        self, op_type: str, inputs: Sequence[Value | np.ndarray | None], **attrs: Any
    ) -> Value:
        """Like :meth:`emit` for a single-output node."""
        return self.emit(op_type, inputs, **attrs)[0]

    def unsupported(self, why: str) -> UnsupportedOpError:
        """An error naming the op, the node and the model file."""
        return UnsupportedOpError(
            f"{self.model_file}: op {self.node.op} (node {self.node.name!r}): {why}"
        )

    def constant(self, value: Value, what: str) -> np.ndarray:
        """The array of an input that must be known at conversion time."""
        if value.const is None:
            raise self.unsupported(f"{what} must be a constant")
        return value.const

    def static_shape(self, value: Value, what: str) -> tuple[int, ...]:
        """Fully known static shape of an input."""
        if value.shape is None or any(d is None for d in value.shape):
            raise self.unsupported(f"{what} needs a static shape, got {value.shape}")
        return tuple(int(d) for d in value.shape)

    def transpose(self, value: Value, perm: Sequence[int]) -> Value:
        """``value`` with its axes permuted (folded for constants)."""
        if value.is_const:
            return Value.of(np.transpose(value.const, perm), value.label)
        return self.emit1("Transpose", [value], perm=list(perm))

    def as_dtype(self, value: Value, dtype: np.dtype) -> Value:
        """``value`` converted to ``dtype`` (no node when it already is)."""
        if value.dtype == dtype:
            return value
        if value.is_const:
            return Value.of(value.const.astype(dtype), value.label)
        return self.emit1("Cast", [value], to=onnx_dtype(dtype))


Translate = Callable[[OpContext, list[Value]], list[Value]]
Fold = Callable[[TfNode, list[np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class OpSpec:
    """How one TF op converts.

    Args:
        translate: emits ONNX nodes for runtime inputs.
        fold: numpy evaluation used when every input is a constant; ``None`` if the op
            never needs folding (it is then emitted over initialisers).
    """

    translate: Translate
    fold: Fold | None = None
