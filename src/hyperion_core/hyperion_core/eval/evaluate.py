"""``hyperion eval`` end to end: prepare frames, simulate every method, run detectors, score.

Frame 0 of the loaded sequence is not scored: it is Remix's offline calibration frame
(its block profile). Elf's ROI predictor (an attention LSTM over its past results) is
stood in for by Elf's *own* previous answer, grown by a margin (see
:mod:`hyperion_core.eval.simulate`); the reference boxes never reach any method.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import PAPER, DeviceProfile, measured_profile
from hyperion_core.eval.frames import FrameSpec, area_scale, load_frames
from hyperion_core.eval.models import Job, tile_grid, worker_threads
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.remix import (
    OPTIONS,
    RemixProfile,
    block_grid,
    objects_per_block,
    recall_at_50,
)
from hyperion_core.eval.runner import FrameStore, run_jobs
from hyperion_core.eval.simulate import METHODS, FrameInputs, Settings, Simulator
from hyperion_core.fuse.boxes import Detections
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.profiles import load_profiles
from hyperion_core.score.jenks import jenks_classes
from hyperion_core.score.reclass import reclass_patches

DEFAULT_PROFILES = Path(__file__).parent / "data" / "default_profiles.yaml"


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """One evaluation.

    Args:
        frames: frame source; one extra frame is loaded first as history (see module doc).
        traces: ``(spec, Trace)`` pairs to replay.
        device: compute-time preset name, ``"paper"`` or ``"measured"``.
        settings: budget and method parameters.
        windows: start offsets per trace (random, from ``seed``); frames run once per window.
        seed: seeds the window offsets (everything else is deterministic).
        jobs: detector worker processes.
        cache_dir: detector-output cache.
        profiles_path: fitted size/accuracy profiles (YAML).
        ground_truth: per evaluated frame, ground-truth detections (else the cloud model on
            the original frames is the reference).
        sweep_budgets_s: budgets of the Fig. 10 sweep, seconds (empty = no sweep).
        sweep_rate_bps: constant uplink of the sweep (paper: 4G at 47.9 Mbit/s).
        methods: methods to run.
    """

    frames: FrameSpec
    traces: tuple[tuple[str, Trace], ...]
    device: str = "paper"
    settings: Settings = field(default_factory=Settings)
    windows: int = 2
    seed: int = 0
    jobs: int = 1
    cache_dir: Path = Path(".hyperion-cache")
    profiles_path: Path = DEFAULT_PROFILES
    ground_truth: tuple[Detections, ...] | None = None
    sweep_budgets_s: tuple[float, ...] = (0.3, 0.4, 0.5, 0.65, 1.0, 2.0)
    sweep_rate_bps: float = 47.9e6
    methods: tuple[str, ...] = METHODS


def _need(cache: DetectionCache, job: Job) -> Detections:
    found = cache.get(job.key)
    if found is None:
        raise KeyError(f"missing {job.model} output")
    return found


def prepare(cfg: EvalConfig) -> dict[str, object]:
    """Load frames, run scorer/edge/reference/Remix-calibration passes, build inputs."""
    spec = replace(cfg.frames, frames=cfg.frames.frames + 1)
    frames = load_frames(spec)
    cache = DetectionCache(root=cfg.cache_dir)
    store = FrameStore(cache_root=cfg.cache_dir, frames=frames)
    h, w = frames[0].shape[:2]
    blocks = block_grid(w, h, *tile_grid(w, h))
    original = Payload(kind="original")

    def job(model: str, i: int, payload: Payload = original) -> Job:
        return Job(model=model, frame_path=store.paths[i], digest=store.digests[i],
                   payload=payload)

    prep = [job(m, i) for i in range(len(frames)) for m in ("scorer", "edge", "cloud")]
    prep += [job(o, 0, Payload(kind="block", region=b)) for b in blocks for o in OPTIONS
             if o != "skip"]
    run_jobs(prep, cache_root=cfg.cache_dir, workers=cfg.jobs, label="prepare")
    cloud_ref = [_need(cache, job("cloud", i)) for i in range(len(frames))]
    references = list(cfg.ground_truth) if cfg.ground_truth else cloud_ref[1:]
    inputs = []
    for i in range(1, len(frames)):
        importance = cache.get_array(job("scorer", i).key)
        jenks = jenks_classes(importance)
        edge = _need(cache, job("edge", i))
        classes = reclass_patches(jenks.classes, importance, breaks=jenks.breaks,
                                  boxes_xyxy=edge.boxes, scores=edge.scores, patch_size=16)
        inputs.append(FrameInputs(index=i, path=store.paths[i], digest=store.digests[i],
                                  shape=(h, w), raw_classes=jenks.classes.astype(np.uint8),
                                  classes=classes.astype(np.uint8)))
    calib = cloud_ref[0]  # frame 0 is never scored, so its reference is the cloud's
    recall = {"skip": 0.0}
    for option in ("remix-half", "remix-full"):
        parts = [_need(cache, job(option, 0, Payload(kind="block", region=b))) for b in blocks]
        found = Detections(boxes=np.concatenate([p.boxes.reshape(-1, 4) for p in parts]),
                           scores=np.concatenate([p.scores for p in parts]),
                           labels=np.concatenate([p.labels for p in parts]))
        recall[option] = recall_at_50(calib, found)
    remix = RemixProfile(blocks=tuple(blocks), objects=objects_per_block(calib, blocks),
                         recall=recall)
    if cfg.device == "paper":
        device: DeviceProfile = PAPER
    else:
        device = measured_profile(frames[1], cache=cache, scale=area_scale(frames[1]),
                                  threads=worker_threads(cfg.jobs))
    return {"inputs": inputs, "references": references, "remix": remix, "device": device,
            "scale": area_scale(frames[0]), "cache": cache,
            "reference": "ground-truth" if cfg.ground_truth else "cloud-original"}


def window_offsets(
    trace: Trace, count: int, horizon_s: float, rng: np.random.Generator
) -> list[float]:
    """``count`` start times in ``[0, duration - horizon]``, seconds, from ``rng``."""
    room = max(trace.duration_s - horizon_s, 0.0)
    return sorted(float(x) for x in rng.uniform(0.0, room, size=count))


def save_json(path: Path, document: dict[str, object]) -> None:
    """Write ``document`` as indented JSON (NaN written as null)."""

    def clean(value: object) -> object:
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    Path(path).write_text(json.dumps(clean(document), indent=2))


def simulator(cfg: EvalConfig, prep: dict[str, object], settings: Settings) -> Simulator:
    """A simulator over the prepared frames with ``settings``."""
    return Simulator(settings=settings, device=prep["device"], frames=prep["inputs"],  # type: ignore[arg-type]
                     profiles=load_profiles(cfg.profiles_path), remix=prep["remix"],  # type: ignore[arg-type]
                     scale=float(prep["scale"]), cache=prep["cache"])  # type: ignore[arg-type]
