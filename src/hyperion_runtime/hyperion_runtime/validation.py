"""Checks on messages arriving from outside a node, as pure functions (no ROS calls).

Every node input that another process wrote (a camera driver, the other side of the link,
a bag) is checked here before it reaches a model, a codec or a join. A check returns
nothing for a good message and raises :class:`InvalidMessage` otherwise; the exception's
``kind`` names a diagnostics counter (``invalid_<kind>``), so nodes count each class of
fault separately and the message says what was wrong in words.

:class:`StreamMonitor` watches the camera stream itself (capture stamps going backwards
or jumping, resolution changes, stalls); it never refuses a frame, it only reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperion_core.codec.patch_codec import DOWNSAMPLE_FACTORS, CodecError, decode_frame

#: Largest frame accepted anywhere (pixels): a 16K x 8K array camera. A hostile or corrupt
#: header must not make a node allocate gigabytes.
MAX_PIXELS = 16384 * 8192

#: Largest encoded payload the cloud accepts (bytes): a lossless 16K x 8K BGR frame.
MAX_PAYLOAD_BYTES = MAX_PIXELS * 3

#: Bitstream name and version carried in EncodedFrame.codec (the encoder writes it, the
#: cloud refuses others).
CODEC = "hyperion-patch-jpeg/1"


class InvalidMessage(ValueError):
    """A message that must not be processed.

    Args:
        kind: short fault class, used as the counter suffix (``invalid_<kind>``).
        message: what was wrong, for the log.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def counter(self) -> str:
        """Diagnostics counter name of this fault class."""
        return f"invalid_{self.kind}"


def _grid(height: int, width: int, patch: int) -> tuple[int, int]:
    return -(-height // patch), -(-width // patch)


def check_frame_size(width: int, height: int) -> None:
    """Raise unless ``width`` x ``height`` is a non-empty frame within :data:`MAX_PIXELS`."""
    if width <= 0 or height <= 0:
        raise InvalidMessage("size", f"empty frame {width}x{height}")
    if width * height > MAX_PIXELS:
        raise InvalidMessage("size", f"frame {width}x{height} exceeds {MAX_PIXELS} pixels")


def check_class_map(
    *, classes: bytes, grid_rows: int, grid_cols: int, num_classes: int,
    frame_width: int, frame_height: int, patch_size: int,
) -> None:
    """Raise unless a class map fits its grid, its frame and its class count.

    Args:
        classes: row-major uint8 class per patch (``grid_rows * grid_cols`` bytes).
        grid_rows, grid_cols: patch grid, patches.
        num_classes: classes K; every entry must be below it.
        frame_width, frame_height: frame size the grid covers, pixels.
        patch_size: patch side, pixels (a positive multiple of 16, the JPEG MCU).
    """
    check_frame_size(frame_width, frame_height)
    if patch_size <= 0 or patch_size % 16:
        raise InvalidMessage("grid", f"patch_size {patch_size} is not a multiple of 16")
    expected = _grid(frame_height, frame_width, patch_size)
    if (grid_rows, grid_cols) != expected:
        raise InvalidMessage("grid", f"grid {grid_rows}x{grid_cols} does not cover a "
                             f"{frame_width}x{frame_height} frame in {patch_size}-px patches "
                             f"({expected[0]}x{expected[1]})")
    if len(classes) != grid_rows * grid_cols:
        raise InvalidMessage("class_map", f"class map has {len(classes)} entries for a "
                             f"{grid_rows}x{grid_cols} grid")
    if not 1 <= num_classes <= 255:
        raise InvalidMessage("class_map", f"num_classes {num_classes} not in [1, 255]")
    if classes and max(classes) >= num_classes:
        raise InvalidMessage("class_map", f"class {max(classes)} >= num_classes {num_classes}")


def check_scores(
    *, importance: Sequence[float], grid_rows: int, grid_cols: int,
    class_breaks: Sequence[float] = (),
) -> None:
    """Raise unless there is one finite importance per patch and the breaks are finite."""
    if len(importance) != grid_rows * grid_cols:
        raise InvalidMessage("scores", f"{len(importance)} importances for a "
                             f"{grid_rows}x{grid_cols} grid")
    if not all(math.isfinite(v) for v in importance):
        raise InvalidMessage("scores", "importance holds NaN or infinity")
    if not all(math.isfinite(v) for v in class_breaks):
        raise InvalidMessage("scores", "class breaks hold NaN or infinity")


def check_patch_scores(msg: object) -> None:
    """Raise unless a ``hyperion_msgs/PatchScores`` is self-consistent and finite."""
    check_class_map(classes=bytes(msg.classes), grid_rows=int(msg.grid_rows),
                    grid_cols=int(msg.grid_cols), num_classes=int(msg.num_classes),
                    frame_width=int(msg.frame_width), frame_height=int(msg.frame_height),
                    patch_size=int(msg.patch_size))
    check_scores(importance=msg.importance, grid_rows=int(msg.grid_rows),
                 grid_cols=int(msg.grid_cols), class_breaks=msg.class_breaks)


def check_encoded_frame(
    msg: object, *, codec: str, max_payload_bytes: int = MAX_PAYLOAD_BYTES,
) -> None:
    """Raise unless a ``hyperion_msgs/EncodedFrame`` may be handed to the decoder.

    Checks the codec name, the payload size (empty or over ``max_payload_bytes``), the
    frame size, and that grid, class map and per-class qualities agree. The payload's own
    bitstream is checked by the decoder (``CodecError``), and its frame size against the
    message's by :func:`check_frame_matches`.
    """
    if msg.codec != codec:
        raise InvalidMessage("codec", f"codec {msg.codec!r}, expected {codec!r}")
    size = len(msg.payload)
    if size == 0:
        raise InvalidMessage("payload", "empty payload")
    if size > max_payload_bytes:
        raise InvalidMessage("payload", f"payload of {size} B exceeds {max_payload_bytes} B")
    qualities = bytes(msg.class_quality)
    if not qualities or not all(1 <= q <= 100 for q in qualities):
        raise InvalidMessage("class_map", f"class qualities {list(qualities)} not in [1, 100]")
    check_class_map(classes=bytes(msg.classes), grid_rows=int(msg.grid_rows),
                    grid_cols=int(msg.grid_cols), num_classes=len(qualities),
                    frame_width=int(msg.frame_width), frame_height=int(msg.frame_height),
                    patch_size=int(msg.patch_size))


def check_image_layout(*, width: int, height: int, step: int, data_len: int,
                       bytes_per_pixel: int) -> None:
    """Raise unless an image's ``step`` and data length fit its size and pixel format.

    An empty (0-pixel) image passes: it is a well-formed message, refused only where a
    frame is needed (:func:`check_frame_size`).
    """
    if width < 0 or height < 0 or width * height > MAX_PIXELS:
        raise InvalidMessage("size", f"frame {width}x{height} outside 1..{MAX_PIXELS} pixels")
    if step < width * bytes_per_pixel:
        raise InvalidMessage("image", f"step {step} < width {width} x {bytes_per_pixel} B")
    if data_len != step * height:
        raise InvalidMessage("image", f"data has {data_len} B, expected step {step} x "
                             f"height {height}")


@dataclass(frozen=True, kw_only=True)
class StreamEvent:
    """Something unusual about a camera frame.

    Args:
        kind: ``stamp_backwards``, ``stamp_repeated``, ``stamp_jump``, ``stamp_ahead``,
            ``resolution_change`` or ``stall`` (the diagnostics counter name).
        message: what happened, with numbers.
    """

    kind: str
    message: str


class StreamMonitor:
    """Watches one camera stream's capture stamps and frame sizes.

    Not thread-safe: call it from one thread (the executor's image callback).
    """

    def __init__(self, *, max_gap_s: float, max_ahead_s: float) -> None:
        """Args:
        max_gap_s: a gap between consecutive capture stamps longer than this is a jump
            forward; no frame for this long (by the receiver's clock) is a stall, seconds.
        max_ahead_s: a capture stamp this far ahead of the receiver's clock is reported
            (clocks out of sync: deadlines computed from it are wrong), seconds.
        """
        if max_gap_s <= 0 or max_ahead_s < 0:
            raise ValueError("max_gap_s must be > 0 and max_ahead_s >= 0")
        self._gap_ns = int(max_gap_s * 1e9)
        self._ahead_ns = int(max_ahead_s * 1e9)
        self._last_stamp: int | None = None
        self._last_arrival: int | None = None
        self._size: tuple[int, int] | None = None
        self._stalled = False

    def on_frame(self, *, stamp_ns: int, width: int, height: int,
                 now_ns: int) -> list[StreamEvent]:
        """Record a frame; the unusual things about it, in no particular order."""
        events = []
        last = self._last_stamp
        if last is not None and stamp_ns < last:
            events.append(StreamEvent(kind="stamp_backwards", message=(
                f"capture stamp went back {(last - stamp_ns) / 1e9:.3f} s")))
        elif last is not None and stamp_ns == last:
            events.append(StreamEvent(kind="stamp_repeated", message=(
                f"capture stamp {stamp_ns} repeated: the frame shares its answer")))
        elif last is not None and stamp_ns - last > self._gap_ns:
            events.append(StreamEvent(kind="stamp_jump", message=(
                f"capture stamp jumped {(stamp_ns - last) / 1e9:.3f} s forward")))
        if stamp_ns - now_ns > self._ahead_ns:
            events.append(StreamEvent(kind="stamp_ahead", message=(
                f"capture stamp {(stamp_ns - now_ns) / 1e9:.3f} s ahead of this clock")))
        if self._size is not None and (width, height) != self._size:
            events.append(StreamEvent(kind="resolution_change", message=(
                f"resolution {self._size[0]}x{self._size[1]} -> {width}x{height}")))
        # The literal last stamp: after a clock reset, later frames compare with the new clock.
        self._last_stamp = stamp_ns
        self._last_arrival = now_ns
        self._size = (width, height)
        self._stalled = False
        return events

    def check_stall(self, now_ns: int) -> StreamEvent | None:
        """A ``stall`` event once per silence longer than ``max_gap_s``, else None."""
        if self._last_arrival is None or self._stalled:
            return None
        silent_ns = now_ns - self._last_arrival
        if silent_ns <= self._gap_ns:
            return None
        self._stalled = True
        return StreamEvent(kind="stall", message=f"no camera frame for {silent_ns / 1e9:.1f} s")


def check_frame_matches(msg: object, shape: tuple[int, ...]) -> None:
    """Raise unless a frame ``(H, W, C)`` is the size a per-frame message describes.

    After a mid-stream resolution change, a join by capture stamp must still pair a frame
    with *its* scores; a mismatch means the parts belong to different frames.
    """
    if tuple(shape[:2]) != (int(msg.frame_height), int(msg.frame_width)):
        raise InvalidMessage("size", f"frame is {shape[1]}x{shape[0]}, message describes "
                             f"{msg.frame_width}x{msg.frame_height}")


def check_plan(msg: object, *, num_classes: int) -> None:
    """Raise unless a ``QualityPlan`` gives a JPEG quality in [1, 100] to every class and a
    class-0 downsampling factor the codec knows (``DOWNSAMPLE_FACTORS``)."""
    qualities = bytes(msg.class_quality)
    if len(qualities) < num_classes or not all(1 <= q <= 100 for q in qualities):
        raise InvalidMessage("plan", f"qualities {list(qualities)} for {num_classes} classes")
    if int(msg.class0_downsample) not in DOWNSAMPLE_FACTORS:
        raise InvalidMessage("plan", f"class0_downsample {msg.class0_downsample} not one of "
                                     f"{DOWNSAMPLE_FACTORS}")
    if len(msg.class_model_bytes) not in (0, num_classes):
        raise InvalidMessage("plan", f"{len(msg.class_model_bytes)} class_model_bytes for "
                                     f"{num_classes} classes")
    count = len(msg.fallback_class0_downsample)
    fallback = bytes(msg.fallback_quality)
    if (len(fallback) != count * num_classes or len(msg.fallback_predicted_bytes) != count
            or len(msg.fallback_model_bytes) not in (0, count * num_classes)):
        raise InvalidMessage("plan", f"fallback arrays disagree: {len(fallback)} qualities, "
                                     f"{count} downsampling factors, "
                                     f"{len(msg.fallback_predicted_bytes)} sizes, "
                                     f"{num_classes} classes")
    if not all(1 <= q <= 100 for q in fallback) or not all(
            d in DOWNSAMPLE_FACTORS for d in bytes(msg.fallback_class0_downsample)):
        raise InvalidMessage("plan", "fallback quality outside [1, 100] or downsampling not "
                                     f"one of {DOWNSAMPLE_FACTORS}")


def decode_encoded_frame(
    msg: object, *, codec: str, max_payload_bytes: int = MAX_PAYLOAD_BYTES,
) -> np.ndarray:
    """Check an ``EncodedFrame``, decode its payload and check the result: the cloud's
    whole input path, one function so it can be fuzzed without a graph.

    Returns:
        The rebuilt frame, ``(H, W, C)`` uint8 (C 1 or 3, BGR), a new array.

    Raises:
        InvalidMessage: anything wrong with the message or its bitstream (a
            ``CodecError`` becomes kind ``payload``); nothing else for any field values.
    """
    check_encoded_frame(msg, codec=codec, max_payload_bytes=max_payload_bytes)
    try:
        frame, _ = decode_frame(bytes(msg.payload))
    except CodecError as err:
        raise InvalidMessage("payload", str(err)) from err
    check_frame_matches(msg, frame.shape)
    return frame
