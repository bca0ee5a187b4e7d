"""Mahimahi packet-delivery traces <-> :class:`Trace`.

Mahimahi format: one line per delivery opportunity of one 1500-byte packet, holding the
integer millisecond at which it occurs; lines are non-decreasing (a repeated millisecond
means several packets in it); the file repeats with a period equal to its last timestamp.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hyperion_core.link.trace import Trace

MTU_BYTES = 1500
PACKET_BITS = MTU_BYTES * 8


def read_mahimahi(path: Path | str, *, bin_s: float = 0.1, name: str = "") -> Trace:
    """Read a mahimahi trace and average it into bins.

    Args:
        path: trace file.
        bin_s: width of the averaging bins, seconds (finer bins keep more burstiness).
        name: label; defaults to the file name.

    Returns:
        A looping :class:`Trace` of duration = last timestamp (rounded up to a whole bin);
        rate of a bin = packets in it × 12000 bit / ``bin_s``.

    Raises:
        ValueError: empty file, non-integer, negative or decreasing timestamps.
    """
    path = Path(path)
    stamps: list[int] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if not s.isdigit():
            raise ValueError(f"{path}:{lineno}: not a non-negative integer ms: {s!r}")
        stamps.append(int(s))
    if not stamps:
        raise ValueError(f"{path}: no delivery opportunities")
    ms = np.asarray(stamps, dtype=np.int64)
    if np.any(np.diff(ms) < 0):
        raise ValueError(f"{path}: timestamps decrease")
    period_ms = int(ms[-1])
    if period_ms <= 0:
        raise ValueError(f"{path}: last timestamp must be > 0 ms (it is the loop period)")
    n_bins = math.ceil(period_ms / 1000.0 / bin_s - 1e-9)
    # A packet at the loop period itself belongs to the end of the pass, not the next one.
    idx = np.minimum((ms / 1000.0 / bin_s).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    return Trace.from_samples(counts * PACKET_BITS / bin_s, period_s=bin_s, loop=True,
                              name=name or path.name)


def to_mahimahi_ms(trace: Trace) -> np.ndarray:
    """Delivery-opportunity milliseconds for one pass of ``trace``.

    Packet ``k`` (1-based) is placed at the first whole millisecond at which the trace has
    carried ``k × 12000`` bits, so the cumulative bytes never run ahead of the trace and
    lag it by less than one packet plus one millisecond of data.

    Raises:
        ValueError: the trace carries less than one packet per pass, or the pass would not
            end on a positive millisecond.
    """
    n_packets = int(trace.total_bits // PACKET_BITS)
    if n_packets < 1:
        raise ValueError("trace carries less than one 1500-byte packet per pass")
    # Cumulative bits are piecewise linear between sample edges, so np.interp is exact.
    edges = np.append(trace.times_s, trace.duration_s)
    cum_edges = np.array([trace.bits_until(float(e)) for e in edges])
    n_ms = math.ceil(trace.duration_s * 1000.0 - 1e-6)
    cum_ms = np.interp(np.arange(n_ms + 1) / 1000.0, edges, cum_edges)
    targets = np.arange(1, n_packets + 1) * float(PACKET_BITS)
    out = np.maximum(1, np.searchsorted(cum_ms, targets - 1e-6, side="left")).astype(np.int64)
    # Mahimahi loops at the last timestamp: pin it to the pass length so the loop period
    # matches the trace (the final opportunity may move later by < 1 packet time).
    out[-1] = max(out[-1], round(trace.duration_s * 1000.0))
    return out


def write_mahimahi(trace: Trace, path: Path | str) -> Path:
    """Write ``trace`` (one pass) as a mahimahi file; returns the path."""
    path = Path(path)
    ms = to_mahimahi_ms(trace)
    path.write_text("\n".join(str(int(v)) for v in ms) + "\n")
    return path
