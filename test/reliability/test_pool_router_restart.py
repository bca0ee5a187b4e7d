"""The pool's router SIGKILLed mid-stream for 10 s, then restarted: a link outage, no more.

Real processes over real zenoh on loopback: ``pool_router``, 2 simulated-GPU workers
(0.1 s per frame, sleeping) and 3 simulated edges (``pool_edge``: offload while the link
is up, answer alone at once while it is down or at the deadline when the pool has not).
Edges and workers are zenoh clients that nobody restarts: they must find the new router
by themselves. Checked per edge, each frame of 3 s deadline:

- fused answers before the kill, and again from frames sent after the restart;
- no frame offloaded later than one deadline after the kill and before the restart (its
  scheduler stopped planning offloads: the link went down);
- no frame answered twice by the pool, no pool answer after its deadline, none foreign;
- both workers are back in the new pool.

Only the outage (10 s, what the issue asks) is a set time; every other wait is bounded by
an event. Restart → first fused answer is printed (``-s``), and measured in
``benchmarks/pool_recovery.py``, not asserted: this 2-core machine is shared.
"""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("zenoh")

from hyperion_core.link.pool_service import wait_for_stats

from .pool_processes import ROUTER_CONFIG, Processes, free_port, go, report

EDGES = ("cam-a", "cam-b", "cam-c")
FPS = 2.0
FRAMES = 80  # 40 s of sending: about 8 before the kill, 10 without a router, 20 after
BUDGET_S = 3.0
OUTAGE_S = 10.0


def test_router_killed_and_restarted_edges_answer_every_frame_and_offload_again():
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Processes() as procs:
        router = procs.router(endpoint, ROUTER_CONFIG)
        procs.worker(endpoint, "w1", 0.1)
        procs.worker(endpoint, "w2", 0.1)
        edges = [procs.edge(endpoint, name, "--frames", str(FRAMES), "--fps", str(FPS),
                            "--budget-s", str(BUDGET_S), "--bytes", "20000",
                            "--linger-s", "2")
                 for name in EDGES]
        go(edges)
        wait_for_stats(endpoint, lambda s: s["answered"] >= 30)
        killed_s = time.monotonic()
        router.kill()
        router.wait(timeout=10)
        time.sleep(OUTAGE_S)  # the outage under test, not a wait for readiness
        restarted_s = time.monotonic()
        procs.router(endpoint, ROUTER_CONFIG)
        reports = [report(proc) for proc in edges]
        stats = wait_for_stats(endpoint, lambda s: sorted(s["workers"]) == ["w1", "w2"])
    first_fused = []
    for name, got in zip(EDGES, reports, strict=True):
        sent_at = got["sent_at_s"]
        answered_at = {int(i): t for i, t in got["answered_at_s"].items()}
        assert got["name"] == name
        assert got["foreign"] == 0 and got["late"] == [], got
        assert all(n == 1 for n in got["answers"].values()), got["answers"]
        assert any(sent_at[i] < killed_s for i in answered_at), f"{name}: none fused before"
        offloaded_in_outage = [i for i in got["offloaded"]
                               if killed_s + BUDGET_S < sent_at[i] < restarted_s]
        assert offloaded_in_outage == [], (name, offloaded_in_outage)
        after = [t for i, t in answered_at.items() if sent_at[i] > restarted_s]
        assert after, f"{name}: nothing fused after the restart"
        first_fused.append(min(after) - restarted_s)
    print(f"restart -> first fused answer per edge: {[round(s, 2) for s in first_fused]} s")
    assert stats["received"] > 0 and stats["answered"] > 0, stats


def test_the_queue_delay_of_a_lost_router_is_forgotten():
    """A pool without workers publishes a growing delay; once its router dies, the edge's
    delay is 0 again: the next router publishes its own only after a frame, and a stale
    long delay would keep the edge's scheduler from ever sending it one."""
    from hyperion_core.link.zenoh_link import EdgeLink, LinkConfig

    endpoint = f"tcp/127.0.0.1:{free_port()}"
    delays: list[float] = []
    cond = threading.Condition()

    def on_delay(delay_s: float) -> None:
        with cond:
            delays.append(delay_s)
            cond.notify_all()

    config = LinkConfig(mode="client", connect=(endpoint,),
                        key_prefix="hyperion/pool/edge/cam-a")
    with Processes() as procs:
        router = procs.router(endpoint, ROUTER_CONFIG)
        with EdgeLink(config=config, on_queue_delay=on_delay) as link:
            assert link.wait_connected(30.0)
            link.send(b"frame", deadline_in_s=60.0)  # queued: the pool has no worker
            with cond:
                assert cond.wait_for(lambda: delays and delays[-1] > 0.5, timeout=30), delays
            router.kill()
            router.wait(timeout=10)
            with cond:
                assert cond.wait_for(lambda: delays[-1] == 0.0, timeout=30), delays[-5:]
            assert not link.wait_connected(0.0)
