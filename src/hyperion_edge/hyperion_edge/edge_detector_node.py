"""edge_detector: the small detector on every frame it can keep up with.

``/hyperion/image`` → (worker thread, queue of ``queue_depth``; 1 = latest wins, older
frames dropped and counted) → registry "edge" model (NanoDet-m on a tile grid of the
downscaled frame) → ``/hyperion/edge/detections`` (``vision_msgs/Detection2DArray``,
boxes in full-frame pixels, header = the image's header).

``classes`` is read per frame: after ``ros2 param set /edge_detector classes [...]`` the
next frame is detected with the new classes (the model is rebuilt for them once, on the
worker thread), and ``/hyperion/edge/label_info`` (``vision_msgs/LabelInfo``, transient
local) announces them, at activation and on every change, for the encoder to send with
each frame to the cloud. ``backend: onnx`` runs the user's exported model
(``model_path``; README "Use your own model").

Back-pressure: the camera never waits for this node. The image subscription keeps one
frame (keep-last 1) and its callback only queues it; the worker's queue drops the oldest
frame when full (``detect_dropped``); frames that DDS reports lost before the callback took
them are counted from the message-lost event (``images_lost``). The same callback
watches the stream (:class:`~hyperion_runtime.validation.StreamMonitor`): capture stamps
that go back, repeat or jump, stamps ahead of this clock, resolution changes and stalls
are logged (rate-limited) and counted; none of them stops a frame.
"""

from __future__ import annotations

from rclpy.event_handler import QoSMessageLostInfo, SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray, LabelInfo, VisionClass

from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import to_detection_array
from hyperion_runtime.image_bridge import image_to_bgr
from hyperion_runtime.model_params import (
    DETECTOR_BACKENDS,
    EXECUTION_PROVIDER,
    ONNX_PARAMS,
    DetectorForClasses,
    edge_detector_spec,
    guard_classes,
)
from hyperion_runtime.node import HyperionNode, run_node, stamp_ns
from hyperion_runtime.params import ParamSpec
from hyperion_runtime.validation import StreamMonitor
from hyperion_runtime.worker import BoundedWorker

PARAMS = (
    ParamSpec(name="queue_depth", default=1, low=1, high=64,
              description="frames waiting for the detector; 1 = latest wins [frames]"),
    ParamSpec(name="backend", default="centernet", choices=DETECTOR_BACKENDS,
              description="detector model: NanoDet-m, CenterNet-MBv3, both fused (pair), or "
                          "the fall-detection YOLOv8s (AGPL-3.0, person only), "
                          "or onnx: your own exported model (model_path) [-]"),
    *ONNX_PARAMS,
    ParamSpec(name="classes", default=["person"], read_only=False,
              description="class names to detect, e.g. [person, car, bus] (COCO names; "
                          "backend onnx: the model's); settable at run time, from the next "
                          "frame on, and the cloud follows [-]"),
    ParamSpec(name="tile_columns", default=4, low=1, high=16,
              description="detector tiles across the downscaled frame [tiles]"),
    ParamSpec(name="tile_rows", default=2, low=1, high=16,
              description="detector tiles down the downscaled frame [tiles]"),
    ParamSpec(name="tile_scale", default=0.5, low=0.05, high=1.0,
              description="working resolution as a fraction of the frame [ratio]"),
    ParamSpec(name="tile_overlap", default=0.1, low=0.0, high=0.9,
              description="overlap of neighbouring tiles [fraction of a tile]"),
    ParamSpec(name="score_threshold", default=0.1, low=0.0, high=1.0,
              description="minimum detection confidence [0-1]"),
    ParamSpec(name="nms_iou", default=0.5, low=0.0, high=1.0,
              description="NMS IoU threshold [0-1]"),
    ParamSpec(name="threads", default=1, low=0, high=64,
              description="ONNX Runtime intra-op threads, 0 = all cores [threads]"),
    EXECUTION_PROVIDER,
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the camera [-]"),
    ParamSpec(name="max_frame_gap_s", default=60.0, low=0.01, high=3600.0,
              description="capture stamps further apart, or no frame for longer, is "
                          "reported as a jump / stall [s]"),
    ParamSpec(name="max_stamp_ahead_s", default=1.0, low=0.0, high=3600.0,
              description="capture stamps this far ahead of the edge clock are reported [s]"),
)


class EdgeDetectorNode(HyperionNode):
    """Runs the edge detector on camera frames, off the executor thread."""

    def __init__(self) -> None:
        super().__init__("edge_detector", params=PARAMS, warn_on=("detect_dropped",))
        self._models: DetectorForClasses | None = None
        guard_classes(self, lambda: self._models)

    def configure(self) -> None:
        p = self.p
        self._models = DetectorForClasses(edge_detector_spec(p))
        self._pub = self.create_publisher(Detection2DArray, qos.EDGE_DETECTIONS,
                                          qos.resent_result_qos())
        self._labels = self.create_publisher(LabelInfo, qos.EDGE_LABEL_INFO, qos.label_info_qos())
        self._announced: tuple[str, ...] = ()
        self._worker: BoundedWorker[Image] = BoundedWorker(
            name="detect", handler=self._detect, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"detector failed: {e}",
                                                       throttle_duration_sec=5.0))
        self._monitor = StreamMonitor(max_gap_s=p["max_frame_gap_s"],
                                      max_ahead_s=p["max_stamp_ahead_s"])
        self.create_timer(min(1.0, p["max_frame_gap_s"] / 2), self._check_stall)
        # Subscribe last: a camera waiting for subscribers starts only once the model is up.
        self.create_subscription(
            Image, qos.IMAGE, self._on_image, qos.image_qos(p["image_reliability"]),
            event_callbacks=SubscriptionEventCallbacks(message_lost=self._on_lost))

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)
        self._announce(self._models.classes)  # before any detections: the encoder reads it
        return result

    def _announce(self, classes: tuple[str, ...]) -> None:
        """Publish the classes detected now (LabelInfo, transient local): the encoder sends
        them with every frame, so the cloud detects the same ones."""
        known = self._models.known
        info = LabelInfo(threshold=float(self.p["score_threshold"]))
        info.header.stamp = self.now_msg()
        info.class_map = [VisionClass(class_id=known.index(c), class_name=c) for c in classes]
        self._labels.publish(info)
        self._announced = classes

    def _on_image(self, msg: Image) -> None:
        # Cheap bookkeeping only: the executor must be free for the next frame.
        events = self._monitor.on_frame(stamp_ns=stamp_ns(msg.header.stamp),
                                        width=int(msg.width), height=int(msg.height),
                                        now_ns=self.now_ns())
        for event in events:
            self.skip(event.kind, f"camera stream: {event.message}")
        self.counters.add("frames_received")
        self._worker.submit(msg)

    def _on_lost(self, info: QoSMessageLostInfo) -> None:
        self.counters.add("images_lost", max(int(info.total_count_change), 0))
        self.get_logger().warning(
            f"{info.total_count_change} camera frames lost before the detector took them "
            f"(images_lost: {self.counters.get('images_lost')})", throttle_duration_sec=5.0)

    def _check_stall(self) -> None:
        event = self._monitor.check_stall(self.now_ns())
        if event is not None:
            self.skip(event.kind, f"camera stream: {event.message}")

    def _detect(self, msg: Image) -> None:
        try:
            frame = image_to_bgr(msg)
        except ValueError as err:
            self.refuse(err, f"image {stamp_ns(msg.header.stamp)}")
            return
        # Read per frame: a `ros2 param set` of classes applies from the next frame on.
        classes = tuple(self.p["classes"])
        found = self._models.detector(classes).predict(frame)
        if classes != self._announced:
            self._announce(classes)
        self._pub.publish(to_detection_array(
            header=msg.header, boxes=found.boxes, scores=found.scores, class_names=found.labels()))
        self.counters.add("frames_detected")

    def close(self) -> None:
        self._worker.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``edge_detector --ros-args ...``."""
    return run_node(EdgeDetectorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
