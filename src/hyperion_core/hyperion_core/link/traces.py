"""Loaders for the 5G-MeMU uplink measurement lists (throughput and ping).

Dataset layout under a root given by the caller (never a fixed path)::

    <root>/throughput/<scenario>/<network>/<file>.list
    <root>/ping/<scenario>/<network>/<file>.list

Spec strings follow that layout, scenario first: ``scenario/network/run`` when the folder
holds one file (``driving/lte/8``), else ``scenario/network/file/run``
(``static/5g/away_p1/3``). A run with two timestamped segments (driving/5g, walking/5g
lateral) picks one with ``:segment`` (``driving/5g/1:1``), default segment 0.

Units: throughput values are Mbit/s (converted to bit/s), ping values are milliseconds
(converted to seconds). The dataset does not state the sample period of untimestamped
lists; ``period_s`` is therefore an explicit parameter whose default 0.1 s is the reading
of the timestamped lists (driving LTE run lengths agree with it). Timestamped lists carry
their own times: they are rebased to 0, and samples whose time does not increase (the
second segments contain backward jumps) are dropped, then each sample holds until the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperion_core.link.trace import DelayTrace, Trace

DEFAULT_PERIOD_S = 0.1
MBIT = 1e6
#: Two real runs shipped with the package (see its README), so the demo and the evaluator
#: work without the dataset: ``driving/lte/8`` and ``walking/5g/away/1``.
EMBEDDED_TRACES_ROOT = Path(__file__).with_name("data") / "5g-memu"
_RUN_RE = re.compile(r"Run\s+(\d+)")
_SPEC_RE = re.compile(r"^([a-z0-9_]+)/([a-z0-9_]+)(?:/([A-Za-z0-9_\-]+))?/(\d+)(?::(\d+))?$")


class TraceSpecError(ValueError):
    """A spec string names no trace; the message lists what exists."""


@dataclass(frozen=True)
class Segment:
    """One list of samples of a run, with its timestamps if the file carries them.

    Args:
        values: raw values as written (Mbit/s or ms), shape (N,).
        times_s: timestamps in seconds as written, shape (N,), or None.
    """

    values: np.ndarray
    times_s: np.ndarray | None = None


def _is_timestamp_list(values: list[float]) -> bool:
    # Timestamps climb in ~0.1 s steps; throughput/RTT lists go up and down about half
    # the time, so "nearly all steps positive and small" separates them robustly.
    if len(values) < 3:
        return False
    d = np.diff(np.asarray(values))
    return bool(np.mean(d > 0) > 0.75 and 0.0 < float(np.median(d)) <= 1.0)


def parse_list_file(path: Path | str) -> dict[int, list[Segment]]:
    """Parse one ``.list`` file into ``{run number: [segments]}`` in file order.

    Args:
        path: file to read.

    Raises:
        ValueError: on values before a ``Run N`` line, a repeated run number, or a
            non-numeric value.
    """
    path = Path(path)
    raw: dict[int, list[list[float]]] = {}
    current: int | None = None
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        s = line.strip()
        if not s or set(s) == {"#"}:
            continue
        m = _RUN_RE.fullmatch(s)
        if m:
            current = int(m.group(1))
            if current in raw:
                raise ValueError(f"{path}:{lineno}: run {current} appears twice")
            raw[current] = []
            continue
        if current is None:
            raise ValueError(f"{path}:{lineno}: values before any 'Run N' line")
        try:
            raw[current].append([float(x) for x in s.split(",") if x.strip()])
        except ValueError as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from None
    runs: dict[int, list[Segment]] = {}
    for run, lists in raw.items():
        segs: list[Segment] = []
        i = 0
        while i < len(lists):
            if _is_timestamp_list(lists[i]) and i + 1 < len(lists) \
                    and len(lists[i + 1]) == len(lists[i]):
                segs.append(Segment(values=np.array(lists[i + 1]), times_s=np.array(lists[i])))
                i += 2
            else:
                segs.append(Segment(values=np.array(lists[i])))
                i += 1
        runs[run] = segs
    return runs


def available_specs(root: Path | str, *, kind: str = "throughput") -> list[str]:
    """All run specs found under ``root/kind`` (without ``:segment``), sorted."""
    base = Path(root) / kind
    specs: list[str] = []
    for f in sorted(base.glob("*/*/*.list")):
        scenario, network = f.parent.parent.name, f.parent.name
        single = len(list(f.parent.glob("*.list"))) == 1
        prefix = f"{scenario}/{network}" if single else f"{scenario}/{network}/{f.stem}"
        specs += [f"{prefix}/{run}" for run in sorted(parse_list_file(f))]
    return specs


def _resolve(root: Path, spec: str, kind: str) -> tuple[Path, int, int]:
    m = _SPEC_RE.match(spec.strip())
    base = root / kind
    if not base.is_dir():
        raise TraceSpecError(f"no '{kind}' folder under traces root {root}")

    def fail(why: str) -> TraceSpecError:
        have = available_specs(root, kind=kind)
        shown = ", ".join(have[:40]) + (" ..." if len(have) > 40 else "")
        return TraceSpecError(
            f"{why}. Spec format is scenario/network[/file]/run[:segment], e.g. "
            f"driving/lte/8. Available under {base}: {shown}")

    if not m:
        raise fail(f"malformed trace spec {spec!r}")
    scenario, network, stem, run, _ = m.groups()
    folder = base / scenario / network
    files = sorted(folder.glob("*.list"))
    if not files:
        raise fail(f"no traces for {scenario}/{network}")
    if stem is None:
        if len(files) != 1:
            raise fail(f"{scenario}/{network} holds {len(files)} files; name one")
        path = files[0]
    else:
        path = folder / f"{stem}.list"
        if not path.is_file():
            raise fail(f"no file {stem}.list in {scenario}/{network}")
    return path, int(run), int(m.group(5) or 0)


def _segment_series(
    root: Path | str, spec: str, kind: str, period_s: float,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(times from 0 s, raw values, period) for a spec; see module docstring."""
    path, run, seg_index = _resolve(Path(root), spec, kind)
    runs = parse_list_file(path)
    if run not in runs:
        raise TraceSpecError(
            f"run {run} not in {path}; runs there: {sorted(runs)}")
    segs = runs[run]
    if seg_index >= len(segs):
        raise TraceSpecError(f"{spec}: run {run} has {len(segs)} segment(s), 0..{len(segs) - 1}")
    seg = segs[seg_index]
    if seg.values.size == 0:
        raise TraceSpecError(f"{spec}: empty run")
    if seg.times_s is None:
        return np.arange(seg.values.size) * period_s, seg.values, period_s
    t = seg.times_s - seg.times_s[0]
    # Keep only samples that move time forward (backward jumps exist in second segments).
    keep = np.ones(t.size, dtype=bool)
    last = -np.inf
    for i, ti in enumerate(t):
        keep[i] = ti > last + 1e-9
        last = max(last, ti)
    return t[keep], seg.values[keep], period_s


def load_memu(
    root: Path | str, spec: str, *, period_s: float = DEFAULT_PERIOD_S, loop: bool = True,
) -> Trace:
    """Load one 5G-MeMU throughput run as a :class:`Trace`.

    Args:
        root: the dataset folder holding ``throughput/`` (e.g. ``.../traces/5g-memu``).
        spec: ``scenario/network[/file]/run[:segment]``, e.g. ``driving/lte/8``.
        period_s: sample period of untimestamped lists, seconds (the dataset does not
            state it; 0.1 s is the timestamped files' step). For timestamped lists it is
            only the hold time of the last sample.
        loop: whether the trace repeats.

    Raises:
        TraceSpecError: the spec names nothing; the message lists the available specs.
    """
    times, values, period = _segment_series(root, spec, "throughput", period_s)
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{spec}: throughput values must be finite and >= 0")
    return Trace(times_s=times, rates_bps=values * MBIT, period_s=period, loop=loop, name=spec)


def load_memu_ping(
    root: Path | str, spec: str, *, period_s: float = DEFAULT_PERIOD_S, loop: bool = True,
) -> DelayTrace:
    """Load one 5G-MeMU ping run (RTT in ms) as a :class:`DelayTrace` in seconds.

    Args:
        root: the dataset folder holding ``ping/``.
        spec: as for :func:`load_memu`.
        period_s: ping interval, seconds (not stated by the dataset; an assumption).
        loop: whether the trace repeats.
    """
    times, values, period = _segment_series(root, spec, "ping", period_s)
    return DelayTrace(times_s=times, rtt_s=values / 1000.0, period_s=period, loop=loop,
                      name=spec)
