"""Running Hyperion graphs from Python: `hyperion run` processes and an output recorder.

Used by `hyperion demo` and the benchmarks; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from hyperion.graph import executable

#: The installed ``hyperion`` command (``install/hyperion/bin/hyperion``).
HYPERION = str(executable("hyperion", "hyperion"))


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout_s: float,
               what: str | Callable[[], str]) -> None:
    """Poll ``predicate`` until true; ``TimeoutError`` naming ``what`` after ``timeout_s``.

    ``what`` may be a callable, called only on timeout, so that a message quoting a graph's
    log shows the log as it was when the wait failed, not when it began.
    """
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            text = what() if callable(what) else what
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {text}")
        time.sleep(0.05)


class GraphProcess:
    """``hyperion run <graph>`` as its own process group, output kept in a log file.

    Args:
        graph: ``"edge"`` or ``"cloud"``.
        domain: ROS_DOMAIN_ID of the graph.
        params: ``[node.]name:=value`` overrides.
        log_dir: where ``<graph>.log`` goes; a temporary file when None.
        extra: more ``hyperion run`` arguments, e.g. ``("--no-camera",)``.
    """

    def __init__(
        self, graph: str, *, domain: int, params: list[str], log_dir: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        if log_dir is None:
            # Closed in stop(); it must outlive this constructor.
            self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
                "w+", prefix=f"hyperion-{graph}-", suffix=".log")
        else:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.log = open(log_dir / f"{graph}.log", "w+")  # noqa: SIM115
        cmd = [HYPERION, "run", graph, "--domain-id", str(domain), *extra]
        for item in params:
            cmd += ["-p", item]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        """Everything the graph's nodes printed so far."""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def nodes(self) -> dict[int, str]:
        """Running node processes of this graph: pid -> node name (Linux /proc)."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != self.proc.pid or not cmdline[0]:
                continue
            found[int(entry.name)] = next(
                (arg.decode().split(":=", 1)[1] for arg in cmdline
                 if arg.startswith(b"__node:=")), Path(cmdline[0].decode()).name)
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by each running node, by node name."""
        tick = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for pid, name in self.nodes().items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited in between
                continue
            # Fields 14 and 15 of proc(5) (utime, stime); index 0 here is field 3.
            used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return used

    def kill(self) -> None:
        """SIGKILL the whole graph at once (a crash, not a shutdown)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGINT (forwarded to every node), SIGKILL after ``timeout_s``; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        # Nodes die with `hyperion run` (PDEATHSIG); make sure of it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        return self.proc.returncode

    def __enter__(self) -> GraphProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SpinningNode:
    """A node in its own context and domain, spun on a background thread.

    Args:
        name: node name.
        domain: ROS_DOMAIN_ID to join.
    """

    def __init__(self, name: str, *, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self.lock = threading.Lock()
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)

    def start(self) -> None:
        """Start spinning (after subscriptions are made)."""
        self._thread.start()

    def close(self) -> None:
        """Stop spinning and leave the domain.

        The spin thread is joined before the node and context go: tearing them down under
        a thread still inside rcl was seen to hang a test process at 100% CPU and to abort
        the soak script at exit (status 134).
        """
        self._executor.shutdown(timeout_sec=5.0)
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
