"""Trace-driven token-bucket shaper for in-process use by the uplink.

Tokens (bits) accrue at the trace's rate, capped at ``burst_bytes``; a send of ``n`` bytes
takes ``8n`` tokens and may drive the balance negative (debt). The sender then waits until
the trace has repaid the debt, so the bytes released by successive sends follow the
cumulative bits of the trace: after the first burst, released bytes never exceed
``burst + ∫ rate`` and lag it by at most one send. A zero rate (outage) simply repays
nothing, so a sender waits until the trace resumes or its timeout expires.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hyperion_core.link.trace import Trace


class ShaperTimeout(TimeoutError):
    """A send would wait longer than its timeout (e.g. an outage); nothing was charged."""


class ShaperClosed(RuntimeError):
    """The shaper was closed while a sender waited."""


@dataclass(frozen=True)
class ShaperConfig:
    """Token-bucket settings.

    Args:
        burst_bytes: bucket depth, bytes; how much an idle link may send at once. Keep it
            small (tens of kB) so the shaped rate follows the trace within ~one burst.
        start_offset_s: trace time at which the shaper starts, seconds.
        start_full: start with a full bucket (True) or an empty one.
    """

    burst_bytes: int = 16_000
    start_offset_s: float = 0.0
    start_full: bool = False


class TokenBucket:
    """Rate limiter whose rate follows a :class:`Trace` over (injectable) time.

    Thread-safe: concurrent senders are served in the order they call :meth:`reserve`.
    """

    def __init__(
        self, *, trace: Trace, config: ShaperConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """Args:
            trace: bandwidth trace, bit/s over seconds.
            config: bucket settings (defaults: :class:`ShaperConfig`).
            clock: monotonic time source, seconds. Inject a fake clock in tests.
            sleep: how to wait, seconds; defaults to an interruptible wait so
                :meth:`close` wakes blocked senders. With a fake clock, pass a function
                that advances it.
        """
        self._trace = trace
        self._cfg = config or ShaperConfig()
        if self._cfg.burst_bytes < 0:
            raise ValueError("burst_bytes must be >= 0")
        self._clock = clock
        self._closed = threading.Event()
        self._sleep = sleep if sleep is not None else self._interruptible_sleep
        self._lock = threading.Lock()
        self._t0 = clock()
        self._ref_trace_t = self._cfg.start_offset_s
        self._tokens = 8.0 * self._cfg.burst_bytes if self._cfg.start_full else 0.0
        self.sent_bytes = 0

    @property
    def trace(self) -> Trace:
        """The trace driving the rate."""
        return self._trace

    def trace_time(self) -> float:
        """Current position in the trace, seconds."""
        return self._cfg.start_offset_s + (self._clock() - self._t0)

    def rate_now_bps(self) -> float:
        """The trace's rate right now, bit/s."""
        return self._trace.rate_at(self.trace_time())

    def _interruptible_sleep(self, seconds: float) -> None:
        self._closed.wait(seconds)

    def _refill(self, now_t: float) -> None:
        gained = self._trace.bits_until(now_t) - self._trace.bits_until(self._ref_trace_t)
        self._tokens = min(8.0 * self._cfg.burst_bytes, self._tokens + gained)
        self._ref_trace_t = now_t

    def reserve(self, nbytes: int, *, timeout_s: float | None = None) -> float:
        """Charge ``nbytes`` and return how long the caller must wait before sending, s.

        Does not block. Use it when the caller schedules its own wait.

        Args:
            nbytes: payload size, bytes (>= 0).
            timeout_s: if the wait would exceed this many seconds, charge nothing and
                raise :class:`ShaperTimeout`. None waits as long as needed; a wait that
                never ends (non-looping trace past its end) always raises.
        """
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        with self._lock:
            if self._closed.is_set():
                raise ShaperClosed("shaper closed")
            now_t = self.trace_time()
            self._refill(now_t)
            after = self._tokens - 8.0 * nbytes
            # Debt is repaid at the trace's rate: wait until the trace has carried it.
            delay = 0.0 if after >= 0 else self._trace.time_for_bits(now_t, -after) - now_t
            limit = math.inf if timeout_s is None else timeout_s
            if math.isinf(delay) or delay > limit:
                raise ShaperTimeout(
                    f"sending {nbytes} B would wait {delay:.3f} s (limit {timeout_s} s) at "
                    f"trace time {now_t:.2f} s, rate {self._trace.rate_at(now_t):.0f} bit/s")
            self._tokens = after
            self.sent_bytes += nbytes
            return delay

    def send(self, nbytes: int, *, timeout_s: float | None = None) -> float:
        """Block until ``nbytes`` may leave at the trace's rate; returns the wait, seconds.

        Args:
            nbytes: payload size, bytes.
            timeout_s: abort (before waiting, charging nothing) if the wait would exceed
                this, seconds; raises :class:`ShaperTimeout`.

        Raises:
            ShaperClosed: :meth:`close` was called while waiting.
        """
        delay = self.reserve(nbytes, timeout_s=timeout_s)
        if delay > 0:
            self._sleep(delay)
            if self._closed.is_set():
                raise ShaperClosed("shaper closed while waiting")
        return delay

    def close(self) -> None:
        """Wake and fail every waiting sender; later sends raise :class:`ShaperClosed`."""
        self._closed.set()
