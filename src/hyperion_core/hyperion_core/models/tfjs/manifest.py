"""Reading a TF.js graph model: ``model.json`` and its ``.bin`` weight shards.

``weightsManifest`` is a list of groups ``{"paths": [shard, ...], "weights": [spec, ...]}``.
A group's shards, concatenated in order, hold its weights back to back in the order of
``weights``. A spec is ``{"name", "shape", "dtype", "quantization"?}``:

- ``dtype`` float32 and int32 take 4 bytes an element, bool 1 byte, and string elements are
  a little-endian uint32 byte length followed by the bytes (skipped here: no op needs them);
- ``quantization {"dtype": "float16"}`` stores IEEE halves; ``{"dtype": "uint8"|"uint16",
  "scale", "min"}`` stores ``q`` with value ``q * scale + min``. Either is cast back to
  ``dtype`` (integers rounded half up, as TF.js does).

Every error names the file it is about (``model.json`` or the shard) and the weight.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperion_core.models.tfjs.attrs import TF_DTYPES, TensorRef, TfNode, shape_from_json
from hyperion_core.models.tfjs.errors import TfjsFormatError

_PLAIN_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTISED_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True)
class SignatureTensor:
    """A model input or output as named in ``signature``.

    Args:
        name: the signature's tensor name, e.g. ``"input_1:0"`` or ``"tower_0/images"``.
        ref: the node output it refers to.
        dtype: element type.
        shape: dimensions (-1 where unknown), ``None`` if the signature gives none.
    """

    name: str
    ref: TensorRef
    dtype: np.dtype
    shape: tuple[int, ...] | None


@dataclass(frozen=True)
class GraphModel:
    """A parsed graph model.

    Args:
        path: the ``model.json`` read.
        nodes: GraphDef nodes in file order (not necessarily topological).
        inputs, outputs: from ``signature`` (natural name order).
        weights: every manifest weight by name, shaped, in its manifest dtype (bool,
            int32 or float32; strings are absent).
        meta: ``format``, ``generatedBy``, ``convertedBy`` as the file states them.
    """

    path: Path
    nodes: tuple[TfNode, ...]
    inputs: tuple[SignatureTensor, ...]
    outputs: tuple[SignatureTensor, ...]
    weights: dict[str, np.ndarray]
    meta: dict[str, str]


def read_graph_model(path: Path) -> GraphModel:
    """Read ``model.json`` and every weight shard it lists (shards relative to its folder).

    Raises:
        TfjsFormatError: malformed JSON, not a graph model, a missing or wrong-sized shard,
            an unsupported dtype or quantisation, or a Const node whose declared shape
            differs from its manifest weight; the message names the file and the weight.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise TfjsFormatError(f"{path}: no such model file") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TfjsFormatError(f"{path}: malformed JSON: {err}") from err
    if not isinstance(document, dict):
        raise TfjsFormatError(f"{path}: expected a JSON object at the top level")
    kind = document.get("format", "graph-model")
    if kind != "graph-model":
        raise TfjsFormatError(f"{path}: format {kind!r} is not a TF.js graph model")
    try:
        raw_nodes = document["modelTopology"]["node"]
        nodes = tuple(TfNode.from_json(raw) for raw in raw_nodes)
        manifest = document["weightsManifest"]
    except (KeyError, TypeError) as err:
        raise TfjsFormatError(f"{path}: missing or malformed key {err}") from err
    weights = read_weights(manifest, path)
    _check_constants(nodes, weights, path)
    signature = document.get("signature") or {}
    inputs = _signature_tensors(signature.get("inputs"), path)
    outputs = _signature_tensors(signature.get("outputs"), path)
    meta = {k: str(document[k]) for k in ("format", "generatedBy", "convertedBy") if k in document}
    return GraphModel(path, nodes, inputs, outputs, weights, meta)


def read_weights(manifest: list[dict[str, Any]], model_file: Path) -> dict[str, np.ndarray]:
    """Decode every weight group of ``manifest``; shard paths are relative to ``model_file``.

    Args:
        manifest: the ``weightsManifest`` list.
        model_file: the ``model.json`` the manifest came from (named in errors).

    Returns:
        weights by name, shaped as the manifest says (strings skipped).
    """
    weights: dict[str, np.ndarray] = {}
    try:
        for group in manifest:
            weights.update(_read_group(group, model_file))
    except (KeyError, TypeError) as err:
        raise TfjsFormatError(f"{model_file}: malformed weightsManifest entry: {err}") from err
    return weights


def _read_group(group: dict[str, Any], model_file: Path) -> dict[str, np.ndarray]:
    shards = [model_file.parent / name for name in group["paths"]]
    chunks = []
    for shard in shards:
        try:
            chunks.append(shard.read_bytes())
        except FileNotFoundError as err:
            raise TfjsFormatError(
                f"{shard}: weight shard listed by {model_file} is missing"
            ) from err
    data = b"".join(chunks)
    described = _describe_shards(shards, chunks)
    out: dict[str, np.ndarray] = {}
    offset = 0
    for spec in group["weights"]:
        name = spec["name"]
        shape = tuple(int(d) for d in spec["shape"])
        if any(d < 0 for d in shape):
            raise TfjsFormatError(f"{model_file}: weight {name!r} has negative shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        try:
            value, size = _decode(spec, data, offset, count, model_file)
        except _ShortData as err:
            needed = offset + err.needed
            raise TfjsFormatError(
                f"{described}: truncated: weight {name!r} needs bytes up to {needed}, "
                f"the shards hold {len(data)} ({model_file})"
            ) from None
        offset += size
        if value is not None:
            out[name] = value.reshape(shape)
    if offset != len(data):
        raise TfjsFormatError(
            f"{described}: expected {offset} bytes for the weights {model_file} lists, "
            f"found {len(data)}"
        )
    return out


class _ShortData(Exception):
    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


def _decode(
    spec: dict[str, Any], data: bytes, offset: int, count: int, model_file: Path
) -> tuple[np.ndarray | None, int]:
    """One weight at ``offset``: (value or None for strings, bytes consumed)."""
    dtype = spec["dtype"]
    name = spec["name"]
    if dtype == "string":
        return None, _string_bytes(data, offset, count)
    if dtype not in _PLAIN_DTYPES:
        raise TfjsFormatError(f"{model_file}: weight {name!r}: unsupported dtype {dtype!r}")
    target = np.dtype(_PLAIN_DTYPES[dtype])
    quantization = spec.get("quantization")
    stored = target
    if quantization is not None:
        qtype = quantization.get("dtype")
        if qtype not in _QUANTISED_DTYPES:
            raise TfjsFormatError(
                f"{model_file}: weight {name!r}: unsupported quantization dtype {qtype!r}"
            )
        stored = np.dtype(_QUANTISED_DTYPES[qtype]).newbyteorder("<")
    elif target != np.bool_:
        stored = target.newbyteorder("<")
    size = count * stored.itemsize
    if offset + size > len(data):
        raise _ShortData(size)
    raw = np.frombuffer(data, stored, count, offset)
    if quantization is None or quantization["dtype"] == "float16":
        return raw.astype(target), size
    if "scale" not in quantization or "min" not in quantization:
        raise TfjsFormatError(
            f"{model_file}: weight {name!r}: affine quantization without scale/min"
        )
    # As TF.js: computed in doubles; integers rounded half up (JavaScript's Math.round).
    values = raw.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])
    if np.issubdtype(target, np.integer):
        values = np.floor(values + 0.5)
    return values.astype(target), size


def _string_bytes(data: bytes, offset: int, count: int) -> int:
    start = offset
    for _ in range(count):
        if offset + 4 > len(data):
            raise _ShortData(offset + 4 - start)
        length = int(np.frombuffer(data, "<u4", 1, offset)[0])
        offset += 4 + length
    if offset > len(data):
        raise _ShortData(offset - start)
    return offset - start


def _describe_shards(shards: list[Path], chunks: list[bytes]) -> str:
    pairs = zip(shards, chunks, strict=True)
    return ", ".join(f"{shard} ({len(chunk)} bytes)" for shard, chunk in pairs)


def _check_constants(nodes: tuple[TfNode, ...], weights: dict[str, np.ndarray], path: Path) -> None:
    """A Const node that declares a shape must agree with its manifest weight."""
    for node in nodes:
        if node.op != "Const" or node.name not in weights:
            continue
        tensor = node.attrs.get("value", {}).get("tensor", {})
        if "tensorShape" not in tensor:
            continue
        declared = shape_from_json(tensor["tensorShape"])
        actual = weights[node.name].shape
        if declared is not None and tuple(declared) != actual:
            raise TfjsFormatError(
                f"{path}: weight {node.name!r} has {int(np.prod(actual))} elements, shape "
                f"{list(actual)} in the manifest, but its Const node declares shape "
                f"{list(declared)} ({int(np.prod(declared))} elements)"
            )


def _signature_tensors(entries: dict[str, Any] | None, path: Path) -> tuple[SignatureTensor, ...]:
    if not entries:
        return ()
    out = []
    for key, entry in entries.items():
        name = str(entry.get("name", key))
        dtype_name = entry.get("dtype", "DT_FLOAT")
        if dtype_name not in TF_DTYPES:
            raise TfjsFormatError(f"{path}: signature tensor {name!r} has dtype {dtype_name}")
        shape = shape_from_json(entry.get("tensorShape"))
        out.append(SignatureTensor(name, TensorRef.parse(name), TF_DTYPES[dtype_name], shape))
    return tuple(sorted(out, key=lambda t: _natural_key(t.name)))


def _natural_key(text: str) -> list[Any]:
    """``Identity_10`` after ``Identity_2``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]
