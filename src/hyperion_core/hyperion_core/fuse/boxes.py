"""Detections container and box utilities (xyxy, pixels of the full frame)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Detections:
    """A frame's detections.

    Args:
        boxes: ``(N, 4)`` float64 ``x1, y1, x2, y2`` in pixels of the full frame.
        scores: ``(N,)`` confidences in [0, 1].
        labels: ``(N,)`` integer class ids.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @staticmethod
    def empty() -> Detections:
        return Detections(boxes=np.zeros((0, 4)), scores=np.zeros(0), labels=np.zeros(0, int))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, index: np.ndarray) -> Detections:
        """New detections holding the rows ``index`` (boolean mask or indices)."""
        return Detections(
            boxes=self.boxes[index], scores=self.scores[index], labels=self.labels[index]
        )


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` IoU of xyxy boxes ``a (N, 4)`` and ``b (M, 4)``; 0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = w.clip(0) * h.clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def overlapping_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` whose boxes ``a[i]`` and ``b[j]`` overlap in x and in y.

    Boxes in a 4K frame are small, so this sweep (``b`` sorted by ``x1``, one
    ``searchsorted`` window per ``a`` box, then a y test) yields a few candidates per box
    instead of the full ``N x M`` matrix; IoU is then computed on the candidates only.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(b[:, 0], kind="stable")
    starts = b[order, 0]
    widest = float((b[:, 2] - b[:, 0]).max())
    lo = np.searchsorted(starts, a[:, 0] - widest, side="right")
    hi = np.searchsorted(starts, a[:, 2], side="left")
    ia, jb = _windows(lo, hi)
    jb = order[jb]
    return _keep_overlapping(a, b, ia, jb)


def overlapping_pairs_within(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unordered pair of overlapping boxes once, as ``(i, j)`` with ``i < j``.

    Sorted by ``x1``, a box can only overlap later boxes that start before it ends, so
    the window needs no "widest box" margin and visits every pair once, not twice.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(boxes[:, 0], kind="stable")
    starts = boxes[order, 0]
    hi = np.searchsorted(starts, boxes[order, 2], side="left")
    first, second = _windows(np.arange(1, order.size + 1), hi)
    i, j = _keep_overlapping(boxes, boxes, order[first], order[second])
    return np.minimum(i, j), np.maximum(i, j)


def _windows(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``(k, m)`` with ``lo[k] <= m < hi[k]``, flattened."""
    counts = np.maximum(hi - lo, 0)
    owner = np.repeat(np.arange(lo.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(lo, counts) + offsets


def _keep_overlapping(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, jb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs whose boxes have a positive-area intersection."""
    pa, pb = a.take(ia, axis=0), b.take(jb, axis=0)
    keep = (pb[:, 2] > pa[:, 0]) & (pa[:, 2] > pb[:, 0])
    keep &= (pb[:, 3] > pa[:, 1]) & (pa[:, 3] > pb[:, 1])
    return ia[keep], jb[keep]


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of xyxy boxes ``a (K, 4)`` and ``b (K, 4)``."""
    w = (np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])).clip(0)
    h = (np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])).clip(0)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware greedy NMS; indices of kept boxes, highest score first.

    A box is suppressed by a kept, higher-scoring box of the same label with IoU strictly
    above ``iou_threshold``. Ties in score rank the lower index first (stable sort).

    Greedy NMS is decided in rounds over the "may suppress" graph instead of box by box:
    a box is kept once every box that may suppress it is suppressed, and suppressed once
    one of them is kept. Rounds follow the longest chain of overlaps, a handful in practice.

    Args:
        boxes: ``(N, 4)`` xyxy pixels.
        scores: ``(N,)``.
        labels: ``(N,)`` integer classes.
        iou_threshold: in [0, 1].
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    ranked = np.asarray(boxes, np.float64).reshape(-1, 4).take(order, axis=0)
    ranked_labels = np.asarray(labels)[order]
    i, j = overlapping_pairs_within(ranked)  # i < j: rank i may suppress rank j
    edge = ranked_labels[i] == ranked_labels[j]
    i, j = i[edge], j[edge]
    edge = paired_iou(ranked.take(i, axis=0), ranked.take(j, axis=0)) > iou_threshold
    i, j = i[edge], j[edge]
    undecided = np.ones(scores.size, bool)
    kept = np.zeros(scores.size, bool)
    for _ in range(_NMS_ROUNDS):
        if not undecided.any():
            return order[kept]
        waiting = np.zeros(scores.size, bool)
        waiting[j[undecided[i] | kept[i]]] = True  # a possible suppressor is not ruled out
        newly_kept = undecided & ~waiting
        kept |= newly_kept
        undecided &= waiting
        undecided[j[newly_kept[i]]] = False  # suppressed
        live = undecided[j]
        i, j = i[live], j[live]
    _greedy_rest(undecided, kept, i, j)
    return order[kept]


#: Rounds of :func:`nms` before the rest is decided box by box: a long chain of boxes each
#: suppressing the next (a dense crowd) would otherwise take one round per two boxes.
_NMS_ROUNDS = 8


def _greedy_rest(undecided: np.ndarray, kept: np.ndarray, i: np.ndarray, j: np.ndarray) -> None:
    """Decide the ``undecided`` ranks in rank order, updating ``kept`` in place."""
    by_source = np.argsort(i, kind="stable")
    i, j = i[by_source], j[by_source]
    sources, first = np.unique(i, return_index=True)
    stops = [*first[1:].tolist(), i.size]
    bounds = dict(zip(sources.tolist(), zip(first.tolist(), stops, strict=True), strict=True))
    suppressed = np.zeros(kept.size, bool)
    for rank in np.flatnonzero(undecided).tolist():
        if suppressed[rank]:
            continue
        kept[rank] = True
        if rank in bounds:
            start, stop = bounds[rank]
            suppressed[j[start:stop]] = True
