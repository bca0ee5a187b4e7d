"""GraphDef node parsing: input references, control inputs, protobuf-JSON attributes."""

import base64

import numpy as np
import pytest

from hyperion_core.models.tfjs.attrs import TensorRef, TfNode, shape_from_json


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def test_inputs_and_control_dependencies():
    node = TfNode.from_json(
        {"name": "n", "op": "AddV2", "input": ["a", "b:1", "^c", "scope/d:12", "e:f"]}
    )
    assert node.inputs == (
        TensorRef("a"),
        TensorRef("b", 1),
        TensorRef("scope/d", 12),
        TensorRef("e:f"),
    )
    assert str(node.inputs[1]) == "b:1"


def test_attribute_values():
    node = TfNode.from_json(
        {
            "name": "n",
            "op": "X",
            "attr": {
                "i": {"i": "7"},
                "zero": {},
                "f": {"f": 0.25},
                "flag": {"b": True},
                "s": {"s": _b64("SAME")},
                "ints": {"list": {"i": ["1", "2", "2", "1"]}},
                "strs": {"list": {"s": [_b64("BiasAdd"), _b64("Relu")]}},
                "empty": {"list": {}},
                "t": {"type": "DT_INT64"},
            },
        }
    )
    assert node.get_int("i") == 7
    assert node.get_int("zero") == 0 and node.get_bool("zero") is False  # omitted zero value
    assert node.get_float("f") == 0.25
    assert node.get_bool("flag") is True
    assert node.get_str("s") == "SAME"
    assert node.get_str("absent", "NHWC") == "NHWC"
    assert node.get_ints("ints") == [1, 2, 2, 1]
    assert node.get_strs("strs") == ["BiasAdd", "Relu"]
    assert node.get_ints("empty") == []
    assert node.get_dtype("t") == np.int64
    with pytest.raises(KeyError, match="'missing'"):
        node.get_int("missing")


def test_shapes():
    assert shape_from_json({"dim": [{"size": "1"}, {"size": "-1"}, {}]}) == (1, -1, 0)
    assert shape_from_json({}) == ()
    assert shape_from_json({"unknownRank": True}) is None
    assert shape_from_json(None) is None
