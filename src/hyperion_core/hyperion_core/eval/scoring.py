"""From simulated outcomes to the paper's metrics, each with a bootstrap interval.

Answers are resolved from cached detector outputs; the stale-answer rule
(:func:`hyperion_core.metrics.latency.answers_for_scoring`) replaces every late or missing
answer by the most recent on-time answer of an earlier frame; the warm-up frames of each
run are then dropped, and every remaining frame is matched against its reference once
(:mod:`hyperion_core.metrics.ap_matches`). AP50 pools all frames of all runs; its interval
resamples whole runs (trace windows), the independent units of the evaluation, so a
difference between two methods is a paired resample of the same runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.payloads import PATCH
from hyperion_core.eval.stats import Interval, bootstrap, paired_difference
from hyperion_core.eval.timeline import Outcome
from hyperion_core.fuse.boxes import Detections, nms
from hyperion_core.fuse.calibrated import (
    CalibratedFusion,
    CloudView,
    calibrate_edge,
    fuse_calibrated,
)
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.metrics.ap_matches import ImageMatches, RankedMatches, match_image
from hyperion_core.metrics.latency import answers_for_scoring

#: Boxes of several passes (Elf partitions, Remix blocks) are merged by NMS at this IoU.
MERGE_IOU = 0.5


def merge(parts: Sequence[Detections]) -> Detections:
    """Boxes of several passes over parts of one frame, merged by class-aware NMS."""
    if not parts:
        return Detections.empty()
    merged = Detections(boxes=np.concatenate([p.boxes.reshape(-1, 4) for p in parts]),
                        scores=np.concatenate([p.scores for p in parts]),
                        labels=np.concatenate([p.labels for p in parts]))
    return merged.select(nms(merged.boxes, merged.scores, merged.labels, MERGE_IOU))


#: How a method fuses: Eq. 6 with fixed settings, or a fitted calibrated fusion (which also
#: puts its edge-only answers on the fused answers' scale).
Fusion = EnsembleConfig | CalibratedFusion


def resolve(outcome: Outcome, cache: DetectionCache, fusion: Fusion) -> Detections | None:
    """The detections a method delivered for one frame (``None`` if nothing was)."""
    if outcome.answer is None:
        return None
    found = []
    for job in outcome.jobs:
        det = cache.get(job.key)
        if det is None:
            raise KeyError(f"detector output missing for {job.model} on frame {outcome.frame}")
        found.append(det)
    if outcome.answer == "fuse":
        if isinstance(fusion, CalibratedFusion):
            payload = outcome.jobs[1].payload
            view = CloudView(class_map=payload.class_map, qualities=payload.qualities,  # type: ignore[arg-type]
                             downsample=payload.downsample, patch=PATCH)
            return fuse_calibrated(found[0], found[1], fusion, view)
        return ensemble(found[0], found[1], fusion)
    answer = merge(found) if outcome.answer == "merge" or (
        outcome.answer == "edge" and len(found) > 1) else found[0]
    if outcome.answer == "edge" and isinstance(fusion, CalibratedFusion):
        return calibrate_edge(answer, fusion)
    return answer


@dataclass(frozen=True, kw_only=True, eq=False)
class RunScores:
    """One run (a method on one trace window) after the stale rule and the warm-up.

    Args:
        matches: per scored frame, its answer matched against the reference.
        latency_s: per scored frame.
        bytes_sent: per scored frame.
        answers: per scored frame, the answer kind (``None``: nothing delivered).
        predicted_bytes, real_bytes: per scored frame that was sent (Hyperion variants).
        reasons: per scored frame answered by the edge, why the cloud did not contribute.
    """

    matches: list[ImageMatches]
    latency_s: np.ndarray
    bytes_sent: np.ndarray
    answers: list[str | None]
    predicted_bytes: np.ndarray
    real_bytes: np.ndarray
    reasons: list[str] = field(default_factory=list)


def score_run(outcomes: Sequence[Outcome], references: Sequence[Detections], *,
              cache: DetectionCache, fusion: Fusion, warmup: int) -> RunScores:
    """Score one run; ``references[i]`` belongs to ``outcomes[i]``'s frame."""
    answers = answers_for_scoring([resolve(o, cache, fusion) for o in outcomes],
                                  [o.on_time for o in outcomes])
    kept = list(range(warmup, len(outcomes)))
    sent = [i for i in kept if outcomes[i].predicted_bytes > 0]
    return RunScores(
        matches=[match_image(references[i], answers[i]) for i in kept],
        latency_s=np.array([outcomes[i].latency_s for i in kept]),
        bytes_sent=np.array([outcomes[i].bytes_sent for i in kept]),
        answers=[outcomes[i].answer for i in kept],
        predicted_bytes=np.array([outcomes[i].predicted_bytes for i in sent]),
        real_bytes=np.array([outcomes[i].real_bytes for i in sent]),
        reasons=[_reason_kind(outcomes[i].reason) for i in kept
                 if outcomes[i].answer == "edge"],
    )


def _reason_kind(reason: str) -> str:
    """A reason without its numbers ("payload 81234 B over budget 60000 B" → "payload over
    budget"), so that reasons can be counted."""
    words = [w for w in reason.split() if not any(ch.isdigit() for ch in w) and w != "B"]
    return " ".join(words) or "unspecified"


def _pooled(runs: Sequence[RunScores], pick: Callable[[RunScores], np.ndarray]
            ) -> Callable[[np.ndarray], float]:
    return lambda idx: float(np.mean(np.concatenate([pick(runs[i]) for i in idx])))


def ap50_of(runs: Sequence[RunScores]) -> Callable[[np.ndarray], float]:
    """AP50 pooled over the runs picked by an index array (repeats count again)."""
    ranked = RankedMatches([r.matches for r in runs])
    return lambda idx: ranked.ap50(np.bincount(idx, minlength=len(runs)))


def summarise(runs: Sequence[RunScores], *, budget_s: float, reps: int = 500, seed: int = 0
              ) -> dict[str, object]:
    """The paper's metrics over ``runs``, with bootstrap intervals over runs.

    Returns:
        ``ap50``, ``offload_mb_per_frame``, ``mean_latency_ms`` (Intervals as dicts), and
        ``fps``, ``p95_latency_ms``, ``violation_ratio``, ``latency_deviation``,
        ``edge_answer_ratio``, ``frames``, ``runs``; for runs with sent payloads also
        ``size_error`` (quantiles of (real − predicted)/predicted).
    """
    n = len(runs)
    latency = np.concatenate([r.latency_s for r in runs])
    total = float(latency.sum())
    kwargs = {"reps": reps, "seed": seed}
    out: dict[str, object] = {
        "ap50": bootstrap(ap50_of(runs), n, **kwargs).as_dict(),  # type: ignore[arg-type]
        "offload_mb_per_frame": bootstrap(_pooled(runs, lambda r: r.bytes_sent / 1e6), n,
                                          **kwargs).as_dict(),  # type: ignore[arg-type]
        "mean_latency_ms": bootstrap(_pooled(runs, lambda r: r.latency_s * 1e3), n,
                                     **kwargs).as_dict(),  # type: ignore[arg-type]
        "fps": len(latency) / total if total > 0 else 0.0,
        "p95_latency_ms": float(np.percentile(latency, 95) * 1e3),
        "violation_ratio": float(np.mean(latency > budget_s + 1e-9)),
        "latency_deviation": float(np.mean((latency - budget_s) / budget_s)),
        "edge_answer_ratio": float(np.mean([a == "edge" for r in runs for a in r.answers])),
        "frames": len(latency),
        "runs": n,
        "edge_reasons": dict(Counter(r for run in runs for r in run.reasons).most_common()),
    }
    predicted = np.concatenate([r.predicted_bytes for r in runs])
    real = np.concatenate([r.real_bytes for r in runs])
    if predicted.size:
        rel = (real - predicted) / predicted
        out["size_error"] = {"median_abs": float(np.median(np.abs(rel))),
                             "p95_abs": float(np.percentile(np.abs(rel), 95)),
                             "median": float(np.median(rel)), "n": int(rel.size)}
    return out


def ap50_gap(a: Sequence[RunScores], b: Sequence[RunScores], *, reps: int = 500, seed: int = 0
             ) -> Interval:
    """AP50 of ``a`` minus ``b`` over the same runs (paired bootstrap over runs)."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} runs against {len(b)}: not paired")
    return paired_difference(ap50_of(a), ap50_of(b), len(a), reps=reps, seed=seed)  # type: ignore[arg-type]


def bytes_ratio(a: Sequence[RunScores], b: Sequence[RunScores], *, reps: int = 500,
                seed: int = 0) -> Interval:
    """Mean bytes sent per frame of ``a`` over ``b``'s, same runs (paired bootstrap)."""
    def ratio(idx: np.ndarray) -> float:
        num = np.concatenate([a[i].bytes_sent for i in idx]).mean()
        den = np.concatenate([b[i].bytes_sent for i in idx]).mean()
        return float(num / den) if den > 0 else float("nan")

    return bootstrap(ratio, len(a), reps=reps, seed=seed)
