"""Detector and attention-scorer backends (ROS-free).

Interfaces in :mod:`.base`; box geometry in :mod:`.boxes`; backends: exported ONNX
YOLO/DETR detectors (:mod:`.onnx_detector`, layouts in :mod:`.onnx_layouts`), edge tiling
(:mod:`.tiled`), SAHI cloud slicing (:mod:`.sahi_backend`), ONNX ViT attention scorer
(:mod:`.vit_scorer`), detectron2 ViTDet (:mod:`.vitdet`, lazy);
named defaults and the latency report in :mod:`.registry`.
"""

from hyperion_core.models.base import (
    AttentionScorer,
    Detections,
    Detector,
    DetectorConfig,
    TokenImportance,
)
from hyperion_core.models.boxes import FrameTransform, letterbox, to_frame_pixels

__all__ = [
    "AttentionScorer",
    "Detections",
    "Detector",
    "DetectorConfig",
    "FrameTransform",
    "TokenImportance",
    "letterbox",
    "to_frame_pixels",
]
