"""Scale of the shared detector pool: K edges × N workers, real processes over real zenoh.

One router (with the pool), N workers and K simulated edges
(:mod:`hyperion_core.link.pool_edge`) on this machine, over TCP on loopback. Workers
simulate the paper's cloud detector time per frame (``--service-s``, default 0.040 s:
ViTDet-B + SAHI on a V100, :mod:`hyperion_core.eval.devices`) by sleeping, as a host does
while its GPU computes; ``--burn-cpu`` makes them spin on the CPU instead, to show what a
CPU detector on this host's cores would get. Frames are small (``--bytes``): the pool's
overheads, not the uplink, are measured.

Measured, each configuration ``--repeats`` times (medians reported):

- throughput: answered frames/s with 1 and with 2 workers at equal load (3 edges offering
  ``--overload`` times what 2 workers can serve), and their ratio;
- fairness: Jain's index over the 3 equal edges' answered frames, 2 workers, same overload;
- latency: p95 send → answer over all edges, 2 workers, offered load 25-90 % of capacity.

Edges send periodically (cameras), each from a random (seeded) point of its frame period.

``python benchmarks/pool_scale.py --json docs/bench/pool_cpu.json``
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
from pathlib import Path

import numpy as np

from hyperion.session import free_port

ROUTER_CONFIG = Path(__file__).resolve().parents[1] / "config" / "router.yaml"


def start_process(module: str, *args: str) -> subprocess.Popen:
    """``python -m module args``, once it has printed its READY line."""
    proc = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"{module} did not start: {line!r} {proc.stderr.read()}")
    return proc


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_once(*, edges: int, workers: int, fps_per_edge: float, seconds: float,
             service_s: float, frame_bytes: int, budget_s: float, burn_cpu: bool,
             rng: np.random.Generator) -> dict:
    """One run: per-edge answered counts, throughput and latencies."""
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    procs = [start_process("hyperion_core.link.pool_router", "--config", str(ROUTER_CONFIG),
                    "--listen", endpoint)]
    try:
        for index in range(workers):
            procs.append(start_process("hyperion_core.link.pool_worker", "--connect", endpoint,
                                "--id", f"w{index}", "--service-s", str(service_s),
                                *(["--burn-cpu"] if burn_cpu else [])))
        frames = max(1, round(fps_per_edge * seconds))
        # Cameras are not in step: each edge starts at a random point of its frame period.
        phases = rng.uniform(0.0, 1.0 / fps_per_edge, size=edges)
        clients = [start_process("hyperion_core.link.pool_edge", "--connect", endpoint,
                          "--name", f"edge{index}", "--frames", str(frames),
                          "--fps", str(fps_per_edge), "--bytes", str(frame_bytes),
                          "--budget-s", str(budget_s), "--linger-s", "0.2",
                          "--phase-s", f"{phases[index]:.6f}")
                   for index in range(edges)]
        procs += clients
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        reports = []
        for client in clients:
            out, _ = client.communicate(timeout=seconds + budget_s + 60)
            reports.append(json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1]))
    finally:
        for proc in reversed(procs):
            stop_process(proc)
    answered = [len(r["answers"]) for r in reports]
    # The sending window: frames answered per second of offered load.
    latencies = [x for r in reports for x in r["latency_s"]]
    return {
        "answered_per_edge": answered,
        "sent_per_edge": [r["sent"] for r in reports],
        "duplicates": sum(n - 1 for r in reports for n in r["answers"].values()),
        "late": sum(len(r["late"]) for r in reports),
        "throughput_fps": sum(answered) / max(max(r["elapsed_s"] for r in reports), 1e-9),
        "p95_latency_s": float(np.percentile(latencies, 95)) if latencies else None,
        "jain": jain(answered),
    }


def jain(values: list[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one gets everything."""
    total = sum(values)
    squares = sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 1.0


def median_of(runs: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in runs if r[key] is not None))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--service-s", type=float, default=0.040,
                    help="worker time per frame, s (default: the paper's V100 figure)")
    ap.add_argument("--burn-cpu", action="store_true", help="workers compute on the CPU")
    ap.add_argument("--seconds", type=float, default=8.0, help="sending time per run, s")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration")
    ap.add_argument("--bytes", type=int, default=20_000, help="frame size, bytes")
    ap.add_argument("--overload", type=float, default=1.5,
                    help="offered load of the throughput runs / capacity of 2 workers")
    ap.add_argument("--budget-s", type=float, default=2.0, help="frame deadline, s")
    ap.add_argument("--seed", type=int, default=0, help="seed of the edges' start phases")
    args = ap.parse_args(argv)
    if args.service_s <= 0 or args.seconds <= 0 or args.repeats < 1 or args.overload <= 0:
        ap.error("--service-s, --seconds, --overload must be > 0 and --repeats >= 1")
    edges = 3
    capacity2 = 2 / args.service_s  # frames/s two workers serve
    common = {"edges": edges, "seconds": args.seconds, "service_s": args.service_s,
              "frame_bytes": args.bytes, "budget_s": args.budget_s, "burn_cpu": args.burn_cpu}
    rng = np.random.default_rng(args.seed)
    heavy_fps = args.overload * capacity2 / edges
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "settings": {**common, "overload": args.overload, "repeats": args.repeats,
                     "seed": args.seed,
                     "heavy_fps_per_edge": heavy_fps},
    }
    scale = {}
    for workers in (1, 2):
        runs = [run_once(workers=workers, fps_per_edge=heavy_fps, rng=rng, **common)
                for _ in range(args.repeats)]
        scale[workers] = {"runs": runs, "throughput_fps": median_of(runs, "throughput_fps"),
                          "jain": median_of(runs, "jain")}
        print(f"{workers} worker(s): {scale[workers]['throughput_fps']:.1f} answered frames/s, "
              f"Jain {scale[workers]['jain']:.4f}", flush=True)
    results["throughput"] = {
        "one_worker_fps": scale[1]["throughput_fps"], "two_workers_fps": scale[2]["throughput_fps"],
        "ratio": scale[2]["throughput_fps"] / scale[1]["throughput_fps"],
        "runs": {str(k): v["runs"] for k, v in scale.items()}}
    results["fairness"] = {"jain_two_workers": scale[2]["jain"],
                           "jain_one_worker": scale[1]["jain"]}
    latency = []
    for share in (0.25, 0.5, 0.75, 0.9):
        runs = [run_once(workers=2, fps_per_edge=share * capacity2 / edges, rng=rng,
                         **common)
                for _ in range(args.repeats)]
        latency.append({"offered_share_of_capacity": share,
                        "offered_fps": share * capacity2,
                        "p95_latency_s": median_of(runs, "p95_latency_s"),
                        "throughput_fps": median_of(runs, "throughput_fps"),
                        "late": sum(r["late"] for r in runs),
                        "duplicates": sum(r["duplicates"] for r in runs)})
        print(f"load {share:.0%}: p95 {latency[-1]['p95_latency_s'] * 1e3:.0f} ms", flush=True)
    results["latency_vs_load"] = latency
    print(f"ratio 2/1 workers {results['throughput']['ratio']:.2f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
