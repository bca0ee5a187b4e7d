"""Frames the real detector worker refuses (not an EncodedFrame) are reported to the pool,
which gives each up at once and keeps the worker busy with the next, instead of holding it
until the refused frame's deadline."""

from __future__ import annotations

import pytest

from hyperion.graph import executable
from hyperion_core.link.pool_service import wait_for_stats

from .pool_processes import ROUTER_CONFIG, Processes, free_port, go

pytestmark = [pytest.mark.models]

FRAMES = 6


def test_refused_frames_are_given_up_at_once_and_the_worker_keeps_serving():
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Processes() as procs:
        procs.router(endpoint, ROUTER_CONFIG)
        procs.command(str(executable("hyperion_cloud", "pool_worker")), "--connect",
                      endpoint, "--id", "real", "-p", "threads:=1")
        # Garbage frames with a 300 s deadline: without the refusal report, the first would
        # hold the worker's only slot for 300 s and the others would wait behind it.
        sender = procs.edge(endpoint, "cam-x", "--frames", str(FRAMES), "--fps", "10",
                            "--budget-s", "300", "--linger-s", "0")
        go([sender])
        stats = wait_for_stats(endpoint, lambda s: s["failed"] >= FRAMES, timeout_s=120.0)
        assert stats["failed"] == FRAMES, stats
        assert stats["running"] == 0 and stats["waiting"] == 0, stats
        assert stats["answered"] == 0 and stats["expired_running"] == 0, stats
