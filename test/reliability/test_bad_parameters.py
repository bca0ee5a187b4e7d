"""Invalid parameters stop a node at start-up with a non-zero status naming the parameter
and what it allows: wrong type, out of range, unknown choice, a broken params file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .graphs import domain_pair, stop_all

pytestmark = pytest.mark.ros
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(("node", "override", "name", "allowed"), [
    ("camera", "source:=webcam", "source", "one of"),
    ("camera", "rate_hz:=fast", "rate_hz", "in [0.01, 120.0]"),
    ("camera", "grid_columns:=2.5", "grid_columns", "in [1, 16]"),
    ("scheduler", "bandwidth_stale_s:=0.0", "bandwidth_stale_s", "range"),
    ("edge_detector", "max_frame_gap_s:=-1.0", "max_frame_gap_s", "range"),
    ("cloud_detector", "inject_delay_s:=-1.0", "inject_delay_s", "range"),
])
def test_invalid_parameter_exits_naming_it(node, override, name, allowed):
    domain, _ = domain_pair()
    result = subprocess.run([str(BIN / node), "--ros-args", "-p", override],
                            capture_output=True, text=True, timeout=180,
                            env={**os.environ, "ROS_DOMAIN_ID": str(domain)})
    stop_all()
    assert result.returncode == 2, result.stderr[-2000:]
    assert name in result.stderr and allowed in result.stderr, result.stderr[-2000:]


def test_params_file_with_a_wrong_type_stops_the_node(tmp_path):
    domain, _ = domain_pair()
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheduler:\n  ros__parameters:\n    size_grid: fine\n")
    result = subprocess.run([str(BIN / "scheduler"), "--ros-args", "--params-file", str(bad)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "ROS_DOMAIN_ID": str(domain)})
    stop_all()
    assert result.returncode == 2
    assert "size_grid" in result.stderr and "in [10, 100000]" in result.stderr, \
        result.stderr[-2000:]
