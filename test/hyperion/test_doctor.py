"""`hyperion doctor` passes in the built environment and names what a bare Python lacks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "hyperion"


def run_doctor(python: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "hyperion.doctor"], env=env, capture_output=True, text=True, timeout=120
    )


def test_built_environment_is_all_green():
    result = run_doctor(sys.executable, dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISSING" not in result.stdout
    for piece in ("rmw_fastrtps_cpp", "vision_msgs", "hyperion_msgs", "onnxruntime"):
        assert piece in result.stdout


def test_bare_python_names_each_missing_piece(tmp_path):
    # The interpreter the venv was made from, without the venv's packages or the ROS .pth.
    if sys.prefix == sys.base_prefix:
        pytest.skip("tests run outside a virtual environment: no bare interpreter to compare")
    bare = str(Path(sys.base_prefix) / "bin" / "python3")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SOURCE), "HOME": str(tmp_path)}
    result = run_doctor(bare, env)
    assert result.returncode == 1, result.stdout + result.stderr
    missing = [line for line in result.stdout.splitlines() if line.startswith("MISSING")]
    named = " ".join(missing)
    for piece in ("ROS 2 (rclpy)", "hyperion_msgs", "vision_msgs", "hyperion_core"):
        assert piece in named
    assert "required piece(s) missing" in result.stdout
