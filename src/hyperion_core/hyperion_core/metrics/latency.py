"""Latency metrics and the stale-answer scoring rule (how the paper measures)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hyperion_core.fuse.boxes import Detections


def latency_deviation_rate(measured_s: np.ndarray, required_s: float | np.ndarray) -> np.ndarray:
    """Per-frame ``(measured − required) / required`` (negative = early).

    Args:
        measured_s: ``(F,)`` end-to-end latencies, seconds.
        required_s: latency budget, seconds (scalar or ``(F,)``, > 0).
    """
    measured = np.asarray(measured_s, np.float64)
    required = np.asarray(required_s, np.float64)
    if np.any(required <= 0):
        raise ValueError("required latency must be > 0")
    return (measured - required) / required


def violation_ratio(measured_s: np.ndarray, required_s: float | np.ndarray) -> float:
    """Share of frames whose latency exceeds the budget; NaN for no frames."""
    measured = np.asarray(measured_s, np.float64)
    if measured.size == 0:
        return float("nan")
    return float(np.mean(measured > np.asarray(required_s, np.float64)))


def answers_for_scoring(
    answers: Sequence[Detections | None], on_time: Sequence[bool]
) -> list[Detections]:
    """Apply the stale-answer rule: a late or missing answer is replaced by the most recent
    earlier on-time answer (empty detections if there is none yet).

    Args:
        answers: per frame, the delivered detections or ``None`` (never delivered).
        on_time: per frame, whether the answer met its deadline.
    """
    if len(answers) != len(on_time):
        raise ValueError(f"{len(answers)} answers but {len(on_time)} deadline flags")
    scored: list[Detections] = []
    last = Detections.empty()
    for answer, met in zip(answers, on_time, strict=False):
        if met and answer is not None:
            last = answer
        scored.append(last)
    return scored
