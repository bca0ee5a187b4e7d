"""cloud_link: the cloud end of the zenoh link, in the cloud's own ROS graph.

zenoh uplink payloads (serialized EncodedFrame; acknowledged on receipt by
:class:`hyperion_core.link.zenoh_link.CloudLink`, so the edge's throughput samples exclude
cloud compute) → (worker, queue ``queue_depth``, oldest dropped and counted) →
``/hyperion/cloud/encoded``. ``/hyperion/cloud/answers`` (CloudDetections) → serialized →
zenoh downlink.

On a ROS install with rmw_zenoh or zenoh-bridge-ros2dds, this node and edge_link can be
left out: bridge ``/hyperion/encoded`` → ``/hyperion/cloud/encoded`` and
``/hyperion/cloud/answers`` → ``/hyperion/cloud/detections`` by remapping (configuration
only); the edge then needs another source of ``/hyperion/link/stats``.
"""

from __future__ import annotations

import threading

from rclpy.serialization import deserialize_message, serialize_message

from hyperion_core.link.zenoh_link import CloudLink
from hyperion_msgs.msg import CloudDetections, EncodedFrame
from hyperion_runtime import qos
from hyperion_runtime.link_params import link_config, link_params
from hyperion_runtime.node import HyperionNode, run_node
from hyperion_runtime.params import ParameterError, ParamSpec
from hyperion_runtime.worker import BoundedWorker

PARAMS = (*link_params(connect="", listen="tcp/127.0.0.1:7447"),
    ParamSpec(name="queue_depth", default=2, low=1, high=64,
              description="received frames waiting to be republished [frames]"),
    ParamSpec(name="reply_capacity", default=256, low=1, high=100_000,
              description="frames remembered to route answers back [frames]"),
)


class CloudLinkNode(HyperionNode):
    """Bridges the zenoh link to the cloud graph."""

    def __init__(self) -> None:
        super().__init__("cloud_link", params=PARAMS, warn_on=("receive_dropped",))

    def configure(self) -> None:
        p = self.p
        try:
            config = link_config(p)
        except ValueError as err:
            raise ParameterError(f"link parameters connect/listen/tls_*: {err}") from err
        self._lock = threading.Lock()
        self._link_seq: dict[int, int] = {}  # frame sequence -> link sequence
        self._frames = self.create_publisher(EncodedFrame, qos.CLOUD_ENCODED, qos.result_qos())
        self._worker: BoundedWorker[tuple[int, bytes]] = BoundedWorker(
            name="receive", handler=self._republish, depth=p["queue_depth"],
            counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"bad uplink payload: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_subscription(CloudDetections, qos.CLOUD_ANSWERS, self._on_answer,
                                 qos.result_qos())
        self._link = CloudLink(config=config, on_payload=lambda s, b: self._worker.submit((s, b)))
        self.get_logger().info(f"listening on {config.listen or config.connect}")

    def _republish(self, item: tuple[int, bytes]) -> None:
        link_seq, payload = item
        try:
            frame = deserialize_message(payload, EncodedFrame)
        except Exception as err:  # any undecodable payload is skipped
            self.skip("malformed_payloads", f"uplink payload not an EncodedFrame: {err}")
            return
        with self._lock:
            self._link_seq[frame.sequence] = link_seq
            while len(self._link_seq) > self.p["reply_capacity"]:
                self._link_seq.pop(next(iter(self._link_seq)))
        self._frames.publish(frame)
        self.counters.add("frames_received")
        self.counters.add("bytes_received", len(payload))

    def _on_answer(self, msg: CloudDetections) -> None:
        with self._lock:
            link_seq = self._link_seq.pop(msg.sequence, None)
        if link_seq is None:
            self.skip("unroutable_answers", f"answer for unknown frame {msg.sequence}")
            return
        self._link.reply(link_seq, serialize_message(msg))
        self.counters.add("answers_sent")

    def close(self) -> None:
        self._worker.close()
        self._link.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``cloud_link --ros-args ...``."""
    return run_node(CloudLinkNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
