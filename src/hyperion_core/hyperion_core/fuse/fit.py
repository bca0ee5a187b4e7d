"""Fitting a :class:`~hyperion_core.fuse.calibrated.CalibratedFusion` on labelled frames.

Inputs are what the system really fuses: per profiling frame and payload, the edge's boxes
and the cloud's boxes on that payload as it was encoded, decoded and detected, with the
payload's class map and plan; and the frame's ground truth (human labels, or the evaluation
reference). A box is a positive when it overlaps a ground-truth box of its class at IoU
>= 0.5 (the AP50 criterion). Each group's logistic model is fitted with scikit-learn
(L2-regularised, lbfgs: deterministic, so the same samples give the same file).

The mode (``cloud_first`` or ``calibrated``) and its settings — which regions keep the
edge's unmatched boxes; ``match_iou``; ``cloud_weight``, a matched pair's coordinates (on
real 4K frames the edge's boxes of small people, found at half resolution, are looser than
the cloud's: Eq. 6's 0.6 pulls a matched cloud box off its person) — are chosen among a few
candidates by the pooled AP50 of the fused answers *held out* within the profiling frames;
``nms_iou`` stays at its Eq. 6 value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

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
CLOUD_WEIGHTS = (0.6, 0.8, 1.0)
EDGE_KEEP_QUALITIES = (0, 10, 30, 50, 100)
#: A candidate replaces a simpler one only if its held-out AP50 is higher by more than this:
#: on a few frames, smaller differences are noise (the candidates below differed by < 0.002
#: on six real 4K frames).
TIE_MARGIN = 0.005
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
        frame: which profiling frame (held-out choice splits by frame).
    """

    edge: Detections
    cloud: Detections
    view: CloudView
    truth: Detections
    frame: int = 0


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


def candidates() -> list[CalibratedFusion]:
    """The fusions the fit chooses among (unfitted: the calibrated ones' groups are fitted
    per training set). The simplest first: on a tie it is kept."""
    out = [CalibratedFusion(mode="cloud_first", edge_keep_quality=q, match_iou=iou,
                            cloud_weight=1.0)
           for q in EDGE_KEEP_QUALITIES for iou in (0.3, 0.5)]
    out += [CalibratedFusion(mode="calibrated", match_iou=iou, cloud_weight=w)
            for w in CLOUD_WEIGHTS for iou in MATCH_IOUS]
    return out


def _fitted(candidate: CalibratedFusion, samples: Sequence[FusionSample],
            edge_alone: Sequence[tuple[Detections, Detections]]) -> CalibratedFusion:
    if candidate.mode != "calibrated":
        return candidate
    return replace(candidate, groups=fit_groups(samples, edge_alone,
                                                match_iou=candidate.match_iou,
                                                cloud_weight=candidate.cloud_weight))


def fit_fusion(samples: Sequence[FusionSample],
               edge_alone: Sequence[tuple[Detections, Detections]], *,
               nms_iou: float = 0.5, provenance: Mapping[str, object] | None = None
               ) -> CalibratedFusion:
    """Choose among :func:`candidates` by held-out pooled AP50 (a later, more complex one
    only when it is better by more than :data:`TIE_MARGIN`) and fit the choice on every
    sample.

    Held out: the frames are split in two halves (by ``FusionSample.frame``); each
    candidate is fitted on one half and its fused answers scored on the other, then the
    other way round, pooled. Scored on the samples it was fitted on, a logistic model of a
    few frames looks better than it is.

    Args:
        samples: fused answers' inputs (profiling frames x payloads).
        edge_alone: ``(edge detections, truth)`` per profiling frame, in frame order.
        nms_iou: NMS IoU of every candidate.
        provenance: recorded in the result, with the fit's own figures added.
    """
    if not samples:
        raise ValueError("fitting a fusion needs at least one fused sample")
    frames = sorted({s.frame for s in samples})
    half = set(frames[: len(frames) // 2])
    first = [s for s in samples if s.frame in half]
    second = [s for s in samples if s.frame not in half]
    splits = [(first, second), (second, first)]
    alone = {i: pair for i, pair in zip(frames, edge_alone, strict=False)}
    tried, best = {}, None
    for candidate in candidates():
        candidate = replace(candidate, nms_iou=nms_iou)
        matches = []
        for train, test in splits:
            if not train or not test:
                continue
            train_alone = [alone[f] for f in sorted({s.frame for s in train}) if f in alone]
            fitted = _fitted(candidate, train, train_alone)
            matches += [match_image(s.truth, fuse_calibrated(s.edge, s.cloud, fitted, s.view))
                        for s in test]
        score = float(ap50(matches)) if matches else pooled_ap50(
            samples, _fitted(candidate, samples, edge_alone))
        tried[describe(candidate)] = round(score, 6)
        if best is None or score > best[0] + TIE_MARGIN:
            best = (score, candidate)
    assert best is not None
    record = {**(provenance or {}), "samples": len(samples), "sample_frames": len(frames),
              "chosen_by": "pooled AP50 held out (fit on one half of the frames, score the "
                           f"other, and back); a candidate must beat a simpler one (listed "
                           f"before it) by more than {TIE_MARGIN}",
              "held_out_ap50": tried}
    return replace(_fitted(best[1], samples, edge_alone), provenance=record)


def describe(fusion: CalibratedFusion) -> str:
    """A candidate's name in the provenance."""
    if fusion.mode == "cloud_first":
        return (f"cloud_first, edge kept at quality <= {fusion.edge_keep_quality}, "
                f"match_iou {fusion.match_iou:g}")
    return f"calibrated, match_iou {fusion.match_iou:g}, cloud_weight {fusion.cloud_weight:g}"


__all__ = ["FusionSample", "candidates", "describe", "fit_fusion", "fit_groups",
           "fit_logistic", "pooled_ap50", "positives"]
