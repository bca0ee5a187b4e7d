"""``ros2 param set /edge_detector classes`` on graphs started with the real ``ros2 launch``:
the edge detector filters the new classes from the next frame on, every frame sent to the
cloud carries them, and the cloud detects the same classes; a class the model does not
know is refused with the reason.

Positive control first: before the change, answers hold people. After switching to
``[car]``, no answer, edge detection or cloud answer of a frame captured once the change
is acknowledged holds a person (the edge: from the next frame; the cloud: from the next
frame sent, which passes through the edge detector, scorer, scheduler and encoder first).
"""

from __future__ import annotations

import time

import pytest

from .tools import require_tools

require_tools()

from vision_msgs.msg import Detection2DArray  # noqa: E402

from hyperion_msgs.msg import CloudDetections, EncodedFrame  # noqa: E402
from hyperion_runtime import qos  # noqa: E402
from hyperion_runtime.node import stamp_ns  # noqa: E402

from .test_ros2_cli import NO_DAEMON, Launched  # noqa: E402
from .tools import (  # noqa: E402
    Probe,
    cloud_overrides,
    domain_pair,
    edge_overrides,
    free_port,
    params_file,
    ros2,
    wait_until,
)

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]


class ClassWatch(Probe):
    """The probe plus edge detections, encoded frames' classes and cloud answers."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain)
        self.edge: dict[int, list[str]] = {}
        self.sent: dict[int, list[str]] = {}
        self.cloud: dict[int, list[str]] = {}
        self.node.create_subscription(Detection2DArray, qos.EDGE_DETECTIONS, self._on_edge,
                                      qos.resent_result_qos())
        self.node.create_subscription(EncodedFrame, qos.ENCODED, self._on_encoded,
                                      qos.result_qos())
        self.node.create_subscription(CloudDetections, qos.CLOUD_DETECTIONS, self._on_cloud,
                                      qos.result_qos())

    def _on_edge(self, msg: Detection2DArray) -> None:
        with self.lock:
            self.edge[stamp_ns(msg.header.stamp)] = labels(msg)

    def _on_encoded(self, msg: EncodedFrame) -> None:
        with self.lock:
            self.sent[msg.sequence] = list(msg.object_classes)

    def _on_cloud(self, msg: CloudDetections) -> None:
        with self.lock:
            self.cloud[msg.sequence] = labels(msg.detections)

    def after(self, what: str, since_ns: int) -> dict[int, list[str]]:
        with self.lock:
            return {k: v for k, v in getattr(self, what).items() if k > since_ns}


def labels(array: Detection2DArray) -> list[str]:
    return [r.hypothesis.class_id for d in array.detections for r in d.results]


def test_classes_set_at_run_time_apply_from_the_next_frame_on_edge_and_cloud(tmp_path):
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Launched("cloud", cloud_domain,
                     params_file("cloud", cloud_overrides(port), tmp_path / "cloud.yaml"),
                     tmp_path / "cloud.log")
    watch = ClassWatch(edge_domain)
    edge = Launched("edge", edge_domain,
                    params_file("edge", edge_overrides(port), tmp_path / "edge.yaml"),
                    tmp_path / "edge.log")
    try:
        wait_until(lambda: any("person" in v for v in watch.cloud.values())
                   and any("person" in labels(a) for a in watch.snapshot()[1]), 240,
                   f"answers with people\n{edge.output()}\n{cloud.output()}")
        assert all(v == ["person"] for v in watch.sent.values()), watch.sent

        refused = ros2("param", "set", *NO_DAEMON, "/edge_detector", "classes", "[unicorn]",
                       domain=edge_domain)
        assert "Setting parameter failed" in refused.stderr, refused
        assert "unicorn" in refused.stderr and "knows person" in refused.stderr, refused.stderr

        done = ros2("param", "set", *NO_DAEMON, "/edge_detector", "classes", "[car]",
                    domain=edge_domain)
        assert "Set parameter successful" in done.stdout, done
        switched_ns = time.time_ns()
        wait_until(lambda: len(watch.after("cloud", switched_ns)) >= 2
                   and len(watch.after("edge", switched_ns)) >= 2, 180,
                   f"two cloud answers after the change\n{edge.output()}\n{cloud.output()}")
    finally:
        watch.close()
        edge_status, cloud_status = edge.stop(), cloud.stop()
    assert (edge_status, cloud_status) == (0, 0), f"{edge.output()}\n{cloud.output()}"
    # The edge: every frame captured after the change, from the very next one.
    assert all("person" not in v for v in watch.after("edge", switched_ns).values())
    # The cloud: every frame sent after the change names [car] and is answered so.
    sent = watch.after("sent", switched_ns)
    assert sent and all(v == ["car"] for v in sent.values()), sent
    assert all("person" not in v for v in watch.after("cloud", switched_ns).values())
    answers = [a for a in watch.snapshot()[1] if stamp_ns(a.header.stamp) > switched_ns]
    assert answers and all("person" not in labels(a) for a in answers)
