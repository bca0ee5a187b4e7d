"""Edge node parameters map onto the registry's models; bad classes stop the node."""

from dataclasses import replace

import pytest

from hyperion_core.models.registry import get_spec
from hyperion_core.score.sources import ImportanceConfig
from hyperion_edge.edge_detector_node import PARAMS as EDGE
from hyperion_edge.scorer_node import PARAMS as SCORER
from hyperion_runtime.model_params import edge_detector_spec
from hyperion_runtime.params import ParameterError


def _defaults(params):
    return {p.name: p.default for p in params}


def test_edge_defaults_are_the_registry_edge_model():
    spec = edge_detector_spec(_defaults(EDGE))
    assert replace(spec, runtime=get_spec("edge").runtime) == get_spec("edge")


def test_scorer_defaults_are_the_core_importance_defaults():
    p = _defaults(SCORER)
    core = ImportanceConfig()
    assert p["importance_source"] == core.source
    assert tuple(p["hybrid_weights"]) == core.weights
    assert p["objectness_floor"] == core.objectness_floor
    assert p["objectness_max_height"] == core.objectness_max_height
    assert p["objectness_cap_below"] == core.objectness_cap_below
    assert (p["token_rows"], p["token_cols"]) == get_spec("scorer").token_grid


def test_unknown_or_unsupported_classes_name_the_parameter():
    p = _defaults(EDGE)
    with pytest.raises(ParameterError, match=r"classes=\['pedestrian'\].*known: person"):
        edge_detector_spec({**p, "classes": ["pedestrian"]})
    with pytest.raises(ParameterError, match="yolo-fall detects only"):
        edge_detector_spec({**p, "backend": "yolo-fall", "classes": ["car"]})
    assert edge_detector_spec({**p, "classes": ["person", "bus"]}).classes == ("person", "bus")
