"""Collaboration-aware re-classing (paper §III-A): patches the edge already handles go to class 0.

A patch moves to class 0 when its importance exceeds an importance threshold *and* its
centre lies inside an edge detection whose confidence exceeds a confidence threshold:
the ViT finds it important, but the edge detector is already confident there, so the
cloud need not see it at high quality (it is still sent, at class 0's quality).

Coverage rule: a patch counts as inside a box when its centre ``((c+0.5)·p, (r+0.5)·p)``
satisfies ``x1 <= x < x2`` and ``y1 <= y < y2``. Each box therefore covers a rectangle of
patch indices, painted with a 2-D difference array: O(boxes + patches), no
boxes x patches matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class ReclassConfig:
    """Thresholds of the re-classing rule.

    Args:
        confidence_threshold: edge detections with score strictly above this count
            (0.5: the usual operating point of a detector's score; tune with the
            accuracy profiler).
        importance_threshold: patches with importance strictly above this move;
            ``None`` uses the class-0/class-1 Jenks break (the paper's choice).
    """

    confidence_threshold: float = 0.5
    importance_threshold: float | None = None


def box_patch_ranges(
    boxes_xyxy: np.ndarray, *, grid: tuple[int, int], patch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Patch index rectangle each box covers (patch centres inside, see module docstring).

    Args:
        boxes_xyxy: ``(N, 4)`` boxes ``x1, y1, x2, y2`` in frame pixels (may exceed the frame).
        grid: ``(rows, cols)`` patch grid of the frame.
        patch_size: patch side in frame pixels.

    Returns:
        ``(keep, ranges)``: indices of the boxes covering at least one patch (non-finite
        and empty ones dropped), and ``(len(keep), 4)`` int64 ``r0, r1, c0, c1``
        (half-open) for them.
    """
    rows, cols = grid
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    finite = np.flatnonzero(np.isfinite(boxes).all(axis=1))
    # First/last+1 patch index whose centre is inside [lo, hi).
    first = np.ceil(boxes[finite] / patch_size - 0.5).astype(np.int64)
    c0 = np.clip(first[:, 0], 0, cols)
    r0 = np.clip(first[:, 1], 0, rows)
    c1 = np.clip(first[:, 2], 0, cols)
    r1 = np.clip(first[:, 3], 0, rows)
    nonempty = (c1 > c0) & (r1 > r0)
    ranges = np.stack([r0, r1, c0, c1], axis=1)[nonempty]
    return finite[nonempty], ranges


def boxes_cover_patches(
    boxes_xyxy: np.ndarray, *, grid: tuple[int, int], patch_size: int
) -> np.ndarray:
    """Boolean ``(rows, cols)`` mask of patches whose centre lies inside any box.

    Args:
        boxes_xyxy: ``(N, 4)`` boxes ``x1, y1, x2, y2`` in frame pixels (may exceed the frame).
        grid: ``(rows, cols)`` patch grid of the frame.
        patch_size: patch side in frame pixels.
    """
    rows, cols = grid
    _, ranges = box_patch_ranges(boxes_xyxy, grid=grid, patch_size=patch_size)
    r0, r1, c0, c1 = ranges.T
    diff = np.zeros((rows + 1, cols + 1), np.int32)
    np.add.at(diff, (r0, c0), 1)
    np.add.at(diff, (r0, c1), -1)
    np.add.at(diff, (r1, c0), -1)
    np.add.at(diff, (r1, c1), 1)
    return diff.cumsum(axis=0).cumsum(axis=1)[:rows, :cols] > 0


def reclass_patches(
    classes: np.ndarray,
    importance: np.ndarray,
    *,
    breaks: np.ndarray,
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    patch_size: int,
    config: ReclassConfig | None = None,
) -> np.ndarray:
    """Return a new class map with edge-easy important patches moved to class 0.

    Args:
        classes: ``(rows, cols)`` integer classes (0 = least important); not mutated.
        importance: ``(rows, cols)`` importance of the same patches.
        breaks: Jenks inner breaks; ``breaks[0]`` is the default importance threshold.
        boxes_xyxy: ``(N, 4)`` edge detections, xyxy in frame pixels.
        scores: ``(N,)`` their confidences.
        patch_size: patch side in frame pixels.
        config: thresholds; defaults to :class:`ReclassConfig`.
    """
    config = config or ReclassConfig()
    classes = np.asarray(classes)
    importance = np.asarray(importance, np.float64)
    if classes.shape != importance.shape or classes.ndim != 2:
        raise ValueError(f"classes {classes.shape} and importance {importance.shape} differ")
    scores = np.asarray(scores, np.float64).reshape(-1)
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    threshold = config.importance_threshold
    if threshold is None:
        if len(breaks) == 0:
            return classes.copy()  # a single class: nothing to move
        threshold = float(breaks[0])
    confident = boxes[scores > config.confidence_threshold]
    covered = boxes_cover_patches(confident, grid=classes.shape, patch_size=patch_size)
    out = classes.copy()
    out[covered & (importance > threshold)] = 0
    return out
