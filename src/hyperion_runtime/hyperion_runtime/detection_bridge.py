"""Detections ⇄ ``vision_msgs/Detection2DArray``: the one place boxes change representation.

Hyperion's models return boxes as ``(N, 4)`` xyxy in pixels of the frame they saw (the
full camera frame); ``vision_msgs/BoundingBox2D`` holds a centre and a size in pixels.
``center = ((x1 + x2) / 2, (y1 + y2) / 2)``, ``size = (x2 - x1, y2 - y1)``, theta 0.
Each ``Detection2D`` carries one hypothesis (class name as ``class_id``, its score) and
the array's header (the capture header of the frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose


@dataclass(frozen=True, eq=False)
class BoxList:
    """Detections as plain arrays, the form the ensembler works on.

    Args:
        boxes: ``(N, 4)`` float64 xyxy, pixels of the full camera frame.
        scores: ``(N,)`` float64 confidences.
        class_names: ``N`` class names (vision_msgs ``class_id`` strings).
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.class_names)


def to_detection_array(
    *, header: Header, boxes: np.ndarray, scores: np.ndarray, class_names: list[str]
) -> Detection2DArray:
    """Build a ``Detection2DArray`` from xyxy boxes.

    Args:
        header: the capture header of the frame (copied to the array and every detection).
        boxes: ``(N, 4)`` xyxy pixels of the full frame; not mutated.
        scores: ``(N,)`` confidences.
        class_names: ``N`` class names.

    Raises:
        ValueError: lengths differ or a box is not finite.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if not len(boxes) == len(scores) == len(class_names):
        raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores, {len(class_names)} names")
    if not np.isfinite(boxes).all():
        raise ValueError("boxes must be finite")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    sizes = boxes[:, 2:] - boxes[:, :2]
    array = Detection2DArray(header=header)
    for k in range(len(boxes)):
        detection = Detection2D(header=header, id=str(k))
        detection.bbox.center.position.x = float(centres[k, 0])
        detection.bbox.center.position.y = float(centres[k, 1])
        detection.bbox.size_x = float(sizes[k, 0])
        detection.bbox.size_y = float(sizes[k, 1])
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = class_names[k]
        hypothesis.hypothesis.score = float(scores[k])
        detection.results.append(hypothesis)
        array.detections.append(detection)
    return array


def from_detection_array(array: Detection2DArray) -> BoxList:
    """Boxes (xyxy), scores and class names of a ``Detection2DArray``.

    A detection with several hypotheses contributes its best-scoring one; one with none is
    skipped (it says nothing about a class).
    """
    boxes, scores, names = [], [], []
    for detection in array.detections:
        if not detection.results:
            continue
        best = max(detection.results, key=lambda r: r.hypothesis.score)
        cx, cy = detection.bbox.center.position.x, detection.bbox.center.position.y
        half_w, half_h = detection.bbox.size_x / 2, detection.bbox.size_y / 2
        boxes.append((cx - half_w, cy - half_h, cx + half_w, cy + half_h))
        scores.append(best.hypothesis.score)
        names.append(best.hypothesis.class_id)
    return BoxList(
        boxes=np.asarray(boxes, np.float64).reshape(-1, 4),
        scores=np.asarray(scores, np.float64),
        class_names=tuple(names),
    )
