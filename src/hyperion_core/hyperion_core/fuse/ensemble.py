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
        unmatched_scale: the scores of kept unmatched boxes are multiplied by this. 1 keeps
            them as found; 0.5 is weighted box fusion's rule for two models (a box only
            one of two models found keeps half its confidence), used when two peer
            detectors are merged.
    """

    cloud_weight: float = 0.6
    match_iou: float = 0.5
    unmatched: Unmatched = Unmatched.KEEP_BOTH
    edge_min_score: float = 0.0
    nms_iou: float = 0.5
    unmatched_scale: float = 1.0


def match_boxes(
    edge: Detections, cloud: Detections, min_iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one same-class matches with IoU >= ``min_iou``, greedy by descending IoU.

    Computed in rounds rather than pair by pair: a pair ranked first among the remaining
    pairs of both its boxes is one greedy would take, so every such pair is taken at
    once and the pairs sharing a box with it are dropped. Ties rank the earlier candidate
    first, as a stable greedy would.

    Returns:
        ``(edge_idx, cloud_idx)`` int64 arrays of equal length.
    """
    e, c = overlapping_pairs(edge.boxes, cloud.boxes)
    same = edge.labels[e] == cloud.labels[c]
    e, c = e[same], c[same]
    iou = paired_iou(edge.boxes.take(e, axis=0), cloud.boxes.take(c, axis=0))
    good = iou >= min_iou
    order = np.argsort(-iou[good], kind="stable")
    e, c = e[good][order], c[good][order]
    taken_edge, taken_cloud = [], []
    while e.size:
        rank = np.arange(e.size)
        first_of_edge = np.full(len(edge), e.size)
        np.minimum.at(first_of_edge, e, rank)
        first_of_cloud = np.full(len(cloud), e.size)
        np.minimum.at(first_of_cloud, c, rank)
        win = (first_of_edge[e] == rank) & (first_of_cloud[c] == rank)
        taken_edge.append(e[win])
        taken_cloud.append(c[win])
        edge_used = np.zeros(len(edge), bool)
        edge_used[e[win]] = True
        cloud_used = np.zeros(len(cloud), bool)
        cloud_used[c[win]] = True
        left = ~(edge_used[e] | cloud_used[c])
        e, c = e[left], c[left]
    if not taken_edge:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return (
        np.concatenate(taken_edge).astype(np.int64),
        np.concatenate(taken_cloud).astype(np.int64),
    )


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
    if not 0.0 <= config.unmatched_scale <= 1.0:
        raise ValueError(f"unmatched_scale must be in [0, 1], got {config.unmatched_scale}")
    w_c = config.cloud_weight
    w_e = 1.0 - w_c
    e_idx, c_idx = match_boxes(edge, cloud, config.match_iou)
    fused = Detections(
        boxes=w_e * edge.boxes.take(e_idx, axis=0) + w_c * cloud.boxes.take(c_idx, axis=0),
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
    scale = np.concatenate([np.ones(len(fused)),
                            np.full(len(parts[1]) + len(parts[2]), config.unmatched_scale)])
    merged = Detections(
        boxes=np.concatenate([p.boxes.reshape(-1, 4) for p in parts]).astype(np.float64),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float64) * scale,
        labels=np.concatenate([p.labels for p in parts]).astype(np.int64),
    )
    return merged.select(nms(merged.boxes, merged.scores, merged.labels, config.nms_iou))
