"""Track ids on a node's answers: the ``track*`` parameters and ``Detection2D.id``.

The tracker (:class:`hyperion_core.track.ByteTracker`) runs on the final answer, whatever
made it (edge alone, cloud, or both fused; SAHI's slices are merged before any answer), so
an id depends only on the boxes of successive answers and not on which detector spoke.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from vision_msgs.msg import Detection2DArray

from hyperion_core.track import ByteTracker, TrackerConfig
from hyperion_runtime.node import stamp_ns
from hyperion_runtime.params import ParamSpec

TRACK_PARAMS = (
    ParamSpec(name="track", default=False,
              description="give every answer's boxes a track id in Detection2D.id, stable "
                          "across frames (ByteTrack-style); off: id is the box's index [bool]"),
    ParamSpec(name="track_high_score", default=0.5, low=0.0, high=1.0,
              description="boxes at or above this score start and first continue tracks "
                          "[0-1]"),
    ParamSpec(name="track_low_score", default=0.2, low=0.0, high=1.0,
              description="weaker boxes down to this score only continue a track; below it "
                          "a box gets no id (empty) [0-1]"),
    ParamSpec(name="track_match_iou", default=0.2, low=0.01, high=1.0,
              description="least IoU between a track's predicted box and a box to match "
                          "[0-1]"),
    ParamSpec(name="track_max_speed", default=2.0, low=0.0, high=100.0,
              description="reach of the distance stage that keeps tracks whose boxes no "
                          "longer overlap between frames (low frame rates); 0 = IoU only "
                          "[box heights/s]"),
    ParamSpec(name="track_max_lost_s", default=10.0, low=0.0, high=3600.0,
              description="a track unmatched this long (capture time) ends; its id is "
                          "never reused [s]"),
)


def tracker_from_params(p: dict[str, Any]) -> ByteTracker | None:
    """The tracker the ``track*`` parameters ask for, ``None`` with ``track`` off.

    Raises:
        ValueError: ``track_low_score`` above ``track_high_score``.
    """
    if not p["track"]:
        return None
    return ByteTracker(config=TrackerConfig(
        high_score=p["track_high_score"], low_score=p["track_low_score"],
        match_iou=p["track_match_iou"], max_lost_s=p["track_max_lost_s"],
        max_speed=p["track_max_speed"]))


def assign_track_ids(tracker: ByteTracker, array: Detection2DArray) -> None:
    """Set ``id`` of every detection of ``array`` (mutated) to its track id.

    A detection's box and its best hypothesis are tracked; one without a hypothesis, or
    too weak to track, gets ``""``. The capture stamp of ``array.header`` is the time.
    """
    boxes, scores, labels = [], [], []
    for detection in array.detections:
        best = max(detection.results, key=lambda r: r.hypothesis.score, default=None)
        cx, cy = detection.bbox.center.position.x, detection.bbox.center.position.y
        half_w, half_h = detection.bbox.size_x / 2, detection.bbox.size_y / 2
        boxes.append((cx - half_w, cy - half_h, cx + half_w, cy + half_h))
        scores.append(best.hypothesis.score if best is not None else float("nan"))
        labels.append(best.hypothesis.class_id if best is not None else "")
    ids = tracker.update(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores),
                         labels, stamp_s=stamp_ns(array.header.stamp) / 1e9)
    for detection, track_id in zip(array.detections, ids, strict=True):
        detection.id = track_id
