"""Choosing the scheduler's byte price from profiling data (never from evaluation results).

Rule: on each profiling frame, with an unlimited uplink, raise the price until the plan
the scheduler picks would give up more than ``1 − keep`` of the predicted accuracy gain
between the cheapest plan (every class at the lowest quality) and the most accurate one;
the price is the median of those per-frame prices. With ``keep = 0.95``: bytes are bought
until the last 5 % of what quality can predictably add, which is where a saturating
accuracy curve stops paying.
"""

from __future__ import annotations

import numpy as np

from hyperion_core.schedule.knapsack import (
    AccuracyModel,
    SchedulerConfig,
    SizeModel,
    TransmissionScheduler,
)

#: Bandwidth standing for "unlimited" (bytes/s over a 1 s budget): every plan fits.
_UNLIMITED = 1e15


def _plan(size: SizeModel, accuracy: AccuracyModel, config: SchedulerConfig,
          shares: np.ndarray, raw_bytes: int) -> tuple[float, float]:
    sched = TransmissionScheduler(size_profile=size, accuracy_profile=accuracy, config=config)
    plan = sched.plan(shares=shares, raw_bytes=raw_bytes, t_edge_s=0.0, t_cloud_s=0.0,
                      bandwidth_bytes_per_s=_UNLIMITED)
    return plan.predicted_accuracy, plan.predicted_bytes


def frame_price(
    *, size: SizeModel, accuracy: AccuracyModel, shares: np.ndarray, raw_bytes: int,
    qualities: tuple[int, ...], keep: float = 0.95,
) -> float:
    """The largest price (accuracy per MB) that keeps ``keep`` of one frame's predicted gain.

    Args:
        size, accuracy: the profile's models.
        shares: ``(K,)`` class shares of the frame.
        raw_bytes: ``S0`` of the frame.
        qualities: the qualities the scheduler offers.
        keep: share of the predicted gain to keep, in (0, 1].
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must lie in (0, 1], got {keep}")
    base = SchedulerConfig(qualities=qualities, budget_s=1.0, size_safety=0.0, size_grid=200)
    top, top_bytes = _plan(size, accuracy, base, shares, raw_bytes)
    low = SchedulerConfig(qualities=(min(qualities),), budget_s=1.0, size_safety=0.0,
                          size_grid=200)
    bottom, bottom_bytes = _plan(size, accuracy, low, shares, raw_bytes)
    if top <= bottom or top_bytes <= bottom_bytes:
        return 0.0  # quality buys nothing predictable: no price can be read off
    target = bottom + keep * (top - bottom)
    lo, hi = 0.0, 10 * (top - bottom) / ((top_bytes - bottom_bytes) / 1e6)
    for _ in range(40):
        mid = (lo + hi) / 2
        config = SchedulerConfig(qualities=qualities, budget_s=1.0, size_safety=0.0,
                                 size_grid=200, byte_price=mid)
        if _plan(size, accuracy, config, shares, raw_bytes)[0] >= target - 1e-12:
            lo = mid
        else:
            hi = mid
    return lo


def choose_byte_price(
    *, size: SizeModel, accuracy: AccuracyModel, frames: list[tuple[np.ndarray, int]],
    qualities: tuple[int, ...], keep: float = 0.95,
) -> float:
    """Median of :func:`frame_price` over profiling frames given as ``(shares, raw_bytes)``."""
    if not frames:
        raise ValueError("need at least one profiling frame")
    return float(np.median([frame_price(size=size, accuracy=accuracy, shares=s, raw_bytes=r,
                                        qualities=qualities, keep=keep) for s, r in frames]))
