"""Trace-driven uplink transfers: when do ``n`` bytes sent at ``t`` arrive?

The link is a :class:`hyperion_core.link.trace.Trace` (piecewise-constant bit/s, 0 =
outage). A transfer starting at ``t0`` ends when the trace has carried ``8·n`` bits since
``t0``; outages simply carry nothing, so the transfer waits them out. A transfer may be
cancelled at a deadline (Hyperion stops waiting for a late cloud answer); the bits carried
until then are what the sender observes. Propagation delay is not modelled (the 5G-MeMU
throughput lists carry none; their ping lists are not used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hyperion_core.link.trace import Trace


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """Outcome of one transfer.

    Args:
        start_s: trace time the first bit was offered, seconds.
        end_s: arrival of the last bit, or the cancel time when not completed, seconds.
        bits_sent: bits carried by ``end_s``.
        completed: every bit arrived (before the cancel time, if any).
    """

    start_s: float
    end_s: float
    bits_sent: float
    completed: bool

    def throughput_bps(self) -> float | None:
        """Observed bit/s over the transfer; ``None`` when no time elapsed."""
        elapsed = self.end_s - self.start_s
        return self.bits_sent / elapsed if elapsed > 0 else None


def transfer(
    trace: Trace, start_s: float, nbytes: float, *, cancel_at_s: float = math.inf
) -> Transfer:
    """Send ``nbytes`` from trace time ``start_s``, giving up at ``cancel_at_s``.

    Args:
        trace: uplink rate over time.
        start_s: send time, seconds (>= 0).
        nbytes: payload size in bytes (>= 0).
        cancel_at_s: stop waiting at this trace time, seconds (``inf``: never).
    """
    bits = 8.0 * float(nbytes)
    end = trace.time_for_bits(start_s, bits)
    if math.isfinite(end) and end <= cancel_at_s:
        return Transfer(start_s=start_s, end_s=end, bits_sent=bits, completed=True)
    # A link that never carries the rest (non-looping trace) ends the transfer at ``inf``.
    stop = max(cancel_at_s, start_s)
    carried_until = stop if math.isfinite(stop) else trace.duration_s + start_s
    sent = trace.bits_until(carried_until) - trace.bits_until(start_s)
    return Transfer(start_s=start_s, end_s=stop, bits_sent=sent, completed=False)


def mean_rate_bps(trace: Trace, t0_s: float, t1_s: float) -> float:
    """Mean rate the trace offers over ``[t0_s, t1_s]``, bit/s (the rate at ``t0`` if empty).

    Stands for what the sender learns from probing/acknowledgements while it sends nothing,
    so its bandwidth estimate recovers after an outage.
    """
    if t1_s <= t0_s:
        return trace.rate_at(t0_s)
    return (trace.bits_until(t1_s) - trace.bits_until(t0_s)) / (t1_s - t0_s)
