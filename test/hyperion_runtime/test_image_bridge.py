"""image_bridge: every encoding, round trips, padded rows, and refusal of wrong sizes."""

import numpy as np
import pytest
from std_msgs.msg import Header

from hyperion_runtime.image_bridge import CHANNELS, array_to_image, image_to_array, image_to_bgr

RNG = np.random.default_rng(3)


def frame(height: int = 6, width: int = 5, channels: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, channels), dtype=np.uint8)


@pytest.mark.parametrize("encoding", sorted(CHANNELS))
def test_round_trip_every_encoding(encoding):
    pixels = frame(channels=CHANNELS[encoding])
    header = Header(frame_id="cam")
    header.stamp.sec = 7
    msg = array_to_image(pixels, header=header, encoding=encoding)
    assert (msg.height, msg.width, msg.step) == (6, 5, 5 * CHANNELS[encoding])
    assert msg.header.stamp.sec == 7 and msg.header.frame_id == "cam"
    np.testing.assert_array_equal(image_to_array(msg), pixels)


@pytest.mark.parametrize(("encoding", "to_bgr"), [
    ("bgr8", lambda a: a),
    ("rgb8", lambda a: a[:, :, ::-1]),
    ("bgra8", lambda a: a[:, :, :3]),
    ("rgba8", lambda a: a[:, :, 2::-1]),
    ("mono8", lambda a: np.repeat(a, 3, axis=2)),
])
def test_conversion_to_bgr(encoding, to_bgr):
    pixels = frame(channels=CHANNELS[encoding])
    msg = array_to_image(pixels, header=Header(), encoding=encoding)
    bgr = image_to_bgr(msg)
    assert bgr.shape == (6, 5, 3)
    np.testing.assert_array_equal(bgr, to_bgr(pixels))


def test_bgr8_is_zero_copy():
    msg = array_to_image(frame(), header=Header())
    view = image_to_bgr(msg)
    assert np.shares_memory(view, np.frombuffer(msg.data, np.uint8))


def test_padded_rows_are_dropped():
    pixels = frame(4, 3, 3)
    msg = array_to_image(pixels, header=Header())
    padded = np.zeros((4, 12), np.uint8)
    padded[:, :9] = pixels.reshape(4, 9)
    msg.step, msg.data = 12, padded.tobytes()
    np.testing.assert_array_equal(image_to_bgr(msg), pixels)


def test_mono8_accepts_2d_arrays():
    pixels = frame(channels=1)[:, :, 0]
    msg = array_to_image(pixels, header=Header(), encoding="mono8")
    np.testing.assert_array_equal(image_to_array(msg)[:, :, 0], pixels)


def test_wrong_sizes_are_refused():
    msg = array_to_image(frame(), header=Header())
    msg.data = bytes(len(msg.data) - 1)
    with pytest.raises(ValueError, match="expected step"):
        image_to_bgr(msg)
    msg = array_to_image(frame(), header=Header())
    msg.step = 4  # narrower than one row
    with pytest.raises(ValueError, match="step"):
        image_to_bgr(msg)


def test_empty_image_round_trips():
    msg = array_to_image(np.zeros((0, 0, 3), np.uint8), header=Header())
    assert image_to_array(msg).shape == (0, 0, 3)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="unsupported encoding"):
        array_to_image(frame(), header=Header(), encoding="yuv422")
    with pytest.raises(ValueError, match="channels"):
        array_to_image(frame(channels=3), header=Header(), encoding="rgba8")
    with pytest.raises(ValueError, match="uint8"):
        array_to_image(frame().astype(np.float32), header=Header())
    msg = array_to_image(frame(), header=Header())
    msg.encoding = "32FC1"  # 16UC1/mono16 are read since issue #7; float depth is not
    with pytest.raises(ValueError, match="unsupported encoding"):
        image_to_bgr(msg)


def compressed(data: bytes, fmt: str):
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage(header=Header(frame_id="cam"), format=fmt)
    msg.data = data
    return msg


def _encode(extension: str, pixels: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(extension, pixels)
    assert ok
    return buffer.tobytes()


@pytest.fixture(scope="module")
def photo():
    from hyperion_core.data.array_camera import array_camera_frames

    try:
        return np.ascontiguousarray(next(array_camera_frames(1))[400:520, 700:860])
    except FileNotFoundError as exc:
        pytest.skip(f"vtest clip missing: {exc}")


@pytest.mark.parametrize("fmt", ["bgr8; jpeg compressed bgr8", "rgb8; jpeg compressed bgr8",
                                 "jpeg"])
def test_compressed_jpeg_decodes_like_opencv(photo, fmt):
    import cv2

    from hyperion_runtime.image_bridge import compressed_to_bgr

    data = _encode(".jpg", photo)
    ours = compressed_to_bgr(compressed(data, fmt))
    np.testing.assert_array_equal(ours, cv2.imdecode(np.frombuffer(data, np.uint8), 1))


def test_compressed_png_variants(photo):
    import cv2

    from hyperion_runtime.image_bridge import compressed_to_bgr

    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    for pixels, expected in [(photo, photo), (bgra, photo),
                             (gray, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))]:
        out = compressed_to_bgr(compressed(_encode(".png", pixels), "png"))
        np.testing.assert_array_equal(out, expected)  # PNG is lossless
    deep = (gray.astype(np.uint16) * 16)  # a 12-bit sensor
    out = compressed_to_bgr(compressed(_encode(".png", deep), "mono16; png compressed mono16"))
    assert out.shape == photo.shape and out.max() == 255
    np.testing.assert_array_equal(out[:, :, 0], (deep * (255.0 / deep.max())).astype(np.uint8))
    grey_jpeg = compressed_to_bgr(compressed(_encode(".jpg", gray), "mono8; jpeg compressed mono8"))
    assert grey_jpeg.shape == photo.shape
    assert (grey_jpeg[:, :, 0] == grey_jpeg[:, :, 2]).all()


def test_bad_compressed_images_are_refused(photo):
    import struct

    from hyperion_runtime.image_bridge import compressed_to_bgr
    from hyperion_runtime.validation import InvalidMessage

    jpeg, png = _encode(".jpg", photo), _encode(".png", photo)
    huge_png = png[:16] + struct.pack(">II", 100_000, 100_000) + png[24:]
    cases = {
        "compressedDepth": compressed(png, "16UC1; compressedDepth png"),
        "not an image": compressed(b"\x00\x00\x00\x01gibberish", "h264"),
        "empty": compressed(b"", "jpeg"),
        "truncated jpeg": compressed(jpeg[: len(jpeg) // 2], "jpeg"),
        "wiped jpeg tables": compressed(jpeg[:4] + bytes(200) + jpeg[204:], "jpeg"),
        "truncated png": compressed(png[: len(png) // 2], "png"),
        "huge png": compressed(huge_png, "png"),
        "16-bit colour png": compressed(_encode(".png", photo.astype(np.uint16) * 256), "png"),
    }
    for name, msg in cases.items():
        with pytest.raises(InvalidMessage):
            compressed_to_bgr(msg)
            pytest.fail(f"{name} was accepted")
