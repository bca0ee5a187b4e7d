"""Uplink traces from files: mahimahi packet traces or two-column CSV.

- ``*.csv``: rows ``time_s,rate_mbps`` (a header row is skipped), times ascending from 0;
  each rate holds until the next row, the last for the median row spacing;
- anything else: a mahimahi packet-delivery trace (:func:`.mahimahi.read_mahimahi`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hyperion_core.link.mahimahi import read_mahimahi
from hyperion_core.link.trace import Trace


def read_csv_trace(path: Path, *, loop: bool = True) -> Trace:
    """A ``time_s,rate_mbps`` CSV as a :class:`Trace` (bit/s).

    Raises:
        ValueError: naming the file and the row, for unparsable or unordered rows.
    """
    times, rates = [], []
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                t, mbps = float(row[0]), float(row[1])
            except (ValueError, IndexError) as err:
                if number == 1:
                    continue  # a header
                raise ValueError(f"{path}:{number}: expected time_s,rate_mbps, got {row}") from err
            times.append(t)
            rates.append(mbps * 1e6)
    if len(times) < 2 or np.any(np.diff(times) <= 0) or times[0] != 0:
        raise ValueError(f"{path}: need >= 2 rows with times strictly ascending from 0")
    step = float(np.median(np.diff(times)))
    return Trace(times_s=np.array(times), rates_bps=np.array(rates), period_s=step, loop=loop,
                 name=Path(path).name)


def read_trace_file(path: Path | str) -> Trace:
    """A trace file of either format, by suffix (``.csv`` or mahimahi)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trace file {path} not found")
    return read_csv_trace(path) if path.suffix.lower() == ".csv" else read_mahimahi(path)
