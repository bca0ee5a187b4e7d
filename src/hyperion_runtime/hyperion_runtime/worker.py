"""A worker thread with a bounded input queue, so heavy model calls stay out of callbacks.

Subscription callbacks only ``submit`` work; one thread per worker runs the handler.
When the queue is full the *oldest* item is dropped (and counted): for camera frames a
depth of 1 is "latest wins", which bounds latency to one frame of waiting.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from hyperion_runtime.diagnostics import Counters

T = TypeVar("T")


class BoundedWorker(Generic[T]):
    """Runs ``handler(item)`` on its own thread for items submitted from callbacks."""

    def __init__(
        self, *, name: str, handler: Callable[[T], None], depth: int, counters: Counters,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Args:
        name: thread name and counter prefix (``<name>_dropped``, ``<name>_errors``).
        handler: called with each item, one at a time, on the worker thread.
        depth: queue bound (>= 1); 1 keeps only the newest item.
        counters: where drops and handler errors are counted.
        on_error: called with an exception the handler raised (the worker carries on).
        """
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._name = name
        self._handler = handler
        self._counters = counters
        self._on_error = on_error
        self._queue: deque[T] = deque()
        self._depth = depth
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> None:
        """Queue ``item``; drops (and counts) the oldest queued item when full."""
        with self._cond:
            if self._closed:
                return
            while len(self._queue) >= self._depth:
                self._queue.popleft()
                self._counters.add(f"{self._name}_dropped")
            self._queue.append(item)
            self._cond.notify()

    def queued(self, size: Callable[[T], int]) -> int:
        """Sum of ``size(item)`` over the items waiting (not the one running)."""
        with self._cond:
            return sum(size(item) for item in self._queue)

    def idle(self) -> bool:
        """True when nothing is queued or running."""
        with self._cond:
            return not self._queue and not self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                item = self._queue.popleft()
                self._busy = True
            try:
                self._handler(item)
            except Exception as err:  # one bad frame must not kill the node
                self._counters.add(f"{self._name}_errors")
                if self._on_error is not None:
                    self._on_error(err)
            finally:
                with self._cond:
                    self._busy = False

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (queued items are discarded); waits up to ``timeout_s``."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
