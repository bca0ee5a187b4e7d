"""Pure image helpers for the views: decode, downscale, turn detections into boxes, draw.

No ROS or Foxglove imports, so they are unit-tested on plain arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: BGR colours of each detection source, the same in rviz (drawn) and Foxglove.
SOURCE_COLOURS = {"edge": (0, 165, 255), "cloud": (255, 128, 0), "fused": (0, 220, 0)}


class Box(NamedTuple):
    """An axis-aligned box, xyxy in pixels of the image it is drawn on, with its label."""

    x0: float
    y0: float
    x1: float
    y1: float
    label: str


def image_to_bgr(*, data: bytes, width: int, height: int, step: int, encoding: str) -> np.ndarray:
    """View a sensor_msgs/Image buffer as an (H, W, 3) uint8 BGR array.

    bgr8 is returned as a zero-copy view (do not mutate it); rgb8 and mono8 are converted
    into new arrays.

    Raises:
        ValueError: for other encodings or a buffer too small for height * step.
    """
    buffer = np.frombuffer(data, np.uint8)
    if buffer.size < height * step:
        raise ValueError(f"image buffer holds {buffer.size} bytes, need {height * step}")
    channels = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(encoding)
    if channels is None:
        raise ValueError(f"unsupported encoding {encoding!r} (bgr8, rgb8, mono8)")
    rows = buffer[: height * step].reshape(height, step)[:, : width * channels]
    pixels = rows.reshape(height, width, channels)
    if encoding == "rgb8":
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    return pixels


def fit_scale(width: int, max_width: int) -> float:
    """Scale factor (<= 1) that brings an image ``width`` px wide to at most ``max_width``."""
    if width <= 0 or max_width <= 0:
        return 1.0
    return min(1.0, max_width / width)


def downscale(bgr: np.ndarray, scale: float) -> np.ndarray:
    """Resize by ``scale`` with area averaging (returns a new array; input not mutated)."""
    import cv2

    if scale >= 1.0:
        return bgr.copy()
    height, width = bgr.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)


def detection_boxes(detections: list, scale: float) -> list[Box]:
    """Boxes of ``vision_msgs/Detection2D`` items, scaled from source to display pixels.

    Args:
        detections: Detection2D messages; bbox center/size in source-frame pixels.
        scale: display size / source size.

    Returns:
        xyxy boxes in display pixels, labelled "class score" of the best hypothesis.
        Boxes with a NaN coordinate are dropped.
    """
    boxes = []
    for detection in detections:
        bbox = detection.bbox
        cx, cy = bbox.center.position.x, bbox.center.position.y
        half_w, half_h = bbox.size_x / 2, bbox.size_y / 2
        coords = [(cx - half_w) * scale, (cy - half_h) * scale,
                  (cx + half_w) * scale, (cy + half_h) * scale]
        if any(np.isnan(coords)):
            continue
        label = ""
        if detection.results:
            best = max(detection.results, key=lambda r: r.hypothesis.score)
            label = f"{best.hypothesis.class_id} {best.hypothesis.score:.2f}"
        boxes.append(Box(*coords, label))
    return boxes


def draw_boxes(image: np.ndarray, boxes: list[Box], colour: tuple[int, int, int]) -> None:
    """Draw ``boxes`` (display pixels) with labels onto ``image`` in place (BGR)."""
    import cv2

    for box in boxes:
        p0 = (round(box.x0), round(box.y0))
        cv2.rectangle(image, p0, (round(box.x1), round(box.y1)), colour, 1, cv2.LINE_AA)
        if box.label:
            cv2.putText(image, box.label, (p0[0], max(p0[1] - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.3, colour, 1, cv2.LINE_AA)
