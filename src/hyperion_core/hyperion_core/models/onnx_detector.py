"""ONNX Runtime backend for a user's exported detector (YOLO or DETR layout), and the
embedded fall-detection YOLOv8s.

The graph takes one ``(1, 3, H, W)`` float image; how the frame becomes that tensor
(letterbox or stretch, channel order, normalisation) is configured, with the Ultralytics
defaults (letterbox, RGB, [0, 1]). Its outputs are decoded by :mod:`.onnx_layouts`; the
layout is recognised from the outputs or given. Everything the file must agree with
(input size, channels, class count, layout) is checked when the model loads, so a
mismatched file fails at start-up with :class:`ModelMismatch`, never on the first frame.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from hyperion_core.models.base import Detections, Detector, DetectorConfig, check_bgr
from hyperion_core.models.boxes import FrameTransform, letterbox, nms, stretch, to_frame_pixels
from hyperion_core.models.onnx_layouts import (
    ACTIVATIONS,
    LAYOUTS,
    LayoutError,
    OutputInfo,
    check_layout,
    class_count,
    decode,
    detect_layout,
)
from hyperion_core.models.ort_runtime import (
    DEVICE_PROVIDERS,
    RuntimeConfig,
    input_dtype,
    make_session,
    missing_providers,
)

RESIZE_MODES = ("letterbox", "stretch")
NORMALISATIONS = ("unit", "imagenet", "none")
CHANNEL_ORDERS = ("rgb", "bgr")
#: ImageNet mean and standard deviation of R, G, B on the [0, 1] scale (DETR-family models).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class ModelMismatch(ValueError):
    """A model file that does not fit its settings.

    Args:
        parameter: the setting (node parameter of the same name) that disagrees.
        path: the model file.
        expected: what the settings expect, in words.
        found: what the file holds, in words.
    """

    def __init__(self, *, parameter: str, path: Path, expected: str, found: str) -> None:
        self.parameter, self.path = parameter, path
        super().__init__(f"parameter {parameter}: model {path} does not match: expected "
                         f"{expected}, found {found}")


@dataclass(frozen=True, kw_only=True)
class OnnxDetectorConfig:
    """Settings of one exported ONNX detector.

    Args:
        model_path: the ``.onnx`` file.
        class_names: names by class id; empty reads the model's ``names`` metadata
            (Ultralytics exports carry it).
        classes: names of the classes to keep (each one of the model's); empty keeps all.
            Replaces ``detector.class_filter``, which needs the names first.
        layout: ``"auto"`` (recognised from the outputs) or one of
            :data:`~hyperion_core.models.onnx_layouts.LAYOUTS`.
        resize: ``"letterbox"`` (aspect kept, grey padding) or ``"stretch"``.
        normalise: ``"unit"`` (pixel / 255), ``"imagenet"`` ((pixel / 255 - mean) / std)
            or ``"none"`` (0-255 as floats).
        channel_order: ``"rgb"`` or ``"bgr"``, the order the model takes.
        score_activation: ``detr`` class columns: ``auto``/``none``/``sigmoid``/``softmax``.
        detector: input size ``(width, height)``, thresholds, class filter, device.
        runtime: execution providers and threads.
        merge_classes_as: if set, every class becomes this one (best class score per box).
    """

    model_path: Path
    class_names: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    layout: str = "auto"
    resize: str = "letterbox"
    normalise: str = "unit"
    channel_order: str = "rgb"
    score_activation: str = "auto"
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    merge_classes_as: str | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("layout", self.layout, ("auto", *LAYOUTS)), ("resize", self.resize, RESIZE_MODES),
            ("normalise", self.normalise, NORMALISATIONS),
            ("channel_order", self.channel_order, CHANNEL_ORDERS),
            ("score_activation", self.score_activation, ACTIVATIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name}={value!r} not one of {list(allowed)}")


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from a file: one per line (``.txt``, ``.names``), or YAML/JSON holding a
    list, a ``{id: name}`` mapping, or either under ``names`` (an Ultralytics data file).

    Raises:
        ValueError: the file is unreadable or holds no names.
    """
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ValueError(f"cannot read class names file {path}: {err}") from err
    if Path(path).suffix.lower() in (".yaml", ".yml", ".json"):
        data = json.loads(text) if Path(path).suffix.lower() == ".json" else yaml.safe_load(text)
        if isinstance(data, dict) and "names" in data:
            data = data["names"]
        if isinstance(data, dict):
            data = [data[k] for k in sorted(data, key=int)]
        names = tuple(str(n) for n in data) if isinstance(data, list) else ()
    else:
        names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not names:
        raise ValueError(f"class names file {path} holds no names")
    return names


def decode_detections(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, *,
    score_threshold: float, nms_iou: float | None, merge_classes: bool = False,
    max_detections: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Threshold, optionally merge classes, and NMS candidate detections.

    Args:
        boxes: ``(K, 4)`` xyxy, any pixels; scores ``(K,)`` (NaN dropped); class ids ``(K,)``.
        score_threshold: minimum score.
        nms_iou: per-class NMS IoU; ``None`` skips NMS (set predictions, NMS in the graph).
        merge_classes: every box becomes class 0 before NMS.
        max_detections: cap, best first.

    Returns:
        New boxes, scores, class ids arrays, best score first.
    """
    # NaN scores compare False and are dropped here.
    keep = np.flatnonzero(np.asarray(scores) >= score_threshold)
    boxes, scores = np.asarray(boxes, np.float32)[keep], np.asarray(scores, np.float32)[keep]
    ids = np.asarray(class_ids, np.int64)[keep]
    if merge_classes:
        ids = np.zeros_like(ids)
    if nms_iou is None:
        order = np.argsort(-scores, kind="stable")[:max_detections]
    else:
        order = nms(boxes, scores, nms_iou, class_ids=ids, max_keep=max_detections)
    return boxes[order], scores[order], ids[order]


class OnnxDetector(Detector):
    """An exported ONNX detector run by ONNX Runtime on one pass over the whole frame.

    Thread safety: ``predict`` keeps no state between calls; one instance may be shared by
    threads (ONNX Runtime sessions allow concurrent ``run``).
    """

    def __init__(self, *, config: OnnxDetectorConfig) -> None:
        """Load and check the model.

        Args:
            config: model file, pre-processing, layout, thresholds and runtime settings.

        Raises:
            ModelMismatch: the file does not fit the settings (the message names the
                setting, the file, what was expected and what was found).
            FileNotFoundError: no such file.
        """
        path = Path(config.model_path)
        if not path.is_file():
            raise FileNotFoundError(f"parameter model_path: no model file {path}")
        self.config = config
        providers = config.runtime.providers or DEVICE_PROVIDERS[config.detector.device]
        if missing_providers(providers):
            # make_session says which and how to get them: a setting, not this file's fault.
            make_session(path, device=config.detector.device, runtime=config.runtime)
        try:
            self._session = make_session(path, device=config.detector.device,
                                         runtime=config.runtime)
        except Exception as err:  # onnxruntime's own types (InvalidProtobuf, Fail, ...)
            raise ModelMismatch(parameter="model_path", path=path,
                                expected="an ONNX model", found=f"an unreadable file ({err})"
                                ) from err
        self._check_input(path)
        self._dtype = input_dtype(self._session, config.detector.precision)
        outputs = [OutputInfo(o.name, tuple(o.shape)) for o in self._session.get_outputs()]
        self._output_names = [o.name for o in outputs]
        names = config.class_names or self._names_from_metadata(path, outputs)
        self._layout = self._resolve_layout(path, outputs, len(names))
        unknown = [c for c in config.classes if c not in names]
        if unknown:
            raise ModelMismatch(parameter="classes", path=path,
                                expected=f"classes among the model's {list(names)}",
                                found=f"{unknown}")
        self._class_filter = tuple(names.index(c) for c in config.classes)
        self._native_names = names
        self._names = (config.merge_classes_as,) if config.merge_classes_as else names

    def _check_input(self, path: Path) -> None:
        inputs = self._session.get_inputs()
        shape = list(inputs[0].shape)
        # A symbolic channel dimension (a string, or None) is taken on trust.
        channels_fixed = len(shape) == 4 and isinstance(shape[1], int)
        if len(inputs) != 1 or len(shape) != 4 or (channels_fixed and shape[1] != 3):
            raise ModelMismatch(parameter="model_path", path=path,
                                expected="one image input [1, 3, H, W]",
                                found=", ".join(f"{i.name} {list(i.shape)}" for i in inputs))
        width, height = self.config.detector.input_size
        fixed = shape[2:]
        if all(isinstance(d, int) for d in fixed) and fixed != [height, width]:
            raise ModelMismatch(parameter="input_width/input_height", path=path,
                                expected=f"input {width}x{height} (WxH)",
                                found=f"input {fixed[1]}x{fixed[0]} (WxH), {inputs[0].name} "
                                      f"{shape}")

    def _names_from_metadata(self, path: Path, outputs: list[OutputInfo]) -> tuple[str, ...]:
        meta = self._session.get_modelmeta().custom_metadata_map
        if "names" not in meta:
            raise ModelMismatch(parameter="class_names", path=path,
                                expected="class names in the model's 'names' metadata when "
                                         "class_names is not given",
                                found=f"no such metadata (outputs {[o.shape for o in outputs]})")
        # Ultralytics stores a Python dict literal such as "{0: 'person'}".
        try:
            mapping = ast.literal_eval(meta["names"])
            return tuple(str(mapping[i]) for i in sorted(mapping))
        except (ValueError, SyntaxError, TypeError, AttributeError) as err:
            raise ModelMismatch(parameter="class_names", path=path,
                                expected="'names' metadata as {id: name}",
                                found=f"{meta['names'][:80]!r} ({err})") from err

    def _resolve_layout(self, path: Path, outputs: list[OutputInfo], classes: int) -> str:
        layout = self.config.layout
        try:
            if layout == "auto":
                layout = detect_layout(outputs, classes)
            check_layout(layout, outputs, classes)
        except LayoutError as err:
            count = class_count(layout, outputs) if layout in LAYOUTS else None
            fitting = (classes, classes + 1) if layout == "detr" else (classes,)
            if self.config.layout == "auto" and count is not None and count not in fitting:
                # The usual cause: a names list of another model, or of the wrong length.
                raise ModelMismatch(parameter="class_names", path=path,
                                    expected=f"{classes} classes ({layout} layout: "
                                             f"{err.expected})",
                                    found=f"{count} classes ({err.found})") from err
            parameter = "layout" if self.config.layout != "auto" else "layout (auto)"
            expected = f"layout {layout}: {err.expected}" if err.expected else \
                "a known layout (yolo, yolo-objectness, yolo-nms, detr)"
            raise ModelMismatch(parameter=parameter, path=path, expected=expected,
                                found=err.found) from err
        return layout

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def native_class_names(self) -> tuple[str, ...]:
        """The model's own classes, before ``merge_classes_as``."""
        return self._native_names

    @property
    def layout(self) -> str:
        """The output layout in use (recognised or configured)."""
        return self._layout

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, FrameTransform]:
        """A BGR frame as the ``(1, 3, H, W)`` model tensor.

        Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            The tensor (the model's dtype) and the transform from frame to model input.
        """
        cfg = self.config
        resize = letterbox if cfg.resize == "letterbox" else stretch
        resized, transform = resize(image, cfg.detector.input_size)
        if cfg.channel_order == "rgb":
            resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        pixels = resized.astype(np.float32)
        if cfg.normalise != "none":
            pixels /= np.float32(255)
        if cfg.normalise == "imagenet":
            mean, std = IMAGENET_MEAN, IMAGENET_STD
            if cfg.channel_order == "bgr":
                mean, std = mean[::-1], std[::-1]
            pixels = (pixels - mean) / std
        tensor = pixels.transpose(2, 0, 1)[None].astype(self._dtype)
        return np.ascontiguousarray(tensor), transform

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections, xyxy in pixels of ``image``.
        """
        check_bgr(image)
        tensor, transform = self.preprocess(image)
        input_name = self._session.get_inputs()[0].name
        outputs = self._session.run(None, {input_name: tensor})
        cfg = self.config.detector
        boxes, scores, ids = decode(
            self._layout, outputs, self._output_names, num_classes=len(self._native_names),
            input_size=cfg.input_size, activation=self.config.score_activation,
            class_filter=self._class_filter or cfg.class_filter)
        # Set predictions and graphs with NMS inside are already one box per object.
        nms_iou = None if self._layout in ("detr", "yolo-nms") else cfg.nms_iou
        boxes, scores, ids = decode_detections(
            boxes, scores, ids, score_threshold=cfg.score_threshold, nms_iou=nms_iou,
            merge_classes=self.config.merge_classes_as is not None,
            max_detections=cfg.max_detections)
        frame_boxes = to_frame_pixels(boxes, transform, (image.shape[1], image.shape[0]))
        return Detections(frame_boxes, scores, ids, self._names)
