"""What each method sends: payload descriptions, real encoding, and the decoded image.

Every payload is rebuilt deterministically from the original frame, so the evaluator
process (which needs byte counts for the timeline) and the detector workers (which need
the decoded pixels) agree without shipping images between processes.

Kinds:
- ``original``: the lossless frame (reference, edge input); 0 bytes sent.
- ``patch``: Hyperion's patch codec, one JPEG quality per class of a class map, class 0
  optionally downsampled.
- ``jpeg``: the whole frame as one baseline JPEG (cloud-only).
- ``partition``: one rectangle of the frame as its own JPEG at ``quality`` (an Elf
  partition, sent to its own server).
- ``lrc``: the whole frame downsampled ``downsample`` x as one JPEG at ``quality`` (Elf's
  low-resolution compensation frame); its detector sees the small image.
- ``block``: a rectangle of the lossless frame, run on-device (Remix); 0 bytes sent.

Detections on a crop or a downsampled image are mapped back to frame pixels with
:meth:`Payload.placement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simplejpeg

from hyperion_core.codec.patch_codec import ClassEncoding, decode_frame, encode_frame

PATCH = 16  # frame patch side, pixels (the codec's MCU-aligned default)


@dataclass(frozen=True, kw_only=True, eq=False)
class Payload:
    """One way of sending (or not sending) a frame.

    Args:
        kind: see module docstring.
        qualities: ``patch``: JPEG quality per class (K values, 1..100).
        class_map: ``patch``: ``(ceil(H/16), ceil(W/16))`` uint8 classes.
        quality: ``jpeg``: whole-frame JPEG quality.
        rois: ``roi``: ``(N, 4)`` xyxy boxes in frame pixels to send at full quality.
        roi_quality: ``roi``: JPEG quality of ROI patches ("full quality": 95).
        lrc_downsample: ``roi``: downsampling of the rest (1 = none, 2 or 4).
        lrc_quality: ``roi``: JPEG quality of the rest.
        region: ``partition``/``block``: ``(x0, y0, x1, y1)`` frame pixels.
        downsample: ``patch``: class 0's downsampling factor (1, 2, 4, 8); ``lrc``: the frame's.
    """

    kind: str
    qualities: tuple[int, ...] = ()
    class_map: np.ndarray | None = field(default=None, repr=False)
    quality: int = 90
    region: tuple[int, int, int, int] = (0, 0, 0, 0)
    downsample: int = 1

    def descriptor(self) -> list[object]:
        """JSON-able parts (and arrays) that identify this payload in cache keys."""
        if self.kind == "patch":
            # A downsampling of 1 keeps the key of payloads cached before it existed.
            extra = [] if self.downsample == 1 else [self.downsample]
            return ["patch", list(self.qualities), self.class_map, *extra]
        if self.kind == "jpeg":
            return ["jpeg", self.quality]
        if self.kind == "partition":
            return ["partition", self.quality, list(self.region)]
        if self.kind == "lrc":
            return ["lrc", self.quality, self.downsample]
        if self.kind == "block":
            return ["block", list(self.region)]
        return [self.kind]

    def placement(self) -> tuple[float, float, float]:
        """``(x0, y0, scale)``: a detection at ``(x, y)`` in the image this payload decodes
        to lies at ``(x0 + scale·x, y0 + scale·y)`` in the frame."""
        if self.kind in ("partition", "block"):
            return float(self.region[0]), float(self.region[1]), 1.0
        if self.kind == "lrc":
            return 0.0, 0.0, float(self.downsample)
        return 0.0, 0.0, 1.0


def _jpeg(image: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    data = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=quality,
                                  colorspace="BGR", colorsubsampling="420")
    return len(data), simplejpeg.decode_jpeg(data, colorspace="BGR")


def encode_patches(frame: np.ndarray, payload: Payload) -> bytes:
    """The patch codec's bitstream of a ``patch`` payload."""
    if payload.class_map is None:
        raise ValueError("a patch payload needs a class map")
    encodings = tuple(ClassEncoding(quality=int(q), downsample=payload.downsample if c == 0
                                    else 1) for c, q in enumerate(payload.qualities))
    return encode_frame(frame, payload.class_map, encodings, patch_size=PATCH)


def materialise(frame: np.ndarray, payload: Payload) -> tuple[int, np.ndarray]:
    """Encode ``payload`` from ``frame`` for real and decode it again.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR original; not mutated.
        payload: what to send.

    Returns:
        ``(bytes_sent, image)``: the payload size in bytes of *this* frame (0 for what stays
        on the device) and the image the receiving detector sees (a crop for
        ``partition``/``block``, the small image for ``lrc``, otherwise a full-size frame).
    """
    if payload.kind == "original":
        return 0, frame
    if payload.kind == "block":
        x0, y0, x1, y1 = payload.region
        return 0, np.ascontiguousarray(frame[y0:y1, x0:x1])
    if payload.kind == "jpeg":
        return _jpeg(frame, payload.quality)
    if payload.kind == "partition":
        x0, y0, x1, y1 = payload.region
        return _jpeg(frame[y0:y1, x0:x1], payload.quality)
    if payload.kind == "lrc":
        import cv2

        h, w = frame.shape[:2]
        d = payload.downsample
        small = cv2.resize(frame, (max(1, w // d), max(1, h // d)), interpolation=cv2.INTER_AREA)
        return _jpeg(small, payload.quality)
    if payload.kind == "patch":
        data = encode_patches(frame, payload)
        return len(data), decode_frame(data)[0]
    raise ValueError(f"unknown payload kind {payload.kind!r}")
