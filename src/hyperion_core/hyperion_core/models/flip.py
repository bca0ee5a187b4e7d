"""Horizontal-flip test-time augmentation: a detector run on the mirrored frame.

``Flipped(inner)`` mirrors the frame left-right, runs ``inner`` and mirrors the boxes back,
so it is just another detector of the same frame; fused with the plain one
(:class:`~hyperion_core.models.pair.DetectorPair`) it gives flip test-time augmentation.
"""

from __future__ import annotations

import numpy as np

from hyperion_core.models.base import Detections, Detector


class Flipped(Detector):
    """``inner`` on the left-right mirrored frame, boxes mapped back to the frame."""

    def __init__(self, *, inner: Detector) -> None:
        """Args:
        inner: any detector.
        """
        self.inner = inner

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.inner.class_names

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections, xyxy in pixels of ``image``.
        """
        found = self.inner.predict(np.ascontiguousarray(image[:, ::-1]))
        width = image.shape[1]
        boxes = found.boxes.copy()
        boxes[:, 0], boxes[:, 2] = width - found.boxes[:, 2], width - found.boxes[:, 0]
        return Detections(boxes, found.scores, found.class_ids, found.class_names)
