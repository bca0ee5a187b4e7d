"""Property-based fuzzing of message validation and the cloud's decoder path.

Whatever the field values or bytes, the checks either accept or raise ``InvalidMessage``
(whose counter name the nodes report on /diagnostics); nothing else escapes, nothing
hangs. Seeded (derandomized) so a failure reproduces.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from hyperion_msgs.msg import EncodedFrame, PatchScores
from hyperion_runtime.image_bridge import compressed_to_bgr, image_to_bgr
from hyperion_runtime.validation import (
    CODEC,
    InvalidMessage,
    check_patch_scores,
    decode_encoded_frame,
)

from .test_validation import encoded

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
VALID = encoded(64, 48)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)


def counter_or_ok(call) -> str:
    """``"ok"`` or the diagnostics counter the node would increment."""
    try:
        call()
    except InvalidMessage as err:
        assert err.counter.startswith("invalid_")
        return err.counter
    return "ok"


@FUZZ
@given(width=u32, height=u32, patch=u16, rows=u16, cols=u16,
       classes=st.binary(max_size=64), qualities=st.binary(max_size=8),
       codec=st.sampled_from([CODEC, "", "x" * 300]),
       payload=st.one_of(st.binary(max_size=512), st.just(bytes(VALID.payload))))
def test_arbitrary_encoded_frames_never_crash(width, height, patch, rows, cols, classes,
                                              qualities, codec, payload):
    msg = EncodedFrame(frame_width=width, frame_height=height, patch_size=patch,
                       grid_rows=rows, grid_cols=cols, codec=codec)
    msg.classes, msg.class_quality, msg.payload = classes, qualities, payload
    counter_or_ok(lambda: decode_encoded_frame(msg, codec=CODEC))


@FUZZ
@given(cut=st.integers(0, len(VALID.payload)), flips=st.lists(
    st.tuples(st.integers(0, len(VALID.payload) - 1), st.integers(1, 255)), max_size=6))
def test_damaged_valid_payloads_never_crash(cut, flips):
    data = bytearray(bytes(VALID.payload)[:cut] if cut < 40 else bytes(VALID.payload))
    for index, mask in flips:
        if index < len(data):
            data[index] ^= mask
    msg = encoded(64, 48)
    msg.payload = bytes(data)
    result = counter_or_ok(lambda: decode_encoded_frame(msg, codec=CODEC))
    assert result in ("ok", "invalid_payload", "invalid_size")


@FUZZ
@given(noise=st.binary(max_size=2048), keep=st.integers(0, 4096))
def test_uplink_bytes_that_do_not_deserialize(noise, keep):
    """The cloud_link path: bytes from the link → EncodedFrame → checks → decoder."""
    for raw in (noise, serialize_message(VALID)[:keep] + noise):
        try:
            msg = deserialize_message(raw, EncodedFrame)
        except Exception:  # cloud_link counts any failure as a malformed payload
            continue
        counter_or_ok(lambda m=msg: decode_encoded_frame(m, codec=CODEC))


@FUZZ
@given(rows=st.integers(0, 6), cols=st.integers(0, 6), patch=st.sampled_from([0, 16, 17, 32]),
       width=st.integers(0, 200), height=st.integers(0, 200), num=st.integers(0, 9),
       importance=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32),
                           max_size=40),
       classes=st.binary(max_size=40))
def test_arbitrary_patch_scores_never_crash(rows, cols, patch, width, height, num,
                                            importance, classes):
    msg = PatchScores(frame_width=width, frame_height=height, patch_size=patch,
                      grid_rows=rows, grid_cols=cols, num_classes=num)
    msg.importance, msg.classes = importance, classes
    if counter_or_ok(lambda: check_patch_scores(msg)) == "ok":
        assert np.isfinite(np.asarray(importance, np.float32)).all()
        assert len(classes) == rows * cols and (not classes or max(classes) < num)


@FUZZ
@given(width=st.integers(0, 64), height=st.integers(0, 64), step=st.integers(0, 300),
       encoding=st.sampled_from(["bgr8", "rgb8", "mono8", "bgra8", "rgba8", "mono16",
                                 "16UC1", "yuv422", "32FC1", "bgr16"]),
       bigendian=st.booleans(), data=st.binary(max_size=4096))
def test_arbitrary_images_never_crash(width, height, step, encoding, bigendian, data):
    msg = Image(width=width, height=height, step=step, encoding=encoding,
                is_bigendian=int(bigendian))
    msg.data = data
    try:
        frame = image_to_bgr(msg)
    except InvalidMessage:
        return
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8


def _small_jpeg_and_png() -> tuple[bytes, bytes]:
    import cv2

    pixels = np.random.default_rng(4).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes(), cv2.imencode(".png", pixels)[1].tobytes()


JPEG, PNG = _small_jpeg_and_png()


@FUZZ
@given(base=st.sampled_from([JPEG, PNG, b""]), cut=st.integers(0, 2048),
       flips=st.lists(st.tuples(st.integers(0, 2047), st.integers(1, 255)), max_size=6),
       fmt=st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "16UC1; compressedDepth",
                            ""]),
       tail=st.binary(max_size=64))
def test_damaged_compressed_images_never_crash(base, cut, flips, fmt, tail):
    data = bytearray(base[:cut] + tail)
    for index, mask in flips:
        if index < len(data):
            data[index] ^= mask
    msg = CompressedImage(format=fmt)
    msg.data = bytes(data)
    try:
        frame = compressed_to_bgr(msg)
    except InvalidMessage:
        return
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
