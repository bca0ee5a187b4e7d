"""What every simulated method shares: settings, per-frame inputs, outcomes, run state.

A method processes the evaluation frames in order, one frame in flight at a time: frame
``i+1`` starts when frame ``i`` has its answer (for Hyperion and its variants, at the
latest at ``i``'s deadline, when the edge answers and the late transfer is cancelled). So
FPS = frames / total time. Network time comes from the trace (:mod:`.network`) for real
payload bytes; compute time from the device profile (:mod:`.devices`).

Symmetric cold start: before its first frame every method's run gets the same start-up
probe (the uplink's mean rate over ``probe_s``), and the first ``warmup_frames`` of every
run are simulated but not scored, for every method alike.

Answer kinds: ``edge`` (the edge's passes, merged by NMS when it refined), ``fuse`` (edge
+ cloud, Eq. 6), ``cloud``, ``merge`` (boxes of several passes merged by NMS); ``None`` =
nothing delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hyperion_core.eval.models import Job
from hyperion_core.eval.network import Link


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What every method is given.

    Args:
        budget_s: latency budget per frame, seconds (paper: 0.4).
        qualities: JPEG qualities the scheduler may pick per class (the profiled knots).
        class0_downsample: class-0 downsampling factors the scheduler may pick.
        cloud_only_quality: cloud-only's whole-frame JPEG quality.
        v2_qualities: V2's fixed per-class qualities, class 0 first.
        bandwidth_window: harmonic-mean window, samples (one per frame).
        probe_s: start-up probe: the bandwidth estimator's first sample is the uplink's
            mean rate over this long before the first frame (every method).
        warmup_frames: frames at the start of every run that are not scored.
        max_wait_s: a baseline gives a frame up after waiting this long for the link.
        size_safety: the scheduler's size margin; ``None``: from the size profile.
        byte_price: the scheduler's byte price; ``None``: the profile's; 0 (default): fill
            the budget (the paper; see the scheduler node).
        size_correction_window: frames the closed-loop size correction remembers.
    """

    budget_s: float = 0.4
    qualities: tuple[int, ...] = (5, 10, 30, 50, 70, 90)
    class0_downsample: tuple[int, ...] = (1, 2, 4, 8)
    cloud_only_quality: int = 90
    v2_qualities: tuple[int, ...] = (10, 50, 90)
    bandwidth_window: int = 5
    probe_s: float = 1.0
    warmup_frames: int = 3
    max_wait_s: float = 30.0
    size_safety: float | None = None
    byte_price: float | None = 0.0
    size_correction_window: int = 5


@dataclass(frozen=True, kw_only=True, eq=False)
class FrameInputs:
    """Per-frame inputs computed once. Nothing here may come from the reference: every
    method runs on what it could know itself.

    Args:
        index: position in the evaluated sequence.
        path: ``.npy`` of the original frame; digest: its hash.
        shape: ``(H, W)`` of the frame, pixels.
        raw_classes: Jenks classes of paper Eq. 2 attention, not re-classed (V1).
        classes: Hyperion's classes (configured importance source, re-classed).
        source: which clip or folder the frame comes from (for per-content results).
    """

    index: int
    path: object
    digest: str
    shape: tuple[int, int]
    raw_classes: np.ndarray
    classes: np.ndarray
    source: str = ""


@dataclass(kw_only=True)
class Outcome:
    """One processed frame of one method.

    Args:
        frame: index of the frame.
        start_s: trace time the frame started, seconds.
        latency_s: capture to answer, seconds.
        bytes_sent: bytes the uplink actually carried for the frame.
        on_time: answered within the budget.
        answer: kind of answer (module docstring), ``None`` if nothing was delivered.
        jobs: model passes whose outputs make up the answer.
        link_bps: the trace's rate when the frame started.
        qualities: per-class JPEG qualities sent (Hyperion and variants).
        downsample: class-0 downsampling sent.
        predicted_bytes: the scheduler's corrected size prediction of what was sent.
        real_bytes: the payload's real size (sent whole or not).
        reason: why the edge answered alone, if it did.
    """

    frame: int
    start_s: float
    latency_s: float
    bytes_sent: float
    on_time: bool
    answer: str | None
    jobs: list[Job] = field(default_factory=list)
    link_bps: float = 0.0
    qualities: tuple[int, ...] = ()
    downsample: int = 1
    predicted_bytes: float = 0.0
    real_bytes: float = 0.0
    reason: str = ""


class Method(Protocol):
    """A method simulated frame by frame; state kept across the frames of one run."""

    def start(self, link: Link, t0_s: float) -> None:
        """A new run on ``link`` from trace time ``t0_s`` (reset per-run state)."""

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        """Process ``frame`` starting at trace time ``t_s``."""


def run_method(method: Method, frames: list[FrameInputs], link: Link, offset_s: float,
               budget_s: float) -> list[Outcome]:
    """All ``frames`` of ``method`` on ``link`` from trace time ``offset_s``, in order."""
    method.start(link, offset_s)
    t = offset_s
    out = []
    for frame in frames:
        outcome = method.step(frame, link, t)
        outcome.on_time = outcome.answer is not None and outcome.latency_s <= budget_s + 1e-9
        outcome.link_bps = link.throughput.rate_at(t)
        out.append(outcome)
        t += outcome.latency_s
    return out


def fps(outcomes: list[Outcome]) -> float:
    """Frames per second of a sequential run: frames / total time."""
    total = sum(o.latency_s for o in outcomes)
    return len(outcomes) / total if total > 0 and np.isfinite(total) else 0.0
