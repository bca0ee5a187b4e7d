"""Cloud-side sliced inference (SAHI) over the full-resolution frame, with any Detector.

The ``sahi`` library slices the frame, calls a ``DetectionModel`` per slice, shifts each
slice's boxes by its offset into full-frame pixels and merges them. Our adapter wraps a
:class:`~hyperion_core.models.base.Detector`, so no torch is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from hyperion_core.models.base import Detections, Detector

try:  # sahi is a cloud-only dependency; the edge imports this package without it.
    from sahi.models.base import DetectionModel
except ImportError:  # pragma: no cover - exercised only where sahi is absent
    DetectionModel = object  # type: ignore[assignment,misc]


@dataclass(frozen=True, kw_only=True)
class SahiConfig:
    """Slicing and merging settings (paper: 1024 px, 0.25 overlap, NMS, 0.25 match).

    Args:
        slice_size: slice width and height in frame pixels. The embedded detector has a
            640 input, and 640-px slices find far more small people than 1024-px slices
            shrunk to 640 (measured), so the default is 640, not the paper's 1024.
        overlap: fraction of a slice shared with its neighbour, both directions.
        postprocess: merge strategy over slices: ``"NMS"``, ``"NMM"``, ``"GREEDYNMM"``.
        match_metric: ``"IOU"`` or ``"IOS"`` (intersection over the smaller box).
        match_threshold: boxes matching above this are merged/suppressed.
        class_agnostic: merge across classes.
        full_frame_pass: also run the detector once on the whole (letterboxed) frame, as
            SAHI's "standard prediction"; useful only for objects larger than a slice.
        confidence_threshold: SAHI-side filter; the wrapped detector already thresholds.
    """

    slice_size: int = 640
    overlap: float = 0.25
    postprocess: Literal["NMS", "NMM", "GREEDYNMM"] = "NMS"
    match_metric: Literal["IOU", "IOS"] = "IOU"
    match_threshold: float = 0.25
    class_agnostic: bool = False
    full_frame_pass: bool = False
    confidence_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.slice_size < 32 or not 0 <= self.overlap < 1:
            raise ValueError(f"invalid slicing {self}")


class DetectorSahiModel(DetectionModel):  # type: ignore[misc,valid-type]
    """``sahi.models.base.DetectionModel`` adapter around a Hyperion ``Detector``.

    SAHI's model API keeps the last slice's raw result on the object between
    ``perform_inference`` and the conversion call, so one instance must not be shared by
    concurrent ``get_sliced_prediction`` calls; :class:`SahiDetector` serialises its use.
    """

    def __init__(self, *, detector: Detector, confidence_threshold: float = 0.0) -> None:
        """Args:
        detector: called once per slice with a (h, w, 3) uint8 BGR slice.
        confidence_threshold: SAHI-side score filter.
        """
        names = detector.class_names
        super().__init__(
            model=detector,
            device="cpu",  # SAHI's device is a torch concept; the Detector owns its own.
            confidence_threshold=confidence_threshold,
            category_mapping={str(i): n for i, n in enumerate(names)},
            load_at_init=True,
        )

    def load_model(self) -> None:
        raise NotImplementedError("construct DetectorSahiModel with a ready Detector")

    def set_model(self, model: Any, **kwargs: Any) -> None:
        self.model = model

    def perform_inference(self, image: np.ndarray) -> None:
        """Args:
        image: one slice, (h, w, 3) uint8 in the frame's channel order (BGR).
        """
        self._original_predictions = self.model.predict(np.ascontiguousarray(image))

    def _create_object_prediction_list_from_original_predictions(
        self,
        shift_amount_list: list[list[int | float]] | None = None,
        full_shape_list: list[list[int | float]] | None = None,
    ) -> None:
        from sahi.prediction import ObjectPrediction
        from sahi.utils.compatibility import fix_full_shape_list, fix_shift_amount_list

        shifts = fix_shift_amount_list(shift_amount_list or [[0, 0]])
        shapes = fix_full_shape_list(full_shape_list)
        shift = shifts[0]
        shape = shapes[0] if shapes else None
        found: Detections = self._original_predictions
        keep = found.scores >= self.confidence_threshold
        predictions = [
            ObjectPrediction(
                bbox=box.tolist(),
                category_id=int(cid),
                category_name=found.class_names[cid] if found.class_names else str(cid),
                score=float(score),
                shift_amount=list(shift),
                full_shape=None if shape is None else list(shape),
            )
            for box, score, cid in zip(
                found.boxes[keep], found.scores[keep], found.class_ids[keep], strict=True
            )
            if box[2] > box[0] and box[3] > box[1]  # SAHI rejects degenerate boxes
        ]
        self._object_prediction_list_per_image = [predictions]


class SahiDetector(Detector):
    """A Detector that runs another Detector with SAHI slicing over the whole frame."""

    def __init__(self, *, inner: Detector, config: SahiConfig) -> None:
        """Args:
        inner: the per-slice detector (e.g. a 640-input ONNX YOLO).
        config: slicing and merging.
        """
        import threading

        self.inner = inner
        self.config = config
        self._model = DetectorSahiModel(
            detector=inner, confidence_threshold=config.confidence_threshold
        )
        self._lock = threading.Lock()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.inner.class_names

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR full-resolution frame; not modified.

        Returns:
            Merged detections, xyxy in pixels of ``image``.
        """
        from sahi.predict import get_sliced_prediction

        cfg = self.config
        with self._lock:
            result = get_sliced_prediction(
                image,
                self._model,
                slice_height=cfg.slice_size,
                slice_width=cfg.slice_size,
                overlap_height_ratio=cfg.overlap,
                overlap_width_ratio=cfg.overlap,
                perform_standard_pred=cfg.full_frame_pass,
                postprocess_type=cfg.postprocess,
                postprocess_match_metric=cfg.match_metric,
                postprocess_match_threshold=cfg.match_threshold,
                postprocess_class_agnostic=cfg.class_agnostic,
                verbose=0,
                auto_slice_resolution=False,
                force_postprocess_type=True,  # keep the configured merge even at low thresholds
            )
        predictions = result.object_prediction_list
        if not predictions:
            return Detections.empty(self.class_names)
        boxes = np.array([p.bbox.to_xyxy() for p in predictions], np.float32)
        scores = np.array([p.score.value for p in predictions], np.float32)
        class_ids = np.array([p.category.id for p in predictions], np.int64)
        h, w = image.shape[:2]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        order = np.argsort(-scores, kind="stable")
        return Detections(boxes[order], scores[order], class_ids[order], self.class_names)
