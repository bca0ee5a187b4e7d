"""BoundedWorker: handler off the caller's thread, bounded queue dropping the oldest item,
drops and handler errors counted, clean shutdown."""

import threading

import pytest

from hyperion_runtime.diagnostics import Counters
from hyperion_runtime.worker import BoundedWorker

TIMEOUT_S = 5.0


class Gate:
    """A handler that records items and blocks on each until released."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.threads: set[str] = set()
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.done = threading.Semaphore(0)

    def __call__(self, item: int) -> None:
        self.threads.add(threading.current_thread().name)
        self.started.release()
        assert self.release.wait(TIMEOUT_S), "handler never released"
        self.seen.append(item)
        self.done.release()

    def wait_done(self, count: int) -> None:
        for _ in range(count):
            assert self.done.acquire(timeout=TIMEOUT_S), f"handled only {self.seen}"


def wait_idle(worker: BoundedWorker) -> None:
    event = threading.Event()
    for _ in range(int(TIMEOUT_S / 0.01)):
        if worker.idle():
            return
        event.wait(0.01)
    raise AssertionError("worker never became idle")


@pytest.fixture
def counters() -> Counters:
    return Counters()


def test_handles_items_in_order_on_its_own_thread(counters):
    gate = Gate()
    gate.release.set()
    worker = BoundedWorker(name="detect", handler=gate, depth=8, counters=counters)
    try:
        for k in range(5):
            worker.submit(k)
        gate.wait_done(5)
        assert gate.seen == [0, 1, 2, 3, 4]
        assert gate.threads == {"detect"}
        wait_idle(worker)
        assert counters.snapshot() == {}  # nothing dropped, nothing failed
    finally:
        worker.close()


def test_full_queue_drops_the_oldest_and_counts_it(counters):
    gate = Gate()
    worker = BoundedWorker(name="detect", handler=gate, depth=2, counters=counters)
    try:
        worker.submit(0)
        assert gate.started.acquire(timeout=TIMEOUT_S)  # 0 is running, queue empty
        for k in range(1, 6):  # 1..5 into a queue of 2: 1, 2, 3 dropped
            worker.submit(k)
        assert counters.get("detect_dropped") == 3
        assert worker.queued(lambda item: item) == 4 + 5  # the waiting items, not 0
        assert not worker.idle()
        gate.release.set()
        gate.wait_done(3)
        wait_idle(worker)
        assert gate.seen == [0, 4, 5]
        assert counters.get("detect_dropped") == 3
    finally:
        worker.close()


def test_depth_one_is_latest_wins(counters):
    gate = Gate()
    worker = BoundedWorker(name="send", handler=gate, depth=1, counters=counters)
    try:
        worker.submit(0)
        assert gate.started.acquire(timeout=TIMEOUT_S)
        for k in range(1, 11):
            worker.submit(k)
        gate.release.set()
        gate.wait_done(2)
        wait_idle(worker)
        assert gate.seen == [0, 10]
        assert counters.get("send_dropped") == 9
    finally:
        worker.close()


def test_handler_error_is_counted_reported_and_survived(counters):
    errors: list[BaseException] = []
    handled = threading.Semaphore(0)

    def handler(item: int) -> None:
        if item < 0:
            raise ValueError(f"bad item {item}")
        handled.release()

    worker = BoundedWorker(name="encode", handler=handler, depth=4, counters=counters,
                           on_error=errors.append)
    try:
        worker.submit(-1)
        worker.submit(1)
        assert handled.acquire(timeout=TIMEOUT_S), "worker died with the first error"
        wait_idle(worker)
        assert counters.get("encode_errors") == 1
        assert [str(e) for e in errors] == ["bad item -1"]
    finally:
        worker.close()


def test_close_discards_queued_items_ignores_new_ones_and_ends_the_thread(counters):
    gate = Gate()
    worker = BoundedWorker(name="detect", handler=gate, depth=4, counters=counters)
    worker.submit(0)
    assert gate.started.acquire(timeout=TIMEOUT_S)
    worker.submit(1)
    worker.submit(2)
    gate.release.set()  # 0 finishes while close() waits for the thread
    worker.close(timeout_s=TIMEOUT_S)
    assert not worker._thread.is_alive()
    assert gate.seen == [0]  # 1 and 2 were discarded, not run
    worker.submit(3)
    assert worker.idle() and gate.seen == [0]
    assert counters.get("detect_dropped") == 0  # discarding at shutdown is no drop


def test_close_of_an_idle_worker_returns_at_once(counters):
    worker = BoundedWorker(name="idle", handler=lambda _: None, depth=1, counters=counters)
    worker.close(timeout_s=TIMEOUT_S)
    assert not worker._thread.is_alive()
    worker.close(timeout_s=TIMEOUT_S)  # twice is harmless


@pytest.mark.parametrize("depth", [0, -1])
def test_depth_below_one_is_refused(counters, depth):
    with pytest.raises(ValueError, match="depth"):
        BoundedWorker(name="bad", handler=lambda _: None, depth=depth, counters=counters)
