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
    """Index pairs ``(i, j)`` whose x-extents of ``a[i]`` and ``b[j]`` intersect.

    Boxes in a 4K frame are small, so this sweep (``b`` sorted by ``x1``, one
    ``searchsorted`` window per ``a`` box) yields a few candidates per box instead of the
    full ``N x M`` matrix; IoU is then computed on the candidates only.
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
    counts = np.maximum(hi - lo, 0)
    ia = np.repeat(np.arange(a.shape[0]), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    jb = order[np.repeat(lo, counts) + offsets]
    keep = b[jb, 2] > a[ia, 0]
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

    Args:
        boxes: ``(N, 4)`` xyxy pixels.
        scores: ``(N,)``.
        labels: ``(N,)`` integer classes.
        iou_threshold: in [0, 1].
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    if scores.size == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    ranked = np.asarray(boxes, np.float64).reshape(-1, 4)[order]
    ranked_labels = np.asarray(labels)[order]
    i, j = overlapping_pairs(ranked, ranked)
    edge = (i < j) & (ranked_labels[i] == ranked_labels[j])
    i, j = i[edge], j[edge]
    edge = paired_iou(ranked[i], ranked[j]) > iou_threshold
    i, j = i[edge], j[edge]  # rank i suppresses rank j if i is kept
    by_source = np.argsort(i, kind="stable")
    i, j = i[by_source], j[by_source]
    sources, first = np.unique(i, return_index=True)
    bounds = np.append(first, i.size)
    suppressed = np.zeros(scores.size, bool)
    for k, source in enumerate(sources.tolist()):  # ascending rank = greedy order
        if not suppressed[source]:
            suppressed[j[bounds[k] : bounds[k + 1]]] = True
    return order[~suppressed]
