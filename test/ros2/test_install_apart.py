"""Each deployable installs alone: colcon builds only the cloud set (hyperion_msgs,
hyperion_core, hyperion_runtime, hyperion_cloud and the hyperion bringup) into a fresh
prefix, nothing of hyperion_edge comes along, and the cloud graph started from that prefix
alone, in a fresh shell, answers a frame sent over the link."""

from __future__ import annotations

import importlib.util
import signal
import subprocess

import pytest
from rclpy.serialization import deserialize_message, serialize_message

from hyperion.session import SpinningNode
from hyperion_core.link.zenoh_link import EdgeLink, LinkConfig
from hyperion_msgs.msg import CloudDetections, EncodedFrame
from hyperion_runtime import qos

from .tools import WORKSPACE, clean_shell, domain_pair, free_port, underlay, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
CLOUD_SET = {"hyperion_msgs", "hyperion_core", "hyperion_runtime", "hyperion_cloud", "hyperion"}


def encoded_frame() -> EncodedFrame:
    """A valid 320x180 frame (the reliability tests' builder)."""
    path = WORKSPACE / "test" / "reliability" / "test_validation.py"
    spec = importlib.util.spec_from_file_location("hyperion_test_validation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.encoded(320, 180)


def test_the_cloud_set_installs_and_runs_without_any_edge_code(tmp_path):
    setup = underlay()
    prefix = tmp_path / "install"
    built = clean_shell(
        f". {setup} && colcon --log-base {tmp_path}/log build --base-paths {WORKSPACE}/src "
        f"--build-base {tmp_path}/build --install-base {prefix} "
        "--packages-up-to hyperion_cloud hyperion --event-handlers console_cohesion-",
        cwd=tmp_path, timeout_s=600)
    assert built.returncode == 0, built.stdout[-4000:]
    installed = {p.name for p in prefix.iterdir() if p.is_dir()}
    assert installed == CLOUD_SET, installed
    # The node packages never name the edge (the bringup's graph description does: it
    # lists both graphs' nodes).
    named = subprocess.run(["grep", "-rl", "hyperion_edge", *(str(prefix / name) for name in
                                                             CLOUD_SET - {"hyperion"})],
                           capture_output=True, text=True).stdout
    assert not named, named
    probe = clean_shell(f". {setup} && . {prefix}/setup.sh && python -c 'import hyperion_edge'",
                        cwd=tmp_path, timeout_s=120)
    assert "No module named 'hyperion_edge'" in probe.stdout, probe.stdout

    _, domain = domain_pair()
    port = free_port()
    replies: list[bytes] = []
    frame = encoded_frame()
    frame.sequence = 7
    run = subprocess.Popen(
        ["bash", "-c", f". {setup} && . {prefix}/setup.sh && exec hyperion run cloud "
         f"--domain-id {domain} -p cloud_link.listen:=tcp/127.0.0.1:{port}"],
        cwd=tmp_path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                           "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watch = SpinningNode("install_apart_probe", domain=domain)
    frames = watch.node.create_publisher(EncodedFrame, qos.CLOUD_ENCODED, qos.result_qos())
    watch.start()
    link = EdgeLink(config=LinkConfig(connect=(f"tcp/127.0.0.1:{port}",)),
                    on_reply=lambda _sequence, payload: replies.append(payload))
    try:
        wait_until(lambda: link.wait_connected(0.0), 120, "the cloud graph's link")
        wait_until(lambda: frames.get_subscription_count() >= 1, 120, "the cloud detector")
        link.send(serialize_message(frame))
        wait_until(lambda: replies, 120, "the cloud graph's answer to a frame")
    finally:
        link.close()
        watch.close()
        run.send_signal(signal.SIGINT)
        output = run.communicate(timeout=60)[0]
    answer = deserialize_message(replies[0], CloudDetections)
    assert answer.sequence == 7, output[-3000:]
    assert run.returncode == 0, output[-3000:]
