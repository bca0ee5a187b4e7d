"""The README's "Running on a ROS 2 install" build-and-run block, run as written: in a fresh
workspace holding a copy of this checkout, over the underlay (the bootstrapped venv here,
the distribution on a ROS machine), with the real ``colcon build``, ``ros2 launch`` of both
graphs at their defaults (4K frames) and ``ros2 topic echo --once /hyperion/detections``.

Only the workspace path and the two domain ids are replaced (by the test's own, so
concurrent runs never meet); the launches are stopped with SIGINT at the end."""

from __future__ import annotations

import re

import pytest

from .tools import WORKSPACE, clean_shell, copy_checkout, domain_pair, require_tools, underlay

require_tools()

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
SECTION = "## Running on a ROS 2 install"


def build_and_run_block() -> str:
    """The section's bash block that runs ``colcon build``."""
    readme = (WORKSPACE / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    found = [block for block in blocks if "colcon build" in block]
    assert len(found) == 1, blocks
    return found[0]


def test_the_readme_block_builds_launches_and_answers(tmp_path):
    block = build_and_run_block()
    assert "ros2 topic echo --once /hyperion/detections" in block
    workspace = tmp_path / "hyperion_ws"
    copy_checkout(workspace / "src" / "hyperion")
    edge_domain, cloud_domain = domain_pair()
    script = (block.replace("~/hyperion_ws", str(workspace))
              .replace("ROS_DOMAIN_ID=42", f"ROS_DOMAIN_ID={cloud_domain}"))
    assert script != block
    run = clean_shell(
        # Job control as in the user's terminal: without it bash starts `&` jobs with SIGINT
        # ignored, and ros2 launch would never stop. At the end, or on a failure: SIGINT to
        # each ros2 launch alone, as Ctrl-C would, and the ros2 daemons the CLI started.
        "set -m\n"
        "trap 'kill -INT $(jobs -p) 2>/dev/null; wait; ros2 daemon stop; "
        f"ROS_DOMAIN_ID={cloud_domain} ros2 daemon stop' EXIT\n"
        f"set -e\n. {underlay()}\n{script}",
        cwd=tmp_path, timeout_s=480, ROS_DOMAIN_ID=str(edge_domain))
    assert run.returncode == 0, run.stdout[-6000:]
    assert (workspace / "install" / "hyperion_edge" / "lib" / "hyperion_edge" / "camera").is_file()
    # The echoed Detection2DArray: the camera frame's header, then the boxes.
    assert re.search(r"header:\n  stamp:\n    sec: \d+\n    nanosec: \d+\n  frame_id: "
                     r"array_camera\ndetections:", run.stdout), run.stdout[-6000:]
