"""A pool worker frozen (SIGSTOP) while it holds a frame, then resumed (SIGCONT).

Real processes over real zenoh on loopback: router, 2 simulated-GPU workers (0.3 s per
frame, sleeping), 2 simulated edges at 1 frame/s each. A frozen worker keeps its TCP
connection open, so only its zenoh lease tells the router it is gone:

- frozen longer than its lease (``--lease-s 2``): the router drops its connection, its
  token goes, and the frame it held is re-dispatched to the other worker (60 s deadlines
  leave time); every frame is answered once, by the pool; resumed, it reconnects by itself
  and rejoins the pool, and whatever it still answers for the old frame is dropped;
- frozen shorter than its lease (``--lease-s 60``, the router's too: each end watches the
  other with its own lease), past a 5 s deadline: the frame it held
  is given up at its deadline (its edge answers alone, the only frame not fused), no other
  frame is sent to it meanwhile (stuck: its slot stays taken), and once resumed its late
  answer reaches the pool and is dropped.

Waits are bounded by events (worker output, the pool's stats); deadlines are what the
edges check.
"""

from __future__ import annotations

import os
import signal

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

EDGES = ("cam-a", "cam-b")
FRAMES = 12


def start_pool(procs: Processes, endpoint: str, lease_s: float, budget_s: float,
               router_lease_s: float = 10.0) -> tuple:
    """Router (``router_lease_s``), the worker to freeze (w1, the given lease), w2, and the
    edges (started)."""
    procs.router(endpoint, ROUTER_CONFIG, "--lease-s", str(router_lease_s))
    frozen = procs.worker(endpoint, "w1", 0.3, "--announce-jobs", "--lease-s", str(lease_s))
    procs.worker(endpoint, "w2", 0.3)
    edges = [procs.edge(endpoint, name, "--frames", str(FRAMES), "--fps", "1",
                        "--budget-s", str(budget_s), "--linger-s", "2")
             for name in EDGES]
    go(edges)
    return frozen, edges


def check_once(reports: list[dict]) -> list[tuple[str, int]]:
    """Every frame offloaded, none answered twice, late or foreign; the unanswered ones."""
    unanswered = []
    for name, got in zip(EDGES, reports, strict=True):
        assert got["offloaded"] == list(range(FRAMES)), got
        assert got["foreign"] == 0 and got["late"] == [], got
        assert all(n == 1 for n in got["answers"].values()), got["answers"]
        unanswered += [(name, i) for i in range(FRAMES) if str(i) not in got["answers"]]
    return unanswered


def test_worker_frozen_past_its_lease_has_its_frame_redispatched():
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Processes() as procs:
        frozen, edges = start_pool(procs, endpoint, lease_s=2.0, budget_s=60.0)
        wait_for_starts(frozen, 2)
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            gone = wait_for_stats(endpoint, lambda s: s["workers"] == ["w2"])
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        assert gone["redispatched"] >= 1, gone
        reports = [report(proc) for proc in edges]
        back = wait_for_stats(endpoint, lambda s: sorted(s["workers"]) == ["w1", "w2"])
    assert check_once(reports) == []
    assert back["answered"] == len(EDGES) * FRAMES, back


def test_worker_frozen_within_its_lease_costs_one_frame_and_its_late_answer_is_dropped():
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Processes() as procs:
        # Both ends' leases long: the router watches a peer with its own lease, and with
        # its default 10 s it dropped the frozen worker (frozen 10-12 s here) in half the
        # runs; its late answer then went out on the dead session.
        frozen, edges = start_pool(procs, endpoint, lease_s=60.0, budget_s=5.0,
                                   router_lease_s=60.0)
        wait_for_starts(frozen, 2)
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            reports = [report(proc) for proc in edges]
            during = wait_for_stats(endpoint)
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        after = wait_for_stats(endpoint, lambda s: s["stale_answers"] >= 1 and not s["stuck"])
    # The frame w1 held is the one frame its edge answered alone.
    assert len(check_once(reports)) == 1, reports
    assert during["stuck"] == ["w1"] and sorted(during["workers"]) == ["w1", "w2"], during
    assert during["expired_running"] == 1, during
    assert during["answered"] == len(EDGES) * FRAMES - 1, during
    assert after["answered"] == during["answered"], after
