"""AP50 from per-image matches, so that resampled AP50 (bootstrap) costs numpy, not COCOeval.

COCOeval at IoU 0.5, area "all", one category, works in two steps: per image, detections
(best score first, at most ``max_dets``) are matched greedily, each to the unmatched
ground-truth box of highest IoU >= 0.5, and an unmatched one lying in an ignore region
(``iscrowd``) is dropped; then all images' detections are
ranked by score, and AP is the mean over 101 recall points of the interpolated precision
(the best precision at any recall at least that large). :func:`match_image` does the first
step once per image; :func:`ap50` the second for any multiset of images. The test suite
checks both against pycocotools itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperion_core.fuse.boxes import Detections, pairwise_iou

RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True, kw_only=True, eq=False)
class ImageMatches:
    """One image's detections at IoU 0.5.

    Args:
        scores: ``(D,)`` scores of the kept detections.
        hits: ``(D,)`` bool, matched to a ground-truth box.
        truths: number of ground-truth boxes.
    """

    scores: np.ndarray
    hits: np.ndarray
    truths: int


def match_image(truth: Detections, found: Detections, *, max_dets: int = 500,
                iou: float = 0.5, crowd: np.ndarray | None = None) -> ImageMatches:
    """Greedy COCO matching of one image (one class).

    Args:
        truth: ground-truth boxes (scores ignored).
        found: detections with scores.
        max_dets: detections kept, best first (COCO keeps the ``max_dets`` highest).
        iou: match threshold.
        crowd: a boolean per ground-truth box; ``True`` marks an ignore region (COCO
            ``iscrowd``): a detection that matches no regular box but covers ``iou`` of its
            own area inside such a region is dropped, counting neither as hit nor as miss.
    """
    flags = np.zeros(len(truth), bool) if crowd is None else np.asarray(crowd, bool)
    regular = truth.boxes[~flags]
    order = np.argsort(-found.scores, kind="mergesort")[:max_dets]
    scores = found.scores[order]
    hits = np.zeros(len(order), bool)
    if len(regular) and len(order):
        overlap = pairwise_iou(found.boxes[order], regular)
        taken = np.zeros(len(regular), bool)
        last = len(regular) - 1
        for d in range(len(order)):
            candidates = np.where(taken, -1.0, overlap[d])
            # COCO accepts IoU >= threshold and, among equal best IoUs, the last box.
            g = last - int(np.argmax(candidates[::-1]))
            if candidates[g] >= iou:
                taken[g] = True
                hits[d] = True
    keep = hits | ~_inside_regions(found.boxes[order], truth.boxes[flags], iou)
    return ImageMatches(scores=scores[keep], hits=hits[keep], truths=len(regular))


def _inside_regions(boxes: np.ndarray, regions: np.ndarray, threshold: float) -> np.ndarray:
    """Per box, whether some region covers at least ``threshold`` of the box's area."""
    if not len(boxes) or not len(regions):
        return np.zeros(len(boxes), bool)
    lo = np.maximum(boxes[:, None, :2], regions[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], regions[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return (inter / np.maximum(area, np.spacing(1))[:, None] >= threshold).any(axis=1)


def ap50(images: Sequence[ImageMatches]) -> float:
    """COCO AP at IoU 0.5 over ``images`` (repeats allowed); NaN without ground truth."""
    truths = sum(m.truths for m in images)
    if truths == 0:
        return float("nan")
    if not images:
        return 0.0
    scores = np.concatenate([m.scores for m in images])
    hits = np.concatenate([m.hits for m in images])
    if scores.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    return _interpolated_ap(tp, fp, truths)


def _interpolated_ap(tp: np.ndarray, fp: np.ndarray, truths: int) -> float:
    """COCO's 101-point AP from cumulative true/false positives along the ranking."""
    recall = tp / truths
    precision = tp / (tp + fp + np.spacing(1))
    # Interpolated precision: the best precision at any recall at least as large.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    where = np.searchsorted(recall, RECALL_POINTS, side="left")
    values = np.where(where < len(envelope), envelope[np.minimum(where, len(envelope) - 1)],
                      0.0)
    return float(values.mean())


class RankedMatches:
    """AP50 of multisets of image groups (bootstrap resamples), ranking the detections once.

    :func:`ap50` sorts every resample again. Here all groups' detections are sorted once,
    and a resample is a count per group: a detection drawn ``k`` times adds ``k`` to the
    true or false positives at its rank. Precision only matters where recall grows, i.e.
    at true positives, so only those points are kept; the result equals :func:`ap50` on the
    repeated images, except that detections of *different* images with exactly equal
    scores rank in group order rather than in draw order (the point value, all counts 1,
    is identical).

    Args:
        groups: per group (e.g. one run of a method), its images' matches.
    """

    def __init__(self, groups: Sequence[Sequence[ImageMatches]]) -> None:
        sizes = [sum(len(m.scores) for m in images) for images in groups]
        group = np.repeat(np.arange(len(groups)), sizes)
        scores = np.concatenate([m.scores for images in groups for m in images] or [[]])
        hits = np.concatenate([m.hits for images in groups for m in images] or [[]]).astype(bool)
        order = np.argsort(-scores, kind="mergesort")
        group, hits = group[order], hits[order]
        self.groups = len(groups)
        self._truths = np.array([sum(m.truths for m in images) for images in groups], np.int64)
        self._hit_group = group[hits]
        self._miss_group = group[~hits]
        # Misses ranked before each hit: index into the running sum of drawn misses.
        self._misses_before = np.cumsum(~hits)[hits]

    def ap50(self, counts: np.ndarray) -> float:
        """AP50 with group ``g`` drawn ``counts[g]`` times; NaN without ground truth."""
        truths = int(counts @ self._truths)
        if truths == 0:
            return float("nan")
        if self._hit_group.size == 0:
            return 0.0
        tp = np.cumsum(counts[self._hit_group])
        misses = np.concatenate([[0], np.cumsum(counts[self._miss_group])])
        return _interpolated_ap(tp, misses[self._misses_before], truths)
