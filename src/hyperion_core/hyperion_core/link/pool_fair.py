"""Per-edge frame queues of the cloud detector pool, shared by weighted fair queuing.

Each edge has its own FIFO queue; when a worker is free, the next frame comes from the
edge whose head frame has the smallest *virtual finish tag* (self-clocked fair queuing,
Golestani 1994). A frame gets its tag when it becomes the head of its edge's queue:

    finish = max(V, finish of the edge's last served frame) + 1 / weight_e

where ``V`` is the tag of the frame served last. Tagging at the head rather than on
arrival matters under overload: a full queue drops frames, and an edge must not be charged
for frames it never got served (tagged on arrival, an edge whose frames were dropped fell
ever further behind, and one edge took 99 % of a saturated pool). Every frame costs 1 (a
cloud detector takes about the same time for any frame of one deployment's resolution), so
over any interval in which two edges ``e`` and ``f`` both have frames waiting, the frames
they are served differ from their weights' ratio by at most one frame each:
``|served_e / w_e - served_f / w_f| <= 1 / w_e + 1 / w_f``. An edge that sends less than
its share is served all it sends; what it leaves is shared by the others by weight.

Queues are bounded per edge (``capacity``): a full queue drops its oldest frame, whose
deadline is nearest and whose edge will answer it alone. Nothing here reads a clock: callers
pass ``now_s`` (any monotonic seconds), so tests can drive it exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(eq=False, kw_only=True)
class QueuedFrame:
    """One encoded frame waiting at (or sent from) the pool.

    Args:
        edge: the edge's name (its key prefix segment and certificate common name).
        seq: the edge's link sequence number of the frame.
        payload: the encoded frame, opaque to the pool.
        arrived_s: when the pool received it, seconds (pool clock).
        deadline_s: after this the edge has answered alone; an answer then is useless,
            seconds (pool clock).
        finish_tag: virtual finish tag it was served with, set by :meth:`FairQueue.pop`.
    """

    edge: str
    seq: int
    payload: bytes
    arrived_s: float
    deadline_s: float
    finish_tag: float = field(default=0.0)


class FairQueue:
    """Weighted fair sharing of the pool's workers among edges' queues (see module doc)."""

    def __init__(self, *, capacity: int = 16, default_weight: float = 1.0,
                 weights: dict[str, float] | None = None) -> None:
        """Args:
            capacity: frames waiting per edge before its oldest is dropped [frames, >= 1].
            default_weight: share weight of an edge not named in ``weights`` [> 0].
            weights: share weight per edge name [> 0 each]; twice the weight, twice the
                frames served while both edges have frames waiting.
        """
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 frame, got {capacity}")
        if not default_weight > 0:
            raise ValueError(f"default_weight must be > 0, got {default_weight}")
        for edge, weight in (weights or {}).items():
            if not weight > 0:
                raise ValueError(f"weight of edge {edge!r} must be > 0, got {weight}")
        self._capacity = capacity
        self._default_weight = default_weight
        self._weights = dict(weights or {})
        self._queues: dict[str, deque[QueuedFrame]] = {}
        self._head_tag: dict[str, float] = {}  # edges with frames waiting only
        self._last_served: dict[str, float] = {}
        self._virtual_time = 0.0

    def weight(self, edge: str) -> float:
        """The share weight of ``edge``."""
        return self._weights.get(edge, self._default_weight)

    def _next_tag(self, edge: str) -> float:
        start = max(self._virtual_time, self._last_served.get(edge, 0.0))
        return start + 1.0 / self.weight(edge)

    def push(self, frame: QueuedFrame) -> QueuedFrame | None:
        """Queue ``frame`` behind its edge's earlier frames.

        Returns:
            the frame dropped to make room (the edge's oldest), or None. A dropped head
            leaves its tag to the frame behind it: the edge is charged for served frames
            only.
        """
        queue = self._queues.setdefault(frame.edge, deque())
        if not queue:
            self._head_tag[frame.edge] = self._next_tag(frame.edge)
        queue.append(frame)
        if len(queue) > self._capacity:
            return queue.popleft()
        return None

    def push_front(self, frame: QueuedFrame) -> None:
        """Put back a served frame whose worker died, first in line.

        It gets back the tag it was served with (its ``finish_tag``), so the edge is
        charged once for it, not twice.
        """
        queue = self._queues.setdefault(frame.edge, deque())
        queue.appendleft(frame)
        self._head_tag[frame.edge] = frame.finish_tag

    def pop(self) -> QueuedFrame | None:
        """The next frame to serve, or None when every queue is empty.

        Sets the frame's ``finish_tag`` to the tag it is served with.
        """
        if not self._head_tag:
            return None
        # Ties go to the edge queued first (dict order): deterministic.
        edge = min(self._head_tag, key=self._head_tag.__getitem__)
        tag = self._head_tag.pop(edge)
        queue = self._queues[edge]
        frame = queue.popleft()
        frame.finish_tag = tag
        self._virtual_time = max(self._virtual_time, tag)
        self._last_served[edge] = max(self._last_served.get(edge, 0.0), tag)
        if queue:
            self._head_tag[edge] = self._next_tag(edge)
        return frame

    def drop_expired(self, now_s: float) -> list[QueuedFrame]:
        """Remove and return every waiting frame whose deadline is before ``now_s``."""
        expired: list[QueuedFrame] = []
        for edge, queue in self._queues.items():
            kept = deque(f for f in queue if f.deadline_s >= now_s)
            if len(kept) != len(queue):
                expired.extend(f for f in queue if f.deadline_s < now_s)
                self._queues[edge] = kept
                if not kept:
                    self._head_tag.pop(edge, None)
        return expired

    def oldest_arrival_s(self, edge: str) -> float | None:
        """When the oldest frame waiting for ``edge`` arrived, or None if none waits."""
        queue = self._queues.get(edge)
        return min(f.arrived_s for f in queue) if queue else None

    def waiting(self, edge: str | None = None) -> int:
        """Frames waiting, for one edge or all."""
        if edge is not None:
            return len(self._queues.get(edge, ()))
        return sum(len(q) for q in self._queues.values())

    def edges(self) -> Iterator[str]:
        """Every edge that has queued a frame since the pool started."""
        return iter(list(self._queues))
