"""Bootstrap confidence intervals: every compared figure gets one.

Percentile bootstrap over independent units (frames, composite tiles, trace windows): the
statistic is recomputed on ``reps`` resamples of the units drawn with replacement, and the
interval is the ``(1 − level)/2`` and ``(1 + level)/2`` quantiles of those values. For a
difference between two methods measured on the same units the resample is *paired*: one
draw of units serves both, so what the units share cancels out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Interval:
    """A point estimate with its bootstrap interval.

    Args:
        value: the statistic on all units.
        low: lower bound.
        high: upper bound.
        level: coverage, e.g. 0.95.
        reps: resamples drawn.
    """

    value: float
    low: float
    high: float
    level: float = 0.95
    reps: int = 0

    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of 0 (a difference is clear)."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high, "level": self.level,
                "reps": self.reps}

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    statistic: Callable[[np.ndarray], float], units: int, *, reps: int = 1000,
    level: float = 0.95, seed: int = 0,
) -> Interval:
    """Percentile bootstrap of ``statistic`` over ``units`` resampled with replacement.

    Args:
        statistic: maps an index array (a resample of ``range(units)``, repeats allowed) to
            a number; it is also called once with ``arange(units)`` for the point value.
            Resamples on which it returns NaN are left out.
        units: number of independent units (>= 1).
        reps: resamples.
        level: interval coverage in (0, 1).
        seed: seeds the resampling, so intervals are reproducible.
    """
    if units < 1 or reps < 1 or not 0 < level < 1:
        raise ValueError(f"need units >= 1, reps >= 1, level in (0, 1); got {units}, {reps}, "
                         f"{level}")
    rng = np.random.default_rng(seed)
    value = float(statistic(np.arange(units)))
    draws = np.array([statistic(rng.integers(0, units, units)) for _ in range(reps)], float)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return Interval(value=value, low=float("nan"), high=float("nan"), level=level, reps=0)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return Interval(value=value, low=float(low), high=float(high), level=level, reps=reps)


def mean_interval(values: np.ndarray, **kwargs: float) -> Interval:
    """Bootstrap interval of the mean of per-unit ``values``."""
    values = np.asarray(values, np.float64)
    return bootstrap(lambda idx: float(values[idx].mean()), len(values), **kwargs)  # type: ignore[arg-type]


def paired_difference(
    statistic_a: Callable[[np.ndarray], float], statistic_b: Callable[[np.ndarray], float],
    units: int, **kwargs: float,
) -> Interval:
    """Bootstrap interval of ``a − b`` with one resample of the units for both."""
    return bootstrap(lambda idx: statistic_a(idx) - statistic_b(idx), units, **kwargs)  # type: ignore[arg-type]
