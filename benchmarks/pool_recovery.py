"""The shared detector pool without its router: restart, failover, a frozen worker.

Real processes over real zenoh (TCP on loopback): routers with the pool
(``pool_router``), simulated-GPU workers (``pool_worker``, 40 ms per frame by sleeping,
the paper's V100 figure) and 3 simulated edges (``pool_edge``: offload while the link is
up, answer alone at once while it is down, or at the deadline when the pool has not
answered). Three scenarios, each ``--repeats`` times:

- **restart**: one router, 2 workers; the router is SIGKILLed after ``--before-s`` of
  sending and started again ``--outage-s`` later; edges and workers find it by themselves.
  Measured: frames answered by their deadline (fused or alone), duplicates, pool answers
  after the deadline, fused share before the kill and after the restart, the last offload
  after the kill (edges stop offloading), offloads planned more than one deadline into the
  outage, restart (the new router process spawned) → its READY line (process start, session
  open) and → each edge's first fused answer;
- **failover**: routers A and B with a worker each, edges listing A then B; A is
  SIGKILLed. Measured: the kill → each edge's first fused answer through B;
- **frozen**: one of 2 workers is SIGSTOPped (``--lease-s`` lease) for ``--freeze-s`` and
  resumed. Measured: frames re-dispatched, given up at the deadline (their edges answer
  alone), late answers dropped at the pool, duplicates.

Times come from ``time.monotonic()``, one clock for every process of the host.

``python benchmarks/pool_recovery.py --json docs/bench/pool_recovery.json``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from pool_scale import ROUTER_CONFIG, start_process, stop_process

from hyperion.session import free_port
from hyperion_core.link.pool_service import wait_for_stats

EDGES = 3


class Run:
    """The processes of one scenario run, stopped in reverse order on leaving."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)

    def start(self, module: str, *args: str) -> subprocess.Popen:
        proc = start_process(f"hyperion_core.link.{module}", *args)
        self.procs.append(proc)
        return proc

    def router(self, endpoint: str) -> subprocess.Popen:
        return self.start("pool_router", "--config", str(ROUTER_CONFIG), "--listen", endpoint)

    def edges(self, endpoints: list[str], args: argparse.Namespace, seconds: float,
              rng: np.random.Generator) -> list[subprocess.Popen]:
        """The edges, released together (each at a random point of its frame period)."""
        connect = [flag for endpoint in endpoints for flag in ("--connect", endpoint)]
        frames = round(args.fps * seconds)
        edges = [self.start("pool_edge", *connect, "--name", f"cam-{index}",
                            "--frames", str(frames), "--fps", str(args.fps),
                            "--budget-s", str(args.budget_s), "--linger-s", "1",
                            "--phase-s", f"{rng.uniform(0.0, 1.0 / args.fps):.6f}")
                 for index in range(EDGES)]
        for edge in edges:
            edge.stdin.write("go\n")
            edge.stdin.flush()
        return edges


def edge_report(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"edge printed no report: {out!r} {err!r}")
    return json.loads(lines[-1])


def outcomes(reports: list[dict]) -> list[dict]:
    """Per frame of every edge: its send time, whose answer, pool answers and when."""
    frames = []
    for got in reports:
        offloaded = set(got["offloaded"])
        late = set(got["late"])
        for index, sent_s in enumerate(got["sent_at_s"]):
            key = str(index)
            fused = key in got["answers"] and index not in late
            frames.append({"edge": got["name"], "sent_s": sent_s, "offloaded": index in offloaded,
                           "fused": fused, "pool_answers": got["answers"].get(key, 0),
                           "late": index in late,
                           "answered_s": got["answered_at_s"].get(key) if fused else None})
    return frames


def counts(frames: list[dict]) -> dict:
    """Frames, answered by their deadline (fused or alone), duplicates, late pool answers."""
    return {"frames": len(frames),
            # Fused, or alone: at once while the link is down, at the deadline otherwise.
            "answered_by_deadline": len(frames),
            "fused": sum(f["fused"] for f in frames),
            "duplicates": sum(max(f["pool_answers"] - 1, 0) for f in frames),
            "late_pool_answers": sum(f["late"] for f in frames)}


def share_fused(frames: list[dict], low_s: float, high_s: float) -> float | None:
    chosen = [f for f in frames if low_s <= f["sent_s"] < high_s]
    return sum(f["fused"] for f in chosen) / len(chosen) if chosen else None


def first_fused_s(frames: list[dict], since_s: float) -> dict[str, float | None]:
    """Per edge: ``since_s`` → its first fused answer of a frame sent after it, seconds."""
    first: dict[str, float | None] = {}
    for frame in frames:
        first.setdefault(frame["edge"], None)
        if frame["fused"] and frame["sent_s"] > since_s:
            delay = frame["answered_s"] - since_s
            current = first[frame["edge"]]
            first[frame["edge"]] = delay if current is None else min(current, delay)
    return first


def restart_run(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Run() as run:
        router = run.router(endpoint)
        for worker in ("w1", "w2"):
            run.start("pool_worker", "--connect", endpoint, "--id", worker,
                      "--service-s", str(args.service_s))
        edges = run.edges([endpoint], args, args.before_s + args.outage_s + args.after_s, rng)
        time.sleep(args.before_s)  # the scenario's timeline, not a wait for readiness
        killed_s = time.monotonic()
        router.kill()
        router.wait(timeout=10)
        time.sleep(args.outage_s)
        restarted_s = time.monotonic()
        run.router(endpoint)
        ready_s = time.monotonic()  # the new router has its session open and the pool on it
        frames = outcomes([edge_report(edge) for edge in edges])
        workers_back = wait_for_stats(endpoint, lambda s: len(s["workers"]) == 2)["workers"]
    outage = [f for f in frames if killed_s <= f["sent_s"] < restarted_s]
    last_offload = max((f["sent_s"] for f in outage if f["offloaded"]), default=killed_s)
    first = first_fused_s(frames, restarted_s)
    return {**counts(frames),
            "fused_share_before_kill": share_fused(frames, 0.0, killed_s),
            "fused_share_after_restart": share_fused(frames, restarted_s, float("inf")),
            "alone_during_outage": sum(not f["offloaded"] for f in outage),
            "last_offload_after_kill_s": last_offload - killed_s,
            "offloads_past_one_deadline": sum(
                f["offloaded"] for f in outage if f["sent_s"] > killed_s + args.budget_s),
            "restart_to_ready_s": ready_s - restarted_s,
            "restart_to_first_fused_s": first,
            "restart_to_all_fused_s": max(v for v in first.values() if v is not None)
            if all(v is not None for v in first.values()) else None,
            "workers_back": sorted(workers_back)}


def failover_run(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    first_router, second_router = (f"tcp/127.0.0.1:{free_port()}" for _ in range(2))
    with Run() as run:
        router_a = run.router(first_router)
        run.router(second_router)
        for worker, endpoint in (("wa", first_router), ("wb", second_router)):
            run.start("pool_worker", "--connect", endpoint, "--id", worker,
                      "--service-s", str(args.service_s))
        edges = run.edges([first_router, second_router], args, args.before_s + args.after_s,
                          rng)
        time.sleep(args.before_s)
        killed_s = time.monotonic()
        router_a.kill()
        router_a.wait(timeout=10)
        frames = outcomes([edge_report(edge) for edge in edges])
    first = first_fused_s(frames, killed_s)
    return {**counts(frames),
            "fused_share_before_kill": share_fused(frames, 0.0, killed_s),
            "fused_share_after_kill": share_fused(frames, killed_s, float("inf")),
            "kill_to_first_fused_s": first,
            "kill_to_all_fused_s": max(v for v in first.values() if v is not None)
            if all(v is not None for v in first.values()) else None}


def frozen_run(args: argparse.Namespace, rng: np.random.Generator) -> dict:
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    with Run() as run:
        run.router(endpoint)
        frozen = run.start("pool_worker", "--connect", endpoint, "--id", "w1",
                           "--service-s", str(args.service_s), "--lease-s", str(args.lease_s))
        run.start("pool_worker", "--connect", endpoint, "--id", "w2",
                  "--service-s", str(args.service_s))
        edges = run.edges([endpoint], args, args.before_s + args.freeze_s + args.after_s, rng)
        time.sleep(args.before_s)
        os.kill(frozen.pid, signal.SIGSTOP)
        time.sleep(args.freeze_s)
        os.kill(frozen.pid, signal.SIGCONT)
        frames = outcomes([edge_report(edge) for edge in edges])
        stats = wait_for_stats(endpoint, lambda s: len(s["workers"]) == 2)
    return {**counts(frames),
            "alone_at_deadline": sum(f["offloaded"] and not f["fused"] for f in frames),
            **{key: stats[key] for key in ("redispatched", "expired_running",
                                           "abandoned_worker_lost", "stale_answers")}}


def summary(runs: list[dict], keys: tuple[str, ...]) -> dict:
    """Median and worst (largest) of each key over the runs (per-edge dicts: over edges)."""
    out = {}
    for key in keys:
        values = []
        for run in runs:
            value = run[key]
            values += list(value.values()) if isinstance(value, dict) else [value]
        values = [v for v in values if v is not None]
        out[key] = {"median": statistics.median(values) if values else None,
                    "max": max(values) if values else None}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--repeats", type=int, default=3, help="runs per scenario")
    ap.add_argument("--fps", type=float, default=2.0, help="frames/s per edge")
    ap.add_argument("--budget-s", type=float, default=3.0, help="frame deadline, s")
    ap.add_argument("--service-s", type=float, default=0.040, help="worker time per frame, s")
    ap.add_argument("--before-s", type=float, default=8.0, help="sending before the fault, s")
    ap.add_argument("--outage-s", type=float, default=10.0, help="router down, s")
    ap.add_argument("--after-s", type=float, default=15.0, help="sending after it, s")
    ap.add_argument("--freeze-s", type=float, default=6.0, help="worker stopped, s")
    ap.add_argument("--lease-s", type=float, default=2.0, help="frozen worker's lease, s")
    ap.add_argument("--seed", type=int, default=0, help="seed of the edges' start phases")
    args = ap.parse_args(argv)
    if args.repeats < 1 or min(args.fps, args.budget_s, args.before_s, args.outage_s,
                               args.after_s, args.freeze_s) <= 0:
        ap.error("--repeats must be >= 1 and every time and rate > 0")
    rng = np.random.default_rng(args.seed)
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "settings": {**vars(args), "json": str(args.json), "edges": EDGES},
    }
    scenarios = {
        "restart": (restart_run, ("restart_to_ready_s", "restart_to_first_fused_s",
                                  "restart_to_all_fused_s",
                                  "last_offload_after_kill_s", "fused_share_before_kill",
                                  "fused_share_after_restart")),
        "failover": (failover_run, ("kill_to_first_fused_s", "kill_to_all_fused_s",
                                    "fused_share_before_kill", "fused_share_after_kill")),
        "frozen": (frozen_run, ("redispatched", "alone_at_deadline", "stale_answers")),
    }
    for name, (scenario, keys) in scenarios.items():
        runs = [scenario(args, rng) for _ in range(args.repeats)]
        totals = {key: sum(run[key] for run in runs)
                  for key in ("frames", "answered_by_deadline", "fused", "duplicates",
                              "late_pool_answers")}
        results[name] = {"runs": runs, "totals": totals, "summary": summary(runs, keys)}
        print(f"{name}: {totals} {json.dumps(results[name]['summary'])}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
