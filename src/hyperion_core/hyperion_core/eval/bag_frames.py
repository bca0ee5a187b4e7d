"""Frames of a recorded rosbag2 (mcap or sqlite3), for profiling a deployment's own camera.

Reads ``sensor_msgs/msg/Image`` (bgr8, rgb8, mono8) or ``sensor_msgs/msg/CompressedImage``
(JPEG, PNG) messages with ``rosbags`` — pure Python, no ROS install needed — and decodes
them into BGR frames, in recording order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"


def _to_bgr(msgtype: str, msg: object) -> np.ndarray:
    import cv2

    if msgtype == COMPRESSED:
        data = np.frombuffer(bytes(msg.data), np.uint8)  # type: ignore[attr-defined]
        frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"undecodable {msg.format!r} image")  # type: ignore[attr-defined]
        return frame
    encoding = msg.encoding  # type: ignore[attr-defined]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)  # type: ignore[attr-defined]
    channels = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(encoding)
    if channels is None:
        raise ValueError(f"image encoding {encoding!r} not supported (bgr8, rgb8, mono8)")
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(h, step)  # type: ignore[attr-defined]
    pixels = rows[:, : w * channels].reshape(h, w, channels)
    if encoding == "rgb8":
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if encoding == "mono8":
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    return pixels.copy()


def read_bag_frames(
    bag: Path, *, topic: str | None = None, first: int = 0, count: int = 1, stride: int = 1
) -> list[np.ndarray]:
    """Frames ``first, first + stride, ...`` (``count`` of them) of an image topic.

    Args:
        bag: rosbag2 folder.
        topic: image topic; ``None`` takes the only Image/CompressedImage topic.

    Raises:
        ValueError: no such topic, several candidates without ``topic``, or too few frames.
    """
    from rosbags.highlevel import AnyReader

    wanted = {first + k * stride for k in range(count)}
    frames = []
    with AnyReader([Path(bag)]) as reader:
        images = [c for c in reader.connections if c.msgtype in (IMAGE, COMPRESSED)]
        if topic is not None:
            images = [c for c in images if c.topic == topic]
        topics = sorted({c.topic for c in images})
        if len(topics) != 1:
            raise ValueError(f"{bag}: need exactly one image topic, found {topics or 'none'}"
                             + ("" if topic is None else f" named {topic!r}"))
        for index, (connection, _, raw) in enumerate(reader.messages(connections=images)):
            if index in wanted:
                msg = reader.deserialize(raw, connection.msgtype)
                frames.append(_to_bgr(connection.msgtype, msg))
            if len(frames) == count:
                break
    if len(frames) < count:
        raise ValueError(f"{bag}: {len(frames)} image messages at the asked positions, "
                         f"{count} wanted")
    return frames
