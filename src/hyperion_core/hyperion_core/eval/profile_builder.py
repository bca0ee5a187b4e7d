"""Builds the scheduler's profiles from real encodes and the answer Hyperion delivers.

For every profiling frame: the edge detections, the importance classes as the scorer makes
them (configured source, K Jenks classes, collaboration-aware re-classing), then

- **size**: the frame encoded at every offered quality (all classes alike; and with class 0
  downsampled 2x and 4x), each class's JPEG segment measured on its own →
  per-class size tables (:mod:`hyperion_core.schedule.size_table`);
- **accuracy of the delivered answer**: quality combinations over the classes, each really
  encoded, decoded and run through the cloud model, then *fused with the edge's boxes*
  (Eq. 6, the ensembler's settings) and scored with AP50 against the evaluation reference's
  confident boxes on the original frame, pooled over the frames per combination; plus the edge alone
  (``edge_accuracy``). Combinations: a strength-2 orthogonal array over the ``knots`` (every
  pair of classes sees every pair of levels), plus class 0 downsampled at every knot with
  the other classes mid-range;
- **fits**: the per-unit-share accuracy table (the scheduler's model), and for comparison
  the same as a line and the paper's plain Eq. 4, each also judged on held-out frames (fit
  on half the frames, predict the other half); per-class effects with bootstrap intervals
  over frames; the byte price by the rule of :mod:`hyperion_core.schedule.price`.

Every model output is cached by (frame, configuration), so a re-run is cheap.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.frames import PROFILING, FrameSpec, load_all
from hyperion_core.eval.models import SCORER_MAPS, Job, reference_truth
from hyperion_core.eval.payloads import PATCH, Payload
from hyperion_core.eval.runner import FrameStore, payload_sizes, run_jobs
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import (
    CalibratedFusion,
    CloudView,
    calibrate_edge,
    fuse_calibrated,
)
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.fuse.fit import FusionSample
from hyperion_core.metrics.ap_matches import ImageMatches, ap50, match_image
from hyperion_core.schedule.profiles import ProfileRecord
from hyperion_core.schedule.size_table import ClassBytes
from hyperion_core.score.jenks import JenksConfig, jenks_classes
from hyperion_core.score.reclass import ReclassConfig, reclass_patches
from hyperion_core.score.sources import ImportanceConfig, importance_map

#: Qualities the size tables are measured at (the scheduler may offer any of them).
SIZE_QUALITIES = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)


@dataclass(frozen=True, kw_only=True)
class ProfileConfig:
    """Profiling settings.

    Args:
        frames: frames to profile (default: disjoint from the evaluation's, see
            :data:`hyperion_core.eval.frames.PROFILING`).
        knots: qualities of the accuracy design (``L`` levels; an orthogonal array needs
            ``L`` prime and ``classes <= L + 1``, else every combination is run).
        low_knots: qualities below ``knots`` for slow links, profiled one class at a time
            (the other classes at the middle knot) and with class 0 downsampled.
        size_qualities: qualities of the size tables.
        class0_downsample: class-0 downsampling factors profiled (1 always).
        classes: number of importance classes ``K``.
        importance: where importance comes from (as the scorer node is configured).
        reclass: re-classing thresholds (as the scorer node).
        fusion: the ensembler's Eq. 6 settings.
        jobs: model worker processes.
        cache_dir: model-output cache.
        truth: what the answers are scored against (recorded in the provenance):
            ``"evaluation reference"`` or the human labels' file.
    """

    frames: tuple[FrameSpec, ...] = PROFILING
    knots: tuple[int, ...] = (10, 30, 50, 70, 90)
    low_knots: tuple[int, ...] = (5,)
    size_qualities: tuple[int, ...] = SIZE_QUALITIES
    class0_downsample: tuple[int, ...] = (1, 2, 4, 8)
    classes: int = 3
    importance: ImportanceConfig = field(default_factory=ImportanceConfig)
    reclass: ReclassConfig = field(default_factory=ReclassConfig)
    fusion: EnsembleConfig = field(default_factory=EnsembleConfig)
    jobs: int = 1
    cache_dir: Path = Path(".hyperion-cache")
    truth: str = "evaluation reference"


@dataclass(frozen=True, kw_only=True, eq=False)
class Measurements:
    """What profiling measured.

    Args:
        shares: ``(frames, K)`` class shares.
        raw_bytes: ``S0`` of each frame.
        class_bytes: per frame, every measured class segment (size tables).
        overhead_ratio: per measured payload, (payload − segments) / ``S0``.
        payloads: per frame, ``(qualities, downsample, real bytes)`` of the design payloads.
        combos: the accuracy design, ``(qualities, downsample)`` per combination.
        fused: ``[combo][frame]`` matches of the fused answer against the reference.
        edge: per frame, matches of the edge alone.
        truth: per frame, the ground truth it was scored against.
        edge_found: per frame, the edge's detections.
        cloud_found: ``[combo][frame]`` the cloud's detections of the payload.
        class_maps: per frame, its importance classes.
    """

    shares: np.ndarray
    raw_bytes: list[int]
    class_bytes: list[list[ClassBytes]]
    overhead_ratio: list[float]
    payloads: list[list[tuple[tuple[int, ...], int, int]]]
    combos: list[tuple[tuple[int, ...], int]]
    fused: list[list[ImageMatches]]
    edge: list[ImageMatches]
    truth: list[Detections] = field(default_factory=list)
    edge_found: list[Detections] = field(default_factory=list)
    cloud_found: list[list[Detections]] = field(default_factory=list)
    class_maps: list[np.ndarray] = field(default_factory=list)

    def fusion_samples(self, frames: np.ndarray | None = None) -> list[FusionSample]:
        """Every design payload of ``frames`` (default: all) as a fusion sample."""
        idx = range(len(self.raw_bytes)) if frames is None else frames
        return [FusionSample(edge=self.edge_found[i], cloud=found[i],
                             view=CloudView(class_map=self.class_maps[i], qualities=q,
                                            downsample=d, patch=PATCH),
                             truth=self.truth[i], frame=int(i))
                for (q, d), found in zip(self.combos, self.cloud_found, strict=True)
                for i in idx]

    def with_fusion(self, fusion: CalibratedFusion) -> Measurements:
        """The same measurements with every fused and edge answer made by ``fusion``."""
        fused = [[match_image(self.truth[i], fuse_calibrated(
                    self.edge_found[i], found[i], fusion,
                    CloudView(class_map=self.class_maps[i], qualities=q, downsample=d,
                              patch=PATCH)))
                  for i in range(len(self.raw_bytes))]
                 for (q, d), found in zip(self.combos, self.cloud_found, strict=True)]
        edge = [match_image(t, calibrate_edge(e, fusion))
                for t, e in zip(self.truth, self.edge_found, strict=True)]
        return replace(self, fused=fused, edge=edge)

    def records(self, frames: np.ndarray | None = None) -> list[ProfileRecord]:
        """One pooled record per combination over ``frames`` (default: all; repeats count
        again): mean shares, AP50 of the fused answers pooled."""
        idx = np.arange(len(self.raw_bytes)) if frames is None else np.asarray(frames)
        shares = tuple(float(v) for v in self.shares[idx].mean(axis=0))
        raw = int(sum(self.raw_bytes[i] for i in idx))
        return [ProfileRecord(shares=shares, qualities=q,
                              downsample=(d,) + (1,) * (len(q) - 1), bytes=0, raw_bytes=raw,
                              accuracy=float(np.nan_to_num(ap50([m[i] for i in idx]), nan=1.0)))
                for (q, d), m in zip(self.combos, self.fused, strict=True)]

    def edge_accuracy(self, frames: np.ndarray | None = None) -> float:
        idx = np.arange(len(self.raw_bytes)) if frames is None else np.asarray(frames)
        return float(ap50([self.edge[i] for i in idx]))


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def design_combos(knots: tuple[int, ...], classes: int) -> list[tuple[int, ...]]:
    """Quality combinations, one quality per class: rows ``(a, b, a + b, a + 2b, ...) mod L``
    over all level pairs — a strength-2 orthogonal array when ``L`` is prime and
    ``K <= L + 1`` — else every combination."""
    levels = len(knots)
    if classes < 3 or not _is_prime(levels) or classes > levels + 1:
        return list(itertools.product(knots, repeat=classes))
    rows = []
    for a, b in itertools.product(range(levels), repeat=2):
        idx = [a, b] + [(a + j * b) % levels for j in range(1, classes - 1)]
        rows.append(tuple(knots[i] for i in idx))
    return rows


def accuracy_design(cfg: ProfileConfig) -> list[tuple[tuple[int, ...], int]]:
    """The orthogonal array over ``knots`` at full resolution; each low knot for one class
    at a time; class 0 downsampled at every knot. The classes not varied sit at the middle
    knot."""
    combos = [(q, 1) for q in design_combos(cfg.knots, cfg.classes)]
    middle = cfg.knots[len(cfg.knots) // 2]

    def varied(cls: int, quality: int) -> tuple[int, ...]:
        return tuple(quality if c == cls else middle for c in range(cfg.classes))

    combos += [(varied(c, q), 1) for q in cfg.low_knots for c in range(cfg.classes)]
    for d in cfg.class0_downsample:
        if d != 1:
            combos += [(varied(0, q), d) for q in (*cfg.low_knots, *cfg.knots)]
    return combos


def class_map(importance: np.ndarray, edge: Detections, cfg: ProfileConfig) -> np.ndarray:
    """The scorer's class map of one frame: Jenks classes of ``importance``, re-classed."""
    jenks = jenks_classes(importance, JenksConfig(classes=cfg.classes))
    return reclass_patches(jenks.classes, importance, breaks=jenks.breaks,
                           boxes_xyxy=edge.boxes, scores=edge.scores, patch_size=PATCH,
                           config=cfg.reclass).astype(np.uint8)


def frame_importance(cache: DetectionCache, scorer_key: str | None, edge: Detections,
                     shape: tuple[int, int], config: ImportanceConfig) -> np.ndarray:
    """The configured importance of one frame from cached scorer maps and edge boxes."""
    grid = (-(-shape[0] // PATCH), -(-shape[1] // PATCH))
    maps = {}
    if scorer_key is not None:
        stacked = cache.get_array(scorer_key)
        maps = dict(zip(SCORER_MAPS, stacked, strict=True))  # type: ignore[arg-type]
    return importance_map(config, vit=maps, boxes_xyxy=edge.boxes, scores=edge.scores,
                          grid=grid, patch_size=PATCH)


def measure(cfg: ProfileConfig, *, frames: list[np.ndarray] | None = None,
            truth: list[Detections] | None = None) -> Measurements:
    """Measure every frame and combination of ``cfg`` (see the module docstring).

    Args:
        cfg: what to measure.
        frames: the frames to profile, ``(H, W, 3)`` BGR (default: ``cfg.frames`` loaded).
        truth: per frame, its ground truth (human labels of the profiling frames); default:
            the evaluation reference's confident boxes.
    """
    frames = load_all(cfg.frames) if frames is None else frames
    if truth is not None and len(truth) != len(frames):
        raise ValueError(f"{len(truth)} ground-truth frames for {len(frames)} frames")
    cache = DetectionCache(root=cfg.cache_dir)
    store = FrameStore(cache_root=cfg.cache_dir, frames=frames)
    original = Payload(kind="original")

    def job(model: str, i: int, payload: Payload = original) -> Job:
        return Job(model=model, frame_path=store.paths[i], digest=store.digests[i],
                   payload=payload)

    models = ["edge"] + (["reference"] if truth is None else []) \
        + (["scorer"] if cfg.importance.vit_maps() else [])
    run_jobs([job(m, i) for i in range(len(frames)) for m in models],
             cache_root=cfg.cache_dir, workers=cfg.jobs, label="profile: prepare")
    edges = [cache.get(job("edge", i).key) for i in range(len(frames))]
    refs = truth if truth is not None else [
        reference_truth(cache.get(job("reference", i).key))  # type: ignore[arg-type]
        for i in range(len(frames))]
    maps = [class_map(frame_importance(cache, job("scorer", i).key if "scorer" in models
                                       else None, edges[i], frames[i].shape[:2],
                                       cfg.importance), edges[i], cfg)  # type: ignore[arg-type]
            for i in range(len(frames))]
    shares = np.array([np.bincount(m.reshape(-1), minlength=cfg.classes)[: cfg.classes]
                       / m.size for m in maps])
    raw = [int(f.size) for f in frames]
    class_bytes: list[list[ClassBytes]] = []
    overhead, payloads = [], []
    for i in range(len(frames)):
        rows, segments = [], []
        for q in cfg.size_qualities:
            for d in cfg.class0_downsample:
                payload = Payload(kind="patch", qualities=(q,) * cfg.classes, class_map=maps[i],
                                  downsample=d)
                total, per_class = payload_sizes(cache, store.digests[i], store.paths[i],
                                                 payload)
                kept = range(cfg.classes) if d == 1 else (0,)
                segments += [ClassBytes(cls=c, quality=q, downsample=d if c == 0 else 1,
                                           share=float(shares[i, c]), nbytes=per_class[c],
                                           raw_bytes=raw[i]) for c in kept]
                overhead.append((total - sum(per_class)) / raw[i])
                rows.append(((q,) * cfg.classes, d, total))
        payloads.append(rows)
        class_bytes.append(segments)
    combos = accuracy_design(cfg)
    wanted = [[job("cloud", i, Payload(kind="patch", qualities=q, class_map=maps[i],
                                       downsample=d)) for i in range(len(frames))]
              for q, d in combos]
    run_jobs([j for row in wanted for j in row], cache_root=cfg.cache_dir, workers=cfg.jobs,
             label="profile: encode + cloud")
    clouds = [[cache.get(j.key) for j in row] for row in wanted]
    fused = [[match_image(refs[i], ensemble(edges[i], found, cfg.fusion))  # type: ignore[arg-type]
              for i, found in enumerate(row)] for row in clouds]
    for row, (q, d) in zip(wanted, combos, strict=True):
        for i, j in enumerate(row):
            payloads[i].append((q, d, payload_sizes(cache, store.digests[i], store.paths[i],
                                                    j.payload)[0]))
    return Measurements(shares=shares, raw_bytes=raw, class_bytes=class_bytes,
                        overhead_ratio=overhead, payloads=payloads, combos=combos, fused=fused,
                        edge=[match_image(refs[i], edges[i]) for i in range(len(frames))],  # type: ignore[arg-type]
                        truth=list(refs), edge_found=edges, cloud_found=clouds,  # type: ignore[arg-type]
                        class_maps=maps)
