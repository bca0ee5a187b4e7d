"""Frames the real detector worker refuses (not an EncodedFrame) are reported to the pool,
which gives each up at once and keeps the worker busy with the next, instead of holding it
until the refused frame's deadline."""

from __future__ import annotations

import json

import pytest

from hyperion.graph import executable

from .pool_processes import ROUTER_CONFIG, Processes, free_port, go
from .test_pool_worker_loss import pool_stats

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
        stats: dict = {}
        for _ in range(600):  # bounded: one stats sample every 0.2 s
            stats = pool_stats(endpoint)
            if stats["failed"] >= FRAMES:
                break
        assert stats["failed"] == FRAMES, json.dumps(stats)
        assert stats["running"] == 0 and stats["waiting"] == 0, stats
        assert stats["answered"] == 0 and stats["expired_running"] == 0, stats
