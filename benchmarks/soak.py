"""Soak: run the edge and cloud graphs for a while and look for leaks, losses and misses.

Starts ``hyperion run cloud`` and ``hyperion run edge`` (each in its own ROS domain,
linked by zenoh on a free loopback port) with the demo's graph at a reduced size by
default (array camera 2x2 tiles of 960x540, one edge-detector tile, a 8x14 token grid,
1 frame/s, budget 6 s; ``--full`` keeps edge.yaml's 4K settings). A probe node in the edge
domain records every camera frame, answer and FrameTiming. Every ``--sample-s`` the RSS
of each node process is read from ``/proc``. At the end it reports frames in/out,
answers by source, deadline misses, lost and duplicated sequences, and per process a
least-squares RSS slope in MB/min (after a warm-up that excludes model loading).

    python benchmarks/soak.py --duration 600 --json reports/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion.session import GraphProcess, SpinningNode, free_port
from hyperion_msgs.msg import FrameTiming
from hyperion_runtime import qos
from hyperion_runtime.node import stamp_ns

SMALL = ["camera.grid_columns:=2", "camera.grid_rows:=2", "camera.width:=960",
         "camera.height:=540", "edge_detector.tile_columns:=1", "edge_detector.tile_rows:=1",
         "edge_detector.tile_scale:=1.0", "scorer.token_rows:=8", "scorer.token_cols:=14",
         "camera.rate_hz:=1.0", "latency_budget_s:=6.0", "scheduler.cloud_latency_s:=1.5"]
SOURCES = {FrameTiming.SOURCE_EDGE: "edge", FrameTiming.SOURCE_CLOUD: "cloud",
           FrameTiming.SOURCE_FUSED: "fused"}


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MB (None once it exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, MB/min; None for fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return 60.0 * cov / var if var else None


class Recorder(SpinningNode):
    """Probe node in the edge domain: frames, answers, timings, diagnostics counters."""

    def __init__(self, domain: int) -> None:
        super().__init__("hyperion_soak_probe", domain=domain)
        self.frames: list[int] = []
        self.answers: list[int] = []
        self.timings: list[FrameTiming] = []
        self.diagnostics: dict[str, dict[str, str]] = {}
        sub = self.node.create_subscription
        sub(Image, qos.IMAGE, lambda m: self._add(self.frames, stamp_ns(m.header.stamp)),
            qos.image_qos())
        sub(Detection2DArray, qos.DETECTIONS,
            lambda m: self._add(self.answers, stamp_ns(m.header.stamp)),
            qos.resent_result_qos())
        sub(FrameTiming, qos.TIMING, lambda m: self._add(self.timings, m),
            qos.resent_result_qos())
        sub(DiagnosticArray, qos.DIAGNOSTICS, self._on_diagnostics, qos.diagnostics_qos())
        self.start()

    def _add(self, target: list, item: object) -> None:
        with self.lock:
            target.append(item)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}


def summarize(rec: Recorder, rss: dict[str, list[tuple[float, float]]], args: argparse.Namespace,
              elapsed_s: float) -> dict:
    with rec.lock:
        frames, answers = list(rec.frames), list(rec.answers)
        timings, diagnostics = list(rec.timings), dict(rec.diagnostics)
    # Frames captured in the last budget+2 s may still be in flight when we stop.
    settled = set(frames[:-int(args.settle_frames)] if args.settle_frames else frames)
    answered = {}
    for seq in answers:
        answered[seq] = answered.get(seq, 0) + 1
    by_source: dict[str, int] = {}
    for t in timings:
        by_source[SOURCES.get(t.source, str(t.source))] = (
            by_source.get(SOURCES.get(t.source, str(t.source)), 0) + 1)
    dropped = sum(int(d.get("detect_dropped", 0)) + int(d.get("images_lost", 0))
                  for name, d in diagnostics.items() if name.endswith("edge_detector"))
    warm = args.warmup_s
    processes = {}
    for name, points in rss.items():
        steady = [(t, m) for t, m in points if t >= warm]
        processes[name] = {
            "rss_first_mb": round(points[0][1], 1) if points else None,
            "rss_last_mb": round(points[-1][1], 1) if points else None,
            "rss_max_mb": round(max(m for _, m in points), 1) if points else None,
            "slope_mb_per_min": (None if (s := slope_mb_per_min(steady)) is None
                                 else round(s, 3)),
            "samples": len(points),
        }
    return {
        "duration_s": round(elapsed_s, 1),
        "settings": "small (960x540, 2x2 array camera, 1 fps, budget 6 s)" if not args.full
        else "edge.yaml defaults (4K)",
        "frames_in": len(frames),
        "answers_out": len(answers),
        "answers_by_source": by_source,
        "deadline_misses": sum(not t.deadline_met for t in timings),
        "latency_s_max": round(max((t.latency_s for t in timings), default=0.0), 3),
        "lost_sequences": len(settled - set(answered)),
        "dropped_reported": dropped,
        "duplicated_sequences": sum(1 for c in answered.values() if c > 1),
        "answers_without_frame": len(set(answered) - set(frames)),
        "processes": processes,
        "diagnostics": diagnostics,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of soak")
    parser.add_argument("--sample-s", type=float, default=5.0, help="RSS sample period, s")
    parser.add_argument("--warmup-s", type=float, default=60.0,
                        help="RSS samples before this are left out of the slope, s")
    parser.add_argument("--settle-frames", type=int, default=8,
                        help="newest frames not required to be answered at the stop")
    parser.add_argument("--full", action="store_true", help="4K frames of edge.yaml")
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    base = 150 + os.getpid() % 70
    port = free_port()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "hyperion-soak"
    cloud = GraphProcess("cloud", domain=base + 1, log_dir=logs,
                         params=[f"cloud_link.listen:=tcp/127.0.0.1:{port}"])
    rec = Recorder(base)
    edge = GraphProcess("edge", domain=base, log_dir=logs,
                        params=[*([] if args.full else SMALL),
                                f"edge_link.connect:=tcp/127.0.0.1:{port}",
                                "camera.wait_for_subscribers:=4"])
    rss: dict[str, list[tuple[float, float]]] = {}
    t0 = time.monotonic()
    try:
        while (elapsed := time.monotonic() - t0) < args.duration:
            for graph, process in (("edge", edge), ("cloud", cloud)):
                if process.proc.poll() is not None:
                    raise RuntimeError(f"{graph} graph exited with {process.proc.returncode}")
                for pid, name in process.nodes().items():
                    value = rss_mb(pid)
                    if value is not None:
                        rss.setdefault(f"{graph}/{name}", []).append((elapsed, value))
            time.sleep(args.sample_s)  # a sampling period, not a synchronisation
    finally:
        elapsed = time.monotonic() - t0
        codes = {"edge": edge.stop(timeout_s=30.0), "cloud": cloud.stop(timeout_s=30.0)}
        report = summarize(rec, rss, args, elapsed)
        report["exit_codes"] = codes
        rec.close()
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
