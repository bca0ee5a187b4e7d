"""Uplink bandwidth estimate: harmonic mean of the last ``k`` throughput samples (FESTIVE).

The harmonic mean is dominated by the slow samples, so one good sample does not make the
scheduler over-commit. Defined edge cases:

- no sample yet: ``prior_bytes_per_s`` (``None`` = unknown, the frame goes edge-only);
- a zero sample (outage): the window restarts from that zero, so the estimate is 0 and the
  scheduler answers edge-only; the first positive sample after it starts a fresh window,
  because pre-outage samples describe a link that no longer exists;
- negative, NaN or infinite samples are rejected with ``ValueError``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class BandwidthConfig:
    """Args:
    window: ``k``, number of most recent samples averaged (FESTIVE uses 20 chunks;
        at one sample per frame, 5 frames react within half a second at 10 fps).
    prior_bytes_per_s: estimate before any sample; ``None`` means unknown.
    """

    window: int = 5
    prior_bytes_per_s: float | None = None


class BandwidthEstimator:
    """Harmonic-mean throughput estimator over a sliding window.

    Args:
        config: window and prior; defaults to :class:`BandwidthConfig`.
    """

    def __init__(self, *, config: BandwidthConfig | None = None) -> None:
        self._config = config or BandwidthConfig()
        if self._config.window < 1:
            raise ValueError(f"window must be >= 1, got {self._config.window}")
        self._samples: deque[float] = deque(maxlen=self._config.window)

    def add_sample(self, bytes_per_s: float) -> None:
        """Record one observed throughput in bytes per second (0 = outage)."""
        value = float(bytes_per_s)
        if not value >= 0.0 or value == float("inf"):  # `not >=` also rejects NaN
            raise ValueError(f"throughput must be finite and >= 0, got {bytes_per_s}")
        if value == 0.0 or (self._samples and self._samples[-1] == 0.0):
            self._samples.clear()
        self._samples.append(value)

    @property
    def samples(self) -> tuple[float, ...]:
        """Samples currently in the window, oldest first."""
        return tuple(self._samples)

    def estimate(self) -> float | None:
        """Harmonic mean in bytes/s, the prior when empty, 0.0 during an outage."""
        if not self._samples:
            return self._config.prior_bytes_per_s
        if min(self._samples) == 0.0:
            return 0.0
        return len(self._samples) / sum(1.0 / s for s in self._samples)
