"""decompressor: ``sensor_msgs/CompressedImage`` (JPEG, PNG) in, ``bgr8`` Image out.

For cameras and bags that publish compressed frames (image_transport's ``compressed``
transport, ``<camera topic>/compressed``): ``/hyperion/image/compressed`` → one decode
(:func:`~hyperion_runtime.image_bridge.compressed_to_bgr`) → ``/hyperion/image`` with the
same header, the topic every edge node reads. Started by ``hyperion run edge
--compressed-input`` or ``ros2 launch hyperion edge.launch.py compressed_input:=true``;
remap ``/hyperion/image/compressed`` to the driver's topic.

Frames are decoded in the subscription callback: a 4K JPEG takes ~30 ms here, far below
the frame interval, and the input QoS is keep-last 1 like the raw image topic, so a slow
decode makes the newest frame win rather than a queue grow. Refused frames (corrupted
data, compressedDepth, other codecs, oversized headers) are counted on ``/diagnostics``
(``invalid_*``) and logged at most every 5 s.
"""

from __future__ import annotations

from rclpy.event_handler import QoSMessageLostInfo, SubscriptionEventCallbacks
from sensor_msgs.msg import CompressedImage, Image

from hyperion_runtime import qos
from hyperion_runtime.image_bridge import array_to_image, compressed_to_bgr
from hyperion_runtime.node import HyperionNode, run_node, stamp_ns
from hyperion_runtime.params import ParamSpec

PARAMS = (
    ParamSpec(name="compressed_reliability", default="reliable",
              choices=qos.RELIABILITY_CHOICES,
              description="compressed input QoS reliability; best_effort also accepts a "
                          "reliable publisher [-]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="decoded image QoS reliability; must match the edge nodes [-]"),
)


class DecompressorNode(HyperionNode):
    """Decodes compressed camera frames and republishes them as raw BGR images."""

    def __init__(self) -> None:
        super().__init__("decompressor", params=PARAMS)

    def configure(self) -> None:
        p = self.p
        self._pub = self.create_publisher(Image, qos.IMAGE, qos.image_qos(p["image_reliability"]))
        self._sub = self.create_subscription(
            CompressedImage, qos.COMPRESSED_IMAGE, self._on_compressed,
            qos.image_qos(p["compressed_reliability"]),
            event_callbacks=SubscriptionEventCallbacks(message_lost=self._on_lost))
        self.get_logger().info(f"{self._sub.topic_name} (JPEG/PNG) -> {self._pub.topic_name}")

    def _on_compressed(self, msg: CompressedImage) -> None:
        self.counters.add("frames_received")
        try:
            frame = compressed_to_bgr(msg)
        except ValueError as err:
            self.refuse(err, f"compressed frame {stamp_ns(msg.header.stamp)}")
            return
        self._pub.publish(array_to_image(frame, header=msg.header, encoding="bgr8"))
        self.counters.add("frames_decompressed")

    def _on_lost(self, info: QoSMessageLostInfo) -> None:
        self.counters.add("frames_lost", max(int(info.total_count_change), 0))


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``decompressor --ros-args ...``."""
    return run_node(DecompressorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
