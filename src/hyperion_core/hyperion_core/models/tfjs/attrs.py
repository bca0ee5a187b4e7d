"""TF GraphDef nodes as they appear in a TF.js ``model.json``, and their attribute values.

A node is ``{"name", "op", "input": [...], "attr": {...}}``. Inputs name a node output as
``"x"`` (output 0) or ``"x:1"``; ``"^x"`` is a control dependency, which carries no data and
is dropped. Attributes are protobuf-JSON ``AttrValue`` objects: ``{"i": "3"}`` (int64 as a
string), ``{"f": 0.1}``, ``{"b": true}``, ``{"s": <base64>}``, ``{"type": "DT_FLOAT"}``,
``{"list": {"i": [...], "s": [...]}}``, ``{"shape": ...}``, ``{"tensor": ...}``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# TF DataType enum names → numpy dtypes (strings have no numeric dtype and stay object).
TF_DTYPES: dict[str, np.dtype] = {
    "DT_FLOAT": np.dtype(np.float32),
    "DT_DOUBLE": np.dtype(np.float64),
    "DT_HALF": np.dtype(np.float16),
    "DT_INT8": np.dtype(np.int8),
    "DT_INT16": np.dtype(np.int16),
    "DT_INT32": np.dtype(np.int32),
    "DT_INT64": np.dtype(np.int64),
    "DT_UINT8": np.dtype(np.uint8),
    "DT_UINT16": np.dtype(np.uint16),
    "DT_BOOL": np.dtype(np.bool_),
    "DT_STRING": np.dtype(object),
}
_ZERO: dict[str, Any] = {"i": 0, "f": 0.0, "b": False, "s": ""}


@dataclass(frozen=True)
class TensorRef:
    """One output of a node: ``node`` is the producing node's name, ``index`` the output."""

    node: str
    index: int = 0

    @classmethod
    def parse(cls, text: str) -> TensorRef:
        """Parse ``"x"`` or ``"x:1"`` (a trailing ``:digits`` is the output index)."""
        head, sep, tail = text.rpartition(":")
        if sep and tail.isdigit():
            return cls(head, int(tail))
        return cls(text, 0)

    def __str__(self) -> str:
        return f"{self.node}:{self.index}"


@dataclass(frozen=True)
class TfNode:
    """One GraphDef node.

    Args:
        name: unique node name.
        op: TF op type, e.g. ``"Conv2D"``.
        inputs: data inputs in order (control inputs removed).
        attrs: raw protobuf-JSON attribute values by name.
    """

    name: str
    op: str
    inputs: tuple[TensorRef, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TfNode:
        """Build from one entry of ``modelTopology.node``; raises KeyError/TypeError if
        ``name`` or ``op`` is missing (the reader turns that into a file error)."""
        inputs = tuple(TensorRef.parse(s) for s in raw.get("input", []) if not s.startswith("^"))
        return cls(str(raw["name"]), str(raw["op"]), inputs, dict(raw.get("attr", {})))

    def has(self, key: str) -> bool:
        """Whether attribute ``key`` is present."""
        return key in self.attrs

    def get_int(self, key: str, default: int | None = None) -> int:
        """Integer attribute (``{"i": "3"}``); ``default`` if absent, KeyError if neither."""
        value = self._get(key, "i", default)
        return int(value)

    def get_float(self, key: str, default: float | None = None) -> float:
        """Float attribute (``{"f": 0.2}``; JSON may spell non-finite values as strings)."""
        value = self._get(key, "f", default)
        return float(value)

    def get_bool(self, key: str, default: bool | None = None) -> bool:
        """Boolean attribute (``{"b": true}``)."""
        return bool(self._get(key, "b", default))

    def get_str(self, key: str, default: str | None = None) -> str:
        """String attribute, decoded from base64 (``{"s": "U0FNRQ=="}`` → ``"SAME"``)."""
        if key not in self.attrs and default is not None:
            return default
        return base64.b64decode(self._get(key, "s", default)).decode("utf-8")

    def get_ints(self, key: str, default: list[int] | None = None) -> list[int]:
        """Integer-list attribute (``{"list": {"i": ["1", "2"]}}``)."""
        values = self._list(key, "i", default)
        return [int(v) for v in values]

    def get_strs(self, key: str, default: list[str] | None = None) -> list[str]:
        """String-list attribute, each entry decoded from base64."""
        values = self._list(key, "s", default)
        if values is default:
            return list(values)
        return [base64.b64decode(v).decode("utf-8") for v in values]

    def get_dtype(self, key: str, default: np.dtype | None = None) -> np.dtype:
        """Type attribute (``{"type": "DT_FLOAT"}``) as a numpy dtype."""
        name = self.attrs.get(key, {}).get("type")
        if name is None:
            if default is None:
                raise KeyError(f"node {self.name!r} ({self.op}) has no attribute {key!r}")
            return default
        if name not in TF_DTYPES:
            raise KeyError(f"node {self.name!r} ({self.op}): unknown dtype {name}")
        return TF_DTYPES[name]

    def _get(self, key: str, kind: str, default: Any) -> Any:
        if key in self.attrs:
            # Protobuf JSON omits zero values: a present attribute without its field is 0.
            return self.attrs[key].get(kind, _ZERO[kind])
        if default is None:
            raise KeyError(f"node {self.name!r} ({self.op}) has no attribute {key!r}")
        return default

    def _list(self, key: str, kind: str, default: list | None) -> list:
        if key not in self.attrs:
            if default is None:
                raise KeyError(f"node {self.name!r} ({self.op}) has no attribute {key!r}")
            return default
        return list(self.attrs[key].get("list", {}).get(kind, []))


def shape_from_json(shape: dict[str, Any] | None) -> tuple[int, ...] | None:
    """A ``TensorShapeProto`` in JSON as a tuple (unknown sizes are -1).

    Args:
        shape: ``{"dim": [{"size": "3"}, {}]}``; ``None`` or ``{"unknownRank": true}``
            gives ``None``. Protobuf JSON omits zero values, so a dim written ``{}`` has
            size 0 (e.g. the empty index list of a folded ``Where``).
    """
    if shape is None or shape.get("unknownRank"):
        return None
    return tuple(int(dim.get("size", 0)) for dim in shape.get("dim", []))
