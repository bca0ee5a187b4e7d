"""encoder: encodes each offloaded frame patch by patch at its class's JPEG quality.

``/hyperion/image`` + ``/hyperion/patch_scores`` (class map) + ``/hyperion/plan``, joined by
sequence (at most ``join_capacity`` incomplete frames — each may hold a raw frame —
oldest evicted and counted: frames the scorer dropped end there) → (worker, queue
``queue_depth``) → :func:`hyperion_core.codec.patch_codec.encode_frame` →
``/hyperion/encoded`` (EncodedFrame, deadline = capture stamp + the plan's budget).
Edge-only plans are not encoded: their frame is forgotten at once.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from hyperion_core.codec.patch_codec import ClassEncoding, encode_frame
from hyperion_edge import qos
from hyperion_edge.image_bridge import image_to_bgr
from hyperion_edge.join import FrameJoin
from hyperion_edge.params import ParamSpec
from hyperion_edge.runtime import HyperionNode, ns_to_stamp, run_node, stamp_ns
from hyperion_edge.validation import (
    InvalidMessage,
    check_frame_matches,
    check_patch_scores,
    check_plan,
)
from hyperion_edge.worker import BoundedWorker
from hyperion_msgs.msg import EncodedFrame, PatchScores, QualityPlan

#: Bitstream name and version carried in EncodedFrame.codec; the cloud refuses others.
CODEC = "hyperion-patch-jpeg/1"

PARAMS = (
    ParamSpec(name="join_capacity", default=4, low=1, high=64,
              description="frames (raw images) waiting for their scores and plan [frames]"),
    ParamSpec(name="queue_depth", default=2, low=1, high=64,
              description="joined frames waiting for the encoder [frames]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the camera [-]"),
)


class EncoderNode(HyperionNode):
    """Joins frame, class map and plan; encodes on a worker thread."""

    def __init__(self) -> None:
        super().__init__("encoder", params=PARAMS, warn_on=("join_evicted", "encode_dropped"))

    def configure(self) -> None:
        p = self.p
        self._join = FrameJoin(parts=("image", "scores", "plan"), capacity=p["join_capacity"],
                               counters=self.counters)
        self._pub = self.create_publisher(EncodedFrame, qos.ENCODED, qos.result_qos())
        self._worker: BoundedWorker[dict] = BoundedWorker(
            name="encode", handler=self._encode, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"encoding failed: {e}",
                                                       throttle_duration_sec=5.0))
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
        try:
            frame = image_to_bgr(image)
        except ValueError as err:
            self.refuse(err, f"image of frame {plan.sequence}")
            return
        grid = (int(scores.grid_rows), int(scores.grid_cols))
        classes = np.frombuffer(scores.classes, np.uint8)
        qualities = bytes(plan.class_quality)
        try:
            check_patch_scores(scores)
            check_frame_matches(scores, frame.shape)
            check_plan(plan, num_classes=int(scores.num_classes))
        except InvalidMessage as err:
            self.refuse(err, f"frame {plan.sequence}")
            return
        encodings = tuple(
            ClassEncoding(quality=q, downsample=plan.class0_downsample if c == 0 else 1)
            for c, q in enumerate(qualities))
        payload = encode_frame(frame, classes.reshape(grid), encodings,
                               patch_size=int(scores.patch_size))
        msg = EncodedFrame(header=image.header, sequence=plan.sequence,
                           frame_width=frame.shape[1], frame_height=frame.shape[0],
                           source_encoding="bgr8", patch_size=scores.patch_size,
                           grid_rows=grid[0], grid_cols=grid[1], codec=CODEC)
        msg.classes = classes.tobytes()
        msg.class_quality = qualities
        msg.class0_downsample = plan.class0_downsample
        msg.payload = payload
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
