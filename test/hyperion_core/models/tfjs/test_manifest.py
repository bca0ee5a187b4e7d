"""Reading model.json and its shards: dtypes, quantisations, shard groups, and bad files
whose errors must name the file (and the weight)."""

import json
import struct

import numpy as np
import pytest

from hyperion_core.models.tfjs.errors import TfjsFormatError
from hyperion_core.models.tfjs.manifest import read_graph_model


def _write(folder, groups, nodes=None, signature=None):
    """groups: [(shard_name -> bytes dict in order, weight specs)]."""
    manifest = []
    for shards, specs in groups:
        for name, data in shards.items():
            (folder / name).write_bytes(data)
        manifest.append({"paths": list(shards), "weights": specs})
    document = {
        "format": "graph-model",
        "modelTopology": {"node": nodes or []},
        "weightsManifest": manifest,
        "signature": signature or {},
    }
    path = folder / "model.json"
    path.write_text(json.dumps(document))
    return path


def test_plain_dtypes_and_fp16(tmp_path, rng):
    f32 = rng.standard_normal((2, 3)).astype(np.float32)
    i32 = rng.integers(-1000, 1000, (4,)).astype(np.int32)
    flags = np.array([True, False, True])
    halves = rng.standard_normal((5,)).astype(np.float16)
    blob = f32.astype("<f4").tobytes() + i32.astype("<i4").tobytes()
    blob += flags.astype(np.uint8).tobytes() + halves.astype("<f2").tobytes()
    specs = [
        {"name": "f", "shape": [2, 3], "dtype": "float32"},
        {"name": "i", "shape": [4], "dtype": "int32"},
        {"name": "b", "shape": [3], "dtype": "bool"},
        {"name": "h", "shape": [5], "dtype": "float32", "quantization": {"dtype": "float16"}},
    ]
    weights = read_graph_model(_write(tmp_path, [({"w.bin": blob}, specs)])).weights
    np.testing.assert_array_equal(weights["f"], f32)
    np.testing.assert_array_equal(weights["i"], i32)
    np.testing.assert_array_equal(weights["b"], flags)
    assert weights["h"].dtype == np.float32
    np.testing.assert_array_equal(weights["h"], halves.astype(np.float32))


@pytest.mark.parametrize(("kind", "code_type"), [("uint8", "<u1"), ("uint16", "<u2")])
def test_affine_quantisation(tmp_path, rng, kind, code_type):
    codes = rng.integers(0, 255, (3, 4))
    scale, minimum = 0.02, -1.5
    specs = [
        {
            "name": "q",
            "shape": [3, 4],
            "dtype": "float32",
            "quantization": {"dtype": kind, "scale": scale, "min": minimum},
        },
        {
            "name": "qi",
            "shape": [3],
            "dtype": "int32",
            "quantization": {"dtype": kind, "scale": 0.5, "min": -2.0},
        },
    ]
    blob = codes.astype(code_type).tobytes() + np.array([3, 4, 1]).astype(code_type).tobytes()
    weights = read_graph_model(_write(tmp_path, [({"w.bin": blob}, specs)])).weights
    np.testing.assert_allclose(weights["q"], codes * scale + minimum, rtol=1e-6)
    assert weights["q"].dtype == np.float32
    # -0.5, 0, -1.5 rounded half up as JavaScript's Math.round: 0, 0, -1 (not -2)
    np.testing.assert_array_equal(weights["qi"], [0, 0, -1])
    assert weights["qi"].dtype == np.int32


def test_multi_shard_groups_and_strings(tmp_path, rng):
    """A group's shards are one byte stream (a weight may straddle two shards); strings
    (uint32 length + bytes each) are skipped without losing the offsets; a second group has
    its own shards."""
    a = rng.standard_normal(10).astype(np.float32)
    c = rng.standard_normal(3).astype(np.float32)
    text = struct.pack("<I", 2) + b"hi" + struct.pack("<I", 0)
    blob = a.tobytes()[:16] + a.tobytes()[16:] + text + c.tobytes()
    shards = {"g1-1.bin": blob[:13], "g1-2.bin": blob[13:30], "g1-3.bin": blob[30:]}
    specs = [
        {"name": "a", "shape": [10], "dtype": "float32"},
        {"name": "s", "shape": [2], "dtype": "string"},
        {"name": "c", "shape": [3], "dtype": "float32"},
    ]
    d = rng.integers(0, 9, (2, 2)).astype(np.int32)
    second = ({"g2.bin": d.tobytes()}, [{"name": "d", "shape": [2, 2], "dtype": "int32"}])
    weights = read_graph_model(_write(tmp_path, [(shards, specs), second])).weights
    np.testing.assert_array_equal(weights["a"], a)
    np.testing.assert_array_equal(weights["c"], c)
    np.testing.assert_array_equal(weights["d"], d)
    assert "s" not in weights


def test_signature_in_natural_order(tmp_path):
    entries = {
        n: {"name": n, "dtype": "DT_FLOAT"}
        for n in ["Identity_10:0", "Identity_2:0", "Identity:0", "Identity_1:0"]
    }
    model = read_graph_model(_write(tmp_path, [], signature={"outputs": entries}))
    assert [t.name for t in model.outputs] == [
        "Identity:0",
        "Identity_1:0",
        "Identity_2:0",
        "Identity_10:0",
    ]
    assert model.outputs[2].ref.node == "Identity_2"


# --- bad files: the message names the file ------------------------------------------------


def test_truncated_shard(tmp_path):
    specs = [{"name": "w", "shape": [4, 4], "dtype": "float32"}]
    path = _write(tmp_path, [({"w.bin": bytes(60)}, specs)])
    with pytest.raises(TfjsFormatError) as raised:
        read_graph_model(path)
    message = str(raised.value)
    assert str(tmp_path / "w.bin") in message and "60 bytes" in message
    assert "'w'" in message and "64" in message and "truncated" in message


def test_shard_longer_than_its_weights(tmp_path):
    specs = [{"name": "w", "shape": [2], "dtype": "float32"}]
    path = _write(tmp_path, [({"w.bin": bytes(12)}, specs)])
    with pytest.raises(TfjsFormatError, match=r"w\.bin \(12 bytes\).*expected 8 bytes"):
        read_graph_model(path)


def test_missing_shard(tmp_path):
    specs = [{"name": "w", "shape": [2], "dtype": "float32"}]
    path = _write(tmp_path, [({"present.bin": bytes(4)}, specs)])
    document = json.loads(path.read_text())
    document["weightsManifest"][0]["paths"].append("absent.bin")
    path.write_text(json.dumps(document))
    with pytest.raises(TfjsFormatError) as raised:
        read_graph_model(path)
    assert str(tmp_path / "absent.bin") in str(raised.value)
    assert "missing" in str(raised.value)


def test_weight_shape_disagrees_with_its_const_node(tmp_path):
    specs = [{"name": "k", "shape": [3, 3, 4], "dtype": "float32"}]
    node = {
        "name": "k",
        "op": "Const",
        "attr": {
            "dtype": {"type": "DT_FLOAT"},
            "value": {
                "tensor": {
                    "dtype": "DT_FLOAT",
                    "tensorShape": {
                        "dim": [{"size": "3"}, {"size": "3"}, {"size": "4"}, {"size": "2"}]
                    },
                }
            },
        },
    }
    path = _write(tmp_path, [({"w.bin": bytes(144)}, specs)], nodes=[node])
    with pytest.raises(TfjsFormatError) as raised:
        read_graph_model(path)
    message = str(raised.value)
    assert str(path) in message and "'k'" in message
    assert "36 elements" in message and "72 elements" in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"dtype": "complex64"}, "unsupported dtype 'complex64'"),
        ({"dtype": "float32", "quantization": {"dtype": "int4"}}, "quantization dtype 'int4'"),
        ({"dtype": "float32", "quantization": {"dtype": "uint8"}}, "without scale/min"),
    ],
)
def test_unsupported_encodings(tmp_path, spec, expected):
    specs = [{"name": "w", "shape": [2], **spec}]
    path = _write(tmp_path, [({"w.bin": bytes(16)}, specs)])
    with pytest.raises(TfjsFormatError) as raised:
        read_graph_model(path)
    assert str(path) in str(raised.value) and "'w'" in str(raised.value)
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "malformed JSON"),
        ('{"format": "layers-model"}', "not a TF.js graph model"),
        ('{"format": "graph-model", "weightsManifest": []}', "modelTopology"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_malformed_model_json(tmp_path, text, expected):
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(TfjsFormatError) as raised:
        read_graph_model(path)
    assert str(path) in str(raised.value) and expected in str(raised.value)


def test_missing_model_json(tmp_path):
    with pytest.raises(TfjsFormatError, match="no such model file"):
        read_graph_model(tmp_path / "nope.json")
