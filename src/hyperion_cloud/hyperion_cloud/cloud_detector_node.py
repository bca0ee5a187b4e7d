"""cloud_detector: rebuilds each received frame and runs the large sliced detector on it.

``/hyperion/cloud/encoded`` → (worker, queue ``queue_depth``; 1 = latest wins, older
frames dropped and counted: an answer the edge would get after its deadline is useless)
→ :func:`hyperion_core.codec.patch_codec.decode_frame` → registry "cloud" model (SAHI
slices over the full-resolution frame) → ``/hyperion/cloud/answers`` (CloudDetections,
header = the frame's capture header, boxes in full-frame pixels).

Each frame is detected in the classes it carries (``object_classes``: the edge
detector's at the time), those of them this model knows; a frame naming none takes the
``classes`` parameter (settable at run time). The model is rebuilt once per change.

``received_stamp`` is when this node got the frame (the ROS hop from cloud_link is local).

Every frame is checked before decoding (:func:`hyperion_runtime.validation.decode_encoded_frame`:
codec, payload size up to ``max_payload_bytes``, grid/class map/qualities consistent) and
after it (the decoded size must be the declared one); refusals are counted per fault class
(``invalid_<kind>``) on ``/diagnostics`` and never stop the node.

``inject_delay_s`` is a fault-injection knob for tests (default 0): each answer is held
that long before publishing, to play a cloud slower than the edge's budget.
"""

from __future__ import annotations

import threading

from hyperion_msgs.msg import CloudDetections, EncodedFrame
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import to_detection_array
from hyperion_runtime.model_params import (
    DETECTOR_BACKENDS,
    EXECUTION_PROVIDER,
    ONNX_PARAMS,
    DetectorForClasses,
    cloud_detector_spec,
    frame_classes,
    guard_classes,
)
from hyperion_runtime.node import HyperionNode, run_node
from hyperion_runtime.params import ParamSpec
from hyperion_runtime.validation import (
    CODEC,
    MAX_PAYLOAD_BYTES,
    InvalidMessage,
    decode_encoded_frame,
)
from hyperion_runtime.worker import BoundedWorker

PARAMS = (
    ParamSpec(name="queue_depth", default=1, low=1, high=64,
              description="frames waiting for the detector; 1 = latest wins [frames]"),
    ParamSpec(name="backend", default="nanodet", choices=DETECTOR_BACKENDS,
              description="detector model run on every slice: NanoDet-m, CenterNet-MBv3, "
                          "both fused (pair), or the fall-detection YOLOv8s (AGPL-3.0), "
                          "or onnx: your own exported model (model_path) [-]"),
    *ONNX_PARAMS,
    ParamSpec(name="classes", default=["person"], read_only=False,
              description="class names to detect where a frame names none (frames from the "
                          "edge carry the edge detector's classes, which win); settable at "
                          "run time [-]"),
    ParamSpec(name="full_frame_pass", default=True,
              description="also run the detector once on the whole frame (SAHI's standard "
                          "prediction, for objects larger than a slice) [bool]"),
    ParamSpec(name="slice_size", default=640, low=32, high=8192,
              description="SAHI slice side (paper 1024; 640 chosen on hand-labelled frames) "
                          "[px]"),
    ParamSpec(name="slice_overlap", default=0.2, low=0.0, high=0.9,
              description="SAHI slice overlap (paper 0.25) [fraction]"),
    ParamSpec(name="merge", default="NMS", choices=("NMS", "NMM", "GREEDYNMM"),
              description="SAHI merge of slice detections (paper NMS) [-]"),
    ParamSpec(name="merge_threshold", default=0.5, low=0.0, high=1.0,
              description="SAHI merge match threshold (paper 0.25; 0.5 measured better) [IoU]"),
    ParamSpec(name="score_threshold", default=0.1, low=0.0, high=1.0,
              description="minimum detection confidence [0-1]"),
    ParamSpec(name="nms_iou", default=0.5, low=0.0, high=1.0,
              description="per-slice NMS IoU threshold [0-1]"),
    ParamSpec(name="threads", default=2, low=0, high=256,
              description="ONNX Runtime intra-op threads, 0 = all cores [threads]"),
    EXECUTION_PROVIDER,
    ParamSpec(name="max_payload_bytes", default=MAX_PAYLOAD_BYTES, low=1,
              high=MAX_PAYLOAD_BYTES,
              description="larger encoded frames are refused unread [B]"),
    ParamSpec(name="inject_delay_s", default=0.0, low=0.0, high=600.0,
              description="TEST/FAULT INJECTION ONLY: hold every answer this long before "
                          "publishing, to play a slow cloud; 0 in service [s]"),
)


class CloudDetectorNode(HyperionNode):
    """Decodes frames and answers with SAHI detections, off the executor thread."""

    def __init__(self) -> None:
        super().__init__("cloud_detector", params=PARAMS, warn_on=("detect_dropped",))
        self._models: DetectorForClasses | None = None
        guard_classes(self, lambda: self._models)

    def configure(self) -> None:
        self._models = DetectorForClasses(cloud_detector_spec(self.p))
        self._closing = threading.Event()
        if self.p["inject_delay_s"] > 0:
            self.get_logger().warning(
                f"fault injection: every answer delayed {self.p['inject_delay_s']} s")
        self._pub = self.create_publisher(CloudDetections, qos.CLOUD_ANSWERS, qos.result_qos())
        self._worker: BoundedWorker[tuple[EncodedFrame, object]] = BoundedWorker(
            name="detect", handler=self._detect, depth=self.p["queue_depth"],
            counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"cloud detection failed: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_subscription(EncodedFrame, qos.CLOUD_ENCODED,
                                 lambda m: self._worker.submit((m, self.now_msg())),
                                 qos.result_qos())

    def _detect(self, item: tuple[EncodedFrame, object]) -> None:
        msg, received = item
        try:
            frame = decode_encoded_frame(msg, codec=CODEC,
                                         max_payload_bytes=self.p["max_payload_bytes"])
        except InvalidMessage as err:
            self.refuse(err, f"frame {msg.sequence}")
            return
        classes, unknown = frame_classes(msg, self.p["classes"], self._models.known)
        if unknown:
            self.skip("classes_unknown", f"frame {msg.sequence} asks for classes "
                      f"{list(unknown)} this model does not know; detecting {list(classes)}")
        if not classes:
            self.refuse(InvalidMessage("classes", "no class this model knows"),
                        f"frame {msg.sequence}")
            return
        detector = self._models.detector(classes)
        decoded = self.now_msg()
        if frame.shape[2] == 1:
            frame = frame.repeat(3, axis=2)
        found = detector.predict(frame)
        answer = CloudDetections(header=msg.header, sequence=msg.sequence,
                                 received_bytes=len(msg.payload),
                                 encoded_stamp=msg.encoded_stamp, received_stamp=received,
                                 decoded_stamp=decoded, inferred_stamp=self.now_msg())
        answer.detections = to_detection_array(header=msg.header, boxes=found.boxes,
                                               scores=found.scores, class_names=found.labels())
        if self.p["inject_delay_s"] > 0 and self._closing.wait(self.p["inject_delay_s"]):
            return
        self._pub.publish(answer)
        self.counters.add("frames_detected")

    def close(self) -> None:
        self._closing.set()
        self._worker.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``cloud_detector --ros-args ...``."""
    return run_node(CloudDetectorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
