"""Builds the size and accuracy profilers (paper Eqs. 3, 4) from real encodes and detections.

For every frame: importance from the scorer, 3 Jenks classes, collaboration-aware
re-classing with the edge detections (what Hyperion would send); then quality
combinations over the 3 classes are encoded with the patch codec (real bytes), decoded,
and run through the cloud model; its AP50 against the cloud model on the original frame
is the accuracy (no human labels; SPEC "Accuracy without human labels").

Which combinations (``design``): ``full`` runs all ``L^K`` of ``L`` qualities; the default
``orthogonal`` runs an orthogonal array of strength 2 (``L^2`` runs: every pair of classes
sees every pair of levels exactly once), which estimates Eq. 4's per-class main effects as
well as the full factorial does for a fraction of the cloud passes (25 instead of 125 for
5 levels), so the CPU goes into more frames instead.

Fitting: the size profile is fitted on one record per (frame, combination). Per-frame AP50
is noisy (a frame holds a few dozen people; one box more or less moves AP50 by several
points, more than quality does), so by default the accuracy profile is fitted on one
record per *combination*: AP50 pooled over all profiled frames (pycocotools over the
frames together), which averages that noise out before fitting. Weights may be
constrained non-negative (exact NNLS by enumerating active sets, the bias left free):
a higher quality never removes information, so a negative weight is fitted noise, and it
would make the scheduler starve that class.
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
    FitStats,
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
        frames: frames to profile. Default: 8 array-camera frames of 2x1 tiles (1536x540,
            people at the 4K frame's scale) at clip frames 100, 180, ..., 660: spread over
            the clip and away from the evaluation's default frames (0-8); sized for a
            shared 2-core CPU. (A bigger tile grid adds little: the array camera's tiles
            show clip frames 2 apart, i.e. nearly the same scene again.)
        qualities: JPEG qualities tried per class (``L`` levels).
        design: ``"orthogonal"`` (``L^2`` combinations, needs ``L`` prime and
            ``classes <= L + 1``, else falls back to full) or ``"full"`` (``L^K``).
        classes: number of importance classes ``K``.
        pooled: fit accuracy on AP50 pooled over frames per combination (else per frame).
        nonnegative: constrain the accuracy weights to be >= 0.
        jobs: detector worker processes.
        cache_dir: detector-output cache.
    """

    frames: FrameSpec = field(
        default_factory=lambda: FrameSpec(tiles=(2, 1), first=100, frames=8, stride=80)
    )
    qualities: tuple[int, ...] = (10, 30, 50, 70, 90)
    design: str = "orthogonal"
    classes: int = 3
    pooled: bool = True
    nonnegative: bool = True
    jobs: int = 1
    cache_dir: Path = Path(".hyperion-cache")


@dataclass(frozen=True, kw_only=True)
class Measurements:
    """Profiling measurements.

    Args:
        records: one per (frame, combination), frame-major; AP50 of that frame alone.
        pooled: one per combination: mean shares, summed bytes, AP50 pooled over frames.
    """

    records: list[ProfileRecord]
    pooled: list[ProfileRecord]


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def design_combos(
    qualities: tuple[int, ...], classes: int, design: str = "orthogonal"
) -> list[tuple[int, ...]]:
    """Quality combinations to measure, one quality per class.

    ``orthogonal``: rows ``(a, b, a + b, a + 2b, ...) mod L`` over all level pairs
    ``(a, b)``; a strength-2 orthogonal array when ``L`` is prime and ``K <= L + 1``
    (otherwise, and for ``full``, every combination).
    """
    levels = len(qualities)
    if design not in ("orthogonal", "full"):
        raise ValueError(f"unknown design {design!r}; known: orthogonal, full")
    if design == "full" or classes < 3 or not _is_prime(levels) or classes > levels + 1:
        return list(itertools.product(qualities, repeat=classes))
    rows = []
    for a, b in itertools.product(range(levels), repeat=2):
        idx = [a, b] + [(a + j * b) % levels for j in range(1, classes - 1)]
        rows.append(tuple(qualities[i] for i in idx))
    return rows


def class_maps(importance: np.ndarray, edge: object, classes: int) -> np.ndarray:
    """Re-classed Jenks classes of one frame's patch importance (uint8, same shape)."""
    from hyperion_core.score.jenks import JenksConfig

    jenks = jenks_classes(importance, JenksConfig(classes=classes))
    return reclass_patches(
        jenks.classes, importance, breaks=jenks.breaks, boxes_xyxy=edge.boxes,  # type: ignore[attr-defined]
        scores=edge.scores, patch_size=PATCH,  # type: ignore[attr-defined]
    ).astype(np.uint8)


def measure(cfg: ProfileConfig) -> Measurements:
    """Measure every frame and combination of ``cfg`` (see :class:`Measurements`)."""
    frames = load_frames(cfg.frames)
    cache = DetectionCache(root=cfg.cache_dir)
    store = FrameStore(cache_root=cfg.cache_dir, frames=frames)

    def job(model: str, i: int, payload: Payload) -> Job:
        return Job(model=model, frame_path=store.paths[i], digest=store.digests[i],
                   payload=payload)

    original = Payload(kind="original")
    run_jobs([job(m, i, original) for i in range(len(frames)) for m in ("scorer", "edge", "cloud")],
             cache_root=cfg.cache_dir, workers=cfg.jobs, label="profile: prepare")
    combos = design_combos(cfg.qualities, cfg.classes, cfg.design)
    wanted: list[tuple[int, tuple[int, ...], Job, np.ndarray]] = []
    for i in range(len(frames)):
        importance = cache.get_array(job("scorer", i, original).key)
        maps = class_maps(importance, cache.get(job("edge", i, original).key), cfg.classes)
        for combo in combos:
            payload = Payload(kind="patch", qualities=combo, class_map=maps)
            wanted.append((i, combo, job("cloud", i, payload), maps))
    run_jobs([w[2] for w in wanted], cache_root=cfg.cache_dir, workers=cfg.jobs,
             label="profile: encode + cloud")
    references = [cache.get(job("cloud", i, original).key) for i in range(len(frames))]
    records = []
    found_by_combo: dict[tuple[int, ...], list[object]] = {c: [] for c in combos}
    for i, combo, cloud_job, maps in wanted:
        found = cache.get(cloud_job.key)
        found_by_combo[combo].append(found)
        shares = np.bincount(maps.reshape(-1), minlength=cfg.classes) / maps.size
        ap50 = coco_ap([references[i]], [found])["AP50"]  # type: ignore[list-item]
        records.append(ProfileRecord(
            shares=tuple(float(s) for s in shares), qualities=combo,
            bytes=payload_size(cache, store.digests[i], store.paths[i], cloud_job.payload),
            raw_bytes=int(frames[i].size), accuracy=float(np.nan_to_num(ap50, nan=1.0)),
        ))
    pooled = []
    for c, combo in enumerate(combos):
        mine = records[c :: len(combos)]
        ap50 = coco_ap(references, found_by_combo[combo])["AP50"]  # type: ignore[arg-type]
        pooled.append(ProfileRecord(
            shares=tuple(float(v) for v in np.mean([r.shares for r in mine], axis=0)),
            qualities=combo, bytes=sum(r.bytes for r in mine),
            raw_bytes=sum(r.raw_bytes for r in mine),
            accuracy=float(np.nan_to_num(ap50, nan=1.0)),
        ))
    return Measurements(records=records, pooled=pooled)


def build_records(cfg: ProfileConfig) -> list[ProfileRecord]:
    """One :class:`ProfileRecord` per frame and combination (see :func:`measure`)."""
    return measure(cfg).records


def fit_nonnegative_accuracy(records: list[ProfileRecord]) -> AccuracyProfile:
    """Eq. 4 by least squares with every weight >= 0 (bias free), no downsampling.

    Exact NNLS for small ``K``: each subset of weights allowed to be non-zero is solved by
    unconstrained least squares; the best fit whose weights are all >= 0 wins (the empty
    subset, a constant, is always feasible).
    """
    classes = len(records[0].qualities)
    q = np.array([r.qualities for r in records], np.float64)
    target = np.array([r.accuracy for r in records], np.float64)
    n = len(records)
    if n < classes + 3:
        raise ValueError(f"accuracy profile: {n} records cannot fit {classes + 1} coefficients")
    best: tuple[float, np.ndarray, float] | None = None
    for mask in itertools.product((False, True), repeat=classes):
        cols = [c for c in range(classes) if mask[c]]
        design = np.column_stack([q[:, cols], np.ones(n)])
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        if (coef[:-1] < 0).any():
            continue
        residual = float(((design @ coef - target) ** 2).sum())
        if best is None or residual < best[0] - 1e-15:
            weights = np.zeros(classes)
            weights[cols] = coef[:-1]
            best = (residual, weights, float(coef[-1]))
    assert best is not None  # the constant fit is always feasible
    residual, weights, bias = best
    predicted = q @ weights + bias
    spread = float(((target - target.mean()) ** 2).sum())
    varies = spread > 0 and float(np.ptp(predicted)) > 0
    r = float(np.corrcoef(predicted, target)[0, 1]) if varies else 0.0
    stats = FitStats(r=r, r2=1.0 - residual / spread if spread > 0 else 1.0, n=n,
                     rmse=float(np.sqrt(residual / n)))
    return AccuracyProfile(weights={(c, 1): float(w) for c, w in enumerate(weights)},
                           bias=bias, stats=stats)


def fit(
    records: list[ProfileRecord],
    accuracy_records: list[ProfileRecord] | None = None,
    *,
    nonnegative: bool = False,
) -> tuple[SizeProfile, AccuracyProfile]:
    """Eq. 3 on ``records``; Eq. 4 on ``accuracy_records`` (default: ``records``).

    ``nonnegative`` constrains Eq. 4's weights to be >= 0 (:func:`fit_nonnegative_accuracy`);
    otherwise plain least squares.
    """
    acc = records if accuracy_records is None else accuracy_records
    accuracy = fit_nonnegative_accuracy(acc) if nonnegative else fit_accuracy_profile(acc)
    return fit_size_profile(records), accuracy
