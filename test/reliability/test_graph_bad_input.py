"""Bad input on the real graphs: camera stream faults, odd encodings and compressed frames
at the edge, bad patch scores at the scheduler, bad frames and bytes at the cloud. Nothing
crashes, good frames keep their one answer, and every refusal is counted on /diagnostics."""

import collections
import contextlib
import time

import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from hyperion_core.link.zenoh_link import EdgeLink, LinkConfig
from hyperion_msgs.msg import CloudDetections, EncodedFrame, LinkStats, PatchScores
from hyperion_runtime import qos
from hyperion_runtime.image_bridge import array_to_image
from hyperion_runtime.node import ns_to_stamp, stamp_ns

from .graphs import SMALL_EDGE, Graph, Watch, domain_pair, free_port, stop_all, wait_until
from .test_validation import encoded

pytestmark = [pytest.mark.ros, pytest.mark.models]
S = 1_000_000_000
RNG = np.random.default_rng(11)


def image(encoding: str, stamp: int, width: int = 320, height: int = 180) -> Image:
    header = Header(stamp=ns_to_stamp(stamp), frame_id="test")
    if encoding in ("mono16", "16UC1"):
        pixels = RNG.integers(0, 4096, (height, width), dtype=np.uint16)
        msg = Image(header=header, width=width, height=height, encoding=encoding,
                    step=2 * width, is_bigendian=0)
        msg.data = pixels.tobytes()
        return msg
    channels = {"mono8": 1, "bgra8": 4, "rgba8": 4}.get(encoding, 3)
    pixels = RNG.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return array_to_image(pixels, header=header, encoding=encoding)


def compressed(extension: str, stamp: int, fmt: str, pixels: np.ndarray | None = None
               ) -> CompressedImage:
    if pixels is None:
        pixels = RNG.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    msg = CompressedImage(header=Header(stamp=ns_to_stamp(stamp), frame_id="test"), format=fmt)
    msg.data = cv2.imencode(extension, pixels)[1].tobytes()
    return msg


def test_camera_faults_and_encodings_at_the_edge():
    domain, _ = domain_pair()
    # No cloud: the link is down, every plan edge-only, so answers come at once.
    edge = Graph("edge", domain=domain, extra=("--no-camera", "--compressed-input"), params=[
        *SMALL_EDGE, f"edge_link.connect:=tcp/127.0.0.1:{free_port()}",
        "latency_budget_s:=6.0", "edge_detector.max_frame_gap_s:=2.0",
        "edge_detector.max_stamp_ahead_s:=0.5"])
    watch = Watch(domain)
    camera = watch.node.create_publisher(Image, qos.IMAGE, qos.image_qos())
    compressed_camera = watch.node.create_publisher(CompressedImage, qos.COMPRESSED_IMAGE,
                                                    qos.image_qos())
    scores_pub = watch.node.create_publisher(PatchScores, qos.PATCH_SCORES, qos.result_qos())
    try:
        wait_until(lambda: camera.get_subscription_count() >= 4
                   and compressed_camera.get_subscription_count() >= 1, 90,
                   f"edge nodes subscribed to the image\n{edge.output()[-3000:]}")

        def answered(stamp: int) -> bool:
            return any(stamp_ns(a.header.stamp) == stamp for a in watch.snapshot()[1])

        sent, republished = [], set()

        def send(msg: Image | CompressedImage, expect_answer: bool = True) -> None:
            publisher = compressed_camera if isinstance(msg, CompressedImage) else camera
            publisher.publish(msg)
            if not expect_answer:
                return
            stamp = stamp_ns(msg.header.stamp)
            sent.append(stamp)
            # A frame published just after discovery can miss a reader whose side of the
            # match is not complete yet (keep-last 1): publish the same frame again, which
            # must still give exactly one answer (checked below).
            for _ in range(2):
                with contextlib.suppress(TimeoutError):
                    wait_until(lambda: answered(stamp), 20, "an answer")
                    return
                publisher.publish(msg)
                republished.add(stamp)  # 20 s after its capture: its deadline is gone
            wait_until(lambda: answered(stamp), 20,
                       f"an answer to frame {stamp}\n{edge.output()[-3000:]}")

        now = time.time_ns
        for encoding in ("bgr8", "rgb8", "rgba8", "bgra8", "mono8", "mono16", "16UC1"):
            send(image(encoding, now()))
        send(image("bgr8", now() - 2 * S))               # capture stamp goes back
        send(image("bgr8", now() + 3 * S))               # jumps forward, ahead of the clock
        send(image("bgr8", now(), 640, 360))             # back again, and a new resolution
        wait_until(lambda: watch.counter("edge_detector", "stall") >= 1, 30,
                   "the camera stall to be reported")
        send(image("bgr8", now()))                       # the stream resumes
        send(compressed(".jpg", now(), "rgb8; jpeg compressed bgr8"))
        send(compressed(".png", now(), "mono8; png compressed mono8",
                        RNG.integers(0, 256, (180, 320), dtype=np.uint8)))
        depth = compressed(".png", now(), "16UC1; compressedDepth png")
        send(depth, expect_answer=False)
        wait_until(lambda: watch.counter("decompressor", "invalid_encoding") >= 1, 30,
                   f"compressedDepth refused: {watch.diagnostics}\n{edge.output()[-3000:]}")
        truncated = compressed(".jpg", now(), "jpeg")
        truncated.data = bytes(truncated.data)[:300]
        send(truncated, expect_answer=False)
        bad = image("bgr8", now())
        bad.encoding = "yuv422"
        send(bad, expect_answer=False)
        # Keep-last 1: the next image would replace this one before delivery.
        wait_until(lambda: watch.counter("scorer", "invalid_encoding") >= 1
                   and watch.counter("edge_detector", "invalid_encoding") >= 1, 30,
                   f"the yuv422 frame refused\n{edge.output()[-3000:]}")
        short = image("bgr8", now())
        short.data = bytes(short.data)[:-7]
        send(short, expect_answer=False)
        nan_scores = PatchScores(sequence=1, frame_width=32, frame_height=32, patch_size=16,
                                 grid_rows=2, grid_cols=2, num_classes=2)
        nan_scores.importance, nan_scores.classes = [0.1, float("nan"), 0.2, 0.3], bytes(4)
        wrong_map = PatchScores(sequence=2, frame_width=32, frame_height=32, patch_size=16,
                                grid_rows=2, grid_cols=2, num_classes=2)
        wrong_map.importance, wrong_map.classes = [0.1] * 4, bytes(9)
        scores_pub.publish(nan_scores)
        scores_pub.publish(wrong_map)
        expected = {
            ("edge_detector", "stamp_backwards"), ("edge_detector", "stamp_jump"),
            ("edge_detector", "stamp_ahead"), ("edge_detector", "resolution_change"),
            ("edge_detector", "stall"), ("edge_detector", "invalid_encoding"),
            ("edge_detector", "invalid_image"), ("scorer", "invalid_encoding"),
            ("scheduler", "invalid_scores"), ("scheduler", "invalid_class_map"),
            ("decompressor", "invalid_encoding"), ("decompressor", "invalid_image"),
        }
        wait_until(lambda: all(watch.counter(n, c) >= 1 for n, c in expected), 30,
                   f"counters on /diagnostics: {watch.diagnostics}\n{edge.output()[-3000:]}")
        assert watch.counter("edge_detector", "invalid_inputs") >= 2
        assert edge.proc.poll() is None
        _, answers, timings = watch.snapshot()
        counts = collections.Counter(stamp_ns(a.header.stamp) for a in answers)
        assert sorted(counts) == sorted(sent) and max(counts.values()) == 1
        assert all(t.source == 0 and (t.deadline_met or t.sequence in republished)
                   for t in timings), [
            (t.sequence, t.source, t.deadline_met, round(t.latency_s, 2), t.edge_reason)
            for t in timings]
    finally:
        watch.close()
        stop_all(edge)


def test_bad_frames_and_bytes_at_the_cloud():
    _, domain = domain_pair()
    port = free_port()
    cloud = Graph("cloud", domain=domain, params=[
        f"cloud_link.listen:=tcp/127.0.0.1:{port}", "cloud_detector.queue_depth:=16",
        "cloud_detector.max_payload_bytes:=20000", "diagnostics_period_s:=1.0"])
    watch = Watch(domain)
    frames = watch.node.create_publisher(EncodedFrame, qos.CLOUD_ENCODED, qos.result_qos())
    replies = []
    link = None
    try:
        link = EdgeLink(config=LinkConfig(connect=(f"tcp/127.0.0.1:{port}",)),
                        on_reply=lambda _s, payload: replies.append(payload))
        wait_until(lambda: link.wait_connected(0.0), 90, f"the cloud\n{cloud.output()[-2000:]}")
        wait_until(lambda: frames.get_subscription_count() >= 1, 30, "cloud_detector")
        wrong_codec, truncated, oversized, bad_map = (encoded() for _ in range(4))
        wrong_codec.codec = "h264"
        truncated.payload = bytes(truncated.payload)[:50]
        oversized.payload = bytes(30000)
        bad_map.classes = bytes([9] * len(bad_map.classes))
        for msg in (wrong_codec, truncated, oversized, bad_map):
            frames.publish(msg)
        # One at a time: cloud_link's queue keeps the newest 2 payloads.
        link.send(b"\x00\x01 not a CDR message")                 # does not deserialize
        wait_until(lambda: watch.counter("cloud_link", "malformed_payloads") >= 1, 30,
                   f"the undecodable payload counted: {watch.diagnostics}")
        link.send(serialize_message(LinkStats(link_up=True)))  # a message of another type
        good = encoded(64, 48)
        good.sequence = 42
        link.send(serialize_message(good))
        wait_until(lambda: replies, 90, f"an answer to a good frame: {watch.diagnostics}"
                   f"\n{cloud.output()[-3000:]}")
        expected = {("cloud_detector", "invalid_codec"), ("cloud_detector", "invalid_payload"),
                    ("cloud_detector", "invalid_class_map")}
        wait_until(lambda: all(watch.counter(n, c) >= 1 for n, c in expected)
                   and watch.counter("cloud_detector", "invalid_inputs")
                   + watch.counter("cloud_link", "malformed_payloads") >= 6, 30,
                   f"counters on /diagnostics: {watch.diagnostics}")
        wait_until(lambda: watch.counter("cloud_detector", "frames_detected") >= 1, 10,
                   "the good frame counted")
        assert cloud.proc.poll() is None
    finally:
        if link is not None:
            link.close()
        watch.close()
        stop_all(cloud)
    from rclpy.serialization import deserialize_message
    assert deserialize_message(replies[0], CloudDetections).sequence == 42
