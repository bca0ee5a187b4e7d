"""Real processes of the detector pool for tests: router, workers, simulated edges."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROUTER_CONFIG = Path(__file__).resolve().parents[2] / "config" / "router.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_command(*cmd: str) -> subprocess.Popen:
    """Start ``cmd``; returns once it printed READY (or died)."""
    proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()  # bounded: a failing process exits, closing it
    if not line.startswith("READY"):
        proc.kill()
        raise AssertionError(f"{cmd} did not start: {line!r} {proc.stderr.read()}")
    return proc


def start(module: str, *args: str) -> subprocess.Popen:
    """Start ``python -m <module> args``; returns once it printed READY (or died)."""
    return start_command(sys.executable, "-m", module, *args)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running(*procs: subprocess.Popen) -> Iterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            stop(proc)


def router(endpoint: str, config: Path, *extra: str) -> subprocess.Popen:
    return start("hyperion_core.link.pool_router", "--config", str(config),
                 "--listen", endpoint, *extra)


def worker(endpoint: str, worker_id: str, service_s: float, *extra: str) -> subprocess.Popen:
    return start("hyperion_core.link.pool_worker", "--connect", endpoint, "--id", worker_id,
                 "--service-s", str(service_s), *extra)


def edge(endpoint: str, name: str, *extra: str) -> subprocess.Popen:
    return start("hyperion_core.link.pool_edge", "--connect", endpoint, "--name", name,
                 *extra)


def go(edges: list[subprocess.Popen]) -> None:
    """Release every edge at once."""
    for proc in edges:
        proc.stdin.write("go\n")
        proc.stdin.flush()


def report(proc: subprocess.Popen, timeout_s: float = 300.0) -> dict:
    """The edge's JSON line (it exits after printing it)."""
    out, err = proc.communicate(timeout=timeout_s)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"edge printed no report: {out!r} {err!r}"
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return json.loads(lines[-1])
