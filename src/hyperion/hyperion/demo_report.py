"""The demo's report directory: JSON summary, plots and an annotated video.

Built from per-frame records the demo collects from the edge graph's output topics, so
this module needs no ROS and is tested on its own.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

#: Box colours (BGR) in the annotated video, by answer source.
SOURCE_COLOURS = {"edge": (0, 200, 255), "cloud": (255, 160, 0), "fused": (0, 220, 0)}


@dataclass(kw_only=True)
class FrameRecord:
    """What the demo saw for one camera frame.

    Args:
        sequence: frame key (capture stamp, ns).
        source: "edge", "cloud" or "fused".
        latency_s: capture to published answer, seconds.
        deadline_met: answer published by the frame's deadline.
        bytes_sent: encoded bytes offloaded for this frame (0 when edge-only).
        boxes: (N, 4) xyxy boxes of the published answer, frame pixels.
        scores: (N,) confidences.
        qualities: JPEG quality per class chosen by the scheduler (empty when edge-only).
        bandwidth_bps: scheduler's uplink estimate for this frame, bit/s.
        edge_reason: why the cloud did not contribute, when it did not.
        stages: seconds from capture to each stage's completion (FrameTiming stamps),
            only for stages that ran, e.g. ``{"edge_detected": 1.2, "scored": 1.9}``.
    """

    sequence: int
    source: str
    latency_s: float
    deadline_met: bool
    bytes_sent: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    qualities: tuple[int, ...] = ()
    bandwidth_bps: float = 0.0
    edge_reason: str = ""
    stages: dict[str, float] = field(default_factory=dict)


#: Table I of the paper from a live run: stage -> (from, to) completion marks.
STAGE_SPANS = {
    "edge detection": ("capture", "edge_detected"),
    "edge detection + importance scoring": ("capture", "scored"),
    "scheduling": ("scored", "scheduled"),
    "encode + uplink + cloud + downlink": ("scheduled", "cloud_answer"),
    "encoding": ("scheduled", "encoded"),
    "uplink + cloud + downlink": ("encoded", "cloud_answer"),
    "fusion and publishing": ("answer_inputs", "published"),
}


#: The nodes that run detectors; every other node's CPU time is the graph's own cost.
MODEL_NODES = ("edge_detector", "cloud_detector")


def cpu_table(start: dict[str, float], end: dict[str, float], *, frames: int, wall_s: float,
              cores: int) -> dict[str, object]:
    """CPU seconds per frame of each node between two snapshots, and their shares.

    Args:
        start, end: :meth:`hyperion.session.GraphProcess.cpu_seconds` of both graphs.
        frames: frames processed between the snapshots.
        wall_s: seconds between the snapshots.
        cores: CPU cores of the machine.
    """
    per_frame = {name: (end[name] - start.get(name, 0.0)) / max(frames, 1)
                 for name in sorted(end)}
    total = sum(per_frame.values())
    models = sum(v for name, v in per_frame.items() if name in MODEL_NODES)
    return {
        "cpu_s_per_frame": per_frame,
        "total_cpu_s_per_frame": total,
        "graph_overhead_share": (total - models) / total if total > 0 else None,
        "cpu_utilisation": total * frames / (wall_s * cores) if wall_s > 0 else None,
    }


def stage_durations(record: FrameRecord) -> dict[str, float]:
    """Seconds spent in each stage of :data:`STAGE_SPANS` that ran for this frame."""
    marks = {"capture": 0.0, **record.stages}
    inputs = [marks[k] for k in ("edge_detected", "cloud_answer") if k in marks]
    if inputs:
        marks["answer_inputs"] = max(inputs)
    return {name: marks[end] - marks[start] for name, (start, end) in STAGE_SPANS.items()
            if start in marks and end in marks}


def stage_table(records: list[FrameRecord]) -> dict[str, dict[str, float]]:
    """Median and count of each stage's duration over the run, seconds."""
    table: dict[str, list[float]] = {}
    for record in records:
        for name, seconds in stage_durations(record).items():
            table.setdefault(name, []).append(seconds)
    return {name: {"median_s": statistics.median(values), "frames": len(values)}
            for name, values in table.items()}


def summarize(records: list[FrameRecord], *, budget_s: float, frames_in: int) -> dict:
    """Aggregate figures and the per-frame table of the run, JSON-ready."""
    latencies = [r.latency_s for r in records]
    per_frame = []
    for r in records:
        row = asdict(r)
        row["detections"] = len(r.scores)
        del row["boxes"], row["scores"]
        row["qualities"] = list(r.qualities)
        per_frame.append(row)
    return {
        "frames_in": frames_in,
        "frames_answered": len(records),
        "budget_s": budget_s,
        "answers_by_source": dict(Counter(r.source for r in records)),
        "deadline_misses": sum(not r.deadline_met for r in records),
        "latency_s": {
            "mean": statistics.fmean(latencies) if latencies else None,
            "median": statistics.median(latencies) if latencies else None,
            "max": max(latencies, default=None),
        },
        "mb_sent_per_frame": (
            statistics.fmean(r.bytes_sent for r in records) / 1e6 if records else None
        ),
        "stages": stage_table(records),
        "frames": per_frame,
    }


def plot_series(records: list[FrameRecord], path: Path, *, budget_s: float) -> None:
    """Latency, bytes sent, qualities and bandwidth per frame, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = np.arange(len(records))
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    axes[0].plot(index, [r.latency_s for r in records], marker="o")
    axes[0].axhline(budget_s, color="red", linestyle="--", label="budget")
    axes[0].set_ylabel("latency (s)")
    axes[0].legend()
    axes[1].bar(index, [r.bytes_sent / 1e6 for r in records])
    axes[1].set_ylabel("sent (MB)")
    for c in range(max((len(r.qualities) for r in records), default=0)):
        axes[2].plot(
            index, [r.qualities[c] if len(r.qualities) > c else np.nan for r in records],
            marker=".", label=f"class {c}",
        )
    axes[2].set_ylabel("JPEG quality")
    if axes[2].lines:
        axes[2].legend()
    axes[3].plot(index, [r.bandwidth_bps / 1e6 for r in records])
    axes[3].set_ylabel("uplink est. (Mbit/s)")
    axes[3].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def annotate(frame: np.ndarray, record: FrameRecord, *, scale: float) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the answer's boxes and a status line.

    Args:
        frame: the camera frame already downscaled by ``scale`` (viewing size).
        record: the frame's answer; boxes in full-frame pixels.
        scale: viewing size / camera frame size.
    """
    import cv2

    small = frame.copy()
    colour = SOURCE_COLOURS.get(record.source, (255, 255, 255))
    for x0, y0, x1, y1 in (record.boxes * scale).astype(int):
        cv2.rectangle(small, (x0, y0), (x1, y1), colour, 1)
    text = (
        f"{record.source}  {record.latency_s * 1e3:.0f} ms  "
        f"{record.bytes_sent / 1e6:.2f} MB  q={list(record.qualities)}  {len(record.scores)} det"
    )
    cv2.putText(small, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3)
    cv2.putText(small, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1)
    return small


def write_video(
    pairs: Iterable[tuple[np.ndarray, FrameRecord]], path: Path, *, fps: float, scale: float
) -> int:
    """Write annotated frames to an MP4 file; returns the number of frames written."""
    import cv2

    writer = None
    written = 0
    try:
        for frame, record in pairs:
            image = annotate(frame, record, scale=scale)
            if writer is None:
                size = (image.shape[1], image.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            writer.write(image)
            written += 1
    finally:
        if writer is not None:
            writer.release()
    return written


def write_report(
    out_dir: Path,
    records: list[FrameRecord],
    *,
    budget_s: float,
    frames_in: int,
    frames: dict[int, np.ndarray] | None = None,
    frame_scale: float = 1.0,
    video_fps: float = 2.0,
    cpu: dict[str, object] | None = None,
) -> dict:
    """Write ``summary.json``, ``series.png`` and (given frames) ``annotated.mp4``.

    Args:
        frames: viewing-size frames by sequence, downscaled by ``frame_scale``.
        cpu: :func:`cpu_table` of the run, kept in the summary as ``cpu``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(records, budget_s=budget_s, frames_in=frames_in)
    if cpu is not None:
        summary["cpu"] = cpu
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if records:
        plot_series(records, out_dir / "series.png", budget_s=budget_s)
    if frames:
        pairs = ((frames[r.sequence], r) for r in records if r.sequence in frames)
        write_video(pairs, out_dir / "annotated.mp4", fps=video_fps, scale=frame_scale)
    return summary
