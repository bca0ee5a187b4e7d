"""validation.py and image_bridge on bad input: each check refuses with a named fault class."""

import math

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from hyperion_core.codec.patch_codec import ClassEncoding, encode_frame
from hyperion_msgs.msg import EncodedFrame, PatchScores, QualityPlan
from hyperion_runtime.image_bridge import SUPPORTED, array_to_image, image_to_bgr
from hyperion_runtime.validation import (
    CODEC,
    MAX_PIXELS,
    InvalidMessage,
    StreamMonitor,
    check_class_map,
    check_patch_scores,
    check_plan,
    check_scores,
    decode_encoded_frame,
)

RNG = np.random.default_rng(7)
S = 1_000_000_000


def encoded(width: int = 64, height: int = 48) -> EncodedFrame:
    """A valid EncodedFrame of a random ``width`` x ``height`` frame, 2 classes."""
    frame = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rows, cols = -(-height // 16), -(-width // 16)
    classes = (np.arange(rows * cols) % 2).astype(np.uint8).reshape(rows, cols)
    payload = encode_frame(frame, classes, (ClassEncoding(quality=30),
                                            ClassEncoding(quality=80)), patch_size=16)
    msg = EncodedFrame(frame_width=width, frame_height=height, patch_size=16, grid_rows=rows,
                       grid_cols=cols, codec=CODEC, source_encoding="bgr8")
    msg.classes, msg.class_quality, msg.payload = classes.tobytes(), bytes([30, 80]), payload
    return msg


def kind_of(call) -> str:
    with pytest.raises(InvalidMessage) as info:
        call()
    return info.value.kind


def test_a_valid_encoded_frame_decodes_to_its_size():
    assert decode_encoded_frame(encoded(), codec=CODEC).shape == (48, 64, 3)


@pytest.mark.parametrize(("field", "value", "kind"), [
    ("codec", "hyperion-patch-jpeg/0", "codec"),
    ("payload", b"", "payload"),
    ("class_quality", b"", "class_map"),
    ("class_quality", bytes([0, 80]), "class_map"),
    ("grid_rows", 7, "grid"),
    ("patch_size", 24, "grid"),
    ("frame_width", 0, "size"),
    ("frame_width", 70000, "grid"),
    ("classes", bytes(5), "class_map"),
    ("classes", bytes([2] * 12), "class_map"),
])
def test_inconsistent_fields_are_refused_by_kind(field, value, kind):
    msg = encoded()
    setattr(msg, field, value)
    assert kind_of(lambda: decode_encoded_frame(msg, codec=CODEC)) == kind


@pytest.mark.parametrize("damage", ["truncate", "flip", "zero_tail", "append"])
def test_damaged_payloads_are_payload_faults(damage):
    msg = encoded()
    data = bytearray(msg.payload)
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[4] ^= 0xFF  # the version byte
    elif damage == "zero_tail":
        data[-len(data) // 3:] = bytes(len(data) // 3)
    else:
        data += b"junk"
    msg.payload = bytes(data)
    try:
        frame = decode_encoded_frame(msg, codec=CODEC)
    except InvalidMessage as err:
        assert err.kind == "payload" and err.counter == "invalid_payload"
    else:  # JPEG tolerates some damage to entropy data; the size must still hold
        assert frame.shape == (48, 64, 3) and damage == "zero_tail"


def test_oversized_payload_is_refused_before_decoding():
    msg = encoded()
    assert kind_of(lambda: decode_encoded_frame(msg, codec=CODEC, max_payload_bytes=100)) \
        == "payload"


def test_payload_of_another_size_than_declared():
    msg, other = encoded(64, 48), encoded(32, 48)
    msg.payload = other.payload
    assert kind_of(lambda: decode_encoded_frame(msg, codec=CODEC)) == "size"


def scores(rows: int = 3, cols: int = 4) -> PatchScores:
    msg = PatchScores(frame_width=cols * 16, frame_height=rows * 16, patch_size=16,
                      grid_rows=rows, grid_cols=cols, num_classes=3)
    msg.importance = [0.5] * (rows * cols)
    msg.classes = bytes([k % 3 for k in range(rows * cols)])
    return msg


def test_patch_scores_checks():
    check_patch_scores(scores())
    short = scores()
    short.classes = bytes(5)
    assert kind_of(lambda: check_patch_scores(short)) == "class_map"
    for bad in (math.nan, math.inf, -math.inf):
        msg = scores()
        values = list(msg.importance)
        values[3] = bad
        msg.importance = values
        assert kind_of(lambda m=msg: check_patch_scores(m)) == "scores"
    assert kind_of(lambda: check_scores(importance=[0.1], grid_rows=1, grid_cols=1,
                                        class_breaks=[math.nan])) == "scores"
    assert kind_of(lambda: check_class_map(classes=b"", grid_rows=0, grid_cols=0, num_classes=1,
                                           frame_width=0, frame_height=0, patch_size=16)) \
        == "size"


def test_plan_checks():
    plan = QualityPlan(class0_downsample=1)
    plan.class_quality = bytes([10, 50, 90])
    check_plan(plan, num_classes=3)
    assert kind_of(lambda: check_plan(plan, num_classes=4)) == "plan"
    plan.class0_downsample = 3
    assert kind_of(lambda: check_plan(plan, num_classes=3)) == "plan"


def test_stream_monitor_reports_each_fault_once():
    monitor = StreamMonitor(max_gap_s=2.0, max_ahead_s=0.5)
    now = 100 * S

    def frame(stamp, w=960, h=540):
        return {e.kind for e in monitor.on_frame(stamp_ns=stamp, width=w, height=h, now_ns=now)}

    assert frame(now - S) == set()
    assert frame(now - S // 2) == set()
    assert frame(now - 3 * S) == {"stamp_backwards"}
    assert frame(now - 3 * S) == {"stamp_repeated"}
    assert frame(now) == {"stamp_jump"}
    assert frame(now + S) == {"stamp_ahead"}
    assert frame(now + S + 1, 640, 360) == {"stamp_ahead", "resolution_change"}
    assert monitor.check_stall(now + S) is None
    stall = monitor.check_stall(now + 3 * S)
    assert stall is not None and stall.kind == "stall"
    assert monitor.check_stall(now + 9 * S) is None  # once per silence
    frame(now + 2 * S, 640, 360)
    assert monitor.check_stall(now + 9 * S) is not None


def image(pixels: np.ndarray, encoding: str, bigendian: bool = False) -> Image:
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=int(bigendian))
    msg.step = pixels.shape[1] * pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
    msg.data = pixels.tobytes()
    return msg


def test_every_listed_encoding_converts_to_bgr():
    bgr = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    conversions = {
        "bgr8": bgr, "rgb8": bgr[:, :, ::-1].copy(),
        "bgra8": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "rgba8": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA),
    }
    for encoding, pixels in conversions.items():
        out = image_to_bgr(array_to_image(pixels, header=Header(), encoding=encoding))
        np.testing.assert_array_equal(out, bgr)
    gray = bgr[:, :, 0]
    out = image_to_bgr(array_to_image(gray, header=Header(), encoding="mono8"))
    np.testing.assert_array_equal(out, np.repeat(gray[:, :, None], 3, axis=2))
    assert set(SUPPORTED) == {*conversions, "mono8", "mono16", "16UC1"}


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_16_bit_images_are_scaled_to_their_maximum(encoding, bigendian):
    depth = np.array([[0, 1000], [2000, 4000]], np.uint16)
    wire = depth.astype(">u2" if bigendian else "<u2")
    out = image_to_bgr(image(wire, encoding, bigendian))
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 0], [[0, 63], [127, 255]])
    black = image_to_bgr(image(np.zeros((2, 2), np.uint16), encoding))
    assert not black.any()


@pytest.mark.parametrize(("encoding", "kind", "words"), [
    ("yuv422", "encoding", "supported"),
    ("bayer_rggb8", "encoding", "supported"),
    ("32FC1", "encoding", "supported"),
    ("", "encoding", "supported"),
])
def test_unknown_encodings_are_refused_naming_the_supported(encoding, kind, words):
    msg = image(np.zeros((2, 2, 3), np.uint8), "bgr8")
    msg.encoding = encoding
    with pytest.raises(InvalidMessage) as info:
        image_to_bgr(msg)
    assert info.value.kind == kind and words in str(info.value) and "mono16" in str(info.value)


def test_truncated_and_oversized_images_are_refused():
    msg = image(np.zeros((4, 4, 3), np.uint8), "bgr8")
    msg.data = bytes(msg.data)[:-1]
    assert kind_of(lambda: image_to_bgr(msg)) == "image"
    deep = image(np.zeros((4, 4), np.uint16), "mono16")
    deep.data = bytes(deep.data)[:-2]
    assert kind_of(lambda: image_to_bgr(deep)) == "image"
    huge = Image(width=MAX_PIXELS, height=2, encoding="mono8", step=MAX_PIXELS)
    assert kind_of(lambda: image_to_bgr(huge)) == "size"
    empty = Image(width=0, height=0, encoding="bgr8")
    assert kind_of(lambda: image_to_bgr(empty)) == "size"
