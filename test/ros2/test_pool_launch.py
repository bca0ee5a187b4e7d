"""``ros2 launch hyperion pool.launch.py workers:=2``: the router and two real detector
workers start, the workers announce themselves to the pool, and Ctrl-C stops all three
cleanly."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from .tools import require_tools

require_tools()

import zenoh  # noqa: E402

from hyperion_core.link.zenoh_link import LinkConfig  # noqa: E402

from .tools import free_port  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.models]


def workers_seen(endpoint: str, timeout_s: float) -> list[str]:
    """The workers the pool lists in its stats, once two are listed or at the timeout."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    session = None
    while session is None:  # a client opens only once the router listens
        try:
            session = zenoh.open(LinkConfig(mode="client", connect=(endpoint,)).to_zenoh())
        except zenoh.ZError:
            if time.monotonic() > deadline:
                return seen
            time.sleep(0.5)
    with session:
        stats = session.declare_subscriber("hyperion/pool/stats")
        while time.monotonic() < deadline and len(seen) < 2:
            sample = stats.try_recv()
            if sample is None:
                time.sleep(0.1)
                continue
            seen = json.loads(sample.payload.to_bytes())["workers"]
    return seen


def test_pool_launch_starts_router_and_workers_and_stops_cleanly():
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    launch = subprocess.Popen(
        [shutil.which("ros2"), "launch", "hyperion", "pool.launch.py", "workers:=2",
         f"listen:={endpoint}", f"router:={endpoint}", "worker_id:=launched"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        seen = workers_seen(endpoint, timeout_s=120.0)
    finally:
        os.killpg(launch.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, _ = launch.communicate(timeout=60)
    assert sorted(seen) == ["launched-0", "launched-1"], out[-3000:]
    assert launch.returncode == 0, out[-3000:]
    assert out.count("process has finished cleanly") == 3, out[-3000:]
