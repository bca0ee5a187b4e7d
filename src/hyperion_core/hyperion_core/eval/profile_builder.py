"""Builds the size and accuracy profilers (paper Eqs. 3, 4) from real encodes and detections.

For every frame: importance from the scorer, 3 Jenks classes, collaboration-aware
re-classing with the edge detections (what Hyperion would send); then every combination
of the quality subset over the 3 classes is encoded with the patch codec (real bytes),
decoded, and run through the cloud model; its AP50 against the cloud model on the original
frame is the accuracy. The records are fitted by :mod:`hyperion_core.schedule.profiles`.
Detector outputs are cached by (frame hash, configuration), so a re-run is cheap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.frames import FrameSpec, load_frames
from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import PATCH, Payload
from hyperion_core.eval.runner import FrameStore, payload_size, run_jobs
from hyperion_core.metrics.coco_ap import coco_ap
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    ProfileRecord,
    SizeProfile,
    fit_accuracy_profile,
    fit_size_profile,
)
from hyperion_core.score.jenks import jenks_classes
from hyperion_core.score.reclass import reclass_patches


@dataclass(frozen=True, kw_only=True)
class ProfileConfig:
    """Profiling settings.

    Args:
        frames: frames to profile. Default: 3 array-camera frames of 2x1 tiles (1536x540,
            people at the 4K frame's scale) from clip frame 400 on, away from the
            evaluation's default frames (0 on); sized for a shared 2-core CPU.
        qualities: JPEG qualities tried per class; all ``len^3`` combinations are run (the
            full 10-level set would be 1,000 cloud passes per frame; 3 levels are 27).
        classes: number of importance classes ``K``.
        jobs: detector worker processes.
        cache_dir: detector-output cache.
    """

    frames: FrameSpec = field(
        default_factory=lambda: FrameSpec(tiles=(2, 1), first=400, frames=3)
    )
    qualities: tuple[int, ...] = (10, 50, 90)
    classes: int = 3
    jobs: int = 1
    cache_dir: Path = Path(".hyperion-cache")


def class_maps(importance: np.ndarray, edge: object, classes: int) -> np.ndarray:
    """Re-classed Jenks classes of one frame's patch importance (uint8, same shape)."""
    from hyperion_core.score.jenks import JenksConfig

    jenks = jenks_classes(importance, JenksConfig(classes=classes))
    return reclass_patches(
        jenks.classes, importance, breaks=jenks.breaks, boxes_xyxy=edge.boxes,  # type: ignore[attr-defined]
        scores=edge.scores, patch_size=PATCH,  # type: ignore[attr-defined]
    ).astype(np.uint8)


def build_records(cfg: ProfileConfig) -> list[ProfileRecord]:
    """Measure one :class:`ProfileRecord` per frame and quality combination."""
    frames = load_frames(cfg.frames)
    cache = DetectionCache(root=cfg.cache_dir)
    store = FrameStore(cache_root=cfg.cache_dir, frames=frames)

    def job(model: str, i: int, payload: Payload) -> Job:
        return Job(model=model, frame_path=store.paths[i], digest=store.digests[i],
                   payload=payload)

    original = Payload(kind="original")
    run_jobs([job(m, i, original) for i in range(len(frames)) for m in ("scorer", "edge", "cloud")],
             cache_root=cfg.cache_dir, workers=cfg.jobs, label="profile: prepare")
    combos = list(itertools.product(cfg.qualities, repeat=cfg.classes))
    wanted: list[tuple[int, tuple[int, ...], Job, np.ndarray]] = []
    for i in range(len(frames)):
        importance = cache.get_array(job("scorer", i, original).key)
        maps = class_maps(importance, cache.get(job("edge", i, original).key), cfg.classes)
        for combo in combos:
            payload = Payload(kind="patch", qualities=combo, class_map=maps)
            wanted.append((i, combo, job("cloud", i, payload), maps))
    run_jobs([w[2] for w in wanted], cache_root=cfg.cache_dir, workers=cfg.jobs,
             label="profile: encode + cloud")
    records = []
    for i, combo, cloud_job, maps in wanted:
        reference = cache.get(job("cloud", i, original).key)
        found = cache.get(cloud_job.key)
        shares = np.bincount(maps.reshape(-1), minlength=cfg.classes) / maps.size
        ap50 = coco_ap([reference], [found])["AP50"]  # type: ignore[list-item]
        records.append(ProfileRecord(
            shares=tuple(float(s) for s in shares), qualities=combo,
            bytes=payload_size(cache, store.digests[i], store.paths[i], cloud_job.payload),
            raw_bytes=int(frames[i].size), accuracy=float(np.nan_to_num(ap50, nan=1.0)),
        ))
    return records


def fit(records: list[ProfileRecord]) -> tuple[SizeProfile, AccuracyProfile]:
    """Least-squares Eq. 3 and Eq. 4 over the records."""
    return fit_size_profile(records), fit_accuracy_profile(records)
