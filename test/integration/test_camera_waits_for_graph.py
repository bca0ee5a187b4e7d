"""The camera holds its first frame until the nodes named in ``wait_for_nodes`` said on
``/diagnostics`` that they are active: a real camera process, and a test node that reads
its images and speaks for the awaited node."""

from __future__ import annotations

import subprocess
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import Image

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_runtime import qos
from hyperion_runtime.diagnostics import ACTIVE, LIFECYCLE_KEY

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros


class Neighbour(SpinningNode):
    """Counts the camera's frames and reports the lifecycle state of a node called ``name``."""

    def __init__(self, domain: int, name: str) -> None:
        super().__init__("camera_wait_test", domain=domain)
        self.name = name
        self.frames = 0
        self.node.create_subscription(Image, qos.IMAGE, self._on_image, qos.image_qos())
        self.diagnostics = self.node.create_publisher(DiagnosticArray, qos.DIAGNOSTICS,
                                                      qos.diagnostics_qos())
        self.start()

    def _on_image(self, _: Image) -> None:
        with self.lock:
            self.frames += 1

    def seen(self) -> int:
        with self.lock:
            return self.frames

    def report(self, state: str) -> None:
        status = DiagnosticStatus(name=f"hyperion: {self.name}", hardware_id=f"/{self.name}",
                                  values=[KeyValue(key=LIFECYCLE_KEY, value=state)])
        self.diagnostics.publish(DiagnosticArray(status=[status]))


def test_first_frame_waits_for_the_awaited_node_to_be_active(tmp_path):
    domain, _ = domain_pair()
    log_path = tmp_path / "camera.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(executable("hyperion_edge", "camera")), "--ros-args",
             "-p", "width:=64", "-p", "height:=64", "-p", "rate_hz:=20.0",
             "-p", "wait_for_subscribers:=1", "-p", "wait_for_nodes:=scorer",
             "-p", "discovery_settle_s:=0.2"],
            env={**graph_env(), "ROS_DOMAIN_ID": str(domain)}, stdout=log,
            stderr=subprocess.STDOUT)
    neighbour = Neighbour(domain, "scorer")
    try:
        wait_until(lambda: "waiting for 1 subscribers (1)" in log_path.read_text(), 60,
                   f"the camera counting this reader\n{log_path.read_text()}")
        # The reader alone does not start it, nor does a report of another state.
        neighbour.report("inactive")
        time.sleep(1.0)
        assert neighbour.seen() == 0, log_path.read_text()

        def reported_active() -> int:
            neighbour.report(ACTIVE)
            return neighbour.seen()

        wait_until(reported_active, 30, f"frames once scorer is active\n{log_path.read_text()}")
    finally:
        neighbour.close()
        proc.terminate()
        assert proc.wait(10) == 0, log_path.read_text()
