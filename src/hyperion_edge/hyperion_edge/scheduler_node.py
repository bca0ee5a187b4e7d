"""scheduler: per-class JPEG quality for each frame under the latency budget (paper Eq. 5).

``/hyperion/patch_scores`` + the newest ``/hyperion/link/stats`` → multiple-choice knapsack
(:class:`hyperion_core.schedule.knapsack.TransmissionScheduler`) → ``/hyperion/plan``.

``T_edge`` is what the frame has already spent (now − capture stamp) plus the expected
encoding time ``encode_latency_s`` plus the time the uplink needs for the bytes queued
ahead of this frame (``LinkStats.bytes_queued / B̂``: without it, frames planned while
the link was fast queue behind each other when it slows, and their cloud answers come
too late); ``T_cloud`` is the profiled ``cloud_latency_s``, or the median of the last
``cloud_latency_window`` measured cloud times of the last ``cloud_latency_memory_s`` when
longer; behind a shared detector pool (``hyperion run router``) the profile is first
lengthened by the queue delay the pool reports for this edge (``LinkStats.
cloud_queue_delay_s``, :func:`cloud_time_s`), so a busy pool makes the edge send less
before any answer comes late. A measured cloud time is what the edge saw of an answer
beyond its upload: sent (``encoded_stamp``) → arrived here, both on the edge clock, less
``received_bytes / B̂``; at least the cloud's own received → inferred time (from
``/hyperion/cloud/detections``). A cloud whose detector queues or shares its cores takes
longer than its profile, and so do the hops around it; planning with the detector's time
alone sent frames whose answers came 0.5-1 s after the deadline (the 4K demo, 2 cores).
``B̂`` is the link's harmonic-mean estimate (``bandwidth_prior_bps`` while the link is up
but has never produced a sample). Link down, no link stats, or nothing fitting gives an edge-only
plan.

Zero or stale throughput means bandwidth 0, so every frame goes edge-only at once instead
of each frame waiting for its own deadline:

- an estimate of 0 once samples exist (edge_link reports 0 during an outage) is 0, never
  the prior ("bandwidth estimate 0");
- bytes sent (``LinkStats.bytes_sent`` grew) with no throughput sample (an acknowledged
  transfer) for ``bandwidth_stale_s``: "link stalled";
- no LinkStats for ``bandwidth_stale_s`` (edge_link gone): "link stats stale".

Recovery needs new samples; edge_link sends small probes while its estimate is 0.

Sizes are a closed loop: the encoder reports the real bytes of every class it encoded
(``/hyperion/encode_report``), and each class's predicted bytes are scaled by the median
real/predicted ratio of the last ``size_correction_window`` frames
(:class:`hyperion_core.schedule.size_table.SizeCorrection`). Every plan carries fallback
plans under smaller budgets, which the encoder falls to when a real payload does not fit.
The byte price (accuracy per MB a byte must buy, ``byte_price``) defaults to 0: the paper's
objective, the most accurate plan that fits the budget. On real 4K frames the profile's own
price (``-1``) cost 0.06 AP50 for half the bytes (docs/eval/real4k); it stays one parameter
away for metered links.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from hyperion_core.schedule.knapsack import Plan, SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profile_file import SHIPPED_PROFILES, Profiles, read_profiles
from hyperion_core.schedule.profiles import AccuracyProfile, FitStats, SizeProfile
from hyperion_core.schedule.size_table import SizeCorrection
from hyperion_msgs.msg import (
    CloudDetections,
    EncodeReport,
    LinkStats,
    PatchScores,
    QualityPlan,
)
from hyperion_runtime import qos
from hyperion_runtime.node import HyperionNode, run_node, stamp_ns
from hyperion_runtime.params import ParamSpec
from hyperion_runtime.validation import InvalidMessage, check_patch_scores

#: Wobble of a republished sample's stamp (edge_link converts monotonic to node time).
SAMPLE_JITTER_NS = 1_000_000

SHIPPED_PROFILE_CLASSES = 3

#: Read each time a frame is planned, so ``ros2 param set /scheduler NAME VALUE`` takes effect
#: with the next frame (``read_only=False``): force_edge_only, cloud_latency_s,
#: encode_latency_s, bandwidth_prior_bps, bandwidth_stale_s.
PARAMS = (
    ParamSpec(name="latency_budget_s", default=3.0, low=0.05, high=120.0,
              description="end-to-end budget per frame, capture to answer [s]"),
    ParamSpec(name="cloud_latency_s", default=1.5, low=0.0, high=120.0,
              description="profiled cloud decode + inference time T_cloud [s]",
              read_only=False),
    ParamSpec(name="cloud_latency_window", default=5, low=0, high=1000,
              description="T_cloud is at least the median of this many recent measured "
                          "cloud times; 0 = the profiled cloud_latency_s only [answers]"),
    ParamSpec(name="cloud_latency_memory_s", default=20.0, low=0.1, high=3600.0,
              description="a measured cloud time counts for this long; then the profile "
                          "applies again and the next offload re-measures [s]"),
    ParamSpec(name="encode_latency_s", default=0.1, low=0.0, high=60.0,
              description="expected patch encoding time, added to the time spent [s]",
              read_only=False),
    ParamSpec(name="qualities", default=[5, 10, 30, 50, 70, 90], low=1, high=100,
              description="JPEG qualities offered to every class; the profiles must cover "
                          "them [1-100]"),
    ParamSpec(name="class0_downsample", default=[1, 2, 4, 8], low=1, high=8,
              description="downsampling factors offered to class 0 (1, 2, 4, 8); the profiles "
                          "must cover them [-]"),
    ParamSpec(name="size_grid", default=1000, low=10, high=100_000,
              description="knapsack capacity units; finer is slower [units]"),
    ParamSpec(name="profiles_file", default="",
              description="size/accuracy profiles YAML (hyperion_core.schedule.profiles); "
                          "'' = the profiles shipped with hyperion_core, fitted on real 4K "
                          "frames (3 classes; a built-in prior for other class counts) [path]"),
    ParamSpec(name="bandwidth_prior_bps", default=100.0e6, low=0.0, high=1.0e11,
              description="uplink estimate while the link is up without samples [bit/s]",
              read_only=False),
    ParamSpec(name="force_edge_only", default=False,
              description="never offload (the edge-only baseline) [bool]",
              read_only=False),
    ParamSpec(name="bandwidth_stale_s", default=5.0, low=0.1, high=3600.0,
              description="sent bytes without a throughput sample for this long: the "
                          "link is stalled, bandwidth 0 [s]",
              read_only=False),
    ParamSpec(name="size_safety", default=-1.0, low=-1.0, high=1.0,
              description="plan with predicted bytes x (1 + this); -1 (any negative) = "
                          "the profile's p95 under-prediction, 0 for the built-in prior "
                          "[fraction]"),
    ParamSpec(name="byte_price", default=0.0, low=-1.0, high=1000.0,
              description="accuracy (0-1 scale) one MB of payload must buy; 0 = fill the "
                          "budget (the paper); -1 (any negative) = the profile's price, "
                          "chosen on its profiling frames [1/MB]"),
    ParamSpec(name="size_correction_window", default=5, low=0, high=1000,
              description="predicted class bytes are scaled by the median real/predicted "
                          "ratio of this many recent encodes; 0 = no correction [frames]"),
)


def prior_profiles(num_classes: int) -> Profiles:
    """Profiles used without a fitted file (K classes, no downsampling).

    Size: vtest 4K mosaics at one quality for all patches measured 0.29 MB at q10 and
    2.06 MB at q90 of a 24.9 MB raw frame → ratio ≈ 8.9e-4·q + 2.8e-3.
    Accuracy: the same frames scored AP50 0.88 (q10) to 0.98 (q90) against lossless; the
    gain is spread over classes in proportion to class index + 1 (important classes
    matter more), so ``Â`` spans 0.80 + 0.0020·q. A prior to be replaced by a fit.
    """
    stats = FitStats(r=float("nan"), r2=float("nan"), n=0, rmse=float("nan"))
    total = sum(range(1, num_classes + 1))
    weights = {(c, 1): 2.0e-3 * (c + 1) / total for c in range(num_classes)}
    # Class 0 downsampled d x: about 1/d^2 of the bytes (pixels), a little less accuracy.
    weights.update({(0, d): weights[(0, 1)] * (1 - 0.1 * d) for d in (2, 4)})
    alpha = {1: 8.9e-4, 2: 8.9e-4 / 4, 4: 8.9e-4 / 16}
    return Profiles(size=SizeProfile(alpha=alpha, beta=2.8e-3, stats=stats),
                    accuracy=AccuracyProfile(weights=weights, bias=0.80, stats=stats))


class SchedulerNode(HyperionNode):
    """Publishes one QualityPlan per PatchScores."""

    def __init__(self) -> None:
        super().__init__("scheduler", params=PARAMS)

    def configure(self) -> None:
        p = self.p
        self._stats: LinkStats | None = None
        # Stall detection (edge clock, ns): the newest sample seen, bytes_sent when it was
        # seen, and since when bytes have been waiting for a sample.
        self._newest_sample_ns = 0
        self._acked_bytes = 0
        self._unacked_since_ns: int | None = None
        self._stats_ns = 0
        self._schedulers: dict[int, TransmissionScheduler] = {}
        self._corrections: dict[int, SizeCorrection] = {}
        self._file = p["profiles_file"]
        self._pub = self.create_publisher(QualityPlan, qos.PLAN, qos.result_qos())
        self.create_subscription(LinkStats, qos.LINK_STATS, self._on_stats,
                                 qos.latest_state_qos())
        self.create_subscription(PatchScores, qos.PATCH_SCORES, self._on_scores,
                                 qos.result_qos())
        self.create_subscription(EncodeReport, qos.ENCODE_REPORT, self._on_report,
                                 qos.result_qos())
        # (arrival on the edge clock, ns; cloud time, s) of recent answers.
        self._cloud_times: deque[tuple[int, float]] = deque(
            maxlen=max(p["cloud_latency_window"], 1))
        if p["cloud_latency_window"] > 0:
            self.create_subscription(CloudDetections, qos.CLOUD_DETECTIONS, self._on_cloud,
                                     qos.result_qos())

    def _on_cloud(self, msg: CloudDetections) -> None:
        bandwidth, _ = self._bandwidth()
        taken_s = observed_cloud_s(msg, arrived_ns=self.now_ns(), bandwidth_bytes_per_s=bandwidth)
        if taken_s is not None:
            self._cloud_times.append((self.now_ns(), taken_s))

    def _cloud_latency_s(self) -> float:
        """The profiled T_cloud, or the recent measured median when that is longer.

        Measurements expire: a cloud measured too slow makes every frame edge-only, so no
        new answer would ever show that it has become fast again.
        """
        oldest = self.now_ns() - int(self.p["cloud_latency_memory_s"] * 1e9)
        while self._cloud_times and self._cloud_times[0][0] < oldest:
            self._cloud_times.popleft()
        times = [taken for _, taken in self._cloud_times]
        measured = float(np.median(times)) if times else 0.0
        pool_delay = self._stats.cloud_queue_delay_s if self._stats is not None else 0.0
        return cloud_time_s(profile_s=self.p["cloud_latency_s"], measured_s=measured,
                            pool_queue_delay_s=pool_delay)

    def _scheduler(self, classes: int) -> TransmissionScheduler:
        if classes not in self._schedulers:
            if self._file:
                profiles = read_profiles(Path(self._file))
            elif classes == SHIPPED_PROFILE_CLASSES:
                # Fitted by `hyperion profile` on the embedded clip (see its provenance).
                profiles = read_profiles(SHIPPED_PROFILES)
            else:
                profiles = prior_profiles(classes)
            p = self.p
            config = SchedulerConfig(
                qualities=tuple(p["qualities"]), budget_s=p["latency_budget_s"],
                class0_downsample=tuple(p["class0_downsample"]),
                size_grid=p["size_grid"],
                size_safety=None if p["size_safety"] < 0 else p["size_safety"],
                byte_price=profiles.byte_price if p["byte_price"] < 0 else p["byte_price"],
                edge_accuracy=profiles.edge_accuracy)
            self._schedulers[classes] = TransmissionScheduler(
                size_profile=profiles.size, accuracy_profile=profiles.accuracy, config=config)
            self._corrections[classes] = SizeCorrection(
                classes=classes, window=p["size_correction_window"])
        return self._schedulers[classes]

    def _on_report(self, msg: EncodeReport) -> None:
        """Real bytes per class of an encoded frame: the size correction's measurement."""
        real = np.asarray(msg.class_bytes, np.float64)
        model = np.asarray(msg.class_model_bytes, np.float64)
        correction = self._corrections.get(len(real))
        if correction is None or len(model) != len(real):
            self.skip("reports_unmatched", f"encode report of frame {msg.sequence} has "
                      f"{len(real)} classes and {len(model)} model sizes; ignored")
            return
        try:
            correction.add(predicted=model, real=real)
        except ValueError as err:
            self.refuse(err, f"encode report of frame {msg.sequence}")
            return
        self.counters.add("reports")

    def _on_stats(self, msg: LinkStats) -> None:
        newest = stamp_ns(msg.transfer_stamps[-1]) if msg.transfer_stamps else 0
        came_up = msg.link_up and not (self._stats is not None and self._stats.link_up)
        # edge_link re-derives each sample's stamp from two clocks at every publication, so
        # an old sample's stamp wobbles by microseconds; only a later stamp is a new sample.
        fresh = newest > self._newest_sample_ns + SAMPLE_JITTER_NS
        if fresh or came_up or not msg.link_up:
            # A new sample acknowledges what was sent so far (approximately: a frame sent
            # just before it is counted as acknowledged too); a link that (re)connects
            # starts afresh, since bytes sent into the old connection get no ack.
            self._newest_sample_ns = newest
            self._acked_bytes = int(msg.bytes_sent)
            self._unacked_since_ns = None
        elif msg.bytes_sent > self._acked_bytes and self._unacked_since_ns is None:
            self._unacked_since_ns = self.now_ns()
        self._stats = msg
        self._stats_ns = self.now_ns()

    def _stalled_s(self) -> float:
        """How long sent bytes have waited for a throughput sample, seconds (0 = none)."""
        if self._unacked_since_ns is None:
            return 0.0
        return (self.now_ns() - self._unacked_since_ns) / 1e9

    def _bandwidth(self) -> tuple[float | None, str]:
        """Uplink estimate in bytes/s, or None with the reason to stay on the edge."""
        if self.p["force_edge_only"]:
            return None, "edge-only mode"
        if self._stats is None:
            return None, "no link stats"
        if not self._stats.link_up:
            return None, "link down"
        silent_s = (self.now_ns() - self._stats_ns) / 1e9
        if silent_s > self.p["bandwidth_stale_s"]:
            return None, f"link stats stale: none for {silent_s:.1f} s"
        stalled = self._stalled_s()
        if stalled > self.p["bandwidth_stale_s"]:
            return None, f"link stalled: no throughput sample for {stalled:.1f} s"
        if not self._stats.throughput_bps:
            return self.p["bandwidth_prior_bps"] / 8.0, ""
        bps = self._stats.bandwidth_estimate_bps
        return (bps / 8.0, "") if bps > 0 else (None, "bandwidth estimate 0")

    def _on_scores(self, msg: PatchScores) -> None:
        try:
            check_patch_scores(msg)
        except InvalidMessage as err:
            self.refuse(err, f"patch scores of frame {msg.sequence}")
            return
        count = msg.grid_rows * msg.grid_cols
        classes = np.frombuffer(msg.classes, np.uint8)
        shares = np.bincount(classes, minlength=msg.num_classes)[: msg.num_classes] / count
        spent_s = (self.now_ns() - stamp_ns(msg.header.stamp)) / 1e9
        bandwidth, reason = self._bandwidth()
        queue_wait_s = 0.0 if bandwidth is None else int(self._stats.bytes_queued) / bandwidth
        t_edge = spent_s + self.p["encode_latency_s"] + queue_wait_s
        t_cloud = self._cloud_latency_s()
        plan = QualityPlan(header=msg.header, sequence=msg.sequence,
                           latency_budget_s=self.p["latency_budget_s"], edge_latency_s=t_edge,
                           cloud_latency_s=t_cloud, queue_wait_s=queue_wait_s)
        plan.class_share = [float(s) for s in shares]
        if bandwidth is not None:
            classes_k = int(msg.num_classes)
            scheduler = self._scheduler(classes_k)
            decided = scheduler.plan(
                shares=shares, raw_bytes=msg.frame_width * msg.frame_height * 3,
                t_edge_s=t_edge, t_cloud_s=t_cloud, bandwidth_bytes_per_s=bandwidth,
                size_correction=self._corrections[classes_k].factors())
            plan.bandwidth_estimate_bps = bandwidth * 8.0
            plan.byte_budget = int(max(decided.byte_budget, 0.0))
            plan.byte_price = scheduler.config.byte_price
            if decided.edge_only:
                reason = decided.reason
            else:
                fill_plan(plan, decided)
        plan.edge_only = not plan.class_quality
        plan.reason = reason if plan.edge_only else ""
        if plan.edge_only:
            plan.class0_downsample = 1
            self.counters.add("plans_edge_only")
            if reason.startswith("link stalled"):
                self.counters.add("plans_link_stalled")
        self._pub.publish(plan)
        self.counters.add("plans")


def observed_cloud_s(msg: CloudDetections, *, arrived_ns: int,
                     bandwidth_bytes_per_s: float | None) -> float | None:
    """The time a cloud answer took beyond its upload, as the edge saw it, seconds.

    Args:
        msg: the cloud's answer (stamps: ``encoded`` on the edge clock, ``received`` and
            ``inferred`` on the cloud's).
        arrived_ns: when it arrived here (edge clock).
        bandwidth_bytes_per_s: the uplink estimate, to take the upload time out; None when
            there is none (then only the cloud's own time is known).

    Returns:
        max(arrived − encoded − received_bytes / bandwidth, inferred − received), or None
        when the answer carries no usable stamps.
    """
    received_ns, encoded_ns = stamp_ns(msg.received_stamp), stamp_ns(msg.encoded_stamp)
    cloud_s = (stamp_ns(msg.inferred_stamp) - received_ns) / 1e9
    if received_ns <= 0 or cloud_s < 0:
        return None
    if encoded_ns <= 0 or not bandwidth_bytes_per_s or arrived_ns < encoded_ns:
        return cloud_s
    beyond_s = (arrived_ns - encoded_ns) / 1e9 - msg.received_bytes / bandwidth_bytes_per_s
    return max(beyond_s, cloud_s)


def cloud_time_s(*, profile_s: float, measured_s: float, pool_queue_delay_s: float) -> float:
    """T_cloud of the scheduler, seconds.

    Args:
        profile_s: the profiled cloud time (detector and hops, no queueing) [s].
        measured_s: the median recent cloud time seen by this edge, 0 when none [s]; it
            already contains whatever queueing those answers met.
        pool_queue_delay_s: the wait a shared detector pool reports now for this edge's
            frames [s]; 0 with a cloud of its own. NaN or negative counts as 0.

    Returns:
        ``max(profile + pool delay, measured)``: the pool's delay is current while the
        measurement lags by its answers, and adding it to the measurement too would count
        the same queueing twice.
    """
    delay = pool_queue_delay_s if pool_queue_delay_s > 0 else 0.0  # NaN > 0 is False
    return max(profile_s + delay, measured_s)


def fill_plan(msg: QualityPlan, plan: Plan) -> None:
    """Copy an offload plan and its fallbacks into ``msg`` (see QualityPlan.msg)."""
    msg.class_quality = bytes(plan.qualities)
    msg.class0_downsample = plan.downsample[0]
    msg.predicted_bytes = int(plan.predicted_bytes)
    msg.predicted_accuracy = float(plan.predicted_accuracy)
    msg.class_model_bytes = [float(b) for b in plan.class_bytes]
    msg.fallback_quality = bytes(q for f in plan.fallbacks for q in f.qualities)
    msg.fallback_class0_downsample = bytes(f.downsample[0] for f in plan.fallbacks)
    msg.fallback_model_bytes = [float(b) for f in plan.fallbacks for b in f.class_bytes]
    msg.fallback_predicted_bytes = [int(f.predicted_bytes) for f in plan.fallbacks]


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``scheduler --ros-args ...``."""
    return run_node(SchedulerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
