"""The detectors the evaluation runs, sized to the frame, and a picklable job runner.

All models are the project's registry models (``hyperion_core.models``) with settings
expressed per pixel rather than per frame, so a crop of the array camera is processed at the
same scale as the 4K frame it stands for:

- ``cloud``: the registry's cloud model (YOLOv8s person, SAHI 640-px slices);
- ``edge``: the registry's edge model, one tile per 960x1080 frame pixels at half
  resolution (4x2 tiles on 3840x2160, the registry default);
- ``scorer``: the registry's ViT-S/14 attention scorer (patch importance, Eq. 2);
- ``elf-cnn``: Elf's server model. The paper's Mask R-CNN cannot be had here without a
  hub download, so it is replaced by the same YOLO *without* SAHI: one pass over the frame
  at the scale a 3840-px-wide frame gets in a 640 input (1/6);
- ``remix-half`` / ``remix-full``: Remix's per-block detector choices, the edge YOLO on one
  block at half resolution (1 pass) or at full resolution in 2x2 tiles (4 passes).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.eval.cache import DetectionCache, cache_key
from hyperion_core.eval.payloads import Payload, materialise
from hyperion_core.fuse.boxes import Detections
from hyperion_core.models.base import Detections as ModelDetections
from hyperion_core.models.base import Detector

#: Frame pixels one edge tile covers (3840/4 x 2160/2, the registry's 4x2 grid).
EDGE_TILE_PX = (960, 1080)
#: Width of the frame that the Elf substitute sees in one 640 pass.
ELF_FRAME_WIDTH = 3840
DETECTORS = ("cloud", "edge", "elf-cnn", "remix-half", "remix-full")


def tile_grid(width: int, height: int) -> tuple[int, int]:
    """``(columns, rows)`` of edge tiles / Remix blocks for a frame of this size."""
    return (
        max(1, round(width / EDGE_TILE_PX[0])),
        max(1, round(height / EDGE_TILE_PX[1])),
    )


def to_eval(det: ModelDetections, offset: tuple[float, float] = (0.0, 0.0)) -> Detections:
    """Model detections → fuse/metrics detections (float64 xyxy frame pixels, all persons)."""
    boxes = det.boxes.astype(np.float64).reshape(-1, 4).copy()
    boxes[:, 0::2] += offset[0]
    boxes[:, 1::2] += offset[1]
    # The registry merges the fall detector's classes into one "person": label 0 for all.
    return Detections(boxes=boxes, scores=det.scores.astype(np.float64),
                      labels=np.zeros(len(det), np.int64))


class FixedScaleDetector(Detector):
    """One pass of ``inner`` over the frame shrunk by a fixed factor, never enlarged.

    Args:
        inner: a 640-input detector that letterboxes its input.
        scale: frame → model pixels (640/3840 keeps a 4K frame's scale for any crop).
        canvas: side of the square canvas the shrunk frame is pasted on (the model input).
    """

    def __init__(self, *, inner: Detector, scale: float, canvas: int = 640) -> None:
        self.inner, self.scale, self.canvas = inner, scale, canvas

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.inner.class_names

    def predict(self, image: np.ndarray) -> ModelDetections:
        h, w = image.shape[:2]
        sw, sh = max(1, round(w * self.scale)), max(1, round(h * self.scale))
        if max(sw, sh) > self.canvas:
            raise ValueError(f"frame {w}x{h} does not fit one pass at scale {self.scale}")
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        # Pasting on a full canvas stops the letterbox from scaling the small frame back up.
        canvas = np.full((self.canvas, self.canvas, 3), 114, np.uint8)
        canvas[:sh, :sw] = small
        found = self.inner.predict(canvas)
        boxes = found.boxes / np.array([sw / w, sh / h, sw / w, sh / h], np.float32)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        return ModelDetections(boxes, found.scores, found.class_ids, found.class_names)


def build_eval_detector(name: str, *, frame_size: tuple[int, int], threads: int) -> Detector:
    """Build one of :data:`DETECTORS` for frames of ``frame_size`` = ``(width, height)``."""
    from hyperion_core.models.ort_runtime import RuntimeConfig
    from hyperion_core.models.registry import build_detector, get_spec
    from hyperion_core.models.tiled import TiledConfig, TiledDetector

    runtime = RuntimeConfig(intra_op_threads=threads, inter_op_threads=1)
    if name == "cloud":
        return build_detector(get_spec("cloud", runtime=runtime))
    plain = build_detector(get_spec("cloud", runtime=runtime, sahi=None))
    if name == "edge":
        cols, rows = tile_grid(*frame_size)
        tiling = replace(get_spec("edge").tiling, columns=cols, rows=rows)
        return build_detector(get_spec("edge", runtime=runtime, tiling=tiling))
    if name == "elf-cnn":
        return FixedScaleDetector(inner=plain, scale=640 / ELF_FRAME_WIDTH)
    if name == "remix-half":
        return TiledDetector(inner=plain, config=TiledConfig(scale=0.5, columns=1, rows=1))
    if name == "remix-full":
        return TiledDetector(inner=plain, config=TiledConfig(scale=1.0, columns=2, rows=2))
    raise KeyError(f"unknown detector {name!r}; known: {DETECTORS}")


@dataclass(frozen=True, kw_only=True, eq=False)
class Job:
    """One detector pass to run (or find in the cache).

    Args:
        model: one of :data:`DETECTORS` (or ``"scorer"``).
        frame_path: ``.npy`` file of the original frame (read by the worker).
        digest: the frame's content hash.
        payload: what the model receives.
    """

    model: str
    frame_path: Path
    digest: str
    payload: Payload

    @property
    def key(self) -> str:
        return cache_key(self.digest, self.model, *self.payload.descriptor())


_BANK: dict[tuple[str, tuple[int, int]], object] = {}


def _model(name: str, size: tuple[int, int]) -> object:
    threads = int(os.environ.get("HYPERION_EVAL_THREADS", "1"))
    if (name, size) not in _BANK:
        if name == "scorer":
            from hyperion_core.models.ort_runtime import RuntimeConfig
            from hyperion_core.models.registry import build_scorer, get_spec

            runtime = RuntimeConfig(intra_op_threads=threads, inter_op_threads=1)
            _BANK[(name, size)] = build_scorer(get_spec("scorer", runtime=runtime))
        else:
            _BANK[(name, size)] = build_eval_detector(name, frame_size=size, threads=threads)
    return _BANK[(name, size)]


def run_job(job: Job, cache_root: Path) -> str:
    """Run one job in this process and store its output; returns the cache key.

    Scorer jobs store the ``(rows, cols)`` patch importance map; detector jobs store
    detections in pixels of the full frame (block crops are shifted back).
    """
    cache = DetectionCache(root=cache_root)
    key = job.key
    frame = np.load(job.frame_path, mmap_mode="r")
    _, image = materialise(np.ascontiguousarray(frame), job.payload)
    size = (frame.shape[1], frame.shape[0])
    if job.model == "scorer":
        cache.put_array(key, _model("scorer", size).score(image).patch_map)  # type: ignore[attr-defined]
        return key
    found = _model(job.model, size).predict(image)  # type: ignore[attr-defined]
    offset = job.payload.region[:2] if job.payload.kind == "block" else (0, 0)
    cache.put(key, to_eval(found, (float(offset[0]), float(offset[1]))))
    return key


def worker_threads(jobs: int) -> int:
    """ONNX Runtime threads per worker so that ``jobs`` workers share the cores."""
    return max(1, math.floor((os.cpu_count() or 1) / max(jobs, 1)))
