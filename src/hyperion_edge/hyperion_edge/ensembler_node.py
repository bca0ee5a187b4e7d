"""ensembler: exactly one answer per frame on ``/hyperion/detections``, by its deadline.

Inputs, joined by sequence: ``/hyperion/edge/detections``, ``/hyperion/patch_scores``
(receipt time only), ``/hyperion/plan``, ``/hyperion/encode_report`` (only whether the
frame was sent), ``/hyperion/cloud/detections``. When to answer is decided by
:class:`hyperion_edge.deadline.DeadlineTracker` (fused as soon as both detectors answered;
edge at once for edge-only plans and for frames the encoder did not send; edge at the
deadline = capture stamp + ``latency_budget_s`` otherwise; late cloud answers discarded
and counted; over ``capacity``, the oldest waiting frame answered at once). It stops
waiting for the cloud at the cut-off, deadline − max(``deadline_margin_s``, p99 of its own
answer times): each answer's time from due (the timer's intended wake-up, or the input's
arrival) to published, fusion included, is measured here and fed to the tracker; a cloud
answer arriving after the cut-off is counted (``cloud_after_cutoff``) and not fused, and the
edge answers at once (reason "cloud answer after cut-off"). Fusion is the
calibrated fusion fitted with the profiles (:mod:`hyperion_core.fuse.calibrated`: every box
scored by its probability of being right, given its group, confidences, the quality the
cloud saw there and its size; edge-only answers rescored on the same scale), read from
``fusion_file``; or paper Eq. 6 (:func:`hyperion_core.fuse.ensemble.ensemble`) with the
parameters below when ``fusion_file`` is ``eq6`` or the profiles hold no fusion. Each answer
is a ``Detection2DArray`` with the capture header, plus one FrameTiming on
``/hyperion/timing``.

How the FrameTiming fields are filled, and why (the ensembler must stay cheap: it sees
every frame, so it subscribes to no image and no encoded payload):

- ``edge_detected_stamp``, ``scored_stamp``, ``scheduled_stamp``, ``cloud_answer_stamp``:
  when this node *received* the edge detections, the patch scores, the plan and the cloud
  answer (edge clock). A stage finishes by publishing, so each stamp is its completion
  time plus one loopback delivery; the messages are small (patch scores of a 4K frame
  are ~160 kB of float32/uint8 arrays, against ~25 MB for the image).
- ``bytes_sent``: the payload bytes the cloud reports it received for the frame
  (``CloudDetections.received_bytes``, the same ``len(payload)`` the encoder produced).
  When no cloud answer arrived before the frame was answered it is 0: whether the frame
  was sent at all (the link may have been down, the send queue may have dropped it) is
  not known here, and the scheduler's *predicted* size is no measurement.
- ``encoded_stamp``: when the encoder finished (edge clock), echoed back by the cloud in
  its answer (``CloudDetections.encoded_stamp``), so it is 0 when no cloud answer came:
  subscribing to ``EncodedFrame`` would copy every payload into this process for a stamp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from vision_msgs.msg import Detection2DArray

from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import (
    CalibratedFusion,
    CloudView,
    calibrate_edge,
    fuse_calibrated,
    read_fusion,
)
from hyperion_core.fuse.ensemble import EnsembleConfig, Unmatched, ensemble
from hyperion_core.schedule.profile_file import SHIPPED_PROFILES, read_profiles
from hyperion_edge.deadline import CLOUD, EDGE, FUSED, Answer, DeadlineTracker, FrameState
from hyperion_msgs.msg import (
    CloudDetections,
    EncodeReport,
    FrameTiming,
    PatchScores,
    QualityPlan,
)
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import BoxList, from_detection_array, to_detection_array
from hyperion_runtime.node import (
    MESSAGE_INFO_SUPPORTED,
    HyperionNode,
    ns_to_stamp,
    run_node,
    stamp_ns,
)
from hyperion_runtime.params import ParameterError, ParamSpec
from hyperion_runtime.tracking import TRACK_PARAMS, assign_track_ids, tracker_from_params

SOURCES = {EDGE: FrameTiming.SOURCE_EDGE, CLOUD: FrameTiming.SOURCE_CLOUD,
           FUSED: FrameTiming.SOURCE_FUSED}

#: Period of the wake-up timer while nothing is due (it is cancelled then anyway), s.
IDLE_WAKE_S = 3600.0
#: Shortest wake-up delay: a deadline already past is handled at once, not in a busy loop.
MIN_WAKE_NS = 1_000_000

PARAMS = (
    ParamSpec(name="latency_budget_s", default=3.0, low=0.05, high=120.0,
              description="end-to-end budget per frame, capture to answer [s]"),
    ParamSpec(name="fusion_file", default="",
              description="fitted fusion: a profiles YAML with a fusion section (hyperion "
                          "profile writes one); '' = the profiles shipped with hyperion_core; "
                          "'eq6' = paper Eq. 6 with the parameters below [path]"),
    ParamSpec(name="cloud_weight", default=0.6, low=0.0, high=1.0,
              description="w_c of Eq. 6 (w_e = 1 - w_c) for matched boxes [0-1]"),
    ParamSpec(name="match_iou", default=0.5, low=0.0, high=1.0,
              description="IoU for an edge and a cloud box to be fused [0-1]"),
    ParamSpec(name="unmatched", default="keep_both", choices=("keep_both", "cloud_only"),
              description="what happens to boxes only one model found [-]"),
    ParamSpec(name="edge_min_score", default=0.0, low=0.0, high=1.0,
              description="unmatched edge boxes below this are dropped (keep_both) [0-1]"),
    ParamSpec(name="nms_iou", default=0.5, low=0.0, high=1.0,
              description="NMS IoU over the fused frame [0-1]"),
    ParamSpec(name="deadline_margin_s", default=0.05, low=0.0, high=10.0,
              description="stop waiting for the cloud at least this long before the "
                          "deadline (longer when the measured p99 time to publish an answer "
                          "is), so the answer is published in time [s]"),
    ParamSpec(name="capacity", default=64, low=1, high=100_000,
              description="frames waiting for an answer at most [frames]"),
    *TRACK_PARAMS,
)


def fuse(edge: BoxList, cloud: BoxList, config: EnsembleConfig | CalibratedFusion,
         view: CloudView | None = None) -> BoxList:
    """Fuse two BoxLists of one frame (class names mapped to ids and back): Eq. 6, or the
    calibrated fusion given what the cloud saw where (``view``)."""
    names = sorted(set(edge.class_names) | set(cloud.class_names))
    index = {name: k for k, name in enumerate(names)}

    def to_core(boxes: BoxList) -> Detections:
        labels = np.array([index[n] for n in boxes.class_names], np.int64)
        return Detections(boxes=boxes.boxes, scores=boxes.scores, labels=labels)

    if isinstance(config, CalibratedFusion):
        if view is None:
            raise ValueError("the calibrated fusion needs the payload's class map and plan")
        fused = fuse_calibrated(to_core(edge), to_core(cloud), config, view)
    else:
        fused = ensemble(to_core(edge), to_core(cloud), config)
    return BoxList(boxes=fused.boxes, scores=fused.scores,
                   class_names=tuple(names[k] for k in fused.labels.tolist()))


def rescore_edge(edge: BoxList, fusion: CalibratedFusion) -> BoxList:
    """An edge-only answer on the fused answers' probability scale."""
    names = sorted(set(edge.class_names))
    index = {name: k for k, name in enumerate(names)}
    core = Detections(boxes=edge.boxes, scores=edge.scores,
                      labels=np.array([index[n] for n in edge.class_names], np.int64))
    found = calibrate_edge(core, fusion)
    return BoxList(boxes=found.boxes, scores=found.scores,
                   class_names=tuple(names[k] for k in found.labels.tolist()))


def load_fusion(value: str) -> CalibratedFusion | None:
    """The ``fusion_file`` parameter's fusion (``None``: Eq. 6).

    Raises:
        ParameterError: naming the parameter, the file and the key at fault.
    """
    if value == "eq6":
        return None
    path = Path(value) if value else SHIPPED_PROFILES
    try:
        if not value:
            return read_profiles(path).fusion
        return read_fusion(path)
    except (OSError, ValueError) as err:
        raise ParameterError(f"parameter fusion_file={value!r}: {err}") from err


class EnsemblerNode(HyperionNode):
    """Decides, fuses and publishes one answer per frame."""

    def __init__(self) -> None:
        super().__init__("ensembler", params=PARAMS, warn_on=("deadline_missed",))

    def configure(self) -> None:
        p = self.p
        if p["deadline_margin_s"] >= p["latency_budget_s"]:
            raise ParameterError(
                f"parameter deadline_margin_s={p['deadline_margin_s']} must be below "
                f"latency_budget_s={p['latency_budget_s']}")
        self._tracker = DeadlineTracker(budget_ns=int(p["latency_budget_s"] * 1e9),
                                        margin_ns=int(p["deadline_margin_s"] * 1e9),
                                        capacity=p["capacity"], started_ns=self.now_ns())
        self._eq6 = EnsembleConfig(
            cloud_weight=p["cloud_weight"], match_iou=p["match_iou"],
            unmatched=Unmatched(p["unmatched"]), edge_min_score=p["edge_min_score"],
            nms_iou=p["nms_iou"])
        self._calibrated = load_fusion(p["fusion_file"])
        try:
            self._track_ids = tracker_from_params(p)
        except ValueError as err:
            raise ParameterError(f"parameters track_low_score/track_high_score: {err}") from err
        self._detections = self.create_publisher(Detection2DArray, qos.DETECTIONS,
                                                 qos.resent_result_qos())
        self._timing = self.create_publisher(FrameTiming, qos.TIMING, qos.resent_result_qos())
        on_edge = self._on_edge_with_info if MESSAGE_INFO_SUPPORTED else self._on_edge
        self.create_subscription(Detection2DArray, qos.EDGE_DETECTIONS, on_edge,
                                 qos.resent_result_qos())
        self.create_subscription(PatchScores, qos.PATCH_SCORES, self._on_scores,
                                 qos.result_qos())
        self.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())
        self.create_subscription(EncodeReport, qos.ENCODE_REPORT, self._on_report,
                                 qos.result_qos())
        self.create_subscription(CloudDetections, qos.CLOUD_DETECTIONS, self._on_cloud,
                                 qos.result_qos())
        # Armed for the next deadline only: a periodic 10 ms check cost ~0.06 s of CPU per
        # frame at 0.5 Hz, for nothing between deadlines.
        self._wake = self.create_timer(IDLE_WAKE_S, self._on_wake)
        self._wake.cancel()
        self._wake_due_ns = 0

    def _on_edge(self, msg: Detection2DArray) -> None:
        now = self.now_ns()
        self._emit(self._tracker.on_edge(stamp_ns(msg.header.stamp), msg, now), now)

    def _on_edge_with_info(self, msg: Detection2DArray, info: dict[str, int]) -> None:
        # When the edge published it tells resent history from new results (before_start).
        now = self.now_ns()
        self._emit(self._tracker.on_edge(stamp_ns(msg.header.stamp), msg, now,
                                         written_ns=info["source_timestamp"]), now)

    def _on_scores(self, msg: PatchScores) -> None:
        classes = None
        if self._calibrated is not None and len(msg.classes) == msg.grid_rows * msg.grid_cols:
            classes = (np.asarray(msg.classes, np.uint8).reshape(msg.grid_rows, msg.grid_cols),
                       int(msg.patch_size))
        now = self.now_ns()
        self._emit(self._tracker.on_scores(msg.sequence, now, classes=classes), now)

    def _on_plan(self, msg: QualityPlan) -> None:
        now = self.now_ns()
        self._emit(self._tracker.on_plan(msg.sequence, edge_only=msg.edge_only,
                                         reason=msg.reason, now_ns=now, plan=msg), now)

    def _on_report(self, msg: EncodeReport) -> None:
        now = self.now_ns()
        if not msg.sent:
            self._emit(self._tracker.on_not_sent(msg.sequence, reason=msg.reason,
                                                 now_ns=now), now)
        elif self._calibrated is not None:
            encoded = (tuple(int(q) for q in msg.class_quality), int(msg.class0_downsample))
            self._emit(self._tracker.on_sent(msg.sequence, encoded, now), now)

    def _on_cloud(self, msg: CloudDetections) -> None:
        counts = self._tracker.counts
        late, after_cutoff = counts["cloud_late_discarded"], counts["cloud_after_cutoff"]
        now = self.now_ns()
        self._emit(self._tracker.on_cloud(msg.sequence, msg, now), now)
        if counts["cloud_late_discarded"] > late:
            self.skip("cloud_late_discarded", f"cloud answer of frame {msg.sequence} came "
                      "after the frame was answered; discarded")
        if counts["cloud_after_cutoff"] > after_cutoff:
            self.skip("cloud_after_cutoff", f"cloud answer of frame {msg.sequence} came "
                      f"after its cut-off ({self._tracker.margin_ns / 1e6:.0f} ms before "
                      "the deadline); answered from the edge")

    def _on_wake(self) -> None:
        now = self.now_ns()
        # Due at the time the timer was set for: a late wake-up is part of the answer time.
        due = self._wake_due_ns if 0 < self._wake_due_ns <= now else now
        self._emit(self._tracker.on_tick(now), due)

    def _emit(self, answers: list[Answer], due_ns: int) -> None:
        """Publish ``answers``, due since ``due_ns``; each one's time from due to published
        is measured and widens the tracker's margin when it grows."""
        for answer in answers:
            self._publish(answer)
            self._tracker.observe_answer_time(self.now_ns() - due_ns)
        if answers:
            self.diagnostics.set_value(
                "answer_time_p99_ms", f"{self._tracker.answer_times.quantile_ns() / 1e6:.1f}")
            self.diagnostics.set_value("cutoff_margin_ms",
                                       f"{self._tracker.margin_ns / 1e6:.1f}")
        self._arm_wake()

    def _arm_wake(self) -> None:
        """Set the wake-up timer to the next decision, or stop it when none is due."""
        due_ns = self._tracker.next_decision_ns()
        if due_ns is None:
            self._wake.cancel()
            return
        now = self.now_ns()
        self._wake.timer_period_ns = max(due_ns - now, MIN_WAKE_NS)
        self._wake_due_ns = now + self._wake.timer_period_ns
        self._wake.reset()

    def _cloud_view(self, frame: FrameState) -> CloudView | None:
        """What the cloud saw where, for the calibrated fusion; ``None`` (Eq. 6) without a
        fitted fusion, or when the class map or the encoder's report did not come (counted:
        the answer is still given)."""
        if self._calibrated is None:
            return None
        classes, encoded = frame.extra.get("classes"), frame.extra.get("encoded")
        if classes is None or encoded is None:
            self.counters.add("fused_without_class_map")
            return None
        (class_map, patch), (qualities, downsample) = classes, encoded
        return CloudView(class_map=class_map, qualities=qualities,
                         downsample=max(downsample, 1), patch=patch)

    def _publish(self, answer: Answer) -> None:
        frame = answer.frame
        edge: Detection2DArray | None = frame.edge
        cloud: CloudDetections | None = frame.cloud
        # A cloud answer after the cut-off is not fused, but its stamps and bytes are real.
        seen: CloudDetections | None = cloud if cloud is not None else frame.late_cloud
        header = edge.header if edge is not None else cloud.header
        if answer.source == FUSED:
            view = self._cloud_view(frame)
            fusion = self._eq6 if view is None else self._calibrated
            boxes = fuse(from_detection_array(edge), from_detection_array(cloud.detections),
                         fusion, view)  # type: ignore[arg-type]
            out = to_detection_array(header=header, boxes=boxes.boxes, scores=boxes.scores,
                                     class_names=list(boxes.class_names))
        elif answer.source == CLOUD:
            out = cloud.detections
            out.header = header
        elif self._calibrated is not None and self._calibrated.mode == "calibrated":
            # cloud_first keeps edge answers on the detector's own scale: no rebuild
            boxes = rescore_edge(from_detection_array(edge), self._calibrated)
            out = to_detection_array(header=header, boxes=boxes.boxes, scores=boxes.scores,
                                     class_names=list(boxes.class_names))
        else:
            out = edge
        if self._track_ids is not None:  # on the final answer, whichever source made it
            assign_track_ids(self._track_ids, out)
        self._detections.publish(out)
        published_ns = self.now_ns()
        timing = FrameTiming(header=header, sequence=frame.sequence,
                             source=SOURCES[answer.source], edge_reason=answer.reason)
        if frame.edge_ns:
            timing.edge_detected_stamp = ns_to_stamp(frame.edge_ns)
        if frame.scores_ns:
            timing.scored_stamp = ns_to_stamp(frame.scores_ns)
        if frame.plan_ns:
            timing.scheduled_stamp = ns_to_stamp(frame.plan_ns)
        if seen is not None:
            timing.encoded_stamp = seen.encoded_stamp
            timing.cloud_answer_stamp = ns_to_stamp(frame.cloud_ns)
            # Measured by the cloud; unconfirmed sends stay 0 (see the module docstring).
            timing.bytes_sent = seen.received_bytes
        timing.published_stamp = ns_to_stamp(published_ns)
        timing.deadline = ns_to_stamp(frame.deadline_ns)
        timing.latency_s = (published_ns - frame.sequence) / 1e9
        timing.deadline_met = published_ns <= frame.deadline_ns
        self._timing.publish(timing)
        self.counters.add(f"answers_{answer.source}")
        if not timing.deadline_met:
            self.counters.add("deadline_missed")
        self.diagnostics.set_value("last_latency_s", f"{timing.latency_s:.3f}")
        for key, value in self._tracker.counts.items():
            self.diagnostics.set_value(key, value)


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``ensembler --ros-args ...``."""
    return run_node(EnsemblerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
