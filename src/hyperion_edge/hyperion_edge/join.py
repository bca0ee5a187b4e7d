"""Joining per-frame messages by their ``sequence`` (the capture stamp in ns).

Messages about one frame arrive on different topics in any order; a :class:`FrameJoin`
collects the parts of each frame and returns them together once all are present. It holds
at most ``capacity`` incomplete frames: adding a new frame beyond that evicts the oldest
(lowest sequence, i.e. earliest capture) and counts the eviction, so a frame that one
producer dropped never pins memory.
"""

from __future__ import annotations

import threading
from typing import Any

from hyperion_runtime.diagnostics import Counters


class FrameJoin:
    """Bounded join of named parts by frame sequence."""

    def __init__(
        self, *, parts: tuple[str, ...], capacity: int, counters: Counters,
        counter: str = "join_evicted",
    ) -> None:
        """Args:
        parts: names of the parts a frame needs, e.g. ``("image", "plan")``.
        capacity: incomplete frames kept (>= 1).
        counters: where evictions are counted.
        counter: counter name for evictions.
        """
        if capacity < 1 or not parts:
            raise ValueError("need at least one part and capacity >= 1")
        self._parts = frozenset(parts)
        self._capacity = capacity
        self._counters = counters
        self._counter = counter
        self._frames: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, part: str, sequence: int, value: Any) -> dict[str, Any] | None:
        """Store one part; return all parts of the frame when it is complete, else None.

        A repeated part replaces the earlier one. A complete frame is removed.
        """
        if part not in self._parts:
            raise KeyError(f"unknown part {part!r}")
        with self._lock:
            frame = self._frames.setdefault(sequence, {})
            frame[part] = value
            if frame.keys() == self._parts:
                return self._frames.pop(sequence)
            while len(self._frames) > self._capacity:
                oldest = min(self._frames)
                del self._frames[oldest]
                self._counters.add(self._counter)
            return None

    def discard(self, sequence: int) -> None:
        """Forget a frame (e.g. one that turned out not to need all parts)."""
        with self._lock:
            self._frames.pop(sequence, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)
