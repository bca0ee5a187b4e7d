"""What each method sends: payload descriptions, real encoding, and the decoded image.

Every payload is rebuilt deterministically from the original frame, so the evaluator
process (which needs byte counts for the timeline) and the detector workers (which need
the decoded pixels) agree without shipping images between processes.

Kinds:
- ``original``: the lossless frame (reference, edge input); 0 bytes sent.
- ``patch``: Hyperion's patch codec, one JPEG quality per class of a class map.
- ``jpeg``: the whole frame as one baseline JPEG (cloud-only).
- ``roi``: Elf-style object regions at ``roi_quality`` on a low-resolution compensation
  frame (the rest of the frame downsampled ``lrc_downsample`` x at ``lrc_quality``), built
  with the patch codec: ROI patches are one class, everything else the other.
- ``block``: a rectangle of the lossless frame, run on-device (Remix); 0 bytes sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simplejpeg

from hyperion_core.codec.patch_codec import ClassEncoding, decode_frame, encode_frame
from hyperion_core.score.reclass import boxes_cover_patches

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
        region: ``block``: ``(x0, y0, x1, y1)`` frame pixels.
    """

    kind: str
    qualities: tuple[int, ...] = ()
    class_map: np.ndarray | None = field(default=None, repr=False)
    quality: int = 90
    rois: np.ndarray | None = field(default=None, repr=False)
    roi_quality: int = 95
    lrc_downsample: int = 4
    lrc_quality: int = 30
    region: tuple[int, int, int, int] = (0, 0, 0, 0)

    def descriptor(self) -> list[object]:
        """JSON-able parts (and arrays) that identify this payload in cache keys."""
        if self.kind == "patch":
            return ["patch", list(self.qualities), self.class_map]
        if self.kind == "jpeg":
            return ["jpeg", self.quality]
        if self.kind == "roi":
            where = self.class_map if self.class_map is not None else self.rois
            return ["roi", self.roi_quality, self.lrc_downsample, self.lrc_quality, where]
        if self.kind == "block":
            return ["block", list(self.region)]
        return [self.kind]


def roi_class_map(frame_shape: tuple[int, ...], rois: np.ndarray, margin: float) -> np.ndarray:
    """Class map with 1 on patches inside ROIs grown by ``margin`` of their size, else 0.

    Args:
        frame_shape: ``(H, W, ...)`` of the frame.
        rois: ``(N, 4)`` xyxy boxes in frame pixels.
        margin: fraction of box width/height added on each side (Elf pads its regions so
            that objects that moved since the prediction stay inside).
    """
    h, w = frame_shape[:2]
    boxes = np.asarray(rois, np.float64).reshape(-1, 4)
    pad = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1) * margin
    grown = boxes + np.concatenate([-pad, pad], axis=1)
    grid = (-(-h // PATCH), -(-w // PATCH))
    return boxes_cover_patches(grown, grid=grid, patch_size=PATCH).astype(np.uint8)


def materialise(frame: np.ndarray, payload: Payload) -> tuple[int, np.ndarray]:
    """Encode ``payload`` from ``frame`` for real and decode it again.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR original; not mutated.
        payload: what to send.

    Returns:
        ``(bytes_sent, image)``: the payload size in bytes of *this* frame (0 for what stays
        on the device) and the image the receiving detector sees (the block crop for
        ``block``, otherwise a full-size frame).
    """
    if payload.kind == "original":
        return 0, frame
    if payload.kind == "block":
        x0, y0, x1, y1 = payload.region
        return 0, np.ascontiguousarray(frame[y0:y1, x0:x1])
    if payload.kind == "jpeg":
        data = simplejpeg.encode_jpeg(
            frame, quality=payload.quality, colorspace="BGR", colorsubsampling="420"
        )
        return len(data), simplejpeg.decode_jpeg(data, colorspace="BGR")
    if payload.kind == "patch":
        if payload.class_map is None:
            raise ValueError("a patch payload needs a class map")
        encodings = tuple(ClassEncoding(quality=int(q)) for q in payload.qualities)
        data = encode_frame(frame, payload.class_map, encodings, patch_size=PATCH)
        return len(data), decode_frame(data)[0]
    if payload.kind == "roi":
        if payload.rois is None and payload.class_map is None:
            raise ValueError("a roi payload needs rois or their patch map")
        classes = payload.class_map
        if classes is None:
            classes = roi_class_map(frame.shape, payload.rois, margin=0.0)  # type: ignore[arg-type]
        encodings = (
            ClassEncoding(quality=payload.lrc_quality, downsample=payload.lrc_downsample),
            ClassEncoding(quality=payload.roi_quality),
        )
        data = encode_frame(frame, classes, encodings, patch_size=PATCH)
        return len(data), decode_frame(data)[0]
    raise ValueError(f"unknown payload kind {payload.kind!r}")
