"""ByteTrack-style tracking by detection: stable ids for the boxes of successive answers.

The idea of ByteTrack (Zhang et al., ECCV 2022): associate in two stages, confident boxes
first with every live track, then the weak boxes that remain with the tracks still
unmatched, so an occluded person whose score dips keeps its track instead of spawning a
new one; weak boxes never start a track. Written here (not taken from a library) because
the graph's answers need what the common implementations do not give:

- every box of the answer is kept and gets an id or ``""``; none is dropped;
- a track seen once gets its id at once and survives a missed answer: when the cloud
  answers every other frame, a person only the cloud finds is in every second answer
  and must keep one id (ByteTrack's unconfirmed tracks die at their first miss);
- time is the capture stamp, not a frame count, because frames are answered at the
  camera's rate, whatever that is, and a dropped frame is a gap in time.

Motion model: each track keeps its last box and a smoothed velocity of its centre (pixels
per second); it is predicted to the new stamp before matching. Matching is optimal
(Hungarian, on 1 - IoU) and never pairs boxes of different classes.

Low frame rates: at the default camera's 0.5 Hz a walking person moves several widths
between frames, so a box never overlaps its track's last one and IoU alone starts a new
track every frame (measured on vtest, README "Tracking"). With ``max_speed`` set, a third
stage pairs the confident boxes still unmatched with the tracks still unmatched by the
distance between predicted and found centre, in track heights, within what a person can
cover in the time between them (``max_speed`` heights per second), for boxes of a similar
height.

Boxes are ``(N, 4)`` xyxy in pixels of the full camera frame; inputs are not modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from hyperion_core.models.boxes import pairwise_iou


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """How boxes become tracks.

    Args:
        high_score: boxes at or above this score are matched first and may start a track.
        low_score: boxes in ``[low_score, high_score)`` only continue a track (ByteTrack's
            second stage); weaker boxes are never matched and get no id.
        match_iou: least IoU between a predicted track and a box for a first-stage match.
        low_match_iou: least IoU for a second-stage (weak box) match.
        max_lost_s: a track unmatched for longer than this (capture time) is dropped, and
            its id is never reused.
        velocity_smoothing: weight of the newest velocity measurement, in (0, 1].
        max_speed: the third stage's reach, box heights per second (2: a person of 1.7 m
            at 3.4 m/s); 0 turns it off.

    The defaults of ``low_score``, ``max_speed`` and ``velocity_smoothing`` were chosen on
    the labelled vtest stretch that ``benchmarks/track_vtest.py`` reports on (the only
    labelled sequence here): its figures for them are optimistic. ``low_score`` 0.2, not
    ByteTrack's 0.1: the fused answers' weakest boxes (the cloud's, down to its 0.1
    threshold) are mostly on no one, and continuing tracks on them cost IDF1 0.17 with the
    cloud answering every other frame at 10 Hz.
    """

    high_score: float = 0.5
    low_score: float = 0.2
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    max_lost_s: float = 10.0
    velocity_smoothing: float = 0.8
    max_speed: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score <= self.high_score <= 1.0:
            raise ValueError("need 0 <= low_score <= high_score <= 1, got "
                             f"{self.low_score}, {self.high_score}")
        if not (0.0 < self.match_iou <= 1.0 and 0.0 < self.low_match_iou <= 1.0):
            raise ValueError("match_iou and low_match_iou must lie in (0, 1]")
        if self.max_lost_s < 0 or not 0.0 < self.velocity_smoothing <= 1.0:
            raise ValueError("max_lost_s must be >= 0 and velocity_smoothing in (0, 1]")
        if self.max_speed < 0:
            raise ValueError(f"max_speed must be >= 0, got {self.max_speed}")


@dataclass(kw_only=True)
class _Track:
    track_id: int
    label: str
    box: np.ndarray  # (4,) xyxy at last_s
    last_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # centre, px/s
    hits: int = 1

    def predicted(self, stamp_s: float) -> np.ndarray:
        shift = self.velocity * (stamp_s - self.last_s)
        return self.box + np.concatenate([shift, shift])

    def update(self, box: np.ndarray, stamp_s: float, smoothing: float) -> None:
        dt = stamp_s - self.last_s
        if dt > 0:
            moved = ((box[:2] + box[2:]) - (self.box[:2] + self.box[2:])) / 2 / dt
            # The first measurement is taken whole; later ones are blended in.
            weight = 1.0 if self.hits == 1 else smoothing
            self.velocity = weight * moved + (1 - weight) * self.velocity
        self.box, self.last_s = box.copy(), stamp_s
        self.hits += 1


def _match(tracks: list[_Track], boxes: np.ndarray, labels: list[str], stamp_s: float,
           min_iou: float) -> list[tuple[int, int]]:
    """Optimal pairs ``(track index, box index)`` with IoU >= ``min_iou``, same class."""
    if not tracks or not len(boxes):
        return []
    predicted = np.stack([t.predicted(stamp_s) for t in tracks])
    iou = pairwise_iou(predicted, boxes)
    same = np.array([[t.label == lab for lab in labels] for t in tracks])
    iou = np.where(same, iou, 0.0)
    rows, cols = linear_sum_assignment(-iou)
    return [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
            if iou[r, c] >= min_iou]


#: Heights of a box and its track may differ by this factor at most in the distance stage.
MAX_HEIGHT_RATIO = 1.5


def _match_by_distance(tracks: list[_Track], boxes: np.ndarray, labels: list[str],
                       stamp_s: float, max_speed: float) -> list[tuple[int, int]]:
    """Optimal pairs ``(track index, box index)`` whose predicted and found centres lie
    within ``max_speed`` track heights per second of elapsed time, same class, similar
    height; the cost is that distance over the reach."""
    if not tracks or not len(boxes):
        return []
    predicted = np.stack([t.predicted(stamp_s) for t in tracks])
    heights = np.maximum(predicted[:, 3] - predicted[:, 1], 1e-6)
    reach = max_speed * heights * np.array([max(stamp_s - t.last_s, 1e-3) for t in tracks])
    centres = (predicted[:, :2] + predicted[:, 2:]) / 2
    found = (boxes[:, :2] + boxes[:, 2:]) / 2
    distance = np.linalg.norm(centres[:, None] - found[None], axis=2) / reach[:, None]
    ratio = (boxes[None, :, 3] - boxes[None, :, 1]) / heights[:, None]
    same = np.array([[t.label == lab for lab in labels] for t in tracks])
    allowed = same & (distance <= 1.0) & (ratio <= MAX_HEIGHT_RATIO) & \
        (ratio >= 1 / MAX_HEIGHT_RATIO)
    cost = np.where(allowed, distance, 2.0)  # 2: worse than any allowed pair
    rows, cols = linear_sum_assignment(cost)
    return [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if allowed[r, c]]


class ByteTracker:
    """Assigns track ids to the boxes of successive answers of one camera.

    Not thread-safe: one caller, answers in capture order (an answer older than the last
    one is tracked as if at the last stamp, so time never runs backwards).
    """

    def __init__(self, *, config: TrackerConfig) -> None:
        """Args:
        config: thresholds and time limits.
        """
        self.config = config
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_s: float | None = None

    @property
    def live_tracks(self) -> int:
        """Tracks currently kept (matched recently enough)."""
        return len(self._tracks)

    def update(self, boxes: np.ndarray, scores: np.ndarray, labels: list[str] | tuple[str, ...],
               stamp_s: float) -> list[str]:
        """Track one answer.

        Args:
            boxes: ``(N, 4)`` xyxy pixels of the full frame.
            scores: ``(N,)`` confidences; NaN boxes or scores get no id.
            labels: ``N`` class names; a track keeps one class.
            stamp_s: the frame's capture time, seconds.

        Returns:
            ``N`` track ids as decimal strings, ``""`` for boxes too weak to track.
        """
        cfg = self.config
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        labels = list(labels)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores, {len(labels)} labels")
        if self._last_s is not None:
            stamp_s = max(stamp_s, self._last_s)
        self._last_s = stamp_s
        valid = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
        high = np.flatnonzero(valid & (scores >= cfg.high_score))
        low = np.flatnonzero(valid & (scores >= cfg.low_score) & (scores < cfg.high_score))
        ids = [""] * len(boxes)
        free = list(range(len(self._tracks)))

        stages = [(high, lambda t, b, lab: _match(t, b, lab, stamp_s, cfg.match_iou)),
                  (low, lambda t, b, lab: _match(t, b, lab, stamp_s, cfg.low_match_iou))]
        if cfg.max_speed > 0:
            stages.append((high, lambda t, b, lab: _match_by_distance(t, b, lab, stamp_s,
                                                                      cfg.max_speed)))
        for chosen_all, match in stages:
            chosen = np.array([i for i in chosen_all.tolist() if not ids[i]], np.int64)
            candidates = [self._tracks[k] for k in free]
            pairs = match(candidates, boxes[chosen], [labels[i] for i in chosen])
            for t, b in pairs:
                track, index = candidates[t], int(chosen[b])
                track.update(boxes[index], stamp_s, cfg.velocity_smoothing)
                ids[index] = str(track.track_id)
            matched = {id(candidates[t]) for t, _ in pairs}
            free = [k for k in free if id(self._tracks[k]) not in matched]

        for index in high.tolist():
            if not ids[index]:
                track = _Track(track_id=self._next_id, label=labels[index],
                               box=boxes[index].copy(), last_s=stamp_s)
                self._next_id += 1
                self._tracks.append(track)
                ids[index] = str(track.track_id)
        self._tracks = [t for t in self._tracks if stamp_s - t.last_s <= cfg.max_lost_s]
        return ids
