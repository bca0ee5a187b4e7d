"""The defaults in config/edge.yaml and config/cloud.yaml equal those the nodes declare.

Defaults live in two places by necessity (the params file for deployments, the code for a
node started without it); this test keeps them one definition in effect.
"""

import importlib
from pathlib import Path

import pytest
import yaml

from hyperion.graph import GRAPHS
from hyperion_runtime.params import common_params

CONFIG = Path(__file__).resolve().parents[2] / "config"


def node_specs(package: str, executable: str) -> dict:
    module = importlib.import_module(f"{package}.{executable}_node")
    return {spec.name: spec for spec in (*module.PARAMS, *common_params())}


def load(graph: str) -> dict:
    return yaml.safe_load((CONFIG / f"{graph}.yaml").read_text())


def same(a: object, b: object) -> bool:
    # ROS types must match too: 1 (int) in YAML for a float parameter is a type error.
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_yaml_equals_declared_defaults(graph):
    document = load(graph)
    shared = document.get("/**", {}).get("ros__parameters", {})
    for node in GRAPHS[graph].nodes:
        specs = node_specs(node.package, node.executable)
        section = document[node.name]["ros__parameters"]
        unknown = set(section) - set(specs)
        assert not unknown, f"{node.name}: {unknown} in YAML but not declared"
        for name, spec in specs.items():
            assert name in section or name in shared, f"{node.name}.{name} missing from YAML"
            value = section.get(name, shared.get(name))
            assert same(value, spec.default), (
                f"{graph}.yaml {node.name}.{name} = {value!r}, code declares {spec.default!r}")


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_shared_parameters_are_declared_somewhere(graph):
    shared = load(graph).get("/**", {}).get("ros__parameters", {})
    declared = set()
    for node in GRAPHS[graph].nodes:
        declared |= set(node_specs(node.package, node.executable))
    assert set(shared) <= declared


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_every_parameter_is_described_with_unit(graph):
    for node in GRAPHS[graph].nodes:
        for spec in node_specs(node.package, node.executable).values():
            assert spec.description.rstrip().endswith("]"), f"{node.name}.{spec.name}: unit"
            descriptor = spec.descriptor()
            numeric = isinstance(spec.default, int | float) and not isinstance(spec.default, bool)
            if numeric:
                ranges = descriptor.integer_range or descriptor.floating_point_range
                assert ranges, f"{node.name}.{spec.name} has no range"
                spec.check(spec.default)
