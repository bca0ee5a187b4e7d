"""graph.py is the one description: the launch files and `hyperion run` both follow it.

``launch``/``launch_ros`` are not installable here, so the launch files are executed
against small recording stand-ins of the API they use: that checks they compile, which
nodes they declare (the same set as graph.py, with the params file and profile), and
that their arguments are described.
"""

import runpy
import sys
import types
from pathlib import Path

import pytest
import yaml

from hyperion.graph import GRAPHS
from hyperion.run import node_command, nodes_to_start, overrides_file, parse_args

LAUNCH = Path(__file__).resolve().parents[2] / "launch"


class Recorder:
    """Stands in for a launch action/substitution and keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def fake_launch_modules() -> dict[str, types.ModuleType]:
    names = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument"],
        "launch.conditions": ["IfCondition"],
        "launch.substitutions": ["LaunchConfiguration", "PathJoinSubstitution"],
        "launch_ros.actions": ["Node"],
        "launch_ros.substitutions": ["FindPackageShare"],
        "launch_ros": [],
    }
    modules = {}
    for module_name, classes in names.items():
        module = types.ModuleType(module_name)
        for cls in classes:
            setattr(module, cls, type(cls, (Recorder,), {}))
        modules[module_name] = module
    return modules


@pytest.mark.parametrize("graph", sorted(GRAPHS))
def test_launch_file_declares_the_graph(graph, monkeypatch):
    for name, module in fake_launch_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    source = LAUNCH / f"{graph}.launch.py"
    compile(source.read_text(), str(source), "exec")
    description = runpy.run_path(str(source))["generate_launch_description"]()
    actions = description.args[0]
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    arguments = [a for a in actions if type(a).__name__ == "DeclareLaunchArgument"]
    declared = [(n.kwargs["package"], n.kwargs["executable"], n.kwargs["name"]) for n in nodes]
    assert declared == [(s.package, s.executable, s.name) for s in GRAPHS[graph].nodes]
    for node in nodes:
        assert "FASTDDS_DEFAULT_PROFILES_FILE" in node.kwargs["additional_env"]
        assert len(node.kwargs["parameters"]) == 1
    assert arguments and all(a.kwargs.get("description") for a in arguments)
    names = [a.args[0] for a in arguments]
    assert "params_file" in names
    for node, spec in zip(nodes, GRAPHS[graph].nodes, strict=True):
        condition = node.kwargs.get("condition")
        if spec.start_if:  # IfCondition(LaunchConfiguration(<a declared argument>))
            assert condition.args[0].args[0] == spec.start_if and spec.start_if in names
        else:
            assert condition is None


def test_edge_and_cloud_default_to_different_domains():
    assert GRAPHS["edge"].domain_offset != GRAPHS["cloud"].domain_offset


def test_overrides_go_to_the_named_node_or_all(tmp_path):
    path = overrides_file(GRAPHS["edge"], ["camera.rate_hz:=2.5", "diagnostics_period_s:=1.0",
                                           "edge_link.connect:=tcp/10.0.0.1:7447"], tmp_path)
    document = yaml.safe_load(path.read_text())
    assert document["camera"]["ros__parameters"] == {"rate_hz": 2.5, "diagnostics_period_s": 1.0}
    assert document["edge_link"]["ros__parameters"]["connect"] == "tcp/10.0.0.1:7447"
    assert document["scorer"]["ros__parameters"] == {"diagnostics_period_s": 1.0}
    assert overrides_file(GRAPHS["edge"], [], tmp_path) is None


@pytest.mark.parametrize("bad", ["nonode.x:=1", "rate_hz=1", ":=3"])
def test_bad_overrides_are_refused(bad, tmp_path):
    with pytest.raises(ValueError):
        overrides_file(GRAPHS["edge"], [bad], tmp_path)


def test_node_command_order(tmp_path):
    args = parse_args(["edge", "-r", "/hyperion/image:=/cam/image_raw"])
    overrides = tmp_path / "o.yaml"
    detector = next(n for n in GRAPHS["edge"].nodes if n.name == "edge_detector")
    cmd = node_command(detector, args, overrides)
    assert cmd[1:4] == ["--ros-args", "-r", "__node:=edge_detector"]
    files = [cmd[i + 1] for i, part in enumerate(cmd) if part == "--params-file"]
    assert files[0].endswith("config/edge.yaml") and files[-1] == str(overrides)
    assert cmd[-2:] == ["-r", "/hyperion/image:=/cam/image_raw"]


@pytest.mark.parametrize(("flags", "camera", "decompressor"), [
    ([], True, False), (["--no-camera"], False, False),
    (["--no-camera", "--compressed-input"], False, True),
])
def test_switches_choose_the_optional_nodes(flags, camera, decompressor):
    names = [n.name for n in nodes_to_start(GRAPHS["edge"], parse_args(["edge", *flags]))]
    assert ("camera" in names, "decompressor" in names) == (camera, decompressor)
    assert {"edge_detector", "scorer", "scheduler", "encoder", "edge_link",
            "ensembler"} <= set(names)
