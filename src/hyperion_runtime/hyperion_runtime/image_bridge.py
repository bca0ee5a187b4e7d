"""``sensor_msgs/Image`` ⇄ numpy, our cv_bridge equivalent (the real one when importable),
and ``sensor_msgs/CompressedImage`` (JPEG, PNG) → numpy.

Supported encodings: ``bgr8``, ``rgb8``, ``mono8``, ``bgra8``, ``rgba8``, and for reading
the 16-bit single-channel ``mono16`` and ``16UC1`` (either byte order). Every node works
on BGR ``(H, W, 3)`` uint8 (the models' convention), so :func:`image_to_bgr` converts;
anything else (Bayer, YUV, float depth, 3-channel 16-bit) is refused with a
:class:`~hyperion_runtime.validation.InvalidMessage` naming the supported encodings.

Copies: :func:`image_to_array` is zero-copy (``np.frombuffer`` on the message buffer; the
result shares memory with the message: do not modify it) unless rows are padded
(``step > width * channels``), where one compact copy is made. :func:`array_to_image`
makes exactly one copy (``tobytes``): assigning a numpy array to ``msg.data`` goes through
rclpy's per-element checks and costs ~1.9 s for a 4K frame, so it is never done.
:func:`compressed_to_bgr` decodes into one new array (libjpeg-turbo through simplejpeg for
JPEG, OpenCV for PNG) after checking the size the header declares.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
import simplejpeg
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from hyperion_runtime.validation import InvalidMessage, check_frame_size, check_image_layout

#: encoding -> channels
CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}
#: 16-bit single-channel encodings, read (scaled to 8 bits) but never written.
DEEP = ("mono16", "16UC1")
#: Every encoding :func:`image_to_bgr` accepts.
SUPPORTED = (*sorted(CHANNELS), *DEEP)

#: encoding -> OpenCV conversion to BGR (None: already BGR)
_TO_BGR = {
    "bgr8": None,
    "rgb8": cv2.COLOR_RGB2BGR,
    "mono8": cv2.COLOR_GRAY2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR,
    "rgba8": cv2.COLOR_RGBA2BGR,
}

try:  # On a ROS install, cv_bridge is the reference implementation.
    from cv_bridge import CvBridge as _CvBridge

    _BRIDGE: object | None = _CvBridge()
except ImportError:
    _BRIDGE = None


def image_to_array(msg: Image) -> np.ndarray:
    """View an image message as ``(H, W, C)`` uint8 (``C`` from the encoding) without copying.

    Raises:
        InvalidMessage (a ValueError): unsupported encoding, an empty or oversized frame,
            ``step`` smaller than a row, or a data length that is not ``step * height``.
    """
    encoding = msg.encoding
    if encoding not in CHANNELS:
        raise InvalidMessage("encoding", f"unsupported encoding {encoding!r}; "
                             f"supported: {list(SUPPORTED)}")
    channels = CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row = width * channels
    check_image_layout(width=width, height=height, step=step, data_len=len(msg.data),
                       bytes_per_pixel=channels)
    flat = np.frombuffer(msg.data, np.uint8)
    if step == row:
        return flat.reshape(height, width, channels)
    rows = np.ascontiguousarray(flat.reshape(height, step)[:, :row])
    return rows.reshape(height, width, channels)


def _deep_to_bgr(msg: Image) -> np.ndarray:
    """A 16-bit single-channel image message as BGR uint8 (see :func:`_scale_deep`)."""
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    check_image_layout(width=width, height=height, step=step, data_len=len(msg.data),
                       bytes_per_pixel=2)
    if step % 2:
        raise InvalidMessage("image", f"step {step} of a 16-bit image is odd")
    dtype = np.dtype(">u2" if msg.is_bigendian else "<u2")
    return _scale_deep(np.frombuffer(msg.data, dtype).reshape(height, step // 2)[:, :width])


def _scale_deep(values: np.ndarray) -> np.ndarray:
    """16-bit grey values as BGR uint8, scaled so the frame's maximum is 255.

    Scaling by the frame's own maximum (not by 65535) keeps 10/12-bit sensors and depth
    maps in millimetres visible; a black frame stays black.
    """
    peak = int(values.max())
    scaled = (values.astype(np.float32) * (255.0 / peak)) if peak else values * 0
    return cv2.cvtColor(scaled.astype(np.uint8), cv2.COLOR_GRAY2BGR)


def image_to_bgr(msg: Image) -> np.ndarray:
    """Image message as BGR ``(H, W, 3)`` uint8; zero-copy (shares the message) for ``bgr8``.

    16-bit encodings (:data:`DEEP`) are scaled to 8 bits (new array).

    Raises:
        InvalidMessage (a ValueError): as :func:`image_to_array`, and for an empty frame.
    """
    check_frame_size(int(msg.width), int(msg.height))  # the models need pixels
    if msg.encoding in DEEP:
        return _deep_to_bgr(msg)
    if _BRIDGE is not None and msg.encoding in CHANNELS:
        return _BRIDGE.imgmsg_to_cv2(msg, desired_encoding="bgr8")  # type: ignore[attr-defined]
    array = image_to_array(msg)
    code = _TO_BGR[msg.encoding]
    return array if code is None else cv2.cvtColor(array, code)


def array_to_image(array: np.ndarray, *, header: Header, encoding: str = "bgr8") -> Image:
    """Build an image message from an array (one copy of the pixels).

    Args:
        array: ``(H, W, C)`` uint8 in ``encoding``'s channel order (``(H, W)`` for mono8);
            not mutated.
        header: stamp and frame id for the message.
        encoding: one of :data:`CHANNELS`.

    Raises:
        ValueError: unsupported encoding, wrong dtype or channel count.
    """
    if encoding not in CHANNELS:
        raise ValueError(f"unsupported encoding {encoding!r}; supported: {sorted(CHANNELS)}")
    pixels = np.asarray(array)
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] != CHANNELS[encoding]:
        raise ValueError(f"{encoding} needs {CHANNELS[encoding]} channels, got shape {array.shape}")
    height, width, channels = pixels.shape
    msg = Image(header=header, height=height, width=width, encoding=encoding, is_bigendian=0)
    msg.step = width * channels
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def compressed_to_bgr(msg: CompressedImage) -> np.ndarray:
    """A JPEG or PNG ``CompressedImage`` as BGR ``(H, W, 3)`` uint8 (a new array).

    The codec is read from the data's signature; ``format`` (image_transport writes e.g.
    ``"rgb8; jpeg compressed bgr8"``, drivers often just ``"jpeg"``) only serves to refuse
    ``compressedDepth``, whose PNG sits behind a depth-quantisation header. Colour images
    come out BGR whatever the source encoding (JPEG and PNG store true colour), grey ones
    are expanded to BGR, 16-bit grey PNGs are scaled like ``mono16`` images (16-bit colour
    is refused).

    Raises:
        InvalidMessage (a ValueError): compressedDepth, data that is neither JPEG nor PNG,
            a declared size that is empty or over the pixel limit (checked before any
            pixel is allocated), or data the decoder rejects.
    """
    if "compresseddepth" in msg.format.replace(" ", "").lower():
        raise InvalidMessage("encoding", f"format {msg.format!r}: compressedDepth is not "
                             "supported; publish depth as a mono16/16UC1 Image")
    data = memoryview(msg.data).cast("B")
    try:
        if data[:3] == _JPEG_MAGIC:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            check_frame_size(width, height)
            return simplejpeg.decode_jpeg(data, colorspace="BGR")
        if data[:8] == _PNG_MAGIC and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            check_frame_size(width, height)
            return _png_to_bgr(np.frombuffer(data, np.uint8))
    except InvalidMessage:
        raise
    except ValueError as err:  # simplejpeg's errors
        raise InvalidMessage("image", f"corrupted JPEG ({msg.format!r}): {err}") from err
    raise InvalidMessage("encoding", f"format {msg.format!r}: data is neither JPEG nor PNG "
                         f"(starts {bytes(data[:8])!r})")


def _png_to_bgr(data: np.ndarray) -> np.ndarray:
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InvalidMessage("image", "corrupted PNG")
    if image.dtype == np.uint16:
        if image.ndim != 2:
            raise InvalidMessage("encoding", "16-bit colour PNG is not supported")
        return _scale_deep(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else image
