"""Two peer detectors on the same image, merged by weighted box fusion.

Boxes of the same class that match (IoU >= ``match_iou``) become one box at the mean of
the two (coordinates and confidence); a box only one model found keeps half its
confidence (weighted box fusion's rule for two models); then NMS. This is the ensembler's
Eq. 6 (:func:`hyperion_core.fuse.ensemble.ensemble`) with equal weights and
``unmatched_scale = 0.5``, so both stages share one fusion implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.fuse.boxes import Detections as FuseDetections
from hyperion_core.fuse.ensemble import EnsembleConfig, Unmatched, ensemble
from hyperion_core.models.base import Detections, Detector


@dataclass(frozen=True, kw_only=True)
class PairConfig:
    """Args:
    match_iou: IoU above which boxes of the two models are the same object.
    nms_iou: NMS IoU over the merged boxes.
    score_threshold: fused boxes below this are dropped (the two detectors' own
        thresholds apply before fusion, which halves the score of a box one model missed).
    """

    match_iou: float = 0.55
    nms_iou: float = 0.5
    score_threshold: float = 0.0


class DetectorPair(Detector):
    """Runs ``first`` and ``second`` on the same image and fuses their boxes."""

    def __init__(self, *, first: Detector, second: Detector, config: PairConfig) -> None:
        """Args:
        first, second: detectors with the same class list.
        config: matching and NMS thresholds.
        """
        if first.class_names != second.class_names:
            raise ValueError("paired detectors must emit the same classes")
        self.first, self.second = first, second
        self._threshold = config.score_threshold
        self._fusion = EnsembleConfig(cloud_weight=0.5, match_iou=config.match_iou,
                                      unmatched=Unmatched.KEEP_BOTH, nms_iou=config.nms_iou,
                                      unmatched_scale=0.5)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.first.class_names

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Fused detections, xyxy in pixels of ``image``, best first.
        """
        a, b = self.first.predict(image), self.second.predict(image)
        fused = ensemble(_to_fuse(a), _to_fuse(b), self._fusion)
        keep = fused.scores >= self._threshold
        return Detections(fused.boxes[keep], fused.scores[keep], fused.labels[keep],
                          self.class_names)


def _to_fuse(found: Detections) -> FuseDetections:
    return FuseDetections(boxes=found.boxes.astype(np.float64),
                          scores=found.scores.astype(np.float64), labels=found.class_ids)
