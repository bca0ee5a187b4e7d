"""Adaptive transmission scheduler (paper Eq. 5) as a multiple-choice knapsack DP.

Maximise ``Â(q) − λ·Ŝ(q)`` subject to ``T_edge + Ŝ(q)/B̂ + T_cloud <= T_budget``. With
the byte budget ``S_max = (T_budget − T_edge − T_cloud)·B̂`` and the payload's fixed
bytes (header, class map) taken out, each class contributes its own bytes and its own
accuracy term, so the problem is a multiple-choice knapsack: one option per class,
additive size and value. The size and accuracy models are pluggable: the paper's Eqs. 3
and 4 (:mod:`.profiles`) or measured per-class tables (:mod:`.size_table`,
:mod:`.accuracy_table`), each answering ``option_bytes`` / ``option_gain`` for a grid of
(quality, downsampling) options.

Byte price ``λ`` (accuracy per MB): with ``λ = 0`` (the paper) the knapsack fills the
budget whenever any byte buys any predicted accuracy. A price lets it stop where bytes
stop paying; with the edge's own accuracy known, a frame is offloaded only when the
predicted fused accuracy net of the price beats it ("not worth its bytes").

Closed loop: ``size_correction`` multiplies each class's predicted bytes by what recent
frames showed (:class:`.size_table.SizeCorrection`). Fallbacks: the best plans under
smaller budgets, for the encoder to fall to when a real payload does not fit.

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

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from hyperion_core.schedule.profiles import RelativeErrors

#: Budget fractions of the fallback plans offered with every plan.
FALLBACK_FRACTIONS = (0.8, 0.6, 0.4)


class SizeModel(Protocol):
    """Predicts bytes per class option (:class:`.profiles.SizeProfile`,
    :class:`.size_table.SizeTable`)."""

    relative_error: RelativeErrors | None

    def supports(self, cls: int, quality: int, downsample: int) -> bool: ...

    def option_bytes(self, *, raw_bytes: float, shares: np.ndarray, quality: np.ndarray,
                     downsample: np.ndarray) -> np.ndarray: ...

    def fixed_bytes(self, raw_bytes: float) -> float: ...


class AccuracyModel(Protocol):
    """Predicts accuracy terms per class option (:class:`.profiles.AccuracyProfile`,
    :class:`.accuracy_table.ShareAccuracy`)."""

    bias: float

    def supports(self, cls: int, quality: int, downsample: int) -> bool: ...

    def option_gain(self, *, shares: np.ndarray, quality: np.ndarray,
                    downsample: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, kw_only=True)
class SchedulerConfig:
    """Scheduler settings.

    Args:
        qualities: JPEG qualities offered to every class (each must be covered by both
            models). 10..90 in steps of 10 plus 95: below 10 JPEG blocks break up, and
            above 95 bytes grow steeply for no detection gain.
        class0_downsample: downsampling factors offered to class 0 (each needs fitted
            profile coefficients); other classes are always sent at full resolution.
        budget_s: end-to-end latency budget per frame, seconds (paper: 0.4).
        size_grid: capacity units of the DP; larger is finer and slower.
        size_safety: plan against ``Ŝ(q)·(1 + size_safety)`` bytes (>= 0). ``None``: the
            size profile's recorded 95th-percentile relative under-prediction on its
            fitting records (``relative_error.p95``, floored at 0: a negative margin would
            plan past the budget), or 0 for a profile without that statistic.
        byte_price: ``λ``, predicted accuracy (0..1 scale) that one MB (10^6 bytes) must buy;
            0 = the paper's pure accuracy maximisation.
        edge_accuracy: predicted accuracy of the edge's answer alone; with it a frame is
            offloaded only when ``Â − λ·Ŝ`` beats it. ``None``: offload whenever a plan fits.
    """

    qualities: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    class0_downsample: tuple[int, ...] = (1,)
    budget_s: float = 0.4
    size_grid: int = 1000
    size_safety: float | None = None
    byte_price: float = 0.0
    edge_accuracy: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.byte_price < float("inf"):
            raise ValueError(f"byte_price must be finite and >= 0, got {self.byte_price}")


def resolve_size_safety(*, config: SchedulerConfig, size_profile: SizeModel) -> float:
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
        edge_only: nothing fits, nothing is worth its bytes, or bandwidth unknown/zero.
        qualities: ``(K,)`` JPEG quality per class (empty when edge-only).
        downsample: ``(K,)`` downsampling factor per class (empty when edge-only).
        predicted_bytes: ``Ŝ(q)`` in bytes after the size correction (0 when edge-only).
        predicted_accuracy: ``Â(q)`` (NaN when edge-only).
        byte_budget: ``S_max`` in bytes (may be <= 0).
        planned_bytes: ``Ŝ(q)·(1 + size_safety)``, the size that was fitted into
            ``byte_budget`` (0 when edge-only).
        class_bytes: ``(K,)`` the size model's bytes per class, *before* the correction
            (what the correction learns from).
        reason: why a frame is edge-only ("" otherwise or when no plan was attempted).
        fallbacks: the best plans under smaller budgets, descending, each smaller than the
            one before (no fallbacks of their own).
    """

    edge_only: bool
    qualities: tuple[int, ...]
    downsample: tuple[int, ...]
    predicted_bytes: float
    predicted_accuracy: float
    byte_budget: float
    planned_bytes: float = 0.0
    class_bytes: tuple[float, ...] = ()
    reason: str = ""
    fallbacks: tuple[Plan, ...] = field(default=(), repr=False)


def _classes(model: object) -> int:
    if hasattr(model, "classes"):
        return int(model.classes)  # type: ignore[attr-defined]
    return 1 + max(c for c, _ in model.weights)  # type: ignore[attr-defined]


class TransmissionScheduler:
    """Chooses per-class JPEG quality (and class-0 downsampling) for each frame.

    Args:
        size_profile: bytes per class option (Eq. 3 or measured tables).
        accuracy_profile: accuracy per class option (Eq. 4 or per-share tables); it fixes
            the number of classes ``K``.
        config: defaults to :class:`SchedulerConfig`.

    Raises:
        KeyError: an offered option that either model cannot predict.
    """

    def __init__(
        self,
        *,
        size_profile: SizeModel,
        accuracy_profile: AccuracyModel,
        config: SchedulerConfig | None = None,
    ) -> None:
        self._config = config or SchedulerConfig()
        self._safety = resolve_size_safety(config=self._config, size_profile=size_profile)
        self._inflate = 1.0 + self._safety
        self._size = size_profile
        self._accuracy = accuracy_profile
        self._classes = _classes(accuracy_profile)
        count = len(self._config.qualities) * max(len(self._config.class0_downsample), 1)
        # Options padded to a common count; padding is never chosen (valid = False).
        self._quality = np.full((self._classes, count), self._config.qualities[0], np.float64)
        self._factor = np.ones((self._classes, count), np.int64)
        self._valid = np.zeros((self._classes, count), bool)
        for c in range(self._classes):
            factors = self._config.class0_downsample if c == 0 else (1,)
            options = [(q, d) for d in factors for q in self._config.qualities]
            for o, (q, d) in enumerate(options):
                for model in (size_profile, accuracy_profile):
                    if not model.supports(c, q, d):
                        raise KeyError(f"{type(model).__name__} cannot predict class {c} at "
                                       f"quality {q}, downsample {d}")
                self._quality[c, o], self._factor[c, o], self._valid[c, o] = q, d, True

    @property
    def classes(self) -> int:
        """Number of classes ``K``."""
        return self._classes

    @property
    def config(self) -> SchedulerConfig:
        """The settings in force."""
        return self._config

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
        size_correction: np.ndarray | None = None,
    ) -> Plan:
        """Solve Eq. 5 for one frame.

        Args:
            shares: ``(K,)`` share of patches in each class after re-classing.
            raw_bytes: ``S0``, raw frame size in bytes.
            t_edge_s: edge processing latency already spent/expected, seconds.
            t_cloud_s: profiled cloud inference latency, seconds.
            bandwidth_bytes_per_s: ``B̂``; ``None`` (unknown) or 0 (outage) gives edge-only.
            size_correction: ``(K,)`` factors on each class's predicted bytes (``None``: 1).
        """
        shares = np.asarray(shares, np.float64).reshape(-1)
        if shares.shape[0] != self._classes or not np.isfinite(shares).all():
            raise ValueError(f"shares must be {self._classes} finite values, got {shares}")
        if bandwidth_bytes_per_s is None or not bandwidth_bytes_per_s > 0:
            return self._edge_only(0.0, "no bandwidth")
        correction = np.ones(self._classes) if size_correction is None else np.asarray(
            size_correction, np.float64).reshape(-1)
        if correction.shape[0] != self._classes or not (correction > 0).all():
            raise ValueError(f"size_correction must be {self._classes} values > 0")
        budget = byte_budget(time_left_s=self._config.budget_s - t_edge_s, t_cloud_s=t_cloud_s,
                             bandwidth_bytes_per_s=bandwidth_bytes_per_s)
        model_bytes = self._size.option_bytes(raw_bytes=raw_bytes, shares=shares,
                                              quality=self._quality, downsample=self._factor)
        gains = self._accuracy.option_gain(shares=shares, quality=self._quality,
                                           downsample=self._factor)
        options = _Options(model_bytes=np.maximum(model_bytes, 0.0), gains=gains,
                           correction=correction, fixed=self._size.fixed_bytes(raw_bytes))
        best = self._solve(options, budget)
        if best.edge_only:
            return best
        fallbacks = []
        for fraction in FALLBACK_FRACTIONS:
            smaller = self._solve(options, budget * fraction, full_budget=budget)
            last = fallbacks[-1] if fallbacks else best
            if not smaller.edge_only and smaller.predicted_bytes < last.predicted_bytes:
                fallbacks.append(smaller)
        return replace(best, fallbacks=tuple(fallbacks))

    def _solve(self, options: _Options, budget: float, *, full_budget: float | None = None
               ) -> Plan:
        """The best plan whose inflated bytes fit ``budget`` (reported against
        ``full_budget``, the frame's real budget, when given)."""
        cfg, inflate = self._config, self._inflate
        reported = budget if full_budget is None else full_budget
        capacity = budget - inflate * options.fixed
        if budget <= 0 or capacity <= 0:
            return self._edge_only(reported, f"nothing fits {max(reported, 0):.0f} B")
        grid = cfg.size_grid
        sizes = options.model_bytes * options.correction[:, None]  # expected bytes
        value = np.where(self._valid, options.gains - cfg.byte_price * sizes / 1e6, -np.inf)
        # Conservative (inflated) option sizes are what the DP packs. Round up, so rounded
        # fits imply exact fits; cap at grid+1 (never fits) so huge ratios from a tiny
        # capacity cannot overflow the integer cast.
        weights = np.minimum(np.ceil(inflate * sizes * (grid / capacity)), grid + 1)
        weights = weights.astype(np.int64)
        best = np.zeros(grid + 1)  # best[g]: max value with rounded size <= g
        choices = np.empty((self._classes, grid + 1), np.int64)
        candidates = np.empty((self._quality.shape[1], grid + 1))
        for c in range(self._classes):
            candidates.fill(-np.inf)
            # Shifted slices beat a gather here: 10 options x 1,001 cells per class.
            for o, w in enumerate(weights[c].tolist()):
                if w <= grid and np.isfinite(value[c, o]):
                    np.add(best[: grid + 1 - w], value[c, o], out=candidates[o, w:])
            choices[c] = np.argmax(candidates, axis=0)
            best = candidates.max(axis=0)
        if not np.isfinite(best[grid]):
            return self._edge_only(reported, f"nothing fits {max(reported, 0):.0f} B")
        picked = np.empty(self._classes, np.int64)
        g = grid
        for c in range(self._classes - 1, -1, -1):
            picked[c] = choices[c, g]
            g -= weights[c, picked[c]]
        rows = np.arange(self._classes)
        expected = options.fixed + float(sizes[rows, picked].sum())
        accuracy = float(options.gains[rows, picked].sum() + self._accuracy.bias)
        edge = cfg.edge_accuracy
        if edge is not None and accuracy - cfg.byte_price * expected / 1e6 <= edge:
            return self._edge_only(reported, "offload not worth its bytes")
        return Plan(
            edge_only=False,
            qualities=tuple(int(q) for q in self._quality[rows, picked]),
            downsample=tuple(int(d) for d in self._factor[rows, picked]),
            predicted_bytes=expected,
            predicted_accuracy=accuracy,
            byte_budget=float(reported),
            planned_bytes=inflate * expected,
            class_bytes=tuple(float(b) for b in options.model_bytes[rows, picked]),
        )

    @staticmethod
    def _edge_only(budget: float, reason: str) -> Plan:
        return Plan(
            edge_only=True,
            qualities=(),
            downsample=(),
            predicted_bytes=0.0,
            predicted_accuracy=float("nan"),
            byte_budget=float(budget),
            reason=reason,
        )


def byte_budget(*, time_left_s: float, t_cloud_s: float,
                bandwidth_bytes_per_s: float) -> float:
    """``S_max``: the bytes that can still go up and be answered by the deadline, given
    ``time_left_s`` to it (the budget less the edge time, at planning; the deadline less
    now and the uplink queue, at sending), the cloud's time and the uplink ``B̂`` in
    bytes/s. May be <= 0: nothing can arrive in time."""
    return (time_left_s - t_cloud_s) * bandwidth_bytes_per_s


@dataclass(frozen=True, kw_only=True, eq=False)
class _Options:
    """One frame's option table: ``(K, O)`` model bytes and gains, ``(K,)`` corrections,
    and the payload's fixed bytes."""

    model_bytes: np.ndarray
    gains: np.ndarray
    correction: np.ndarray
    fixed: float
