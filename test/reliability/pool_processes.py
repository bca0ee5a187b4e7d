"""Real processes of the detector pool for tests: router, workers, simulated edges."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from hyperion.session import free_port

ROUTER_CONFIG = Path(__file__).resolve().parents[2] / "config" / "router.yaml"


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Processes:
    """The processes of one test, each stopped at the end even if a later start fails.

    Use as ``with Processes() as procs: pool = procs.router(...)``; every process started
    through it is stopped (SIGTERM, then SIGKILL) in reverse order on leaving the block.
    """

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self._started):
            stop(proc)

    def command(self, *cmd: str) -> subprocess.Popen:
        """Start ``cmd`` and wait for its READY line (see :func:`start_command`)."""
        proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self._started.append(proc)
        line = proc.stdout.readline().strip()  # bounded: a failing process exits, closing it
        if not line.startswith("READY"):
            raise AssertionError(f"{cmd} did not start: {line!r} {_stderr(proc)}")
        return proc

    def module(self, module: str, *args: str) -> subprocess.Popen:
        return self.command(sys.executable, "-m", module, *args)

    def router(self, endpoint: str, config: Path, *extra: str) -> subprocess.Popen:
        return self.module("hyperion_core.link.pool_router", "--config", str(config),
                           "--listen", endpoint, *extra)

    def worker(self, endpoint: str, worker_id: str, service_s: float, *extra: str
               ) -> subprocess.Popen:
        return self.module("hyperion_core.link.pool_worker", "--connect", endpoint, "--id",
                           worker_id, "--service-s", str(service_s), *extra)

    def edge(self, endpoint: str, name: str, *extra: str) -> subprocess.Popen:
        return self.module("hyperion_core.link.pool_edge", "--connect", endpoint, "--name",
                           name, *extra)


def _stderr(proc: subprocess.Popen) -> str:
    """What a process that did not start printed on stderr (it is stopped first)."""
    stop(proc)
    return proc.stderr.read()


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
    return json.loads(lines[-1])


def wait_for_starts(worker: subprocess.Popen, count: int) -> None:
    """Read a worker's stdout (``--announce-jobs``) until it has started ``count`` more jobs."""
    for _ in range(count):
        line = worker.stdout.readline()
        assert line.startswith("START"), line


__all__ = ["ROUTER_CONFIG", "Processes", "free_port", "go", "report", "stop",
           "wait_for_starts"]
