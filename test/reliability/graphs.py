"""Graph-test helpers for the reliability tests, on top of test/integration/harness.py.

The integration harness is loaded by path (the test folders are not one package). Adds:
a `hyperion run` graph with extra arguments, node pids, and a probe that also records
plans and /diagnostics. Every wait is bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray

from hyperion_msgs.msg import QualityPlan
from hyperion_runtime import qos

_PATH = Path(__file__).resolve().parents[1] / "integration" / "harness.py"
_SPEC = importlib.util.spec_from_file_location("hyperion_test_harness", _PATH)
harness = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(harness)

HYPERION, SMALL_EDGE = harness.HYPERION, harness.SMALL_EDGE
free_port, wait_until = harness.free_port, harness.wait_until

#: Domain ids no other helper hands out (conftest: 1..100, integration harness: 110..229).
DOMAINS = range(101, 110)
_held: list = []


def domain_pair() -> tuple[int, int]:
    """Two ROS domain ids (edge, cloud) reserved for this process by a lock file each.

    Graphs of concurrent test runs on this machine (other engineers' too) must never
    share a domain: a foreign graph's answers would count as ours. A pid-derived id can
    collide; a held ``flock`` cannot. The locks are released when the process ends.
    """
    found = []
    for domain in DOMAINS:
        handle = open(f"/tmp/hyperion-ros-domain-{domain}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _held.append(handle)
        found.append(domain)
        if len(found) == 2:
            return found[0], found[1]
    raise RuntimeError(f"no two free ROS domains in {DOMAINS.start}..{DOMAINS.stop - 1}")


class Graph(harness.Graph):
    """``hyperion run <graph> [extra args]`` as a process group, with node lookup."""

    def node_pid(self, name: str) -> int | None:
        """pid of node ``name`` (a child of `hyperion run`), None if not running."""
        return next((pid for pid, node in self.nodes().items() if node == name), None)

    def signal_node(self, name: str, signum: int) -> None:
        pid = self.node_pid(name)
        assert pid is not None, f"node {name} not running\n{self.output()[-2000:]}"
        os.kill(pid, signum)


class Watch(harness.Probe):
    """The harness probe plus plans and the newest /diagnostics values per node."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain)
        self.plans: list[QualityPlan] = []
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.node.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())
        self.node.create_subscription(DiagnosticArray, qos.DIAGNOSTICS, self._on_diagnostics,
                                      qos.diagnostics_qos())

    def _on_plan(self, msg: QualityPlan) -> None:
        with self.lock:
            self.plans.append(msg)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                node = status.name.removeprefix("hyperion: ")
                self.diagnostics[node] = {kv.key: kv.value for kv in status.values}

    def counter(self, node: str, name: str) -> int:
        """Newest reported value of ``name`` on node ``node`` (0 if not reported)."""
        with self.lock:
            return int(float(self.diagnostics.get(node, {}).get(name, 0)))

    def plans_after(self, after_ns: int) -> list[QualityPlan]:
        with self.lock:
            return [p for p in self.plans if p.sequence > after_ns]


def stop_all(*graphs: Graph | None) -> None:
    """Stop the graphs, then hand this test's domains back for the next test."""
    for graph in graphs:
        if graph is not None:
            graph.stop()
    while _held:
        _held.pop().close()


__all__ = ["SMALL_EDGE", "Graph", "Watch", "domain_pair", "free_port", "signal",
           "stop_all", "wait_until"]
