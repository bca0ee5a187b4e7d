"""ONNX Runtime backend for YOLO-style exported detectors (YOLOv8/v11 export layout).

The exported graph takes ``(1, 3, H, W)`` RGB in [0, 1] and returns ``(1, 4 + C, A)``:
for each of ``A`` anchors, box centre-x, centre-y, width, height in model-input pixels
followed by ``C`` per-class scores (already sigmoid-activated, no objectness term).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.models.base import Detections, Detector, DetectorConfig, check_bgr
from hyperion_core.models.boxes import cxcywh_to_xyxy, letterbox, nms, to_frame_pixels
from hyperion_core.models.ort_runtime import RuntimeConfig, input_dtype, make_session


@dataclass(frozen=True, kw_only=True)
class YoloOnnxConfig:
    """Settings of one YOLO ONNX model.

    Args:
        model_path: the ``.onnx`` file.
        detector: thresholds, input size, device, precision, class filter.
        runtime: execution providers and threads.
        class_names: names by class id; empty reads them from the model's ``names`` metadata.
        merge_classes_as: if set, all classes collapse into one class of this name with the
            best class score per anchor (e.g. a fall detector's Normal/Fall are both people).
    """

    model_path: Path
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    class_names: tuple[str, ...] = ()
    merge_classes_as: str | None = None


def decode_yolo_output(
    output: np.ndarray,
    *,
    score_threshold: float,
    nms_iou: float,
    class_filter: tuple[int, ...] = (),
    merge_classes: bool = False,
    max_detections: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a raw ``(1, 4 + C, A)`` (or ``(4 + C, A)``) output into NMS-ed detections.

    Args:
        output: raw model output; boxes as cx, cy, w, h in model-input pixels.
        score_threshold: minimum class score.
        nms_iou: per-class NMS IoU threshold.
        class_filter: class ids to keep (before merging); empty keeps all.
        merge_classes: score = best over classes and every box gets class 0.
        max_detections: cap after NMS.

    Returns:
        boxes (K, 4) xyxy in model-input pixels, scores (K,), class ids (K,).
    """
    pred = np.asarray(output, np.float32)
    pred = pred.reshape(pred.shape[-2], pred.shape[-1]).T  # (A, 4 + C)
    class_scores = pred[:, 4:]
    if class_filter:
        keep_cols = np.zeros(class_scores.shape[1], bool)
        keep_cols[list(class_filter)] = True
        class_scores = np.where(keep_cols, class_scores, -np.inf)
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(class_ids)), class_ids]
    if merge_classes:
        class_ids = np.zeros_like(class_ids)
    # NaN scores compare False and are dropped here as well.
    candidates = np.flatnonzero(scores >= score_threshold)
    boxes = cxcywh_to_xyxy(pred[candidates, :4])
    scores, class_ids = scores[candidates], class_ids[candidates]
    kept = nms(boxes, scores, nms_iou, class_ids=class_ids, max_keep=max_detections)
    return boxes[kept], scores[kept], class_ids[kept].astype(np.int64)


class YoloOnnxDetector(Detector):
    """A YOLO-style ONNX detector run by ONNX Runtime on one letterboxed pass.

    Thread safety: ``predict`` keeps no state between calls; one instance may be shared by
    threads (ONNX Runtime sessions allow concurrent ``run``).
    """

    def __init__(self, *, config: YoloOnnxConfig) -> None:
        """Args:
        config: model file, thresholds and runtime settings.
        """
        self.config = config
        self._session = make_session(
            config.model_path, device=config.detector.device, runtime=config.runtime
        )
        self._dtype = input_dtype(self._session, config.detector.precision)
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        fixed = model_input.shape[2:]
        size = config.detector.input_size
        if all(isinstance(d, int) for d in fixed) and tuple(fixed) != (size[1], size[0]):
            raise ValueError(f"model input is fixed at HxW {fixed}, config asks WxH {size}")
        names = config.class_names or self._names_from_metadata()
        self._native_names = names
        self._names = (config.merge_classes_as,) if config.merge_classes_as else names

    def _names_from_metadata(self) -> tuple[str, ...]:
        meta = self._session.get_modelmeta().custom_metadata_map
        if "names" not in meta:
            classes = self._session.get_outputs()[0].shape[1] - 4
            return tuple(str(i) for i in range(classes))
        # Ultralytics stores a Python dict literal such as "{0: 'person'}".
        mapping = ast.literal_eval(meta["names"])
        return tuple(str(mapping[i]) for i in sorted(mapping))

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def native_class_names(self) -> tuple[str, ...]:
        """The model's own classes, before ``merge_classes_as``."""
        return self._native_names

    def preprocess(
        self, image: np.ndarray, *, crop_offset: tuple[int, int] = (0, 0)
    ) -> tuple[np.ndarray, object]:
        """Letterbox a BGR frame into the ``(1, 3, H, W)`` RGB [0, 1] model tensor.

        Returns:
            The tensor and the :class:`~hyperion_core.models.boxes.FrameTransform` back.
        """
        size = self.config.detector.input_size
        boxed, transform = letterbox(image, size, crop_offset=crop_offset)
        rgb = cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)
        tensor = (rgb.transpose(2, 0, 1)[None] / np.float32(255)).astype(self._dtype)
        return np.ascontiguousarray(tensor), transform

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections, xyxy in pixels of ``image``.
        """
        check_bgr(image)
        tensor, transform = self.preprocess(image)
        (output,) = self._session.run(None, {self._input_name: tensor})[:1]
        cfg = self.config.detector
        boxes, scores, class_ids = decode_yolo_output(
            output,
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            class_filter=cfg.class_filter,
            merge_classes=self.config.merge_classes_as is not None,
            max_detections=cfg.max_detections,
        )
        frame_boxes = to_frame_pixels(boxes, transform, (image.shape[1], image.shape[0]))
        return Detections(frame_boxes, scores, class_ids, self._names)
