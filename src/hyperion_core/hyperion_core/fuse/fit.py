"""Fitting a :class:`~hyperion_core.fuse.calibrated.CalibratedFusion` on labelled frames.

Inputs are what the system really fuses: per profiling frame and payload, the edge's boxes
and the cloud's boxes on that payload as it was encoded, decoded and detected, with the
payload's class map and plan; and the frame's ground truth (human labels, or the evaluation
reference). A box is a positive when it overlaps a ground-truth box of its class at IoU
>= 0.5 (the AP50 criterion). Each group's logistic model is fitted with scikit-learn
(L2-regularised, lbfgs: deterministic, so the same samples give the same file).

``match_iou`` is chosen among a few values by the pooled AP50 of the fused answers on the
same frames; ``cloud_weight`` and ``nms_iou`` stay at their Eq. 6 values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import (
    GROUP_FEATURES,
    CalibratedFusion,
    CloudView,
    LogisticMap,
    edge_alone_features,
    fuse_calibrated,
    group_boxes,
)
from hyperion_core.metrics.ap_matches import ap50, match_image

#: IoU at which a box counts as finding a ground-truth box (AP50).
POSITIVE_IOU = 0.5
MATCH_IOUS = (0.3, 0.4, 0.5, 0.6)
#: Inverse L2 strength of the logistic fits (scikit-learn's default).
REGULARISATION_C = 1.0


@dataclass(frozen=True, kw_only=True, eq=False)
class FusionSample:
    """One fused answer's inputs.

    Args:
        edge: the edge's detections of the frame.
        cloud: the cloud's detections of the payload.
        view: the payload's class map and plan.
        truth: the frame's ground truth.
    """

    edge: Detections
    cloud: Detections
    view: CloudView
    truth: Detections


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(-1, 4), b.reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def positives(boxes: np.ndarray, labels: np.ndarray, truth: Detections) -> np.ndarray:
    """``(N,)`` bool: each box overlaps a same-class ground-truth box at IoU >= 0.5."""
    if len(boxes) == 0 or len(truth) == 0:
        return np.zeros(len(boxes), bool)
    iou = _iou_matrix(np.asarray(boxes, np.float64), truth.boxes)
    iou[np.asarray(labels)[:, None] != truth.labels[None, :]] = 0.0
    return iou.max(axis=1) >= POSITIVE_IOU


def fit_logistic(features: np.ndarray, labels: np.ndarray) -> LogisticMap:
    """One group's model; with a single label class (or none) only the base rate is
    known, and the weights stay 0."""
    width = features.shape[1] if features.ndim == 2 else 0
    n, hits = len(labels), int(np.sum(labels))
    if n == 0 or hits in (0, n):
        rate = (hits + 1.0) / (n + 2.0)  # Laplace: never a certain 0 or 1
        return LogisticMap(intercept=float(np.log(rate / (1 - rate))), weights=(0.0,) * width)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=REGULARISATION_C, max_iter=2000)
    model.fit(features, labels.astype(np.int64))
    return LogisticMap(intercept=float(model.intercept_[0]),
                       weights=tuple(float(w) for w in model.coef_[0]))


def fit_groups(samples: Sequence[FusionSample], edge_alone: Sequence[tuple[Detections,
               Detections]], *, match_iou: float, cloud_weight: float
               ) -> dict[str, LogisticMap]:
    """Every group's model at one ``match_iou``.

    Args:
        samples: fused answers' inputs.
        edge_alone: ``(edge detections, truth)`` per frame, for the edge-only group.
        match_iou: IoU for an edge and a cloud box to be one object.
        cloud_weight: Eq. 6 weight of a matched pair's coordinates.
    """
    feats: dict[str, list[np.ndarray]] = {g: [] for g in GROUP_FEATURES}
    labels: dict[str, list[np.ndarray]] = {g: [] for g in GROUP_FEATURES}
    for s in samples:
        grouped = group_boxes(s.edge, s.cloud, s.view, match_iou=match_iou,
                              cloud_weight=cloud_weight)
        for g in ("matched", "cloud", "edge"):
            feats[g].append(grouped.features[g])
            labels[g].append(positives(grouped.boxes[g], grouped.labels[g], s.truth))
    for edge, truth in edge_alone:
        feats["edge_alone"].append(edge_alone_features(edge))
        labels["edge_alone"].append(positives(edge.boxes, edge.labels, truth))
    return {g: fit_logistic(np.concatenate(feats[g]).reshape(-1, len(GROUP_FEATURES[g])),
                            np.concatenate(labels[g]).astype(bool) if labels[g]
                            else np.zeros(0, bool))
            for g in GROUP_FEATURES}


def pooled_ap50(samples: Sequence[FusionSample], fusion: CalibratedFusion) -> float:
    """AP50 of the fused answers of ``samples``, pooled."""
    return float(ap50([match_image(s.truth, fuse_calibrated(s.edge, s.cloud, fusion, s.view))
                       for s in samples]))


def fit_fusion(samples: Sequence[FusionSample],
               edge_alone: Sequence[tuple[Detections, Detections]], *,
               match_ious: Sequence[float] = MATCH_IOUS, cloud_weight: float = 0.6,
               nms_iou: float = 0.5, provenance: Mapping[str, object] | None = None
               ) -> CalibratedFusion:
    """Fit every group at each candidate ``match_iou`` and keep the one whose fused answers
    score the highest pooled AP50 on the same samples.

    Args:
        samples: fused answers' inputs (profiling frames x payloads).
        edge_alone: ``(edge detections, truth)`` per profiling frame.
        match_ious: candidate match IoUs.
        cloud_weight, nms_iou: Eq. 6 coordinate weight and NMS IoU (kept as given).
        provenance: recorded in the result, with the fit's own figures added.
    """
    if not samples:
        raise ValueError("fitting a fusion needs at least one fused sample")
    best: tuple[float, CalibratedFusion] | None = None
    tried = {}
    for iou in match_ious:
        fusion = CalibratedFusion(groups=fit_groups(samples, edge_alone, match_iou=iou,
                                                    cloud_weight=cloud_weight),
                                  match_iou=float(iou), cloud_weight=cloud_weight,
                                  nms_iou=nms_iou)
        score = pooled_ap50(samples, fusion)
        tried[f"{iou:g}"] = round(score, 6)
        if best is None or score > best[0] + 1e-12:
            best = (score, fusion)
    assert best is not None
    record = {**(provenance or {}), "samples": len(samples),
              "edge_alone_frames": len(edge_alone),
              "pooled_ap50_by_match_iou": tried}
    return CalibratedFusion(groups=best[1].groups, match_iou=best[1].match_iou,
                            cloud_weight=cloud_weight, nms_iou=nms_iou, provenance=record)


__all__ = ["FusionSample", "fit_fusion", "fit_groups", "fit_logistic", "pooled_ap50",
           "positives"]
