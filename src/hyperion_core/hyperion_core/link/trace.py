"""Piecewise-constant bandwidth and delay traces (ROS-free).

A trace is a step function: sample ``i`` holds from ``times_s[i]`` until ``times_s[i+1]``
(the last sample holds for ``period_s``). Time ``0`` is the start of the first sample.
A looping trace repeats with period ``duration_s``; a non-looping trace has rate 0
(link down) after its end, so a shaper fed past the end blocks instead of inventing data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


def _check_times(times: np.ndarray, period_s: float) -> None:
    if times.ndim != 1 or times.size == 0:
        raise ValueError("a trace needs at least one sample")
    if not math.isfinite(period_s) or period_s <= 0:
        raise ValueError(f"period_s must be finite and > 0, got {period_s}")
    if times[0] != 0.0:
        raise ValueError("times_s must start at 0 (rebase the trace first)")
    if times.size > 1 and not np.all(np.diff(times) > 0):
        raise ValueError("times_s must be strictly increasing")


@dataclass(frozen=True)
class Trace:
    """An uplink bandwidth trace.

    Args:
        times_s: start of each sample, seconds, shape (N,), starts at 0, strictly increasing.
        rates_bps: rate of each sample, bit/s, shape (N,), finite and >= 0 (0 = outage).
        period_s: nominal sample period, seconds; also how long the last sample holds.
        loop: repeat the trace after ``duration_s`` (True) or treat the link as down after it.
        name: where the trace came from (spec string or file), for logs.
    """

    times_s: np.ndarray
    rates_bps: np.ndarray
    period_s: float = 0.1
    loop: bool = True
    name: str = ""
    # Cumulative bits at each sample boundary, shape (N+1,); derived, not a parameter.
    _cum_bits: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64)
        rates = np.asarray(self.rates_bps, dtype=np.float64)
        _check_times(times, self.period_s)
        if rates.shape != times.shape:
            raise ValueError(f"rates shape {rates.shape} != times shape {times.shape}")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError("rates_bps must be finite and >= 0")
        times.setflags(write=False)
        rates.setflags(write=False)
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "rates_bps", rates)
        durations = np.diff(np.append(times, times[-1] + self.period_s))
        cum = np.concatenate(([0.0], np.cumsum(rates * durations)))
        cum.setflags(write=False)
        object.__setattr__(self, "_cum_bits", cum)

    @classmethod
    def from_samples(
        cls, rates_bps: Sequence[float] | np.ndarray, *, period_s: float, loop: bool = True,
        name: str = "",
    ) -> Trace:
        """Trace from evenly spaced samples.

        Args:
            rates_bps: rate per sample, bit/s.
            period_s: sample period, seconds.
            loop: see class docstring.
            name: label for logs.
        """
        rates = np.asarray(rates_bps, dtype=np.float64)
        return cls(times_s=np.arange(rates.size) * period_s, rates_bps=rates,
                   period_s=period_s, loop=loop, name=name)

    @classmethod
    def from_steps(
        cls, steps: Sequence[tuple[float, float]], *, loop: bool = False, name: str = "",
    ) -> Trace:
        """Trace from ``(rate bit/s, hold seconds)`` steps, e.g. ``[(8e6, 2.5), (2e6, 2.5)]``."""
        if not steps:
            raise ValueError("a trace needs at least one step")
        holds = np.array([h for _, h in steps], dtype=np.float64)
        if np.any(holds <= 0):
            raise ValueError("every step needs a hold time > 0 s")
        times = np.concatenate(([0.0], np.cumsum(holds)[:-1]))
        return cls(times_s=times, rates_bps=np.array([r for r, _ in steps]),
                   period_s=float(holds[-1]), loop=loop, name=name)

    def scaled(self, factor: float) -> Trace:
        """The same trace with every rate times ``factor`` (> 0), named ``<name> x<factor>``."""
        if not (factor > 0 and np.isfinite(factor)):
            raise ValueError(f"rate scale must be a finite number > 0, got {factor}")
        return Trace(times_s=self.times_s, rates_bps=self.rates_bps * factor,
                     period_s=self.period_s, loop=self.loop, name=f"{self.name} x{factor:g}")

    @property
    def duration_s(self) -> float:
        """Length of one pass over the trace, seconds."""
        return float(self.times_s[-1] + self.period_s)

    @property
    def total_bits(self) -> float:
        """Bits the trace can carry in one pass."""
        return float(self._cum_bits[-1])

    def mean_rate_bps(self) -> float:
        """Time-averaged rate over one pass, bit/s."""
        return self.total_bits / self.duration_s

    def _index(self, r: float) -> int:
        return int(np.searchsorted(self.times_s, r, side="right")) - 1

    def rate_at(self, t_s: float) -> float:
        """Rate at trace time ``t_s`` (seconds, >= 0), bit/s."""
        if t_s < 0:
            raise ValueError(f"trace time must be >= 0, got {t_s}")
        if t_s >= self.duration_s:
            if not self.loop:
                return 0.0
            t_s = math.fmod(t_s, self.duration_s)
        return float(self.rates_bps[self._index(t_s)])

    def bits_until(self, t_s: float) -> float:
        """Cumulative bits the trace carries over ``[0, t_s]``."""
        if t_s <= 0:
            return 0.0
        loops = 0
        if t_s >= self.duration_s:
            if not self.loop:
                return self.total_bits
            loops = math.floor(t_s / self.duration_s)
            t_s -= loops * self.duration_s
        i = self._index(t_s)
        within = float(self._cum_bits[i] + self.rates_bps[i] * (t_s - self.times_s[i]))
        return loops * self.total_bits + within

    def time_for_bits(self, t0_s: float, bits: float) -> float:
        """Earliest trace time at which ``bits`` more bits have been carried since ``t0_s``.

        Returns ``math.inf`` if the trace never carries that much (non-looping trace,
        or a trace that is all outage).
        """
        if bits <= 0:
            return t0_s
        target = self.bits_until(t0_s) + bits
        total = self.total_bits
        if total <= 0 or (not self.loop and target > total):
            return math.inf
        # Choose the pass so that the remainder lies in (0, total]: the earliest crossing.
        loops = max(0, math.ceil(target / total) - 1)
        rem = target - loops * total
        k = int(np.searchsorted(self._cum_bits, rem, side="left"))
        i = max(k - 1, 0)
        rate = float(self.rates_bps[i])
        within = float(self.times_s[i]) + (rem - float(self._cum_bits[i])) / rate if rate else 0.0
        return max(t0_s, loops * self.duration_s + within)

    def window_rates_bps(self, window_s: float = 1.0) -> np.ndarray:
        """Mean rate per consecutive window over one pass, bit/s (last window may be partial)."""
        n = math.ceil(self.duration_s / window_s - 1e-9)
        edges = np.minimum(np.arange(n + 1) * window_s, self.duration_s)
        bits = np.array([self.bits_until(float(e)) for e in edges])
        return np.diff(bits) / np.diff(edges)


@dataclass(frozen=True)
class DelayTrace:
    """A round-trip-time trace (from ping lists), step function like :class:`Trace`.

    Args:
        times_s: start of each sample, seconds, shape (N,), starts at 0.
        rtt_s: round-trip time of each sample, seconds, shape (N,), >= 0.
        period_s: nominal sample period, seconds.
        loop: repeat after the end (True) or hold the last value.
        name: label for logs.
    """

    times_s: np.ndarray
    rtt_s: np.ndarray
    period_s: float = 0.2
    loop: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64)
        rtt = np.asarray(self.rtt_s, dtype=np.float64)
        _check_times(times, self.period_s)
        if rtt.shape != times.shape or not np.all(np.isfinite(rtt)) or np.any(rtt < 0):
            raise ValueError("rtt_s must match times_s in shape and be finite, >= 0")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "rtt_s", rtt)

    @property
    def duration_s(self) -> float:
        """Length of one pass, seconds."""
        return float(self.times_s[-1] + self.period_s)

    def rtt_at(self, t_s: float) -> float:
        """Round-trip time at trace time ``t_s`` (seconds), seconds."""
        if t_s >= self.duration_s:
            if not self.loop:
                return float(self.rtt_s[-1])
            t_s = math.fmod(t_s, self.duration_s)
        i = int(np.searchsorted(self.times_s, max(t_s, 0.0), side="right")) - 1
        return float(self.rtt_s[i])
