"""`hyperion bag`: record from a live publisher, replay into a subscriber, import a video.

Bags written by `hyperion bag` (rosbags) are read back with an independent reader
(mcap-ros2-support); bags the tests build themselves are written with rosbags directly.
Every ROS process runs in a domain private to the test.
"""

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
mcap_reader = pytest.importorskip("mcap_ros2.reader")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import get_types_from_msg  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

from hyperion.bag_types import hyperion_typestore  # noqa: E402
from hyperion.bag_video import image_cdr  # noqa: E402

N = 4
W, H = 64, 48

# The publisher peer: N small images and N detection arrays, contents derived from k.
PUBLISHER = textwrap.dedent(f"""
    import sys, time
    import numpy as np, rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
    prefix = sys.argv[1]
    rclpy.init()
    node = rclpy.create_node("bag_test_publisher")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = [node.create_publisher(Image, prefix + "/image", qos),
            node.create_publisher(Detection2DArray, prefix + "/dets", qos)]
    deadline = time.monotonic() + 30
    while not all(p.get_subscription_count() for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.02)
    for k in range({N}):
        img = Image(height={H}, width={W}, encoding="bgr8", step={W} * 3)
        img.header.stamp.sec, img.header.frame_id = 100 + k, "cam"
        img.data = ((np.arange({H} * {W} * 3) + k) % 251).astype(np.uint8).tobytes()
        dets = Detection2DArray(header=img.header)
        d = Detection2D(id="p%d" % k)
        d.bbox.center.position.x, d.bbox.size_x, d.bbox.size_y = 10.5 + k, 4.0, 8.0
        h = ObjectHypothesisWithPose()
        h.hypothesis.class_id, h.hypothesis.score = "person", 0.25 * (k + 1)
        d.results.append(h)
        dets.detections.append(d)
        pubs[0].publish(img)
        pubs[1].publish(dets)
    while rclpy.ok():  # stay until the test ends us, so reliable delivery completes
        time.sleep(0.05)
""")

pytestmark = pytest.mark.ros


@pytest.fixture
def ros_env():
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(50 + os.getpid() % 40)
    return env


def bag_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hyperion.bag", *map(str, args)]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def test_record_live_topics_read_back_independently(tmp_path, ros_env):
    out = tmp_path / "rec"
    recorder = subprocess.Popen(
        bag_cli("record", "/bt/image", "/bt/dets", "-o", out, "--max-messages", 2 * N,
                "--duration", 40),
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, "/bt"], env=ros_env)
    try:
        log, _ = recorder.communicate(timeout=50)
    finally:
        publisher.terminate()
        publisher.wait(timeout=10)
        recorder.kill()
    assert recorder.returncode == 0, log
    assert (out / "metadata.yaml").is_file()
    messages = list(mcap_reader.read_ros2_messages(str(out / "rec.mcap")))
    images = [m for m in messages if m.channel.topic == "/bt/image"]
    dets = [m for m in messages if m.channel.topic == "/bt/dets"]
    assert len(images) == N and len(dets) == N, log
    assert dets[0].schema.name == "vision_msgs/msg/Detection2DArray"
    assert "MSG: vision_msgs/ObjectHypothesisWithPose" in dets[0].schema.data.decode()
    for k, (image, array) in enumerate(zip(images, dets, strict=True)):
        img = image.ros_msg
        assert (img.header.stamp.sec, img.header.frame_id) == (100 + k, "cam")
        assert (img.width, img.height, img.encoding, img.step) == (W, H, "bgr8", W * 3)
        expected = ((np.arange(H * W * 3) + k) % 251).astype(np.uint8)
        np.testing.assert_array_equal(np.frombuffer(img.data, np.uint8), expected)
        (detection,) = array.ros_msg.detections
        assert array.ros_msg.header.stamp.sec == 100 + k
        assert detection.id == f"p{k}"
        assert detection.bbox.center.position.x == 10.5 + k
        assert (detection.bbox.size_x, detection.bbox.size_y) == (4.0, 8.0)
        assert detection.results[0].hypothesis.class_id == "person"
        assert detection.results[0].hypothesis.score == 0.25 * (k + 1)


def test_record_names_a_topic_that_never_appears(tmp_path, ros_env):
    result = subprocess.run(
        bag_cli("record", "/bt/nobody", "-o", tmp_path / "empty", "--discovery-timeout", 1),
        env=ros_env, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "no publisher of /bt/nobody" in result.stderr


def write_bag(path, *, unknown: bool = False) -> list[tuple[int, np.ndarray]]:
    """A bag of N images on /cam (50 ms apart), N detections on /dets, optionally more."""
    store = hyperion_typestore()
    frames = []
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=store)
        det = writer.add_connection("/dets", "vision_msgs/msg/Detection2DArray", typestore=store)
        for k in range(N):
            stamp = 1_000_000_000 + k * 50_000_000
            frame = np.random.default_rng(k).integers(0, 256, (H, W, 3), dtype=np.uint8)
            frames.append((stamp, frame))
            writer.write(cam, stamp, image_cdr(store, frame, stamp_ns=stamp, frame_id="cam"))
            cls = store.types
            header = cls["std_msgs/msg/Header"](
                stamp=cls["builtin_interfaces/msg/Time"](sec=1, nanosec=k * 50_000_000),
                frame_id="cam")
            array = cls["vision_msgs/msg/Detection2DArray"](header=header, detections=[])
            writer.write(det, stamp + 1, store.serialize_cdr(array, array.__msgtype__))
        if unknown:
            store.register(get_types_from_msg("int32 value", "nonexistent_msgs/msg/Thing"))
            thing = writer.add_connection("/thing", "nonexistent_msgs/msg/Thing", typestore=store)
            for k in range(3):
                msg = store.types["nonexistent_msgs/msg/Thing"](value=k)
                writer.write(thing, 1_000_000_000 + k, store.serialize_cdr(msg, msg.__msgtype__))
    return frames


def test_play_into_a_subscriber_in_order_at_rate(tmp_path, ros_env):
    frames = write_bag(tmp_path / "bag")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("bag_play_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received: list[tuple[float, object]] = []
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    def keep(msg) -> None:
        received.append((time.monotonic(), msg))

    node.create_subscription(Image, "/bt/replayed", keep, qos)
    node.create_subscription(Detection2DArray, "/dets", keep, qos)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        result = subprocess.run(
            bag_cli("play", tmp_path / "bag", "--remap", "/cam:=/bt/replayed", "--rate", 2,
                    "--wait-for-subscribers", 20),
            env=ros_env, capture_output=True, text=True, timeout=40,
        )
        assert result.returncode == 0, result.stderr
        wait_until(lambda: len(received) == 2 * N, 10, "every replayed message")
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    images = [(t, m) for t, m in received if isinstance(m, Image)]
    dets = [m for _, m in received if isinstance(m, Detection2DArray)]
    assert [m.header.stamp.nanosec for m in dets] == [k * 50_000_000 for k in range(N)]
    for (_, image), (stamp, frame) in zip(images, frames, strict=True):
        assert image.header.stamp.sec * 10**9 + image.header.stamp.nanosec == stamp
        np.testing.assert_array_equal(np.frombuffer(image.data, np.uint8).reshape(H, W, 3), frame)
    # 150 ms recorded between first and last frame, played at twice the speed.
    assert images[-1][0] - images[0][0] >= 0.8 * 0.075


def test_play_unknown_type_is_skipped_and_missing_topic_is_an_error(tmp_path, ros_env):
    write_bag(tmp_path / "bag", unknown=True)
    missing = subprocess.run(bag_cli("play", tmp_path / "bag", "--topics", "/cam", "/absent"),
                             env=ros_env, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2
    assert "/absent not in bag" in missing.stderr and "Traceback" not in missing.stderr
    played = subprocess.run(bag_cli("play", tmp_path / "bag", "--rate", 10),
                            env=ros_env, capture_output=True, text=True, timeout=30)
    assert played.returncode == 0, played.stderr
    assert "skipped /thing: type nonexistent_msgs/msg/Thing not installed" in played.stdout
    assert "skipped 3 messages" in played.stdout
    assert f"published {2 * N} messages" in played.stdout


def test_import_video_stamps_and_pixels(tmp_path):
    cv2 = pytest.importorskip("cv2")
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (W, H))
    for k in range(3):
        writer.write(np.full((H, W, 3), 40 * k, np.uint8))
    writer.release()
    result = subprocess.run(
        bag_cli("import-video", video, tmp_path / "bag", "--start-stamp", 7, "--frame-id", "v"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    capture, decoded = cv2.VideoCapture(str(video)), []
    while (frame := capture.read())[0]:
        decoded.append(frame[1])
    messages = list(mcap_reader.read_ros2_messages(str(tmp_path / "bag" / "bag.mcap")))
    assert len(messages) == len(decoded) == 3
    for k, (message, frame) in enumerate(zip(messages, decoded, strict=True)):
        img = message.ros_msg
        assert (img.header.stamp.sec, img.header.stamp.nanosec) == (7, k * 200_000_000)
        assert message.log_time_ns == 7 * 10**9 + k * 200_000_000
        assert (img.header.frame_id, img.encoding) == ("v", "bgr8")
        np.testing.assert_array_equal(np.frombuffer(img.data, np.uint8).reshape(H, W, 3), frame)


def test_image_cdr_matches_the_generic_serializer():
    store = hyperion_typestore()
    frame = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    fast = image_cdr(store, frame, stamp_ns=12_000_000_345, frame_id="odd_len")
    msg = store.deserialize_cdr(fast, "sensor_msgs/msg/Image")
    assert bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image")) == fast
    np.testing.assert_array_equal(msg.data.reshape(5, 7, 3), frame)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.step) == (12, 345, 21)


def test_import_images_keeps_the_file_bytes(tmp_path):
    cv2 = pytest.importorskip("cv2")
    frames = tmp_path / "SEQ_01"
    frames.mkdir()
    rng = np.random.default_rng(5)
    expected = []
    for k, suffix in enumerate([".jpg", ".png", ".jpg"]):
        pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        data = cv2.imencode(suffix, pixels)[1].tobytes()
        (frames / f"SEQ_01_{k:03d}{suffix}").write_bytes(data)
        expected.append((data, "jpeg" if suffix == ".jpg" else "png"))
    (frames / "SEQ_01_003.jpg").write_bytes(b"not an image")   # skipped, named
    (frames / "notes.txt").write_text("ignored")
    result = subprocess.run(
        bag_cli("import-images", frames, tmp_path / "bag", "--fps", 2, "--start-stamp", 7,
                "--frame-id", "panda"),
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "SEQ_01_003.jpg: neither JPEG nor PNG" in result.stderr
    messages = list(mcap_reader.read_ros2_messages(str(tmp_path / "bag" / "bag.mcap")))
    assert len(messages) == 3
    for k, (message, (data, fmt)) in enumerate(zip(messages, expected, strict=True)):
        msg = message.ros_msg
        assert message.channel.topic == "/hyperion/image/compressed"
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (7 + k // 2, k % 2 * 500_000_000)
        assert (msg.header.frame_id, msg.format) == ("panda", fmt)
        assert bytes(msg.data) == data
    empty = subprocess.run(bag_cli("import-images", tmp_path / "nothing", tmp_path / "b2",
                                   "--fps", 1), capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "not found" in empty.stderr
