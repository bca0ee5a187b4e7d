"""`hyperion demo` (the README's `make demo`): Hyperion end to end on this machine.

Starts the cloud graph and the edge graph as separate process groups in separate ROS
domains, joined only by the zenoh link, with the uplink shaped by a real LTE trace. The
camera plays a few dozen 3840x2160 array-camera frames of the embedded surveillance clip;
this command records every answer from the edge graph's output topics, shows a progress
bar, and writes a report directory: ``summary.json`` (per-frame latency, source, bytes,
qualities), ``series.png`` and ``annotated.mp4``, plus each graph's log.

The latency budget is the one in ``config/edge.yaml`` (scaled to CPU speed, see there).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image
from tqdm import tqdm
from vision_msgs.msg import Detection2DArray

from hyperion.demo_report import FrameRecord, cpu_table, write_report
from hyperion.session import GraphProcess, SpinningNode, free_port, wait_until
from hyperion_msgs.msg import EncodeReport, FrameTiming, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import from_detection_array
from hyperion_runtime.image_bridge import image_to_bgr
from hyperion_runtime.node import stamp_ns

SOURCES = {FrameTiming.SOURCE_EDGE: "edge", FrameTiming.SOURCE_CLOUD: "cloud",
           FrameTiming.SOURCE_FUSED: "fused"}
#: This CPU runs the cloud model ~15x slower than the paper's V100 (4K cloud detection
#: ~0.6 s alone, ~1.5 s beside the edge graph, vs ~0.04 s), so the budget is scaled from
#: 0.4 s to 3 s (config/edge.yaml) and the uplink gets ~1.3 s instead of ~0.3 s. Scaling the
#: trace's rates by 0.2 keeps the paper's balance between compute and transmission: the
#: LTE trace's ~30 Mbit/s becomes ~6 Mbit/s, ~1 MB per frame in the time left, so a 4K
#: frame's bytes (2 MB at q90) again decide whether, and at what quality, it is sent.
DEMO_RATE_SCALE = 0.2
#: Width of the frames kept for the annotated video, pixels.
VIDEO_WIDTH = 960


class DemoRecorder(SpinningNode):
    """Collects frames (downscaled), answers, timings and plans by frame sequence."""

    def __init__(self, *, domain: int) -> None:
        super().__init__("hyperion_demo", domain=domain)
        self.frames: dict[int, np.ndarray] = {}
        self.scale = 1.0
        self.answers: dict[int, Detection2DArray] = {}
        self.timings: dict[int, FrameTiming] = {}
        self.plans: dict[int, QualityPlan] = {}
        # The encoder's reports: what was offloaded, also for frames whose cloud answer
        # came too late to be counted by the ensembler.
        self.reports: dict[int, EncodeReport] = {}
        node = self.node
        node.create_subscription(Image, qos.IMAGE, self._on_image, qos.image_qos())
        node.create_subscription(Detection2DArray, qos.DETECTIONS, self._keep(self.answers),
                                 qos.resent_result_qos())
        node.create_subscription(FrameTiming, qos.TIMING, self._keep(self.timings),
                                 qos.resent_result_qos())
        node.create_subscription(QualityPlan, qos.PLAN, self._keep(self.plans), qos.result_qos())
        node.create_subscription(EncodeReport, qos.ENCODE_REPORT, self._keep(self.reports),
                                 qos.result_qos())
        self.start()

    def _keep(self, store: dict) -> Callable[[object], None]:
        def on_message(msg: object) -> None:
            key = getattr(msg, "sequence", None)
            if key is None:  # Detection2DArray has no sequence: its header stamp is the key
                key = stamp_ns(msg.header.stamp)
            with self.lock:
                store[key] = msg

        return on_message

    def _on_image(self, msg: Image) -> None:
        import cv2

        frame = image_to_bgr(msg)
        scale = VIDEO_WIDTH / frame.shape[1]
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with self.lock:
            self.scale = scale
            self.frames[stamp_ns(msg.header.stamp)] = small

    def records(self) -> list[FrameRecord]:
        """One record per answered frame, in capture order."""
        with self.lock:
            timings = dict(self.timings)
            answers, plans, reports = dict(self.answers), dict(self.plans), dict(self.reports)
        records = []
        for seq in sorted(timings):
            timing = timings[seq]
            plan = plans.get(seq)
            found = from_detection_array(answers[seq]) if seq in answers else None
            report = reports.get(seq)
            records.append(FrameRecord(
                sequence=seq, source=SOURCES.get(timing.source, "?"),
                latency_s=timing.latency_s, deadline_met=timing.deadline_met,
                bytes_sent=report.payload_bytes if report and report.sent else timing.bytes_sent,
                edge_reason=timing.edge_reason,
                boxes=found.boxes if found else np.zeros((0, 4)),
                scores=found.scores if found else np.zeros(0),
                qualities=tuple(plan.class_quality) if plan and not plan.edge_only else (),
                bandwidth_bps=plan.bandwidth_estimate_bps if plan else 0.0,
                stages=stage_marks(timing),
            ))
        return records


def stage_marks(timing: FrameTiming) -> dict[str, float]:
    """Seconds from capture to each stage stamp of ``timing`` that is set."""
    capture = stamp_ns(timing.header.stamp)
    marks = {}
    for stage in ("edge_detected", "scored", "scheduled", "encoded", "cloud_answer", "published"):
        stamp = stamp_ns(getattr(timing, f"{stage}_stamp"))
        if stamp:
            marks[stage] = (stamp - capture) / 1e9
    return marks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hyperion demo", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="camera frames (default 24)")
    parser.add_argument("--out", type=Path, default=Path("reports/demo"), help="report folder")
    parser.add_argument("--trace", default="driving/lte/8",
                        help="uplink trace (5G-MeMU spec; '' = unshaped loopback)")
    parser.add_argument("--trace-offset", type=float, default=0.0,
                        help="start position in the trace, seconds")
    parser.add_argument("--trace-rate-scale", type=float, default=DEMO_RATE_SCALE,
                        help=f"multiply the trace's rates (default {DEMO_RATE_SCALE}: see "
                             "DEMO_RATE_SCALE)")
    parser.add_argument("--rate", type=float, default=None,
                        help="camera frame rate, Hz (default: config/edge.yaml)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="[NODE.]K:=V",
                        help="extra parameter override for the edge graph")
    parser.add_argument("--startup-timeout", type=float, default=300.0,
                        help="seconds allowed for both graphs to load their models")
    return parser.parse_args(argv)


def start_graphs(args: argparse.Namespace, edge_domain: int, cloud_domain: int,
                 ) -> tuple[GraphProcess, GraphProcess]:
    """Cloud first (its detector takes longest to load), then the edge."""
    port = free_port()
    cloud = GraphProcess("cloud", domain=cloud_domain, log_dir=args.out,
                         params=[f"cloud_link.listen:=tcp/127.0.0.1:{port}"])
    edge_params = [
        f"edge_link.connect:=tcp/127.0.0.1:{port}",
        f"edge_link.trace:={args.trace}",
        f"edge_link.trace_offset_s:={args.trace_offset}",
        f"edge_link.trace_rate_scale:={args.trace_rate_scale}",
        f"camera.max_frames:={args.frames}",
        "camera.loop:=false",
        # detector, scorer, encoder and this recorder: the graph is up.
        "camera.wait_for_subscribers:=4",
        *([f"camera.rate_hz:={args.rate}"] if args.rate else []),
        *args.param,
    ]
    return cloud, GraphProcess("edge", domain=edge_domain, log_dir=args.out, params=edge_params)


def wait_for_cloud(cloud_domain: int, timeout_s: float) -> None:
    """Until cloud_link publishes and cloud_detector (which loads its model first)
    subscribes on the cloud graph's encoded-frame topic."""
    probe = SpinningNode("hyperion_demo_cloud_probe", domain=cloud_domain)
    probe.start()
    try:
        wait_until(lambda: probe.node.count_subscribers("/hyperion/cloud/encoded") > 0
                   and probe.node.count_publishers("/hyperion/cloud/encoded") > 0,
                   timeout_s, "the cloud graph to load its detector")
    finally:
        probe.close()


def graph_cpu(edge: GraphProcess, cloud: GraphProcess) -> dict[str, float]:
    """CPU seconds used so far by every node of both graphs."""
    return {**edge.cpu_seconds(), **cloud.cpu_seconds()}


def wait_for_answers(recorder: DemoRecorder, edge: GraphProcess, cloud: GraphProcess,
                     args: argparse.Namespace) -> dict[str, object] | None:
    """Until every camera frame is answered, or its deadline has long passed; returns the
    nodes' CPU time per frame from the first frame to the last answer (:func:`cpu_table`).

    The camera sends ``args.frames`` frames; a frame still unanswered two budgets after the
    last frame arrived never will be (the summary then shows frames_in > answered).
    """
    grace_s = 2 * configured_budget_s(args.param) + 10.0
    started = time.monotonic()
    last_frame_at = None
    cpu_start: tuple[float, dict[str, float]] | None = None
    with tqdm(total=args.frames, unit="frame", desc="hyperion demo", mininterval=2.0) as bar:
        while True:
            with recorder.lock:
                frames, answered = len(recorder.frames), len(recorder.timings)
            if frames and cpu_start is None:  # models loaded, the first frame under way
                cpu_start = (time.monotonic(), graph_cpu(edge, cloud))
            if answered > bar.n:
                bar.update(answered - bar.n)
            if frames == args.frames and answered >= frames:
                break
            if frames == args.frames and last_frame_at is None:
                last_frame_at = time.monotonic()
            if last_frame_at is not None and time.monotonic() - last_frame_at > grace_s:
                break
            if frames == 0 and time.monotonic() - started > args.startup_timeout:
                raise TimeoutError("the edge graph published no frame; see edge.log")
            if edge.proc.poll() is not None or cloud.proc.poll() is not None:
                print("a graph exited early; see its log in the report folder", file=sys.stderr)
                return None
            time.sleep(0.2)
    if cpu_start is None:
        return None
    return cpu_table(cpu_start[1], graph_cpu(edge, cloud), frames=frames,
                     wall_s=time.monotonic() - cpu_start[0], cores=os.cpu_count() or 1)


def run(args: argparse.Namespace) -> int:
    base = int(os.environ.get("ROS_DOMAIN_ID", "0")) or 40 + os.getpid() % 40
    edge_domain, cloud_domain = base, base + 1
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    recorder = DemoRecorder(domain=edge_domain)
    cloud, edge = start_graphs(args, edge_domain, cloud_domain)
    try:
        wait_for_cloud(cloud_domain, args.startup_timeout)
        cpu = wait_for_answers(recorder, edge, cloud, args)
    finally:
        edge.stop()
        cloud.stop()
        recorder.close()
    records = recorder.records()
    summary = write_report(args.out, records, budget_s=configured_budget_s(args.param),
                           frames_in=len(recorder.frames), frames=recorder.frames,
                           frame_scale=recorder.scale, cpu=cpu)
    print(f"{summary['frames_answered']}/{summary['frames_in']} frames answered; by source "
          f"{summary['answers_by_source']}; deadline misses {summary['deadline_misses']}; "
          f"median latency {summary['latency_s']['median']}; report in {args.out}/")
    return 0 if records and summary["frames_answered"] == summary["frames_in"] else 1


def configured_budget_s(overrides: list[str]) -> float:
    """The latency budget in force, seconds: a ``-p latency_budget_s:=B`` override (for all
    nodes or the ensembler's), else the installed edge.yaml's."""
    import yaml

    from hyperion.graph import config_path

    for override in reversed(overrides):
        name, _, value = override.partition(":=")
        if name in ("latency_budget_s", "ensembler.latency_budget_s"):
            return float(value)
    config = yaml.safe_load(config_path("edge.yaml").read_text())
    return float(config["/**"]["ros__parameters"]["latency_budget_s"])


def main(argv: list[str] | None = None) -> int:
    """Console entry: ``hyperion demo [--frames N] [--out DIR] [--trace SPEC]``."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
