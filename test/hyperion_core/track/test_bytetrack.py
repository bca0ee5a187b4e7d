"""The tracker on scripted scenes: ids kept across frames, across edge-only and fused
answers (the cloud answering every other frame), weak boxes, classes, gaps, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.models.boxes import pairwise_iou
from hyperion_core.track import ByteTracker, TrackerConfig

PERIOD_S = 2.0  # the default camera's 0.5 Hz


def walkers(frame: int) -> np.ndarray:
    """Four people walking, xyxy on a 4K frame: two pass each other going opposite ways
    (one 50 px further down, boxes overlapping by up to IoU 0.5), one walks down, one
    stands still. The walkers move a third of their width per frame."""
    starts = np.array([[400, 1000, 460, 1150], [1400, 1050, 1460, 1200],
                       [2600, 300, 2640, 400], [3300, 1500, 3380, 1700]], np.float64)
    velocity = np.array([[20, 0], [-20, 0], [0, 12], [0, 0]], np.float64)
    return starts + np.tile(velocity * frame, 2)


def noisy(boxes: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return boxes + rng.normal(0, sigma, boxes.shape)


def core(boxes: np.ndarray, scores: list[float]) -> Detections:
    return Detections(boxes=boxes, scores=np.asarray(scores, np.float64),
                      labels=np.zeros(len(boxes), np.int64))


def test_ids_survive_a_cloud_answering_every_other_frame():
    """Edge-only answers hold the three people the edge sees; fused answers (the real
    Eq. 6 fusion) move their boxes a little and add the small person only the cloud
    finds. Every person keeps one id throughout, and no two share one."""
    rng = np.random.default_rng(7)
    tracker = ByteTracker(config=TrackerConfig())
    seen: dict[int, set[str]] = {k: set() for k in range(4)}
    for frame in range(30):
        people = walkers(frame)
        edge = core(noisy(people[[0, 1, 3]], rng, 3.0), [0.7, 0.6, 0.8])
        if frame % 2 == 0:  # the cloud's answer came: fused
            cloud = core(noisy(people, rng, 2.0), [0.9, 0.85, 0.6, 0.9])
            answer = ensemble(edge, cloud, EnsembleConfig())
        else:
            answer = edge
        ids = tracker.update(answer.boxes, answer.scores, ["person"] * len(answer.boxes),
                             stamp_s=frame * PERIOD_S)
        assert all(ids), f"frame {frame}: an untracked box {ids}"
        assert len(set(ids)) == len(ids)
        # Each answer box belongs to the person it overlaps most (IoU > 0.6).
        iou = pairwise_iou(answer.boxes, people)
        for i, row in zip(ids, iou, strict=True):
            if row.max() > 0.6:
                seen[int(row.argmax())].add(i)
    assert all(len(ids) == 1 for ids in seen.values()), seen
    assert len(set.union(*seen.values())) == 4 and seen[2]


def test_weak_boxes_continue_tracks_but_never_start_one():
    tracker = ByteTracker(config=TrackerConfig(high_score=0.5, low_score=0.1))
    box = np.array([[100, 100, 160, 250]], np.float64)
    assert tracker.update(box, [0.3], ["person"], 0.0) == [""]
    assert tracker.update(box, [0.9], ["person"], 1.0) == ["1"]
    assert tracker.update(box + 4, [0.3], ["person"], 2.0) == ["1"]  # occluded, score dips
    assert tracker.update(box + 8, [0.05], ["person"], 3.0) == [""]  # below low_score


def test_classes_never_share_a_track():
    tracker = ByteTracker(config=TrackerConfig())
    box = np.array([[100, 100, 160, 250]], np.float64)
    assert tracker.update(box, [0.9], ["person"], 0.0) == ["1"]
    assert tracker.update(box, [0.9], ["car"], 1.0) == ["2"]
    assert tracker.update(np.vstack([box, box]), [0.9, 0.9], ["car", "person"], 2.0) == \
        ["2", "1"]


def test_a_track_lost_too_long_is_dropped_and_its_id_never_reused():
    tracker = ByteTracker(config=TrackerConfig(max_lost_s=5.0))
    box = np.array([[100, 100, 160, 250]], np.float64)
    assert tracker.update(box, [0.9], ["person"], 0.0) == ["1"]
    assert tracker.update(np.zeros((0, 4)), [], [], 4.0) == []
    assert tracker.update(box, [0.9], ["person"], 5.0) == ["1"]  # 5 s gap: kept
    assert tracker.update(np.zeros((0, 4)), [], [], 11.0) == []
    assert tracker.live_tracks == 0
    assert tracker.update(box, [0.9], ["person"], 12.0) == ["2"]


def test_velocity_carries_a_track_between_frames_that_do_not_overlap():
    """A person 50 px wide speeds up from 30 to 60 px per frame: from the third frame on,
    consecutive boxes never overlap, and only the predicted position keeps the id."""
    tracker = ByteTracker(config=TrackerConfig(max_speed=0.0))
    box = np.array([[0, 0, 50, 120]], np.float64)
    xs = [0, 30, 90, 150, 210, 270]
    ids = [tracker.update(box + np.array([x, 0, x, 0]), [0.9], ["person"], float(k))
           for k, x in enumerate(xs)]
    assert ids == [["1"]] * len(xs)
    # No velocity known yet: IoU alone loses the jump, the distance stage keeps it.
    iou_only = ByteTracker(config=TrackerConfig(max_speed=0.0))
    assert iou_only.update(box, [0.9], ["person"], 0.0) == ["1"]
    assert iou_only.update(box + np.array([60, 0, 60, 0]), [0.9], ["person"], 1.0) == ["2"]
    reach = ByteTracker(config=TrackerConfig(max_speed=1.0))  # 120 px per second
    assert reach.update(box, [0.9], ["person"], 0.0) == ["1"]
    assert reach.update(box + np.array([100, 0, 100, 0]), [0.9], ["person"], 1.0) == ["1"]
    # Predicted at +200 px (100 px/s), found back at 0: 200 px is beyond the reach.
    assert reach.update(box, [0.9], ["person"], 2.0) == ["2"]


def test_empty_nan_and_out_of_order_input():
    tracker = ByteTracker(config=TrackerConfig())
    assert tracker.update(np.zeros((0, 4)), [], [], 0.0) == []
    boxes = np.array([[0, 0, 10, 10], [np.nan, 0, 10, 10], [20, 20, 30, 30]])
    assert tracker.update(boxes, [0.9, 0.9, np.nan], ["a", "a", "a"], 1.0) == ["1", "", ""]
    assert tracker.update(boxes[:1], [0.9], ["a"], 0.5) == ["1"]  # older stamp: no crash
    with pytest.raises(ValueError, match="2 boxes, 1 scores"):
        tracker.update(np.zeros((2, 4)), [0.5], ["a", "a"], 2.0)
    with pytest.raises(ValueError):
        TrackerConfig(low_score=0.6, high_score=0.5)
