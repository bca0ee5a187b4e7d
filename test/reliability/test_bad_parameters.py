"""Invalid parameters stop a node at start-up with a non-zero status naming the parameter
and what it allows: wrong type, out of range, unknown choice, a broken params file."""

import os
import subprocess

import pytest

from hyperion.graph import GRAPHS, executable

from .graphs import domain_pair, stop_all

pytestmark = pytest.mark.ros


def start_alone(node: str, *args: str, timeout_s: float) -> subprocess.CompletedProcess:
    """Node ``node``'s installed executable (``lib/<package>/<node>``) run alone in a
    private domain, to completion; the domain is handed back even when starting fails."""
    package = next(n.package for g in GRAPHS.values() for n in g.nodes if n.name == node)
    domain, _ = domain_pair()
    try:
        return subprocess.run([str(executable(package, node)), "--ros-args", *args],
                              capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "ROS_DOMAIN_ID": str(domain)})
    finally:
        stop_all()


@pytest.mark.parametrize(("node", "override", "name", "allowed"), [
    ("camera", "source:=webcam", "source", "one of"),
    ("camera", "rate_hz:=fast", "rate_hz", "in [0.01, 120.0]"),
    ("camera", "grid_columns:=2.5", "grid_columns", "in [1, 16]"),
    ("scheduler", "bandwidth_stale_s:=0.0", "bandwidth_stale_s", "range"),
    ("edge_detector", "max_frame_gap_s:=-1.0", "max_frame_gap_s", "range"),
    ("cloud_detector", "inject_delay_s:=-1.0", "inject_delay_s", "range"),
    ("cloud_detector", "execution_provider:=opencl", "execution_provider", "one of"),
])
def test_invalid_parameter_exits_naming_it(node, override, name, allowed):
    result = start_alone(node, "-p", override, timeout_s=180)
    assert result.returncode == 2, result.stderr[-2000:]
    assert name in result.stderr and allowed in result.stderr, result.stderr[-2000:]


def test_params_file_with_a_wrong_type_stops_the_node(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheduler:\n  ros__parameters:\n    size_grid: fine\n")
    result = start_alone("scheduler", "--params-file", str(bad), timeout_s=60)
    assert result.returncode == 2
    assert "size_grid" in result.stderr and "in [10, 100000]" in result.stderr, \
        result.stderr[-2000:]


def test_an_execution_provider_this_onnxruntime_lacks_stops_the_node():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA: the parameter is valid here")
    result = start_alone("edge_detector", "-p", "execution_provider:=cuda", timeout_s=180)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "execution_provider=cuda not available" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize(("content", "named"), [
    ("mode: calibrated\nmatch_iou: 0.5\nnms_iou: 0.5\ncloud_weight: 1.5\ngroups: {}\n",
     "cloud_weight"),
    ("mode: calibrated\nmatch_iou: 0.5\nnms_iou: 0.5\ncloud_weight: 0.6\n", "groups"),
    ("match_iou: 0.5\nnms_iou: 0.5\ncloud_weight: 0.6\n", "mode"),
])
def test_a_bad_fusion_file_stops_the_ensembler_naming_the_file_and_key(tmp_path, content,
                                                                        named):
    bad = tmp_path / "fusion.yaml"
    bad.write_text(content)
    result = start_alone("ensembler", "-p", f"fusion_file:={bad}", timeout_s=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "fusion_file" in result.stderr and str(bad) in result.stderr \
        and named in result.stderr, result.stderr[-2000:]


def test_an_integer_for_a_float_parameter_is_taken_as_that_number():
    # Both integers are taken as floats (5 -> 5.0, 6 -> 6.0): the node gets past declaring
    # them and stops only on the real fault, a margin above the budget, which names the
    # converted values (the node alone would otherwise run until stopped).
    result = start_alone("ensembler", "-p", "latency_budget_s:=5", "-p", "deadline_margin_s:=6",
                         timeout_s=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "deadline_margin_s=6.0 must be below latency_budget_s=5.0" in result.stderr, \
        result.stderr[-2000:]
    assert "must be in [0.05, 120.0]" not in result.stderr, result.stderr[-2000:]


def test_a_wrong_type_names_the_expected_and_the_given_type():
    result = start_alone("ensembler", "-p", "latency_budget_s:=fast", timeout_s=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert ("latency_budget_s has the wrong type: expected floating-point number "
            "(in [0.05, 120.0]), got string 'fast'") in result.stderr, result.stderr[-2000:]
