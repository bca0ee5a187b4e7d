"""From simulated outcomes to the paper's metrics (AP50, FPS, latency, violations, MB).

Answers are resolved from cached detector outputs, then the stale-answer rule
(:func:`hyperion_core.metrics.latency.answers_for_scoring`) replaces every late or missing
answer by the most recent on-time answer of an earlier frame, and AP50 is pycocotools'
(:func:`hyperion_core.metrics.coco_ap.coco_ap`) over all frames pooled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.simulate import Outcome, fps
from hyperion_core.fuse.boxes import Detections, nms
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.metrics.coco_ap import coco_ap
from hyperion_core.metrics.latency import (
    answers_for_scoring,
    latency_deviation_rate,
    violation_ratio,
)

#: Remix merges its blocks' boxes with the same NMS IoU as the edge tiles.
MERGE_IOU = 0.45


def resolve(outcome: Outcome, cache: DetectionCache, config: EnsembleConfig) -> Detections | None:
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
        return ensemble(found[0], found[1], config)
    if outcome.answer == "merge":
        if not found:
            return Detections.empty()
        merged = Detections(
            boxes=np.concatenate([d.boxes.reshape(-1, 4) for d in found]),
            scores=np.concatenate([d.scores for d in found]),
            labels=np.concatenate([d.labels for d in found]),
        )
        return merged.select(nms(merged.boxes, merged.scores, merged.labels, MERGE_IOU))
    return found[0]


def scored_answers(
    outcomes: Sequence[Outcome], cache: DetectionCache, config: EnsembleConfig
) -> list[Detections]:
    """Per frame, what is scored after the stale-answer rule."""
    answers = [resolve(o, cache, config) for o in outcomes]
    return answers_for_scoring(answers, [o.on_time for o in outcomes])


def summarise(
    runs: Sequence[Sequence[Outcome]],
    references: Sequence[Sequence[Detections]],
    *,
    budget_s: float,
    cache: DetectionCache,
    config: EnsembleConfig,
) -> dict[str, float]:
    """Metrics of one method over several runs (windows/traces), frames pooled.

    Args:
        runs: outcome lists, one per run; the stale rule applies within a run.
        references: per run, the reference detections of each frame.
        budget_s: latency budget, seconds.
        cache: detector outputs.
        config: ensembler settings.

    Returns:
        ``ap50``, ``fps``, ``mean_latency_ms``, ``p95_latency_ms``, ``violation_ratio``,
        ``latency_deviation``, ``offload_mb_per_frame``, ``frames``, ``edge_fallback_ratio``.
    """
    scored: list[Detections] = []
    refs: list[Detections] = []
    flat: list[Outcome] = []
    for run, ref in zip(runs, references, strict=True):
        scored += scored_answers(run, cache, config)
        refs += list(ref)
        flat += list(run)
    latency = np.array([o.latency_s for o in flat])
    total_time = float(latency.sum())
    return {
        "ap50": coco_ap(refs, scored)["AP50"],
        "fps": len(flat) / total_time if total_time > 0 else 0.0,
        "mean_latency_ms": float(latency.mean() * 1e3),
        "p95_latency_ms": float(np.percentile(latency, 95) * 1e3),
        "violation_ratio": violation_ratio(latency, budget_s),
        "latency_deviation": float(latency_deviation_rate(latency, budget_s).mean()),
        "offload_mb_per_frame": float(np.mean([o.bytes_sent for o in flat]) / 1e6),
        "frames": len(flat),
        "edge_answer_ratio": float(np.mean([o.answer == "edge" for o in flat])),
    }


def per_frame_ap50(
    outcomes: Sequence[Outcome],
    references: Sequence[Detections],
    cache: DetectionCache,
    config: EnsembleConfig,
) -> list[float]:
    """AP50 of each frame alone (for time series), after the stale rule."""
    answers = scored_answers(outcomes, cache, config)
    return [coco_ap([r], [a])["AP50"] for r, a in zip(references, answers, strict=True)]


def format_overhead_table(stages: dict[str, dict[str, float]]) -> str:
    """Table I from per-stage timings of a live run: share of end-to-end time per stage.

    Args:
        stages: network name → ``{"system", "device", "transmission", "cloud"}`` mean
            seconds per frame (from the graph's per-stage timings).

    Returns:
        A Markdown table with one row per network, percentages of the row's sum.
    """
    cols = ("system", "device", "transmission", "cloud")
    lines = ["| Network | System | Device | Transmission | Cloud |", "|---|---|---|---|---|"]
    for network, times in stages.items():
        total = sum(float(times.get(c, 0.0)) for c in cols)
        shares = [100.0 * float(times.get(c, 0.0)) / total if total else 0.0 for c in cols]
        lines.append(f"| {network} | " + " | ".join(f"{v:.1f}%" for v in shares) + " |")
    return "\n".join(lines)


__all__ = ["format_overhead_table", "fps", "per_frame_ap50", "resolve", "summarise"]
