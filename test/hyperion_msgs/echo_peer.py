"""A second ROS 2 process for exchange tests: republishes what it receives, unchanged.

Usage: python echo_peer.py PREFIX   (echoes PREFIX/encoded and PREFIX/detections to
PREFIX/encoded_echo and PREFIX/detections_echo). Exits on SIGTERM or after 120 s.
"""

import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Detection2DArray

from hyperion_msgs.msg import EncodedFrame

RELIABLE = QoSProfile(depth=4, reliability=ReliabilityPolicy.RELIABLE)


class EchoPeer(Node):
    def __init__(self, prefix: str) -> None:
        super().__init__("echo_peer")
        for topic, message_type in (("encoded", EncodedFrame), ("detections", Detection2DArray)):
            publisher = self.create_publisher(message_type, f"{prefix}/{topic}_echo", RELIABLE)
            self.create_subscription(message_type, f"{prefix}/{topic}", publisher.publish, RELIABLE)


def main() -> None:
    rclpy.init()
    node = EchoPeer(sys.argv[1])
    deadline = time.monotonic() + 120
    try:
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
