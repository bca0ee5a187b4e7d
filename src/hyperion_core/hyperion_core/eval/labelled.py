"""Accuracy against human labels on 4K composites of the hand-labelled vtest frames.

Two label sets (``data/README.md`` says how they were made):

- ``report`` (``vtest_people.json``, clip frames 20, 60, ..., 780): for reporting only;
- ``selection`` (``vtest_people_selection.json``, clip frames 0, 40, ..., 760): for choosing
  settings, so that no default is chosen on the frames it is reported on.

Each set of 20 frames makes two 3840x2160 composites (5x4 tiles; the second with the
tiles rotated by 10 places, so every frame appears once in the top and once in the bottom
half). A detector runs on the whole composite; its boxes are then assigned to the tile
holding their centre, and each (composite, tile) is one image for COCO AP. The 20 labelled
frames are the bootstrap units (a frame's two tiles are resampled together).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from hyperion_core.data.array_camera import ArrayCameraLayout
from hyperion_core.eval.labels import (
    VTEST_LABELS,
    LabelledFrame,
    labelled_composite,
    load_labels,
    tile_of,
)
from hyperion_core.eval.stats import Interval, bootstrap, paired_difference
from hyperion_core.fuse.boxes import Detections
from hyperion_core.metrics.ap_matches import ImageMatches, ap50, match_image

LABEL_SETS = {
    "report": VTEST_LABELS,
    "selection": VTEST_LABELS.with_name("vtest_people_selection.json"),
}
#: Tiles the second composite's frame order is rotated by.
ROTATION = 10


@dataclass(frozen=True, kw_only=True, eq=False)
class Composite:
    """A labelled 4K frame: pixels, ground truth, and the clip frame in each tile."""

    image: np.ndarray
    truth: LabelledFrame
    frames: tuple[int, ...]


def composites(label_set: str = "report", *, clip: Path | None = None) -> list[Composite]:
    """The two 4K composites of a label set (see the module docstring)."""
    labels = load_labels(LABEL_SETS[label_set])
    order = sorted(labels)
    out = []
    for frames in (order, order[ROTATION:] + order[:ROTATION]):
        image, truth = labelled_composite(frames, labels, clip=clip)
        out.append(Composite(image=image, truth=truth, frames=tuple(frames)))
    return out


@dataclass(frozen=True, kw_only=True, eq=False)
class TileScores:
    """Per (composite, tile) ground truth and detections, keyed by clip frame."""

    frames: list[int]
    truth: list[Detections]
    crowd: list[np.ndarray]
    found: list[Detections]

    def ap50(self, units: np.ndarray, frame_order: list[int]) -> float:
        """AP50 over the images of the labelled frames ``frame_order[units]`` (repeats
        count again)."""
        wanted = [frame_order[u] for u in units]
        return ap50([self.matches[i] for f in wanted
                     for i, g in enumerate(self.frames) if g == f])

    @cached_property
    def matches(self) -> list[ImageMatches]:
        """Per image, its COCO matches (computed once: resamples only re-rank them)."""
        return [match_image(t, f, crowd=c)
                for t, f, c in zip(self.truth, self.found, self.crowd, strict=True)]


def split_by_tile(
    found: Detections, composite: Composite, layout: ArrayCameraLayout | None = None
) -> TileScores:
    """Cut one composite's ground truth and detections into its tiles."""
    layout = layout or ArrayCameraLayout()
    where = tile_of(found.boxes, layout)
    truth = composite.truth
    return TileScores(
        frames=list(composite.frames),
        truth=[truth.detections().select(truth.tiles == k) for k in range(layout.tiles)],
        crowd=[truth.crowd[truth.tiles == k] for k in range(layout.tiles)],
        found=[found.select(where == k) for k in range(layout.tiles)],
    )


def score_tiles(detect: Callable[[np.ndarray], Detections], frames: list[Composite]
                ) -> TileScores:
    """Run ``detect`` on every composite and gather its per-tile scores."""
    parts = [split_by_tile(detect(c.image), c) for c in frames]
    return TileScores(frames=[f for p in parts for f in p.frames],
                      truth=[t for p in parts for t in p.truth],
                      crowd=[c for p in parts for c in p.crowd],
                      found=[d for p in parts for d in p.found])


def ap50_interval(scores: TileScores, *, reps: int = 500, seed: int = 0) -> Interval:
    """AP50 with a bootstrap interval over the labelled frames."""
    order = sorted(set(scores.frames))
    return bootstrap(lambda idx: scores.ap50(idx, order), len(order), reps=reps, seed=seed)


def ap50_difference(a: TileScores, b: TileScores, *, reps: int = 500, seed: int = 0
                    ) -> Interval:
    """AP50 of ``a`` minus AP50 of ``b`` on the same frames, paired bootstrap interval."""
    order = sorted(set(a.frames))
    if order != sorted(set(b.frames)):
        raise ValueError("the two scores cover different labelled frames")
    return paired_difference(lambda idx: a.ap50(idx, order), lambda idx: b.ap50(idx, order),
                             len(order), reps=reps, seed=seed)
