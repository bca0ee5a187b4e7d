"""Trace-driven edge-cloud link: uplink transfers from a throughput trace, round trips from
a ping trace.

A transfer starting at ``t0`` ends when the throughput trace has carried ``8·n`` bits since
``t0`` (outages carry nothing, so the transfer waits them out); its last bit reaches the
cloud half a round trip later, and the (few-kilobyte) answer comes back after another half
round trip — the round-trip time at the time of sending, from the 5G-MeMU ping runs of the
same scenario and network (:func:`ping_for`). The result download's own transmission time
is neglected: an answer holds a few hundred boxes (~10 kB), against megabytes sent up.

A transfer may be cancelled (the sender stops at the frame's deadline): it is then charged
only the bits carried until the cancellation, which is also what the sender observes as
throughput.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hyperion_core.link.trace import DelayTrace, Trace


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """Outcome of one transfer.

    Args:
        start_s: trace time the first bit was offered, seconds.
        end_s: when the last bit left (transmission done), or the cancel time, seconds.
        bits_sent: bits carried by ``end_s``.
        completed: every bit went out before the cancel time (if any).
    """

    start_s: float
    end_s: float
    bits_sent: float
    completed: bool

    @property
    def bytes_sent(self) -> float:
        return self.bits_sent / 8.0

    def throughput_bps(self) -> float | None:
        """Observed bit/s over the transfer; ``None`` when no time elapsed."""
        elapsed = self.end_s - self.start_s
        return self.bits_sent / elapsed if elapsed > 0 else None


@dataclass(frozen=True, kw_only=True)
class Link:
    """An uplink throughput trace with the round-trip times of the same kind of network.

    Args:
        throughput: uplink rate over time.
        ping: round-trip time over time (``None``: 0, the link as a pure pipe).
    """

    throughput: Trace
    ping: DelayTrace | None = None

    @property
    def name(self) -> str:
        return self.throughput.name

    def rtt_s(self, t_s: float) -> float:
        """Round-trip time at trace time ``t_s``, seconds."""
        return 0.0 if self.ping is None else self.ping.rtt_at(t_s)

    def send(self, start_s: float, nbytes: float, *, cancel_at_s: float = math.inf) -> Transfer:
        """Send ``nbytes`` from trace time ``start_s``, giving up at ``cancel_at_s``."""
        trace = self.throughput
        bits = 8.0 * float(nbytes)
        end = trace.time_for_bits(start_s, bits)
        if math.isfinite(end) and end <= cancel_at_s:
            return Transfer(start_s=start_s, end_s=end, bits_sent=bits, completed=True)
        # A link that never carries the rest (non-looping trace) ends the transfer at ``inf``.
        stop = max(cancel_at_s, start_s)
        carried_until = stop if math.isfinite(stop) else trace.duration_s + start_s
        sent = trace.bits_until(carried_until) - trace.bits_until(start_s)
        return Transfer(start_s=start_s, end_s=stop, bits_sent=min(sent, bits),
                        completed=False)

    def mean_rate_bps(self, t0_s: float, t1_s: float) -> float:
        """Mean rate over ``[t0_s, t1_s]``, bit/s (the rate at ``t0`` if empty): what a
        sender learns from small probes while it sends nothing."""
        trace = self.throughput
        if t1_s <= t0_s:
            return trace.rate_at(t0_s)
        return (trace.bits_until(t1_s) - trace.bits_until(t0_s)) / (t1_s - t0_s)


def ping_for(root: Path, spec: str) -> DelayTrace | None:
    """The ping run matching a throughput spec: the same run if the dataset has it, else the
    first run of the same file (ping and throughput runs are not numbered alike), else
    ``None``.

    Args:
        root: the 5G-MeMU folder holding ``ping/``.
        spec: a throughput spec (``scenario/network[/file]/run[:segment]``).
    """
    from hyperion_core.link.traces import TraceSpecError, available_specs, load_memu_ping

    try:
        return load_memu_ping(root, spec.split(":")[0])
    except (TraceSpecError, FileNotFoundError, ValueError):
        pass
    prefix = spec.split(":")[0].rsplit("/", 1)[0] + "/"
    try:
        candidates = [s for s in available_specs(root, kind="ping") if s.startswith(prefix)]
    except (TraceSpecError, FileNotFoundError, TypeError):
        return None
    return load_memu_ping(root, candidates[0]) if candidates else None
