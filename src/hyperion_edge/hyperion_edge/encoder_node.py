"""encoder: encodes each offloaded frame patch by patch at its class's JPEG quality.

``/hyperion/image`` + ``/hyperion/patch_scores`` (class map) + ``/hyperion/plan``, joined by
sequence (at most ``join_capacity`` incomplete frames — each may hold a raw frame —
oldest evicted and counted: frames the scorer dropped end there) → (worker, queue
``queue_depth``) → :func:`hyperion_core.codec.patch_codec.encode_frame` →
``/hyperion/encoded`` (EncodedFrame, deadline = capture stamp + the plan's budget).
Edge-only plans are not encoded: their frame is forgotten at once. Each frame carries the
classes the edge detector detects at the time (``object_classes``, from
``/hyperion/edge/label_info``), which the cloud then detects.

No payload that cannot arrive is sent: a payload larger than the plan's ``byte_budget``
is not published; the encoder falls to the plan's fallbacks (best first) until one fits,
and sends nothing when none does. The budget is checked again once each payload is
encoded, against the time left then (:func:`send_room_bytes`: the frame's deadline less
now, the uplink queue and the cloud time the plan assumed, at the plan's bandwidth): an
encoder that started late or encoded slowly on a busy machine must not send what can only
be answered after the deadline. Such a frame is not sent (reason "no time: ...", counted
``frames_no_time``, apart from ``frames_over_budget``). Every offload plan gets one
``/hyperion/encode_report`` (real bytes per class, which plan was used, sent or not): the
scheduler corrects its size model from it, and the ensembler answers a frame that was not
sent at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import Image
from vision_msgs.msg import LabelInfo

from hyperion_core.codec.patch_codec import ClassEncoding, class_segment_bytes, encode_frame
from hyperion_core.schedule.knapsack import byte_budget
from hyperion_edge.join import FrameJoin
from hyperion_msgs.msg import EncodedFrame, EncodeReport, PatchScores, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.image_bridge import image_to_bgr
from hyperion_runtime.node import HyperionNode, ns_to_stamp, run_node, stamp_ns
from hyperion_runtime.params import ParamSpec
from hyperion_runtime.validation import (
    CODEC,
    InvalidMessage,
    check_frame_matches,
    check_patch_scores,
    check_plan,
)
from hyperion_runtime.worker import BoundedWorker

PARAMS = (
    ParamSpec(name="join_capacity", default=4, low=1, high=64,
              description="frames (raw images) waiting for their scores and plan [frames]"),
    ParamSpec(name="queue_depth", default=2, low=1, high=64,
              description="joined frames waiting for the encoder [frames]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the camera [-]"),
)


@dataclass(frozen=True)
class Candidate:
    """One way to encode a frame: the plan itself (index 0) or fallback ``index``."""

    index: int
    qualities: bytes
    class0_downsample: int
    model_bytes: tuple[float, ...]


def candidates(plan: QualityPlan, classes: int) -> list[Candidate]:
    """The plan and its fallbacks, in the order to try them (plan checked beforehand)."""
    out = [Candidate(0, bytes(plan.class_quality)[:classes], int(plan.class0_downsample),
                     tuple(plan.class_model_bytes))]
    fallback = bytes(plan.fallback_quality)
    model = list(plan.fallback_model_bytes)
    for k, downsample in enumerate(bytes(plan.fallback_class0_downsample)):
        part = slice(k * classes, (k + 1) * classes)
        out.append(Candidate(k + 1, fallback[part], downsample,
                             tuple(model[part]) if model else ()))
    return out


def send_room_bytes(plan: QualityPlan, now_ns: int) -> int | None:
    """Bytes that can still be sent for ``plan``'s frame at ``now_ns`` (edge clock) and be
    answered by its deadline (capture stamp + the plan's budget), after the uplink queue
    and the cloud time the plan assumed; None when the plan carries no bandwidth (no
    basis to judge: the plan's ``byte_budget`` alone applies)."""
    if not plan.bandwidth_estimate_bps > 0:
        return None
    left_s = (plan.sequence + int(plan.latency_budget_s * 1e9) - now_ns) / 1e9
    room = byte_budget(time_left_s=left_s - plan.queue_wait_s, t_cloud_s=plan.cloud_latency_s,
                       bandwidth_bytes_per_s=plan.bandwidth_estimate_bps / 8.0)
    return int(max(room, 0.0))


class EncoderNode(HyperionNode):
    """Joins frame, class map and plan; encodes on a worker thread."""

    def __init__(self) -> None:
        super().__init__("encoder", params=PARAMS, warn_on=("join_evicted", "encode_dropped"))

    def configure(self) -> None:
        p = self.p
        self._join = FrameJoin(parts=("image", "scores", "plan"), capacity=p["join_capacity"],
                               counters=self.counters)
        self._pub = self.create_publisher(EncodedFrame, qos.ENCODED, qos.result_qos())
        self._reports = self.create_publisher(EncodeReport, qos.ENCODE_REPORT, qos.result_qos())
        self._worker: BoundedWorker[dict] = BoundedWorker(
            name="encode", handler=self._encode, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"encoding failed: {e}",
                                                       throttle_duration_sec=5.0))
        self._object_classes: list[str] = []
        self.create_subscription(LabelInfo, qos.EDGE_LABEL_INFO, self._on_label_info,
                                 qos.label_info_qos())
        self.create_subscription(PatchScores, qos.PATCH_SCORES, self._on_scores, qos.result_qos())
        self.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())
        self.create_subscription(Image, qos.IMAGE, self._on_image,
                                 qos.image_qos(p["image_reliability"]))

    def _offer(self, part: str, sequence: int, msg: object) -> None:
        done = self._join.add(part, sequence, msg)
        if done is not None:
            self._worker.submit(done)

    def _on_image(self, msg: Image) -> None:
        self._offer("image", stamp_ns(msg.header.stamp), msg)

    def _on_label_info(self, msg: LabelInfo) -> None:
        # Replaced whole (one assignment), so the worker thread reads one list or the other.
        self._object_classes = [c.class_name for c in msg.class_map]

    def _on_scores(self, msg: PatchScores) -> None:
        self._offer("scores", msg.sequence, msg)

    def _on_plan(self, msg: QualityPlan) -> None:
        if msg.edge_only:
            self._join.discard(msg.sequence)
            self.counters.add("frames_edge_only")
            return
        self._offer("plan", msg.sequence, msg)

    def _encode(self, parts: dict) -> None:
        image, scores, plan = parts["image"], parts["scores"], parts["plan"]
        report = EncodeReport(header=plan.header, sequence=plan.sequence,
                              byte_budget=plan.byte_budget)
        try:
            frame = image_to_bgr(image)
        except ValueError as err:
            self.refuse(err, f"image of frame {plan.sequence}")
            self._not_sent(report, f"image refused: {err}")
            return
        grid = (int(scores.grid_rows), int(scores.grid_cols))
        classes = np.frombuffer(scores.classes, np.uint8)
        try:
            check_patch_scores(scores)
            check_frame_matches(scores, frame.shape)
            check_plan(plan, num_classes=int(scores.num_classes))
        except InvalidMessage as err:
            self.refuse(err, f"frame {plan.sequence}")
            self._not_sent(report, f"input refused: {err}")
            return
        start = time.perf_counter()
        payload, room = b"", None
        for candidate in candidates(plan, int(scores.num_classes)):
            encodings = tuple(
                ClassEncoding(quality=q, downsample=candidate.class0_downsample if c == 0 else 1)
                for c, q in enumerate(candidate.qualities))
            payload = encode_frame(frame, classes.reshape(grid), encodings,
                                   patch_size=int(scores.patch_size))
            report.encodes += 1
            report.plan_index = candidate.index
            report.class_quality = candidate.qualities
            report.class0_downsample = candidate.class0_downsample
            report.class_bytes = list(class_segment_bytes(payload))
            report.class_model_bytes = list(candidate.model_bytes)
            report.payload_bytes = len(payload)
            room = send_room_bytes(plan, self.now_ns())
            if len(payload) <= plan.byte_budget and (room is None or len(payload) <= room):
                break
        if report.encodes > 1:
            self.counters.add("fallback_encodes", report.encodes - 1)
        report.encode_s = time.perf_counter() - start
        if len(payload) > plan.byte_budget:
            self.counters.add("frames_over_budget")
            self._not_sent(report, f"payload {len(payload)} B over budget {plan.byte_budget} B")
            return
        if room is not None and len(payload) > room:
            self.counters.add("frames_no_time")
            left_s = (plan.sequence - self.now_ns()) / 1e9 + plan.latency_budget_s
            self._not_sent(report, f"no time: payload {len(payload)} B, {room} B can still "
                           f"be answered in time ({left_s:.2f} s to the deadline, cloud "
                           f"{plan.cloud_latency_s:.2f} s, queue {plan.queue_wait_s:.2f} s)")
            return
        report.sent = True
        self._send(image.header, plan, scores, report, payload)
        self._reports.publish(report)

    def _not_sent(self, report: EncodeReport, reason: str) -> None:
        report.sent, report.reason = False, reason
        self._reports.publish(report)

    def _send(self, header: object, plan: QualityPlan, scores: PatchScores,
              report: EncodeReport, payload: bytes) -> None:
        msg = EncodedFrame(header=header, sequence=plan.sequence,
                           frame_width=scores.frame_width, frame_height=scores.frame_height,
                           source_encoding="bgr8", patch_size=scores.patch_size,
                           grid_rows=scores.grid_rows, grid_cols=scores.grid_cols, codec=CODEC)
        msg.classes = np.frombuffer(scores.classes, np.uint8).tobytes()
        msg.class_quality = report.class_quality
        msg.class0_downsample = report.class0_downsample
        msg.payload = payload
        msg.object_classes = self._object_classes
        msg.encoded_stamp = self.now_msg()
        msg.deadline = ns_to_stamp(plan.sequence + int(plan.latency_budget_s * 1e9))
        self._pub.publish(msg)
        self.counters.add("frames_encoded")
        self.counters.add("bytes_encoded", len(payload))

    def close(self) -> None:
        self._worker.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``encoder --ros-args ...``."""
    return run_node(EncoderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
