"""Building the ONNX graph: values, initialisers, nodes, and per-node shape inference.

A TF tensor under conversion is a :class:`Value`: either a constant (a numpy array, folded
at conversion time) or a runtime ONNX tensor with its inferred dtype and shape. Every node
added through :meth:`GraphBuilder.emit` is shape-inferred on its own with ONNX's inference,
so translations can ask for static shapes (e.g. SAME padding, StridedSlice with an
ellipsis) without running inference over the whole graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import defs, helper, numpy_helper, shape_inference

from hyperion_core.models.tfjs.errors import TfjsFormatError

# Constants up to this many elements are handed to shape inference as data (shape tensors).
_DATA_FOR_INFERENCE = 64


@dataclass(frozen=True, eq=False)
class Value:
    """A tensor during conversion.

    Args:
        dtype: element type.
        shape: static dims (``None`` for an unknown dim); ``None`` if even the rank is
            unknown.
        name: the ONNX tensor name of a runtime value; ``None`` for a constant.
        const: the value of a constant (never mutated); ``None`` at run time.
        label: a readable base name for the initialiser of a constant.
    """

    dtype: np.dtype
    shape: tuple[int | None, ...] | None
    name: str | None = None
    const: np.ndarray | None = None
    label: str = "const"

    @classmethod
    def of(cls, array: np.ndarray, label: str = "const") -> Value:
        """A constant value (the array is used as is, not copied)."""
        array = np.asarray(array)
        return cls(array.dtype, tuple(array.shape), None, array, label)

    @property
    def is_const(self) -> bool:
        """Whether the value is known at conversion time."""
        return self.const is not None

    @property
    def rank(self) -> int | None:
        """Number of dims, ``None`` if unknown."""
        return None if self.shape is None else len(self.shape)


def onnx_dtype(dtype: np.dtype) -> int:
    """ONNX ``TensorProto`` element type of a numpy dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class GraphBuilder:
    """Collects the nodes, initialisers and graph inputs of one ONNX graph.

    Args:
        opset: the default-domain opset the nodes are written for.
    """

    def __init__(self, *, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self._used: set[str] = set()
        self._const_names: dict[int, str] = {}
        self._keep_alive: list[np.ndarray] = []
        self._opsets = [helper.make_opsetid("", opset)]

    def fresh(self, base: str) -> str:
        """A tensor/node name not used before, derived from ``base``."""
        name = base
        k = 1
        while name in self._used:
            name = f"{base}__{k}"
            k += 1
        self._used.add(name)
        return name

    def reserve(self, names: Sequence[str]) -> None:
        """Keep ``names`` (the signature's) from being given to generated tensors."""
        self._used.update(names)

    def add_input(self, name: str, dtype: np.dtype, shape: Sequence[int | None] | None) -> Value:
        """Declare a graph input called exactly ``name`` (-1/None dims become symbolic)."""
        if any(existing.name == name for existing in self.inputs):
            raise TfjsFormatError(f"graph input name {name!r} is used twice")
        self._used.add(name)
        dims = None if shape is None else [None if d is None or d < 0 else d for d in shape]
        symbolic = (
            None
            if dims is None
            else [d if d is not None else f"{name}_dim{i}" for i, d in enumerate(dims)]
        )
        self.inputs.append(helper.make_tensor_value_info(name, onnx_dtype(dtype), symbolic))
        return Value(np.dtype(dtype), None if dims is None else tuple(dims), name)

    def tensor(self, value: Value | np.ndarray) -> str:
        """The ONNX name of a value; a constant becomes an initialiser (once per array)."""
        if isinstance(value, np.ndarray):
            value = Value.of(value)
        if value.name is not None:
            return value.name
        array = value.const
        key = id(array)
        if key not in self._const_names:
            name = self.fresh(value.label)
            # np.require keeps 0-d arrays 0-d (np.ascontiguousarray would make them 1-d).
            contiguous = np.require(array, requirements="C")
            self.initializers.append(numpy_helper.from_array(contiguous, name))
            self._const_names[key] = name
            self._keep_alive.append(array)  # keeps id(array) from being reused
        return self._const_names[key]

    def emit(
        self,
        op_type: str,
        inputs: Sequence[Value | np.ndarray | None],
        *,
        hint: str,
        outputs: int = 1,
        **attrs: Any,
    ) -> list[Value]:
        """Append one node and return its outputs with inferred dtype and shape.

        Args:
            op_type: ONNX op in the default domain.
            inputs: values in order; ``None`` leaves an optional input out.
            hint: base for the node and output names (usually the TF node name).
            outputs: number of outputs.
            attrs: ONNX attributes (``None`` values are dropped).

        Raises:
            TfjsFormatError: when ONNX shape inference rejects the node (shape mismatch).
        """
        values = [Value.of(v) if isinstance(v, np.ndarray) else v for v in inputs]
        names = ["" if v is None else self.tensor(v) for v in values]
        out_names = [self.fresh(f"{hint}:{k}" if outputs > 1 else hint) for k in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = helper.make_node(
            op_type, names, out_names, name=self.fresh(f"{hint}/{op_type}"), **attrs
        )
        types = {n: _type_of(v) for n, v in zip(names, values, strict=True) if v is not None}
        data = {
            n: numpy_helper.from_array(v.const, n)
            for n, v in zip(names, values, strict=True)
            if v is not None and v.is_const and v.const.size <= _DATA_FOR_INFERENCE
        }
        try:
            inferred = shape_inference.infer_node_outputs(
                defs.get_schema(op_type, self.opset), node, types, data, opset_imports=self._opsets
            )
        except Exception as err:  # onnx raises InferenceError and others
            raise TfjsFormatError(f"ONNX {op_type} for {hint!r}: {err}") from err
        self.nodes.append(node)
        return [_value_from_type(name, inferred.get(name)) for name in out_names]


def _type_of(value: Value) -> onnx.TypeProto:
    shape = None if value.shape is None else list(value.shape)  # None dims stay unknown
    return helper.make_tensor_type_proto(onnx_dtype(value.dtype), shape)


def _value_from_type(name: str, type_proto: onnx.TypeProto | None) -> Value:
    if type_proto is None or not type_proto.tensor_type.elem_type:
        raise TfjsFormatError(f"ONNX inference gave no type for {name!r}")
    tensor = type_proto.tensor_type
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type)
    shape = None
    if tensor.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
    return Value(np.dtype(dtype), shape, name)
