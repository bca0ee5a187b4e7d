"""Live link shaping between two network namespaces (Linux, root, iproute2).

:class:`NetnsLink` creates namespaces ``edge`` and ``cloud`` (unique names per run) joined
by a veth pair whose two ends are created directly inside them, addressed from a private
/30 that exists only there, so test traffic cannot reach any other host. The edge end gets
``tbf`` (optionally under ``netem`` for delay/loss); a background thread follows the trace
with ``tc qdisc change``. Leaving the context always deletes both namespaces (which also
deletes the veth pair and qdiscs).

Without root or ``ip``/``tc``, :func:`netns_available` says why, so callers can fall back
to the in-process :class:`~hyperion_core.link.token_bucket.TokenBucket`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from hyperion_core.link.trace import DelayTrace, Trace

# tbf cannot express 0 bit/s; an outage becomes this trickle (documented behaviour).
MIN_RATE_BPS = 8_000


@dataclass(frozen=True)
class Availability:
    """Whether live shaping can run here.

    Args:
        ok: True when namespaces can be created.
        reason: why not, for logs and pytest skips ("" when ok).
    """

    ok: bool
    reason: str = ""


def netns_available() -> Availability:
    """Check root and iproute2 without changing anything."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return Availability(False, "network namespaces need Linux")
    if os.geteuid() != 0:
        return Availability(False, "network namespaces need root")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return Availability(False, f"'{tool}' not found (install iproute2)")
    return Availability(True)


class NetnsUnavailable(RuntimeError):
    """Live shaping cannot run here; use the token bucket instead."""


@dataclass(frozen=True)
class NetnsConfig:
    """Settings of the namespace pair.

    Args:
        update_period_s: how often the trace thread re-reads the rate, seconds.
        queue_latency_ms: tbf queue bound, milliseconds of data at the current rate.
        burst_s: tbf bucket as time at the current rate, seconds (at least 2 MTU).
        loss_percent: constant netem loss, percent (0 = none).
        delay_trace: optional RTT trace; half of it is applied as one-way netem delay.
    """

    update_period_s: float = 0.1
    queue_latency_ms: float = 100.0
    burst_s: float = 0.004
    loss_percent: float = 0.0
    delay_trace: DelayTrace | None = None


def _run(args: Sequence[str]) -> None:
    res = subprocess.run(list(args), capture_output=True, text=True, timeout=10, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {res.stderr.strip()}")


class NetnsLink:
    """Two namespaces joined by a trace-shaped veth pair; use as a context manager.

    Attributes (after ``__enter__``): ``edge_ns``, ``cloud_ns`` (namespace names),
    ``edge_ip``, ``cloud_ip`` (addresses valid only inside them), ``changes``
    (``[(time.monotonic() s, rate bit/s)]`` for every applied rate).
    """

    def __init__(self, *, trace: Trace, config: NetnsConfig | None = None) -> None:
        """Args:
            trace: uplink (edge → cloud) bandwidth trace, bit/s.
            config: see :class:`NetnsConfig`.
        """
        self._trace = trace
        self._cfg = config or NetnsConfig()
        tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.edge_ns, self.cloud_ns = f"hyp-edge-{tag}", f"hyp-cloud-{tag}"
        self._dev_edge, self._dev_cloud = f"hye{tag}"[:15], f"hyc{tag}"[:15]
        # A random /30 in 10.200.0.0/16; it only ever exists inside the two namespaces.
        base = secrets.randbelow(1 << 14) * 4
        self.edge_ip = f"10.200.{base >> 8}.{(base & 255) + 1}"
        self.cloud_ip = f"10.200.{base >> 8}.{(base & 255) + 2}"
        self.changes: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._created: list[str] = []

    def __enter__(self) -> NetnsLink:
        avail = netns_available()
        if not avail.ok:
            raise NetnsUnavailable(avail.reason)
        try:
            self._setup()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown()

    def exec_argv(self, side: str, argv: Sequence[str]) -> list[str]:
        """Command line running ``argv`` inside namespace ``side`` ("edge" or "cloud")."""
        ns = {"edge": self.edge_ns, "cloud": self.cloud_ns}[side]
        return ["ip", "netns", "exec", ns, *argv]

    def _tc_qdiscs(self, verb: str, rate_bps: float, t_s: float) -> None:
        rate = max(MIN_RATE_BPS, int(rate_bps))
        burst = max(3000, int(rate / 8 * self._cfg.burst_s))
        limit = max(burst + 3000, int(rate / 8 * self._cfg.queue_latency_ms / 1000.0))
        dev = ["dev", self._dev_edge]
        netem = self._netem_args(t_s)
        if netem:
            if verb == "add":
                _run(["ip", "netns", "exec", self.edge_ns, "tc", "qdisc", "add", *dev,
                      "root", "handle", "1:", "netem", *netem])
            parent = ["parent", "1:", "handle", "2:"]
        else:
            parent = ["root", "handle", "2:"]
        _run(["ip", "netns", "exec", self.edge_ns, "tc", "qdisc", verb, *dev, *parent,
              "tbf", "rate", f"{rate}bit", "burst", str(burst), "limit", str(limit)])

    def _netem_args(self, t_s: float) -> list[str]:
        args: list[str] = []
        if self._cfg.delay_trace is not None:
            one_way_ms = self._cfg.delay_trace.rtt_at(t_s) * 1000.0 / 2.0
            args += ["delay", f"{one_way_ms:.1f}ms"]
        if self._cfg.loss_percent > 0:
            args += ["loss", f"{self._cfg.loss_percent}%"]
        return args

    def _setup(self) -> None:
        for ns in (self.edge_ns, self.cloud_ns):
            _run(["ip", "netns", "add", ns])
            self._created.append(ns)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # Both veth ends are born inside the namespaces: nothing appears in the host's.
        _run(["ip", "link", "add", self._dev_edge, "netns", self.edge_ns, "type", "veth",
              "peer", "name", self._dev_cloud, "netns", self.cloud_ns])
        for ns, dev, ip in ((self.edge_ns, self._dev_edge, self.edge_ip),
                            (self.cloud_ns, self._dev_cloud, self.cloud_ip)):
            _run(["ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", dev])
            _run(["ip", "-n", ns, "link", "set", dev, "up"])
        self._t0 = time.monotonic()
        rate = self._trace.rate_at(0.0)
        self._tc_qdiscs("add", rate, 0.0)
        self.changes.append((time.monotonic(), rate))
        self._thread = threading.Thread(target=self._follow, name="netns-trace", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        last = self.changes[-1][1]
        while not self._stop.wait(self._cfg.update_period_s):
            t = time.monotonic() - self._t0
            rate = self._trace.rate_at(t)
            try:
                if self._cfg.delay_trace is not None and self._netem_args(t):
                    _run(["ip", "netns", "exec", self.edge_ns, "tc", "qdisc", "change", "dev",
                          self._dev_edge, "root", "handle", "1:", "netem",
                          *self._netem_args(t)])
                if rate != last:
                    self._tc_qdiscs("change", rate, t)
                    self.changes.append((time.monotonic(), rate))
                    last = rate
            except RuntimeError:
                if self._stop.is_set():  # namespaces going away under us: expected
                    return
                raise

    def elapsed_s(self) -> float:
        """Seconds since shaping started (the trace time)."""
        return time.monotonic() - self._t0

    def _teardown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for ns in reversed(self._created):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10,
                           check=False)
        self._created.clear()
