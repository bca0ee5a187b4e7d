"""Adaptive transmission scheduler (paper Eq. 5) as a multiple-choice knapsack DP.

Maximise ``Â(q)`` subject to ``T_edge + Ŝ(q)/B̂ + T_cloud <= T_budget``. With the byte
budget ``S_max = (T_budget − T_edge − T_cloud)·B̂`` and Eq. 3's constant ``S0·β`` taken
out, each class contributes ``S0·α_d·p_c·q`` bytes and ``w_{c,d}·q`` accuracy, so the
problem is a multiple-choice knapsack: one option per class, additive size and value.

The DP runs over classes and a capacity discretised into ``size_grid`` units of
``(S_max − S0·β)/size_grid`` bytes. Option sizes are rounded *up* to whole units, so any
plan it returns fits the true budget; it is optimal for the rounded sizes, and loses at
most what ``K`` units of budget would buy (tests check both bounds against brute force).
Each class step is one vectorised max over an ``(options, size_grid+1)`` array.

Size margin: filling the budget to the last predicted byte turns every under-prediction
into a late transfer, and Eq. 3 is linear while JPEG bytes grow faster than linearly in
quality, so large payloads come out larger than predicted. The DP therefore plans with a
conservative size ``Ŝ(q)·(1 + size_safety)`` (every option's bytes and the ``S0·β``
constant scaled alike, so it is exactly optimal for the inflated sizes). The margin
defaults to the size fit's own 95th-percentile relative under-prediction
(:attr:`SizeProfile.relative_error`), i.e. chosen from the profiling data alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.schedule.profiles import AccuracyProfile, SizeProfile


@dataclass(frozen=True, kw_only=True)
class SchedulerConfig:
    """Scheduler settings.

    Args:
        qualities: JPEG qualities offered to every class. 10..90 in steps of 10 plus 95:
            below 10 JPEG blocks break up, and above 95 bytes grow steeply for no
            detection gain (see the benchmark's ``jpeg_bytes_by_quality``).
        class0_downsample: downsampling factors offered to class 0 (each needs fitted
            profile coefficients); other classes are always sent at full resolution.
        budget_s: end-to-end latency budget per frame, seconds (paper: 0.4).
        size_grid: capacity units of the DP; larger is finer and slower.
        size_safety: plan against ``Ŝ(q)·(1 + size_safety)`` bytes (>= 0). ``None``: the
            size profile's recorded 95th-percentile relative under-prediction on its
            fitting records (``relative_error.p95``, floored at 0: a negative margin would
            plan past the budget), or 0 for a profile without that statistic.
    """

    qualities: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    class0_downsample: tuple[int, ...] = (1,)
    budget_s: float = 0.4
    size_grid: int = 1000
    size_safety: float | None = None


def resolve_size_safety(*, config: SchedulerConfig, size_profile: SizeProfile) -> float:
    """The size margin in effect: ``config.size_safety``, else from the profile, else 0.

    Args:
        config: scheduler settings; an explicit ``size_safety`` wins.
        size_profile: supplies ``relative_error.p95`` when the config leaves it ``None``.
    """
    if config.size_safety is not None:
        value = float(config.size_safety)
        if not 0.0 <= value < float("inf"):  # `not <=` also rejects NaN
            raise ValueError(f"size_safety must be finite and >= 0, got {config.size_safety}")
        return value
    errors = size_profile.relative_error
    return max(errors.p95, 0.0) if errors is not None else 0.0


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Scheduler decision for one frame.

    Args:
        edge_only: nothing fits (or bandwidth unknown/zero): do not offload.
        qualities: ``(K,)`` JPEG quality per class (empty when edge-only).
        downsample: ``(K,)`` downsampling factor per class (empty when edge-only).
        predicted_bytes: ``Ŝ(q)`` in bytes (0 when edge-only).
        predicted_accuracy: ``Â(q)`` (NaN when edge-only).
        byte_budget: ``S_max`` in bytes (may be <= 0).
        planned_bytes: ``Ŝ(q)·(1 + size_safety)``, the size that was fitted into
            ``byte_budget`` (0 when edge-only).
    """

    edge_only: bool
    qualities: tuple[int, ...]
    downsample: tuple[int, ...]
    predicted_bytes: float
    predicted_accuracy: float
    byte_budget: float
    planned_bytes: float = 0.0


class TransmissionScheduler:
    """Chooses per-class JPEG quality (and class-0 downsampling) for each frame.

    Args:
        size_profile: fitted Eq. 3.
        accuracy_profile: fitted Eq. 4; its weights fix the number of classes ``K``.
        config: defaults to :class:`SchedulerConfig`.
    """

    def __init__(
        self,
        *,
        size_profile: SizeProfile,
        accuracy_profile: AccuracyProfile,
        config: SchedulerConfig | None = None,
    ) -> None:
        self._config = config or SchedulerConfig()
        self._safety = resolve_size_safety(config=self._config, size_profile=size_profile)
        self._inflate = 1.0 + self._safety
        self._size = size_profile
        self._accuracy = accuracy_profile
        self._classes = 1 + max(c for c, _ in accuracy_profile.weights)
        count = len(self._config.qualities) * max(len(self._config.class0_downsample), 1)
        # Options padded to a common count; padding has -inf value so it is never chosen.
        self._quality = np.zeros((self._classes, count), np.float64)
        self._factor = np.ones((self._classes, count), np.int64)
        self._slope = np.zeros((self._classes, count), np.float64)
        self._value = np.full((self._classes, count), -np.inf)
        for c in range(self._classes):
            factors = self._config.class0_downsample if c == 0 else (1,)
            options = [(q, d) for d in factors for q in self._config.qualities]
            for o, (q, d) in enumerate(options):
                if d not in size_profile.alpha or (c, d) not in accuracy_profile.weights:
                    raise KeyError(f"profiles lack coefficients for class {c}, downsample {d}")
                self._quality[c, o] = q
                self._factor[c, o] = d
                self._slope[c, o] = size_profile.alpha[d] * q
                self._value[c, o] = accuracy_profile.weights[(c, d)] * q

    @property
    def classes(self) -> int:
        """Number of classes ``K``."""
        return self._classes

    @property
    def size_safety(self) -> float:
        """The size margin in effect (see :func:`resolve_size_safety`)."""
        return self._safety

    def plan(
        self,
        *,
        shares: np.ndarray,
        raw_bytes: int,
        t_edge_s: float,
        t_cloud_s: float,
        bandwidth_bytes_per_s: float | None,
    ) -> Plan:
        """Solve Eq. 5 for one frame.

        Args:
            shares: ``(K,)`` share of patches in each class after re-classing.
            raw_bytes: ``S0``, raw frame size in bytes.
            t_edge_s: edge processing latency already spent/expected, seconds.
            t_cloud_s: profiled cloud inference latency, seconds.
            bandwidth_bytes_per_s: ``B̂``; ``None`` (unknown) or 0 (outage) gives edge-only.
        """
        shares = np.asarray(shares, np.float64).reshape(-1)
        if shares.shape[0] != self._classes or not np.isfinite(shares).all():
            raise ValueError(f"shares must be {self._classes} finite values, got {shares}")
        if bandwidth_bytes_per_s is None or not bandwidth_bytes_per_s > 0:
            return self._edge_only(0.0)
        budget = (self._config.budget_s - t_edge_s - t_cloud_s) * bandwidth_bytes_per_s
        inflate = self._inflate
        capacity = budget - inflate * raw_bytes * self._size.beta
        if budget <= 0 or capacity <= 0:
            return self._edge_only(budget)
        grid = self._config.size_grid
        # Conservative (inflated) option sizes: the DP packs these, not the bare Eq. 3.
        sizes = inflate * np.maximum(raw_bytes * shares[:, None] * self._slope, 0.0)
        # Round up, so rounded fits imply exact fits; cap at grid+1 (never fits) so huge
        # ratios from a tiny capacity cannot overflow the integer cast.
        weights = np.minimum(np.ceil(sizes * (grid / capacity)), grid + 1).astype(np.int64)
        best = np.zeros(grid + 1)  # best[g]: max value with rounded size <= g
        choices = np.empty((self._classes, grid + 1), np.int64)
        candidates = np.empty((self._quality.shape[1], grid + 1))
        for c in range(self._classes):
            candidates.fill(-np.inf)
            # Shifted slices beat a gather here: 10 options x 1,001 cells per class.
            for o, w in enumerate(weights[c].tolist()):
                if w <= grid:
                    np.add(best[: grid + 1 - w], self._value[c, o], out=candidates[o, w:])
            choices[c] = np.argmax(candidates, axis=0)
            best = candidates.max(axis=0)
        if not np.isfinite(best[grid]):
            return self._edge_only(budget)
        picked = np.empty(self._classes, np.int64)
        g = grid
        for c in range(self._classes - 1, -1, -1):
            picked[c] = choices[c, g]
            g -= weights[c, picked[c]]
        rows = np.arange(self._classes)
        planned = inflate * raw_bytes * self._size.beta + sizes[rows, picked].sum()
        return Plan(
            edge_only=False,
            qualities=tuple(int(q) for q in self._quality[rows, picked]),
            downsample=tuple(int(d) for d in self._factor[rows, picked]),
            predicted_bytes=float(planned / inflate),
            predicted_accuracy=float(self._value[rows, picked].sum() + self._accuracy.bias),
            byte_budget=float(budget),
            planned_bytes=float(planned),
        )

    @staticmethod
    def _edge_only(budget: float) -> Plan:
        return Plan(
            edge_only=True,
            qualities=(),
            downsample=(),
            predicted_bytes=0.0,
            predicted_accuracy=float("nan"),
            byte_budget=float(budget),
        )
