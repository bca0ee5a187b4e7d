"""Hyperion and its ablations in the simulator, step for step as the graph runs them.

Per frame: the edge stage (detection + importance, ``edge_s``), then the scheduler plans
with the harmonic-mean bandwidth, the profiled cloud time plus the link's round trip, and
the closed-loop size correction; the encoder checks the real payload against the byte
budget and falls to the plan's fallbacks (or sends nothing: the edge answers at once);
the payload goes up, the cloud detects, the answer comes back; the ensembler fuses it
(Eq. 6) if it is in by the deadline, else the edge answers at the deadline and the
transfer is cancelled there (charged only the bytes it carried).

An edge-only frame (planned so, or no encoding fits) is refined when the method has a
refiner (:mod:`.edge_refine`): extra edge passes in the time left before the deadline.

Variants: ``v1`` plans on the classes of raw Eq. 2 attention (no re-classing), ``v2``
sends fixed per-class qualities (no scheduler, no budget check), ``v3`` answers with the
cloud's boxes alone when they come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.edge_refine import EdgeRefiner
from hyperion_core.eval.models import Job
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.runner import payload_sizes
from hyperion_core.eval.timeline import FrameInputs, Outcome, Settings
from hyperion_core.schedule.bandwidth import BandwidthConfig, BandwidthEstimator
from hyperion_core.schedule.knapsack import Plan, SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profile_file import Profiles
from hyperion_core.schedule.size_table import SizeCorrection

VARIANTS = ("hyperion", "v1", "v2", "v3")


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One encoding the encoder may try: qualities, class-0 downsampling, model bytes."""

    qualities: tuple[int, ...]
    downsample: int
    class_bytes: tuple[float, ...]
    predicted_bytes: float


def candidates(plan: Plan) -> list[Candidate]:
    """The plan, then its fallbacks (the order the encoder tries them)."""
    return [Candidate(qualities=p.qualities, downsample=p.downsample[0],
                      class_bytes=p.class_bytes, predicted_bytes=p.predicted_bytes)
            for p in (plan, *plan.fallbacks)]


class HyperionMethod:
    """Hyperion (or a variant) over one run; see the module docstring.

    Args:
        variant: one of :data:`VARIANTS`.
        settings: budget, qualities, cold start.
        device: compute times (:class:`~hyperion_core.eval.devices.DeviceProfile`).
        profiles: the scheduler's size and accuracy models, price and edge accuracy.
        cache: payload sizes and detector outputs.
        v2_qualities: the fixed policy of ``v2`` (default ``settings.v2_qualities``).
        refiner: plans extra edge passes for edge-only frames (``None``: the edge stage's
            answer alone).
    """

    def __init__(self, *, variant: str, settings: Settings, device: object, profiles: Profiles,
                 cache: DetectionCache, v2_qualities: tuple[int, ...] | None = None,
                 refiner: EdgeRefiner | None = None) -> None:
        if variant not in VARIANTS:
            raise KeyError(f"unknown variant {variant!r}; known: {VARIANTS}")
        self.variant, self.s, self.dev, self.cache = variant, settings, device, cache
        self.refiner = refiner
        self.v2_qualities = v2_qualities or settings.v2_qualities
        price = profiles.byte_price if settings.byte_price is None else settings.byte_price
        self.scheduler = TransmissionScheduler(
            size_profile=profiles.size, accuracy_profile=profiles.accuracy,
            config=SchedulerConfig(qualities=settings.qualities, budget_s=settings.budget_s,
                                   class0_downsample=settings.class0_downsample,
                                   size_safety=settings.size_safety, byte_price=price,
                                   edge_accuracy=profiles.edge_accuracy))

    def start(self, link: Link, t0_s: float) -> None:
        self.estimator = BandwidthEstimator(config=BandwidthConfig(window=self.s.bandwidth_window))
        self.estimator.add_sample(link.mean_rate_bps(t0_s - self.s.probe_s, t0_s) / 8.0)
        self.correction = SizeCorrection(classes=self.scheduler.classes,
                                         window=self.s.size_correction_window)

    def _job(self, model: str, frame: FrameInputs, payload: Payload) -> Job:
        return Job(model=model, frame_path=frame.path, digest=frame.digest,  # type: ignore[arg-type]
                   payload=payload)

    def _payload(self, frame: FrameInputs, classes: np.ndarray, c: Candidate) -> Payload:
        return Payload(kind="patch", qualities=c.qualities, class_map=classes,
                       downsample=c.downsample)

    def _plan(self, frame: FrameInputs, classes: np.ndarray, local_s: float, rtt_s: float
              ) -> tuple[list[Candidate], float, str]:
        """The encodings to try and the byte budget; none (and why) for edge-only."""
        if self.variant == "v2":
            fixed = Candidate(qualities=tuple(self.v2_qualities), downsample=1, class_bytes=(),
                              predicted_bytes=0.0)
            return [fixed], float("inf"), ""
        shares = np.bincount(classes.reshape(-1), minlength=self.scheduler.classes)
        shares = shares[: self.scheduler.classes] / classes.size
        estimate = self.estimator.estimate()
        plan = self.scheduler.plan(
            shares=shares, raw_bytes=int(classes.size * 256 * 3), t_edge_s=local_s,
            t_cloud_s=self.dev.cloud_s + rtt_s,  # type: ignore[attr-defined]
            bandwidth_bytes_per_s=estimate, size_correction=self.correction.factors())
        if plan.edge_only:
            return [], 0.0, plan.reason
        return candidates(plan), plan.byte_budget, ""

    def _refine(self, frame: FrameInputs, edge: Job, time_s: float) -> tuple[list[Job], float]:
        """Extra edge passes for an edge-only frame, and their time."""
        if self.refiner is None:
            return [], 0.0
        found = self.cache.get(edge.key)
        if found is None:
            raise KeyError(f"edge refinement needs the edge detections of {frame.digest}")
        return self.refiner.jobs(frame, found, time_s)

    def step(self, frame: FrameInputs, link: Link, t_s: float) -> Outcome:
        dev, budget = self.dev, self.s.budget_s
        classes = frame.raw_classes if self.variant == "v1" else frame.classes
        edge = self._job("edge", frame, Payload(kind="original"))
        local = dev.edge_s + dev.overhead_s  # type: ignore[attr-defined]
        rtt = link.rtt_s(t_s)
        tries, byte_budget, reason = self._plan(frame, classes, local, rtt)
        chosen, real, real_classes = None, 0.0, ()
        for candidate in tries:
            payload = self._payload(frame, classes, candidate)
            real, real_classes = payload_sizes(self.cache, frame.digest, frame.path, payload)  # type: ignore[arg-type]
            if real <= byte_budget:
                chosen = (candidate, payload)
                break
        if tries and candidate.class_bytes:
            self.correction.add(predicted=np.asarray(candidate.class_bytes),
                                real=np.asarray(real_classes, np.float64))
        if chosen is None:
            # Edge-only plan, or no encoding fits: nothing is sent; the edge answers once
            # it has spent the time left on refining, if it refines.
            self.estimator.add_sample(link.mean_rate_bps(t_s, t_s + local) / 8.0)
            why = reason or f"payload {real:.0f} B over budget {byte_budget:.0f} B"
            extra, extra_s = self._refine(frame, edge, budget - local)
            return Outcome(frame=frame.index, start_s=t_s, latency_s=local + extra_s,
                           bytes_sent=0.0, on_time=False, answer="edge", jobs=[edge, *extra],
                           real_bytes=real, reason=why)
        candidate, payload = chosen
        deadline = t_s + budget
        sent = link.send(t_s + local, real, cancel_at_s=max(deadline, t_s + local))
        rate = sent.throughput_bps()
        self.estimator.add_sample((rate if rate is not None
                                   else link.mean_rate_bps(t_s, deadline)) / 8.0)
        done = sent.end_s + rtt + dev.cloud_s  # type: ignore[attr-defined]
        common = dict(frame=frame.index, start_s=t_s, on_time=False,
                      qualities=candidate.qualities, downsample=candidate.downsample,
                      predicted_bytes=candidate.predicted_bytes, real_bytes=real)
        if sent.completed and done <= deadline:
            cloud = self._job("cloud", frame, payload)
            kind, jobs = ("cloud", [cloud]) if self.variant == "v3" else ("fuse", [edge, cloud])
            return Outcome(latency_s=done - t_s, bytes_sent=sent.bytes_sent, answer=kind,
                           jobs=jobs, **common)  # type: ignore[arg-type]
        # The deadline rule: the edge answers at the deadline, the transfer is dropped.
        return Outcome(latency_s=max(budget, local), bytes_sent=sent.bytes_sent,
                       answer="edge", jobs=[edge], reason="cloud answer late",
                       **common)  # type: ignore[arg-type]
