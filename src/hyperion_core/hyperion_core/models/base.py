"""The detector and attention-scorer interfaces every backend implements.

Image convention for every ``predict``/``score`` call: one frame as an ``(H, W, 3)`` uint8
array in **BGR** channel order (what OpenCV decodes and what ``sensor_msgs/Image`` with
encoding ``bgr8`` carries). Backends never modify the array they are given.

Box convention: ``(N, 4)`` float32 ``x1, y1, x2, y2`` in pixels of the image given to
``predict`` (not of the model input), origin at the top-left corner.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Device = Literal["cpu", "cuda"]
Precision = Literal["auto", "fp32", "fp16"]


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one frame, returned by value (backends keep no per-call state).

    Args:
        boxes: (N, 4) float32, xyxy in pixels of the frame given to ``predict``.
        scores: (N,) float32 confidences in [0, 1].
        class_ids: (N,) int64 indices into ``class_names``.
        class_names: names of all classes the producing model can emit.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Normalise dtypes once so consumers never guess; frozen, hence object.__setattr__.
        boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(class_ids):
            raise ValueError(
                f"length mismatch: {len(boxes)} boxes, {len(scores)} scores, "
                f"{len(class_ids)} class ids"
            )
        if self.class_names and len(class_ids) and class_ids.max() >= len(self.class_names):
            raise ValueError(f"class id {class_ids.max()} outside {self.class_names}")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "class_names", tuple(self.class_names))

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), class_names)

    def select(self, index: np.ndarray) -> Detections:
        """A new ``Detections`` with the rows picked by a boolean mask or index array."""
        return Detections(
            self.boxes[index], self.scores[index], self.class_ids[index], self.class_names
        )

    def labels(self) -> list[str]:
        """Class name of every detection (``str(id)`` where names are unknown)."""
        names = self.class_names
        return [names[i] if i < len(names) else str(i) for i in self.class_ids.tolist()]


@dataclass(frozen=True, kw_only=True)
class DetectorConfig:
    """Settings shared by all detector backends.

    Args:
        input_size: model input ``(width, height)`` in pixels; frames are letterboxed to it.
        score_threshold: detections below this confidence are dropped.
        nms_iou: IoU above which the lower-scored of two same-class boxes is suppressed.
        device: ``"cpu"`` or ``"cuda"``; a backend refuses a device it cannot use.
        precision: dtype fed to the model: ``"auto"`` takes the model's declared input type;
            ``"fp32"``/``"fp16"`` must match what the model accepts.
        class_filter: class ids to keep; empty keeps all.
        max_detections: cap on detections per ``predict`` call (after NMS).
    """

    input_size: tuple[int, int] = (640, 640)
    score_threshold: float = 0.25
    nms_iou: float = 0.45
    device: Device = "cpu"
    precision: Precision = "auto"
    class_filter: tuple[int, ...] = ()
    max_detections: int = 1000

    def __post_init__(self) -> None:
        if min(self.input_size) <= 0:
            raise ValueError(f"input_size must be positive, got {self.input_size}")
        if not 0.0 <= self.score_threshold <= 1.0 or not 0.0 <= self.nms_iou <= 1.0:
            raise ValueError("score_threshold and nms_iou must lie in [0, 1]")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")


def check_bgr(image: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``image`` is an ``(H, W, 3)`` uint8 frame (BGR)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")


class Detector(abc.ABC):
    """A detection model behind one call: BGR frame in, :class:`Detections` out."""

    @property
    @abc.abstractmethod
    def class_names(self) -> tuple[str, ...]:
        """Names of the classes this detector emits, indexed by class id."""

    @abc.abstractmethod
    def predict(self, image: np.ndarray) -> Detections:
        """Detect objects in one frame.

        Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections with boxes in pixels of ``image``.
        """


@dataclass(frozen=True, eq=False)
class TokenImportance:
    """Per-frame importance from one forward pass of a ViT.

    Args:
        token_map: (rows, cols) importance of the model's patch tokens (paper Eq. 2), mean
            attention received per token over layers, heads and queries.
        patch_map: (frame_rows, frame_cols) the same mapped onto the frame's patch grid
            (e.g. 135 x 240 for 3840x2160 with 16-px patches).
        patch_size: frame pixels per side of one ``patch_map`` cell.
        layers: number of attention layers accumulated.
        extra_maps: other importance maps of the same forward pass, by name (e.g.
            ``"saliency"``), each on the same patch grid as ``patch_map``.
    """

    token_map: np.ndarray
    patch_map: np.ndarray
    patch_size: int
    layers: int
    extra_maps: dict[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class AttentionScorer(Protocol):
    """Anything that turns a frame into per-patch importance with one forward pass."""

    def score(self, image: np.ndarray) -> TokenImportance:
        """Args:
        image: (H, W, 3) uint8 BGR frame; not modified.
        """
        ...
