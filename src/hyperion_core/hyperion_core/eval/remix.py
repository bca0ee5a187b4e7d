"""Remix baseline: per-block detector choice under the latency budget, from offline profiles.

The frame is cut into blocks (the edge tile grid: 960x1080 frame pixels each). Each block
gets one option: ``skip`` (0 passes), ``remix-half`` (1 pass at half resolution) or
``remix-full`` (4 passes at full resolution). Remix's offline profile is the object
distribution over blocks and each option's recall, both measured here on a calibration
frame that is not scored (the reference detections serve as its objects). The plan
maximises expected objects found, ``Σ_b objects_b · recall(option_b)``, subject to
``passes · pass_s · area_scale <= budget``: a small exhaustive search (3^blocks plans).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hyperion_core.fuse.boxes import Detections, pairwise_iou

#: Option name → 640-px passes per block.
OPTIONS: dict[str, int] = {"skip": 0, "remix-half": 1, "remix-full": 4}


@dataclass(frozen=True, kw_only=True)
class RemixProfile:
    """Offline profile.

    Args:
        blocks: ``(x0, y0, x1, y1)`` frame pixels of each block, row-major.
        objects: ``(B,)`` reference objects per block on the calibration frame.
        recall: option name → share of reference objects it finds (IoU >= 0.5).
    """

    blocks: tuple[tuple[int, int, int, int], ...]
    objects: tuple[float, ...]
    recall: dict[str, float]


def block_grid(width: int, height: int, cols: int, rows: int) -> list[tuple[int, int, int, int]]:
    """Blocks ``(x0, y0, x1, y1)`` of an even ``cols x rows`` split, row-major."""
    xs = np.linspace(0, width, cols + 1).round().astype(int)
    ys = np.linspace(0, height, rows + 1).round().astype(int)
    return [
        (int(xs[c]), int(ys[r]), int(xs[c + 1]), int(ys[r + 1]))
        for r in range(rows)
        for c in range(cols)
    ]


def recall_at_50(reference: Detections, found: Detections) -> float:
    """Share of reference boxes with a found box of IoU >= 0.5 (1.0 if no reference)."""
    if len(reference) == 0:
        return 1.0
    if len(found) == 0:
        return 0.0
    return float((pairwise_iou(reference.boxes, found.boxes).max(axis=1) >= 0.5).mean())


def objects_per_block(
    reference: Detections, blocks: list[tuple[int, int, int, int]]
) -> tuple[float, ...]:
    """Reference boxes per block, counted by box centre."""
    cx = (reference.boxes[:, 0] + reference.boxes[:, 2]) / 2
    cy = (reference.boxes[:, 1] + reference.boxes[:, 3]) / 2
    return tuple(
        float(((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)).sum())
        for x0, y0, x1, y1 in blocks
    )


def plan_blocks(
    profile: RemixProfile, *, budget_s: float, pass_s: float, scale: float
) -> tuple[str, ...]:
    """Best option per block under the budget (ties: fewer passes, then block order).

    Args:
        profile: offline profile.
        budget_s: latency budget per 4K frame, seconds.
        pass_s: device time of one 640-px pass, seconds.
        scale: 4K area / frame area: this frame's blocks are ``1/scale`` of a 4K frame's.
    """
    names = list(OPTIONS)
    best: tuple[float, int, tuple[str, ...]] = (-1.0, 0, ("skip",) * len(profile.blocks))
    for choice in itertools.product(names, repeat=len(profile.blocks)):
        passes = sum(OPTIONS[c] for c in choice)
        if passes * pass_s * scale > budget_s:
            continue
        gain = sum(
            n * profile.recall.get(c, 0.0) for n, c in zip(profile.objects, choice, strict=True)
        )
        if gain > best[0] + 1e-12 or (abs(gain - best[0]) <= 1e-12 and passes < best[1]):
            best = (gain, passes, tuple(choice))
    return best[2]
