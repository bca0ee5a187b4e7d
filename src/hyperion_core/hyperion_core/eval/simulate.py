"""Trace-driven timeline of every method, one frame in flight at a time.

Each method processes the evaluation frames in order; frame ``i+1`` starts when frame
``i`` has its answer (or, for Hyperion and its variants, at ``i``'s deadline, when the
edge answer is used and the late transfer is cancelled). So FPS = frames / total time.
Network time comes from the trace (:mod:`.network`) for the real payload bytes scaled to
a 4K frame; compute time from the device profile. Detector outputs are mostly *named*
here (as jobs) and computed later in parallel; timing never depends on them, with one
exception: Elf and Elf-V predict the ROIs of frame ``i`` from their *own* latest answer
(the cloud model's output on their own payload, delivered before frame ``i`` starts), so
their payload of frame ``i`` needs the detections of frame ``i-1`` first. Those passes are
run sequentially here, through ``detect`` (cached, so reruns and sweeps are cheap). With no
answer yet (the first frame of a run), Elf sends the whole frame at its ROI quality
(our choice: it has no prediction to cut regions from; sending only the low-resolution
compensation frame instead would leave it finding few objects and so predicting few
regions afterwards). This costs Elf one large transfer at the start of every run.

Answer kinds: ``edge``, ``fuse`` (edge + cloud, Eq. 6), ``cloud``, ``merge`` (Remix blocks);
``None`` = nothing delivered.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hyperion_core.eval.cache import DetectionCache, cache_key
from hyperion_core.eval.models import Job
from hyperion_core.eval.network import mean_rate_bps, transfer
from hyperion_core.eval.payloads import Payload, roi_class_map
from hyperion_core.eval.remix import RemixProfile, plan_blocks
from hyperion_core.eval.runner import payload_size, run_jobs
from hyperion_core.fuse.boxes import Detections
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.bandwidth import BandwidthConfig, BandwidthEstimator
from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profiles import AccuracyProfile, SizeProfile

METHODS = ("hyperion", "edge-only", "cloud-only", "elf", "elf-v", "remix", "v1", "v2", "v3")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What every method is given.

    Args:
        budget_s: latency budget per frame, seconds (paper: 0.4).
        qualities: JPEG qualities the scheduler may pick per class (profiled subset).
        cloud_only_quality: cloud-only's whole-frame JPEG quality.
        v2_qualities: V2's fixed per-class qualities, class 0 first (paper's lost; mid-range).
        elf_roi_quality: Elf's ROI quality ("full quality").
        elf_lrc_downsample: Elf's low-resolution compensation factor for the rest.
        elf_lrc_quality: quality of that low-resolution rest.
        elf_margin: ROI growth on each side, fraction of box size.
        bandwidth_window: harmonic-mean window, samples (one per frame).
        max_wait_s: a baseline gives a frame up after waiting this long for the link.
        size_safety: the scheduler's size margin (:class:`SchedulerConfig`); ``None``:
            from the size profile's recorded under-prediction.
    """

    budget_s: float = 0.4
    qualities: tuple[int, ...] = (10, 30, 50, 70, 90)
    cloud_only_quality: int = 90
    v2_qualities: tuple[int, ...] = (10, 50, 90)
    elf_roi_quality: int = 95
    elf_lrc_downsample: int = 4
    elf_lrc_quality: int = 30
    elf_margin: float = 0.2
    bandwidth_window: int = 5
    max_wait_s: float = 30.0
    size_safety: float | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class FrameInputs:
    """Per-frame inputs computed once (importance classes). Nothing here may come from the
    reference detections: every method must run on what it could know itself.

    Args:
        index: position in the loaded sequence.
        path: ``.npy`` of the original frame; digest: its hash.
        shape: ``(H, W)`` of the frame, pixels.
        raw_classes: Jenks classes of Eq. 2 importance (V1).
        classes: after collaboration-aware re-classing (Hyperion).
    """

    index: int
    path: object
    digest: str
    shape: tuple[int, int]
    raw_classes: np.ndarray
    classes: np.ndarray


@dataclass(kw_only=True)
class Outcome:
    """One processed frame of one method."""

    frame: int
    start_s: float
    latency_s: float
    bytes_sent: float
    on_time: bool
    answer: str | None
    jobs: list[Job] = field(default_factory=list)
    link_bps: float = 0.0
    qualities: tuple[int, ...] = ()


class Simulator:
    """Simulates the methods on one frame sequence.

    Args:
        settings: budget and method parameters.
        device: compute times (:class:`hyperion_core.eval.devices.DeviceProfile`).
        frames: per-frame inputs, evaluation order.
        profiles: fitted ``(size, accuracy)`` profiles for the scheduler.
        remix: Remix's offline profile.
        scale: 4K area / frame area (bytes and area-proportional compute are scaled).
        cache: where payload sizes (and detector outputs) are stored.
        detect: a job's detections (xyxy frame pixels), needed only by Elf's ROI
            prediction; default: read the cache, running the pass here on a miss.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        device: object,
        frames: list[FrameInputs],
        profiles: tuple[SizeProfile, AccuracyProfile],
        remix: RemixProfile,
        scale: float,
        cache: DetectionCache,
        detect: Callable[[Job], Detections] | None = None,
    ) -> None:
        self.s, self.dev, self.frames, self.scale = settings, device, frames, scale
        self.remix, self.cache = remix, cache
        self.detect = detect or self._detect_cached
        self.scheduler = TransmissionScheduler(
            size_profile=profiles[0],
            accuracy_profile=profiles[1],
            config=SchedulerConfig(qualities=settings.qualities, budget_s=settings.budget_s,
                                   size_safety=settings.size_safety),
        )
        self._sizes: dict[str, int] = {}

    def _job(self, model: str, fr: FrameInputs, payload: Payload) -> Job:
        return Job(model=model, frame_path=fr.path, digest=fr.digest, payload=payload)  # type: ignore[arg-type]

    def _detect_cached(self, job: Job) -> Detections:
        found = self.cache.get(job.key)
        if found is None:
            run_jobs([job], cache_root=self.cache.root, workers=1, label=f"{job.model} (Elf)")
            found = self.cache.get(job.key)
        if found is None:
            raise KeyError(f"{job.model} produced no output for {job.digest}")
        return found

    def elf_roi_map(self, fr: FrameInputs, previous: Detections | None) -> np.ndarray:
        """Elf's ROI patch map for ``fr`` from its own latest answer (uint8, 1 = ROI).

        ``previous`` is the last answer the method received before ``fr`` starts; its
        boxes, grown by ``elf_margin``, are the regions. ``None`` (nothing received yet):
        the whole frame is one region.
        """
        if previous is None:
            return np.ones_like(fr.classes, dtype=np.uint8)
        return roi_class_map(fr.shape, previous.boxes, self.s.elf_margin)

    def payload_bytes(self, fr: FrameInputs, payload: Payload) -> float:
        """Encoded size of ``payload`` for this frame, scaled to a 4K frame, bytes."""
        key = cache_key(fr.digest, *payload.descriptor())
        if key not in self._sizes:
            self._sizes[key] = payload_size(self.cache, fr.digest, fr.path, payload)  # type: ignore[arg-type]
        return self._sizes[key] * self.scale

    def run(self, method: str, trace: Trace, offset_s: float) -> list[Outcome]:
        """All frames of ``method`` on ``trace`` from trace time ``offset_s``."""
        if method not in METHODS:
            raise KeyError(f"unknown method {method!r}; known: {METHODS}")
        estimator = BandwidthEstimator(config=BandwidthConfig(window=self.s.bandwidth_window))
        t = offset_s
        out = []
        previous: Detections | None = None  # Elf's latest answer received
        for fr in self.frames:
            if method in ("hyperion", "v1", "v2", "v3"):
                o = self._hyperion(method, fr, trace, t, estimator)
            elif method == "edge-only":
                o = Outcome(frame=fr.index, start_s=t, latency_s=self.dev.edge_only_s,  # type: ignore[attr-defined]
                            bytes_sent=0.0, on_time=False, answer="edge",
                            jobs=[self._job("edge", fr, Payload(kind="original"))])
            elif method == "remix":
                o = self._remix(fr, t)
            else:
                o = self._offload(method, fr, trace, t, previous)
                if method in ("elf", "elf-v") and o.answer is not None:
                    previous = self.detect(o.jobs[0])
            o.on_time = o.answer is not None and o.latency_s <= self.s.budget_s + 1e-9
            o.link_bps = trace.rate_at(t)
            out.append(o)
            t += o.latency_s
        return out

    def _hyperion(self, variant: str, fr: FrameInputs, trace: Trace, t: float,
                  estimator: BandwidthEstimator) -> Outcome:
        dev, budget = self.dev, self.s.budget_s
        classes = fr.raw_classes if variant == "v1" else fr.classes
        edge = self._job("edge", fr, Payload(kind="original"))
        local = dev.edge_s + dev.overhead_s  # type: ignore[attr-defined]
        if variant == "v2":
            qualities = tuple(self.s.v2_qualities)
        else:
            shares = np.bincount(classes.reshape(-1), minlength=3)[:3] / classes.size
            estimate = estimator.estimate()
            plan = self.scheduler.plan(
                shares=shares, raw_bytes=int(classes.size * 256 * 3 * self.scale),
                t_edge_s=local, t_cloud_s=dev.cloud_s,  # type: ignore[attr-defined]
                bandwidth_bytes_per_s=None if estimate is None else estimate / 8.0,
            )
            if plan.edge_only:
                estimator.add_sample(mean_rate_bps(trace, t, t + local))
                return Outcome(frame=fr.index, start_s=t, latency_s=local, bytes_sent=0.0,
                               on_time=False, answer="edge", jobs=[edge])
            qualities = plan.qualities
        payload = Payload(kind="patch", qualities=qualities, class_map=classes)
        nbytes = self.payload_bytes(fr, payload)
        deadline = t + budget
        sent = transfer(trace, t + local, nbytes, cancel_at_s=max(deadline, t + local))
        rate = sent.throughput_bps()
        estimator.add_sample(rate if rate is not None else mean_rate_bps(trace, t, deadline))
        done = sent.end_s + dev.cloud_s  # type: ignore[attr-defined]
        if sent.completed and done <= deadline:
            cloud = self._job("cloud", fr, payload)
            kind, jobs = ("cloud", [cloud]) if variant == "v3" else ("fuse", [edge, cloud])
            return Outcome(frame=fr.index, start_s=t, latency_s=done - t, bytes_sent=nbytes,
                           on_time=False, answer=kind, jobs=jobs, qualities=qualities)
        # Deadline rule: the edge answer is delivered at the deadline, the transfer dropped.
        return Outcome(frame=fr.index, start_s=t, latency_s=max(budget, local),
                       bytes_sent=nbytes, on_time=False, answer="edge", jobs=[edge],
                       qualities=qualities)

    def _offload(self, method: str, fr: FrameInputs, trace: Trace, t: float,
                 previous: Detections | None = None) -> Outcome:
        dev, s = self.dev, self.s
        if method == "cloud-only":
            payload = Payload(kind="jpeg", quality=s.cloud_only_quality)
            model, pre, server = "cloud", dev.overhead_s, dev.cloud_s  # type: ignore[attr-defined]
        else:
            payload = Payload(kind="roi", class_map=self.elf_roi_map(fr, previous),
                              roi_quality=s.elf_roi_quality,
                              lrc_downsample=s.elf_lrc_downsample, lrc_quality=s.elf_lrc_quality)
            model = "elf-cnn" if method == "elf" else "cloud"
            server = dev.elf_cloud_s if method == "elf" else dev.cloud_s  # type: ignore[attr-defined]
            pre = dev.elf_overhead_s  # type: ignore[attr-defined]
        nbytes = self.payload_bytes(fr, payload)
        sent = transfer(trace, t + pre, nbytes, cancel_at_s=t + pre + s.max_wait_s)
        if not sent.completed:
            return Outcome(frame=fr.index, start_s=t, latency_s=sent.end_s - t,
                           bytes_sent=nbytes, on_time=False, answer=None)
        return Outcome(frame=fr.index, start_s=t, latency_s=sent.end_s + server - t,
                       bytes_sent=nbytes, on_time=False, answer="cloud",
                       jobs=[self._job(model, fr, payload)])

    def _remix(self, fr: FrameInputs, t: float) -> Outcome:
        pass_s = self.dev.remix_pass_s  # type: ignore[attr-defined]
        choice = plan_blocks(self.remix, budget_s=self.s.budget_s, pass_s=pass_s,
                             scale=self.scale)
        jobs = [self._job(c, fr, Payload(kind="block", region=b))
                for b, c in zip(self.remix.blocks, choice, strict=True) if c != "skip"]
        passes = sum({"remix-half": 1, "remix-full": 4}.get(c, 0) for c in choice)
        latency = max(passes * pass_s * self.scale, 1e-3)
        return Outcome(frame=fr.index, start_s=t, latency_s=latency, bytes_sent=0.0,
                       on_time=False, answer="merge", jobs=jobs)


def fps(outcomes: list[Outcome]) -> float:
    """Frames per second of a sequential run: frames / total time."""
    total = sum(o.latency_s for o in outcomes)
    return len(outcomes) / total if total > 0 and math.isfinite(total) else 0.0
