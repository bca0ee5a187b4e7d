"""Two real processes exchange Hyperion's largest message and a Detection2DArray over Fast DDS.

The peer echoes each message back; the round trip must return every field unchanged,
including a 4K-sized payload carried through the shared-memory transport profile.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose  # noqa: E402

from hyperion_msgs.msg import EncodedFrame  # noqa: E402

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=4, reliability=ReliabilityPolicy.RELIABLE)
PEER = Path(__file__).with_name("echo_peer.py")


def make_encoded_frame() -> EncodedFrame:
    rng = np.random.default_rng(7)
    msg = EncodedFrame(sequence=123456789012, frame_width=3840, frame_height=2160)
    msg.header.frame_id = "array_camera"
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_764_000_000, 123_456_789
    msg.source_encoding = "bgr8"
    msg.patch_size, msg.grid_rows, msg.grid_cols = 16, 135, 240
    msg.classes = rng.integers(0, 3, 135 * 240, dtype=np.uint8).tobytes()
    msg.class_quality = bytes([10, 50, 90])
    msg.class0_downsample = 4
    msg.codec = "hyperion-patch-jpeg/1"
    # A raw 4K rgb8 frame's worth of bytes: the worst case the link must carry.
    msg.payload = rng.integers(0, 256, 3840 * 2160 * 3, dtype=np.uint8).tobytes()
    msg.encoded_stamp.sec, msg.deadline.sec, msg.deadline.nanosec = 5, 6, 400_000_000
    return msg


def make_detections() -> Detection2DArray:
    array = Detection2DArray()
    array.header.frame_id = "array_camera"
    array.header.stamp.sec = 42
    for k in range(3):
        detection = Detection2D(id=f"obj{k}")
        detection.bbox.center.position.x, detection.bbox.center.position.y = 100.5 + k, 200.25
        detection.bbox.size_x, detection.bbox.size_y = 10.0 + k, 20.0
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = "person", 0.5 + 0.1 * k
        hypothesis.pose.covariance[0] = 1.5
        detection.results.append(hypothesis)
        array.detections.append(detection)
    return array


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def test_round_trip_through_a_second_process():
    prefix = f"/probe_{int(time.time() * 1000) % 1_000_000}"
    peer = subprocess.Popen([sys.executable, str(PEER), prefix])
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("exchange_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    received: dict[str, object] = {}
    try:
        publishers = {}
        for topic, message_type in (("encoded", EncodedFrame), ("detections", Detection2DArray)):
            publishers[topic] = node.create_publisher(message_type, f"{prefix}/{topic}", RELIABLE)
            node.create_subscription(
                message_type, f"{prefix}/{topic}_echo",
                lambda msg, topic=topic: received.setdefault(topic, msg), RELIABLE,
            )
        wait_until(
            lambda: all(p.get_subscription_count() for p in publishers.values())
            and all(node.count_publishers(f"{prefix}/{t}_echo") for t in publishers),
            30, "the echo peer to be discovered",
        )
        sent = {"encoded": make_encoded_frame(), "detections": make_detections()}
        for topic, msg in sent.items():
            publishers[topic].publish(msg)
        wait_until(lambda: len(received) == 2, 30, "both echoes")
        assert len(received["encoded"].payload) == 3840 * 2160 * 3
        assert received["encoded"] == sent["encoded"]
        assert received["detections"] == sent["detections"]
    finally:
        peer.terminate()
        peer.wait(timeout=10)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
