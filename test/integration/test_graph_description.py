"""graph.py is the one description behind ``hyperion run`` (and the launch files, which
test/ros2/test_launch_proof_of_life.py starts with the real launch tools): overrides,
command lines and optional nodes."""

import pytest
import yaml

from hyperion.graph import GRAPHS, executable
from hyperion.run import node_command, nodes_to_start, overrides_file, parse_args


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


def test_every_node_executable_is_installed_in_lib_of_its_package():
    for graph in GRAPHS.values():
        for node in graph.nodes:
            path = executable(node.package, node.executable)
            assert path.parent.name == node.package and path.parent.parent.name == "lib", path


def test_an_uninstalled_package_is_named():
    with pytest.raises(FileNotFoundError, match="no_such_package"):
        executable("no_such_package", "x")
