"""Per-node counters (drops, malformed messages, evictions) published on ``/diagnostics``.

Counters are incremented from callbacks and worker threads, hence the lock. The status is
WARN while any counter named in ``warn_on`` grew since the previous report, OK otherwise,
so a viewer shows a node that is dropping work *now* rather than one that once did.
"""

from __future__ import annotations

import threading
from collections import Counter

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from hyperion_runtime import qos


class Counters:
    """Thread-safe named event counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name``."""
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        """Current value of ``name`` (0 if never counted)."""
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counts)


#: Key of the node's lifecycle state among its diagnostic values, and its active value:
#: a camera can wait until the nodes it feeds said they are active (camera_node).
LIFECYCLE_KEY = "lifecycle"
ACTIVE = "active"


class DiagnosticsReporter:
    """Publishes a node's counters as one ``DiagnosticStatus`` every ``period_s``."""

    def __init__(
        self, *, node: Node, counters: Counters, period_s: float,
        warn_on: tuple[str, ...] = (),
    ) -> None:
        """Args:
        node: the node that owns the timer and publisher.
        counters: counters to report.
        period_s: report period, seconds.
        warn_on: counters whose growth since the last report makes the status WARN.
        """
        self._node = node
        self._counters = counters
        self._warn_on = warn_on
        self._last: dict[str, int] = {}
        self._extra: dict[str, str] = {}
        self._pub = node.create_publisher(DiagnosticArray, qos.DIAGNOSTICS, qos.diagnostics_qos())
        self._timer = node.create_timer(period_s, self.publish)

    def set_value(self, key: str, value: object) -> None:
        """Report ``key: value`` alongside the counters (e.g. a latency)."""
        self._extra[key] = str(value)

    def publish(self) -> None:
        """Publish one status now."""
        counts = self._counters.snapshot()
        grew = [k for k in self._warn_on if counts.get(k, 0) > self._last.get(k, 0)]
        self._last = counts
        status = DiagnosticStatus(
            name=f"hyperion: {self._node.get_name()}",
            hardware_id=self._node.get_fully_qualified_name(),
            level=DiagnosticStatus.WARN if grew else DiagnosticStatus.OK,
            message=f"growing: {', '.join(grew)}" if grew else "ok",
        )
        status.values = [KeyValue(key=k, value=str(v)) for k, v in sorted(counts.items())]
        status.values += [KeyValue(key=k, value=v) for k, v in sorted(self._extra.items())]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(array)
