"""Proof of life through the real launch tools: launch_pytest starts the edge and the cloud
graphs from the installed ``edge.launch.py`` and ``cloud.launch.py`` (each in a ROS domain
of its own, linked only by zenoh), and every frame the camera captures gets exactly one
``Detection2DArray`` on ``/hyperion/detections``, some of them fused with the cloud's."""

import os

import pytest

from .tools import require_tools

require_tools()

import launch_pytest  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import GroupAction, IncludeLaunchDescription, SetEnvironmentVariable  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from hyperion_msgs.msg import FrameTiming  # noqa: E402

from .tools import (  # noqa: E402
    Probe,
    answered,
    cloud_overrides,
    domain_pair,
    edge_overrides,
    free_port,
    params_file,
    wait_until,
)

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
FRAMES = 6
EDGE_DOMAIN, CLOUD_DOMAIN = domain_pair()
PORT = free_port()


def graph(name: str, domain: int, params: str) -> GroupAction:
    """``ros2 launch hyperion <name>.launch.py params_file:=<params>`` in ``domain``."""
    launch_file = os.path.join(get_package_share_directory("hyperion"), "launch",
                               f"{name}.launch.py")
    return GroupAction(scoped=True, actions=[
        SetEnvironmentVariable("ROS_DOMAIN_ID", str(domain)),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(launch_file),
                                 launch_arguments={"params_file": params}.items()),
    ])


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    folder = tmp_path_factory.mktemp("launch_params")
    return {
        "edge": str(params_file("edge", edge_overrides(PORT, f"camera.max_frames:={FRAMES}"),
                                folder / "edge.yaml")),
        "cloud": str(params_file("cloud", cloud_overrides(PORT), folder / "cloud.yaml")),
    }


@launch_pytest.fixture(scope="module")
def graphs(params):
    return LaunchDescription([
        graph("cloud", CLOUD_DOMAIN, params["cloud"]),
        graph("edge", EDGE_DOMAIN, params["edge"]),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=graphs)
def test_launched_graphs_answer_every_frame_once():
    # The camera holds its first frame until this probe is one of its four readers.
    probe = Probe(EDGE_DOMAIN)
    try:
        wait_until(lambda: len(probe.snapshot()[2]) >= FRAMES, 180, lambda: (
            f"{FRAMES} answers on /hyperion/detections from the launched graphs; the probe "
            f"saw {len(probe.snapshot()[0])} frames, {len(probe.snapshot()[1])} answers, "
            f"timings {[(t.sequence, t.source, t.edge_reason) for t in probe.snapshot()[2]]}"))
        frames, answers, timings = probe.settled_snapshot()
    finally:
        probe.close()
    assert len(frames) == FRAMES
    assert sorted(answered(answers)) == sorted(frames)  # one answer per frame, its own stamp
    assert sorted(t.sequence for t in timings) == sorted(frames)
    assert all(t.deadline_met for t in timings), [(t.sequence, t.latency_s) for t in timings]
    fused = [t for t in timings if t.source == FrameTiming.SOURCE_FUSED]
    assert fused, [(t.source, t.edge_reason) for t in timings]  # the cloud graph answered
