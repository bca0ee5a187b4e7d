"""A writer of tiny TF.js graph models (``model.json`` + shards), written from the format's
description and independent of the converter, plus a runner for converted models.

Shared by the tests of this folder (imported relatively; not a test module itself)."""

import base64
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hyperion_core.models.tfjs.converter import convert_graph_model

_TF_TYPES = {
    np.dtype(np.float32): "DT_FLOAT",
    np.dtype(np.int32): "DT_INT32",
    np.dtype(np.int64): "DT_INT64",
    np.dtype(np.bool_): "DT_BOOL",
}


def encode_attr(value):
    """A python value as a protobuf-JSON AttrValue (strings "DT_*" are types)."""
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        if value.startswith("DT_"):
            return {"type": value}
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value) and value:
            return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in value]}}
        return {"list": {"i": [str(int(v)) for v in value]}}
    raise TypeError(value)


class TinyModel:
    """Builds one graph model: placeholders, constants (stored as the manifest says), ops.

    Args:
        folder: where ``write`` puts ``model.json`` and the shards.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.nodes = []
        self.weights = []  # (manifest spec, bytes)
        self.inputs = {}
        self.outputs = {}

    def placeholder(self, name, shape, dtype="DT_FLOAT", signature_name=None):
        dims = [{"size": str(d)} for d in shape]
        self.nodes.append(
            {
                "name": name,
                "op": "Placeholder",
                "attr": {"dtype": {"type": dtype}, "shape": {"shape": {"dim": dims}}},
            }
        )
        key = signature_name or f"{name}:0"
        self.inputs[key] = {"name": key, "dtype": dtype, "tensorShape": {"dim": dims}}
        return name

    def const(self, name, array, *, quantize=None, tf_type=None):
        """Store ``array``; ``quantize``: None, "float16", or ("uint8"|"uint16", scale, min)
        (then ``array`` holds the integer codes)."""
        array = np.asarray(array)
        tf_type = tf_type or _TF_TYPES[np.dtype(array.dtype)]
        spec = {"name": name, "shape": list(array.shape)}
        if quantize == "float16":
            spec["dtype"] = "float32"
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data = array.astype("<f2").tobytes()
        elif isinstance(quantize, tuple):
            kind, scale, minimum = quantize
            spec["dtype"] = "float32"
            spec["quantization"] = {"dtype": kind, "scale": scale, "min": minimum}
            data = array.astype("<u1" if kind == "uint8" else "<u2").tobytes()
        elif array.dtype == np.bool_:
            spec["dtype"] = "bool"
            data = array.astype(np.uint8).tobytes()
        elif np.issubdtype(array.dtype, np.integer):
            spec["dtype"] = "int32"  # TF.js stores int64 graph tensors as int32
            data = array.astype("<i4").tobytes()
        else:
            spec["dtype"] = "float32"
            data = array.astype("<f4").tobytes()
        self.weights.append((spec, data))
        tensor = {"dtype": tf_type, "tensorShape": {"dim": [{"size": str(d)} for d in array.shape]}}
        self.nodes.append(
            {
                "name": name,
                "op": "Const",
                "attr": {"dtype": {"type": tf_type}, "value": {"tensor": tensor}},
            }
        )
        return name

    def op(self, op, name, inputs, **attrs):
        self.nodes.append(
            {
                "name": name,
                "op": op,
                "input": list(inputs),
                "attr": {k: encode_attr(v) for k, v in attrs.items()},
            }
        )
        return name

    def output(self, ref, signature_name=None):
        key = signature_name or (ref if ":" in ref else f"{ref}:0")
        self.outputs[key] = {"name": key, "dtype": "DT_FLOAT"}

    def write(self, shards=1, name="model.json"):
        """Write the files; the weights go into one group split over ``shards`` files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        blob = b"".join(data for _, data in self.weights)
        cuts = np.linspace(0, len(blob), shards + 1).astype(int)
        paths = []
        for k in range(shards):
            shard = f"{Path(name).stem}.group1-shard{k + 1}of{shards}.bin"
            (self.folder / shard).write_bytes(blob[cuts[k] : cuts[k + 1]])
            paths.append(shard)
        document = {
            "format": "graph-model",
            "generatedBy": "test",
            "convertedBy": "test",
            "signature": {"inputs": self.inputs, "outputs": self.outputs},
            "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
            "weightsManifest": [{"paths": paths, "weights": [s for s, _ in self.weights]}],
        }
        path = self.folder / name
        path.write_text(json.dumps(document))
        return path


def run_onnx(model, feeds):
    """Run an ONNX model (proto) with onnxruntime; outputs by name."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def convert_and_run(tiny, feeds, **kwargs):
    """Write ``tiny``, convert it, run it; (outputs by name, the ONNX model)."""
    model = convert_graph_model(tiny.write(), **kwargs)
    return run_onnx(model, feeds), model


def assert_close(actual, expected, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    assert actual.shape == expected.shape
