"""POI recall: do the importance classes land on the objects?

For one frame, an importance map (any source of :mod:`hyperion_core.score.sources`) is cut
into ``K`` Jenks classes as the scorer does; the reference objects' patches (centre inside
a box) are then counted per class. A useful map puts most object patches in the top class
while that class covers little of the frame:

- ``top_recall``: share of object patches in class ``K-1``; ``top_share``: share of the
  frame's patches in it;
- ``upper_recall`` / ``upper_share``: the same for classes >= 1 (everything not sent at
  the lowest quality);
- ``lift``: ``top_recall / top_share`` (1 = no better than chance).

This is measured on the raw importance classes, before re-classing (which moves patches
the edge is sure of to class 0 on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.score.jenks import JenksConfig, jenks_classes
from hyperion_core.score.reclass import boxes_cover_patches


@dataclass(frozen=True, kw_only=True)
class PoiCounts:
    """Patch counts of one or more frames (add them to pool frames).

    Args:
        objects: object patches.
        objects_top: object patches in the top class.
        objects_upper: object patches in classes >= 1.
        patches: all patches.
        top: patches in the top class.
        upper: patches in classes >= 1.
    """

    objects: int = 0
    objects_top: int = 0
    objects_upper: int = 0
    patches: int = 0
    top: int = 0
    upper: int = 0

    def __add__(self, other: PoiCounts) -> PoiCounts:
        return PoiCounts(**{k: getattr(self, k) + getattr(other, k) for k in self.__dict__})

    def summary(self) -> dict[str, float]:
        """The shares and lift of the module docstring."""
        def ratio(a: int, b: int) -> float:
            return a / b if b else float("nan")

        top_recall, top_share = ratio(self.objects_top, self.objects), ratio(self.top,
                                                                           self.patches)
        return {"top_recall": top_recall, "top_share": top_share,
                "upper_recall": ratio(self.objects_upper, self.objects),
                "upper_share": ratio(self.upper, self.patches),
                "lift": ratio(top_recall, top_share) if top_share else float("nan")}


def object_patches(boxes_xyxy: np.ndarray, *, grid: tuple[int, int], patch_size: int
                   ) -> np.ndarray:
    """``(rows, cols)`` mask of patches whose centre lies in a reference box."""
    return boxes_cover_patches(boxes_xyxy, grid=grid, patch_size=patch_size)


def poi_counts(importance: np.ndarray, objects: np.ndarray, *, classes: int = 3) -> PoiCounts:
    """Jenks-class ``importance`` and count the ``objects`` mask's patches per class.

    Args:
        importance: ``(rows, cols)`` importance map.
        objects: ``(rows, cols)`` bool, the reference objects' patches.
        classes: ``K``, as the scorer uses.
    """
    if importance.shape != objects.shape:
        raise ValueError(f"importance {importance.shape} and objects {objects.shape} differ")
    labels = jenks_classes(np.asarray(importance, np.float64),
                           JenksConfig(classes=classes)).classes
    top, upper = labels == classes - 1, labels >= 1
    return PoiCounts(objects=int(objects.sum()), objects_top=int((objects & top).sum()),
                     objects_upper=int((objects & upper).sum()), patches=int(labels.size),
                     top=int(top.sum()), upper=int(upper.sum()))
