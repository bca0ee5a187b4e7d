"""AP50 from per-image matches, so that resampled AP50 (bootstrap) costs numpy, not COCOeval.

COCOeval at IoU 0.5, area "all", one category, crowd-free ground truth, works in two steps:
per image, detections (best score first, at most ``max_dets``) are matched greedily, each
to the unmatched ground-truth box of highest IoU >= 0.5; then all images' detections are
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
                iou: float = 0.5) -> ImageMatches:
    """Greedy COCO matching of one image (one class, no crowd regions).

    Args:
        truth: ground-truth boxes (scores ignored).
        found: detections with scores.
        max_dets: detections kept, best first (COCO keeps the ``max_dets`` highest).
        iou: match threshold.
    """
    order = np.argsort(-found.scores, kind="mergesort")[:max_dets]
    scores = found.scores[order]
    hits = np.zeros(len(order), bool)
    if len(truth) and len(order):
        overlap = pairwise_iou(found.boxes[order], truth.boxes)
        taken = np.zeros(len(truth), bool)
        last = len(truth) - 1
        for d in range(len(order)):
            candidates = np.where(taken, -1.0, overlap[d])
            # COCO accepts IoU >= threshold and, among equal best IoUs, the last box.
            g = last - int(np.argmax(candidates[::-1]))
            if candidates[g] >= iou:
                taken[g] = True
                hits[d] = True
    return ImageMatches(scores=scores, hits=hits, truths=len(truth))


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
    recall = tp / truths
    precision = tp / (tp + fp + np.spacing(1))
    # Interpolated precision: the best precision at any recall at least as large.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    where = np.searchsorted(recall, RECALL_POINTS, side="left")
    values = np.where(where < len(envelope), envelope[np.minimum(where, len(envelope) - 1)],
                      0.0)
    return float(values.mean())
