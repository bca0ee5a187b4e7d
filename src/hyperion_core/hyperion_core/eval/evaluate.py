"""``hyperion eval`` end to end: prepare frames, simulate every method on every trace
window, run the model passes the answers need, score.

Frames: 100 4K frames of two real clips (:data:`hyperion_core.eval.frames.EVALUATION`),
disjoint from the profiling frames. Each trace window runs one *chunk* of consecutive
evaluation frames (chunks are dealt to windows in turn, so every chunk meets many
networks). Reference: the evaluation reference model on the original frames (never a
method's configuration); the human-labelled frames are scored separately
(:mod:`hyperion_core.eval.labelled_methods`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import PAPER, DeviceProfile, measured_profile
from hyperion_core.eval.frames import EVALUATION, PROFILING, FrameSpec, load_frames
from hyperion_core.eval.models import Job, reference_truth
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.profile_builder import PATCH, class_map, frame_importance
from hyperion_core.eval.runner import FrameStore, run_jobs
from hyperion_core.eval.timeline import FrameInputs, Settings
from hyperion_core.fuse.boxes import Detections
from hyperion_core.score.jenks import JenksConfig, jenks_classes
from hyperion_core.score.sources import ImportanceConfig

DEFAULT_PROFILES = Path(__file__).parent / "data" / "default_profiles.yaml"
METHODS = ("hyperion", "edge-only", "cloud-only", "elf", "elf-v", "remix", "v1", "v2", "v3",
           "no-refine")


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """One evaluation.

    Args:
        frames: evaluated frames.
        calibration: frames Remix profiles offline (never scored).
        links: ``(spec, Link)`` pairs to replay.
        windows_per_trace: start offsets per trace (random, from ``seed``).
        chunk: consecutive evaluation frames per window.
        device: compute-time preset, ``"paper"`` or ``"measured"``.
        settings: budget and method parameters.
        importance: Hyperion's importance source (as the scorer node is configured).
        profiles_path: the scheduler's profiles.
        methods: methods to run.
        v2_policies: fixed quality vectors of the V2 sweep (each run as ``v2:q0-q1-q2``).
        seed: seeds the window offsets.
        jobs: model worker processes.
        cache_dir: model-output cache.
        reps: bootstrap resamples.
        ground_truth: a COCO JSON with one image per evaluated frame (in order, e.g. a
            PANDA sequence converted by :mod:`.panda`): scored against it instead of the
            reference model.
        cross_fit: fit profiles, fusion and calibrations on one half of the evaluated
            frames and score the other, then swap (:mod:`.crossfit`); ``calibration`` and
            ``profiles_path`` are then not used.
    """

    frames: tuple[FrameSpec, ...] = EVALUATION
    calibration: tuple[FrameSpec, ...] = PROFILING
    links: tuple[tuple[str, Link], ...] = ()
    windows_per_trace: int = 1
    chunk: int = 20
    device: str = "paper"
    settings: Settings = field(default_factory=Settings)
    importance: ImportanceConfig = field(default_factory=ImportanceConfig)
    profiles_path: Path = DEFAULT_PROFILES
    methods: tuple[str, ...] = METHODS
    v2_policies: tuple[tuple[int, ...], ...] = ()
    seed: int = 0
    jobs: int = 1
    cache_dir: Path = Path(".hyperion-cache")
    reps: int = 500
    ground_truth: Path | None = None
    cross_fit: bool = False


@dataclass(frozen=True, kw_only=True, eq=False)
class Prepared:
    """Everything computed once before simulating.

    Args:
        inputs: per evaluation frame, its :class:`FrameInputs`.
        references: per evaluation frame, the reference detections.
        calibration: Remix's calibration frames: (inputs, reference) pairs.
        device: compute times.
        cache: model outputs and payload sizes.
    """

    inputs: list[FrameInputs]
    references: list[Detections]
    calibration: list[tuple[FrameInputs, Detections]]
    device: DeviceProfile
    cache: DetectionCache


def frame_inputs(cfg: EvalConfig, specs: tuple[FrameSpec, ...], label: str
                  ) -> tuple[list[FrameInputs], list[Detections], DetectionCache, list]:
    """Load frames, run scorer, edge and reference on them, build their class maps."""
    from hyperion_core.eval.profile_builder import ProfileConfig

    loaded = [(spec.source, f) for spec in specs for f in load_frames(spec)]
    cache = DetectionCache(root=cfg.cache_dir)
    store = FrameStore(cache_root=cfg.cache_dir, frames=[f for _, f in loaded])
    original = Payload(kind="original")

    def job(model: str, i: int) -> Job:
        return Job(model=model, frame_path=store.paths[i], digest=store.digests[i],
                   payload=original)

    run_jobs([job(m, i) for i in range(len(loaded)) for m in ("scorer", "edge", "reference")],
             cache_root=cfg.cache_dir, workers=cfg.jobs, label=f"prepare {label}")
    profile_cfg = ProfileConfig(importance=cfg.importance)
    attention = ImportanceConfig(source="attention")
    inputs, references = [], []
    for i, (source, frame) in enumerate(loaded):
        edge = cache.get(job("edge", i).key)
        shape = frame.shape[:2]
        importance = frame_importance(cache, job("scorer", i).key, edge, shape, cfg.importance)  # type: ignore[arg-type]
        raw = frame_importance(cache, job("scorer", i).key, edge, shape, attention)  # type: ignore[arg-type]
        inputs.append(FrameInputs(
            index=i, path=store.paths[i], digest=store.digests[i], shape=shape,
            raw_classes=jenks_classes(raw, JenksConfig(classes=3)).classes.astype(np.uint8),
            classes=class_map(importance, edge, profile_cfg), source=source))  # type: ignore[arg-type]
        references.append(reference_truth(cache.get(job("reference", i).key)))  # type: ignore[arg-type]
    return inputs, references, cache, loaded  # type: ignore[return-value]


def prepare(cfg: EvalConfig) -> Prepared:
    """Frames, model passes on the originals, class maps, the device profile."""
    inputs, references, cache, loaded = frame_inputs(cfg, cfg.frames, "evaluation")
    calib_inputs, calib_refs = [], []
    if not cfg.cross_fit:  # cross-fitting calibrates on the other fold's frames instead
        calib_inputs, calib_refs, _, _ = frame_inputs(cfg, cfg.calibration, "calibration")
    if cfg.ground_truth is not None:
        from hyperion_core.eval.panda import read_ground_truth

        references = read_ground_truth(cfg.ground_truth)
        if len(references) != len(inputs):
            raise ValueError(f"{cfg.ground_truth}: {len(references)} images for "
                             f"{len(inputs)} evaluated frames")
    if cfg.device == "paper":
        device = PAPER
    else:
        device = measured_profile(loaded[0][1], cache=cache, threads=max(1, cfg.jobs),
                                  scorer=bool(cfg.importance.vit_maps()))
    return Prepared(inputs=inputs, references=references,
                    calibration=list(zip(calib_inputs, calib_refs, strict=True)),
                    device=device, cache=cache)


def window_offsets(link: Link, count: int, horizon_s: float, rng: np.random.Generator
                   ) -> list[float]:
    """``count`` start times in ``[probe, duration - horizon]``, seconds, from ``rng``."""
    duration = link.throughput.duration_s
    room = max(duration - horizon_s, 1.0)
    return sorted(float(x) for x in rng.uniform(1.0, max(room, 1.0 + 1e-9), size=count))


def chunks(count: int, size: int) -> list[range]:
    """Consecutive chunks of ``size`` frames (the last may be shorter, never empty)."""
    return [range(k, min(k + size, count)) for k in range(0, count, size)]


def save_json(path: Path, document: dict[str, object]) -> None:
    """Write ``document`` as indented JSON (NaN written as null)."""

    def clean(value: object) -> object:
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, np.floating | np.integer):
            return clean(value.item())
        return value

    Path(path).write_text(json.dumps(clean(document), indent=2))


__all__ = ["DEFAULT_PROFILES", "METHODS", "PATCH", "EvalConfig", "Prepared", "chunks",
           "prepare", "save_json", "window_offsets"]
