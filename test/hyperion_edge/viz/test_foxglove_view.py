"""`hyperion view` serves Foxglove clients: channels advertised, frames sent, rviz image drawn."""

import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
websockets = pytest.importorskip("websockets")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2D, Detection2DArray  # noqa: E402

pytestmark = pytest.mark.ros
EXPECTED = {"/hyperion/image/compressed", "/hyperion/edge/annotations",
            "/hyperion/cloud/annotations", "/hyperion/fused/annotations",
            "/hyperion/poi_map", "/hyperion/viz/timing", "/hyperion/viz/plan",
            "/hyperion/viz/link"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def frame_and_detections(k: int) -> tuple[Image, Detection2DArray]:
    image = Image(height=240, width=320, encoding="bgr8", step=960)
    image.header.stamp.sec, image.header.stamp.nanosec = 50, k * 1000
    image.header.frame_id = "cam"
    image.data = np.full(240 * 320 * 3, 90, np.uint8).tobytes()
    fused = Detection2DArray(header=image.header)
    box = Detection2D()
    box.bbox.center.position.x, box.bbox.center.position.y = 160.0, 120.0
    box.bbox.size_x, box.bbox.size_y = 100.0, 60.0
    fused.detections.append(box)
    return image, fused


async def first_image_message(port: int, timeout: float) -> tuple[set, bytes]:
    """Advertised topics, and the payload of the first message on the image channel."""
    async with asyncio.timeout(timeout):
        while True:  # the server process may still be starting
            try:
                client = await websockets.connect(f"ws://127.0.0.1:{port}",
                                                  subprotocols=["foxglove.sdk.v1"],
                                                  max_size=None)
                break
            except OSError:
                await asyncio.sleep(0.1)
        async with client:
            assert client.subprotocol == "foxglove.sdk.v1"
            channels: dict[str, int] = {}
            while not set(channels) >= EXPECTED:
                message = await client.recv()
                if isinstance(message, str) and json.loads(message)["op"] == "advertise":
                    channels |= {c["topic"]: c["id"] for c in json.loads(message)["channels"]}
            await client.send(json.dumps({"op": "subscribe", "subscriptions": [
                {"id": 7, "channelId": channels["/hyperion/image/compressed"]}]}))
            while True:
                message = await client.recv()
                if isinstance(message, bytes) and message[0] == 1:
                    (subscription,) = struct.unpack_from("<I", message, 1)
                    if subscription == 7:
                        return set(channels), message[13:]


def test_view_serves_image_channel_and_annotated_frame():
    env = dict(os.environ, ROS_DOMAIN_ID=str(50 + (os.getpid() + 17) % 40))
    port = free_port()
    view = subprocess.Popen([sys.executable, "-m", "hyperion.view", "--port", str(port),
                             "--max-width", "160", "--rate", "30"], env=env)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("view_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, "/hyperion/image", qos)
    fused_pub = node.create_publisher(Detection2DArray, "/hyperion/detections", 10)
    annotated: list[Image] = []
    node.create_subscription(Image, "/hyperion/annotated", annotated.append, 1)
    stop = threading.Event()

    def feed() -> None:  # a live camera: frames keep coming until the test has what it needs
        k = 0
        while not stop.wait(0.1):
            image, fused = frame_and_detections(k)
            image_pub.publish(image)
            fused_pub.publish(fused)
            k += 1

    threading.Thread(target=executor.spin, daemon=True).start()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        topics, payload = asyncio.run(first_image_message(port, timeout=30))
        deadline = time.monotonic() + 10
        while not annotated and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        feeder.join()
        view.send_signal(signal.SIGINT)
        code = view.wait(timeout=15)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    assert topics >= EXPECTED
    assert b"\xff\xd8" in payload and b"jpeg" in payload  # protobuf CompressedImage of a JPEG
    assert code == 0
    assert annotated, "no /hyperion/annotated frame within 10 s"
    out = annotated[0]
    assert (out.width, out.height, out.header.frame_id) == (160, 120, "cam")
    pixels = np.frombuffer(out.data, np.uint8).reshape(120, 160, 3)
    # Fused box 110..210 x 90..150 in the source is 55..105 x 45..75 here, drawn in green.
    edge = pixels[58:63, 53:58].reshape(-1, 3).astype(int)
    assert (edge[:, 1] - edge[:, 0]).max() > 60, edge
    assert tuple(pixels[10, 10]) == (90, 90, 90)
