"""Cloud-device ensembler (paper Eq. 6): fuse matched edge/cloud boxes, then NMS.

Matching is one-to-one and greedy by descending IoU among same-class pairs with
IoU >= ``match_iou``; candidate pairs come from an x-interval sweep, not an N x M matrix.
A matched pair becomes ``w_e·edge + w_c·cloud`` for the four coordinates and for the
confidence; the fused box takes the cloud's label (equal by construction).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hyperion_core.fuse.boxes import Detections, nms, overlapping_pairs, paired_iou


class Unmatched(enum.Enum):
    """What happens to boxes found by only one model.

    KEEP_BOTH: keep unmatched cloud boxes and unmatched edge boxes scoring at least
        ``edge_min_score`` (re-classing sends regions the edge is sure about at low
        quality, so the cloud may miss them on purpose: dropping them would lose objects).
    CLOUD_ONLY: keep unmatched cloud boxes, drop unmatched edge boxes.
    """

    KEEP_BOTH = "keep_both"
    CLOUD_ONLY = "cloud_only"


@dataclass(frozen=True, kw_only=True)
class EnsembleConfig:
    """Ensembler settings.

    Args:
        cloud_weight: ``w_c``; ``w_e = 1 - w_c`` (cloud favoured: the larger model on more
            pixels; to be tuned on labelled data).
        match_iou: minimum IoU for an edge/cloud pair to be fused.
        unmatched: policy for single-model boxes.
        edge_min_score: unmatched edge boxes below this are dropped under KEEP_BOTH.
        nms_iou: IoU above which NMS suppresses a same-class box.
    """

    cloud_weight: float = 0.6
    match_iou: float = 0.5
    unmatched: Unmatched = Unmatched.KEEP_BOTH
    edge_min_score: float = 0.0
    nms_iou: float = 0.5


def match_boxes(
    edge: Detections, cloud: Detections, min_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one same-class matches with IoU >= ``min_iou``, greedy by descending IoU.

    Returns:
        ``(edge_idx, cloud_idx)`` int64 arrays of equal length.
    """
    e, c = overlapping_pairs(edge.boxes, cloud.boxes)
    same = edge.labels[e] == cloud.labels[c]
    e, c = e[same], c[same]
    iou = paired_iou(edge.boxes[e], cloud.boxes[c])
    good = iou >= min_iou
    e, c, iou = e[good], c[good], iou[good]
    order = np.argsort(-iou, kind="stable")
    e, c = e[order], c[order]
    # No box in two candidate pairs (the usual case): greedy matching takes every pair.
    if np.unique(e).size == e.size and np.unique(c).size == c.size:
        return e.astype(np.int64), c.astype(np.int64)
    edge_used = np.zeros(len(edge), bool)
    cloud_used = np.zeros(len(cloud), bool)
    pairs = []
    # A few candidates per box survive the IoU filter, so this loop is short.
    for a, b in zip(e.tolist(), c.tolist(), strict=False):
        if not (edge_used[a] or cloud_used[b]):
            edge_used[a] = cloud_used[b] = True
            pairs.append((a, b))
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    matched = np.asarray(pairs, np.int64)
    return matched[:, 0], matched[:, 1]


def ensemble(
    edge: Detections, cloud: Detections, config: EnsembleConfig | None = None
) -> Detections:
    """Fuse edge and cloud detections of one frame (Eq. 6) and apply NMS.

    Args:
        edge: edge detections, xyxy in full-frame pixels (already rescaled).
        cloud: cloud detections, same frame and units.
        config: defaults to :class:`EnsembleConfig`.

    Returns:
        New detections sorted by descending score; inputs are not mutated.
    """
    config = config or EnsembleConfig()
    if not 0.0 <= config.cloud_weight <= 1.0:
        raise ValueError(f"cloud_weight must be in [0, 1], got {config.cloud_weight}")
    w_c = config.cloud_weight
    w_e = 1.0 - w_c
    e_idx, c_idx = match_boxes(edge, cloud, config.match_iou)
    fused = Detections(
        boxes=w_e * edge.boxes[e_idx] + w_c * cloud.boxes[c_idx],
        scores=w_e * edge.scores[e_idx] + w_c * cloud.scores[c_idx],
        labels=cloud.labels[c_idx],
    )
    edge_left = np.ones(len(edge), bool)
    edge_left[e_idx] = False
    cloud_left = np.ones(len(cloud), bool)
    cloud_left[c_idx] = False
    if config.unmatched is Unmatched.KEEP_BOTH:
        edge_left &= edge.scores >= config.edge_min_score
    else:
        edge_left[:] = False
    parts = [fused, cloud.select(cloud_left), edge.select(edge_left)]
    merged = Detections(
        boxes=np.concatenate([p.boxes.reshape(-1, 4) for p in parts]).astype(np.float64),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float64),
        labels=np.concatenate([p.labels for p in parts]).astype(np.int64),
    )
    return merged.select(nms(merged.boxes, merged.scores, merged.labels, config.nms_iou))
