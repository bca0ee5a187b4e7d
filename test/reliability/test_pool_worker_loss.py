"""Router + 3 edges + 2 workers, one worker killed mid-run: every frame answered once.

Real processes over real zenoh on loopback (``hyperion_core.link.pool_router``,
``pool_worker``, ``pool_edge``). The workers simulate a GPU's 0.3 s per frame (sleeping, so
the 2-core machine's CPU is not the bottleneck); the 3 edges offer 6 frames/s in all, more
than the 2 workers' 6.7/s leave idle, so a backlog forms and the killed worker certainly
holds a frame; the survivor alone then needs about 15 s for the 45 frames. Deadlines are
120 s after sending: generous for a loaded 2-core machine, and the only time the test
asserts. Every frame must come back exactly once, to its own edge, before its deadline;
the pool must have re-dispatched the dead worker's frame.
"""

from __future__ import annotations

import pytest

pytest.importorskip("zenoh")

from hyperion_core.link.pool_service import wait_for_stats

from .pool_processes import (
    ROUTER_CONFIG,
    Processes,
    free_port,
    go,
    report,
    wait_for_starts,
)

EDGES = ("cam-a", "cam-b", "cam-c")
FRAMES = 15


def test_a_killed_worker_loses_no_frame_and_duplicates_none():
    port = free_port()
    endpoint = f"tcp/127.0.0.1:{port}"
    with Processes() as procs:
        procs.router(endpoint, ROUTER_CONFIG)
        doomed = procs.worker(endpoint, "w1", 0.3, "--announce-jobs")
        procs.worker(endpoint, "w2", 0.3)
        edges = [procs.edge(endpoint, name, "--frames", str(FRAMES), "--fps", "2",
                            "--budget-s", "120", "--bytes", "20000", "--linger-s", "2")
                 for name in EDGES]
        go(edges)
        # Mid-run: kill w1 the moment it starts its 4th frame, so it dies holding it.
        wait_for_starts(doomed, 4)
        doomed.kill()
        doomed.wait(timeout=10)
        reports = [report(proc) for proc in edges]
        stats = wait_for_stats(endpoint)
    for name, got in zip(EDGES, reports, strict=True):
        assert got["name"] == name
        assert got["answers"] == {str(i): 1 for i in range(FRAMES)}, got
        assert got["late"] == [] and got["foreign"] == 0, got
        # The backlog was published to the edge (its scheduler would have sent less).
        assert got["queue_delay_s"] > 0, got
    assert stats["redispatched"] >= 1, stats
    assert stats["answered"] == len(EDGES) * FRAMES, stats
    assert stats["workers"] == ["w2"], stats
