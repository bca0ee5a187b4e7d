"""edge_detector: the small detector on every frame it can keep up with.

``/hyperion/image`` → (worker thread, queue of ``queue_depth``; 1 = latest wins, older
frames dropped and counted) → registry "edge" model (YOLOv8s on a tile grid of the
downscaled frame) → ``/hyperion/edge/detections`` (``vision_msgs/Detection2DArray``,
boxes in full-frame pixels, header = the image's header).
"""

from __future__ import annotations

from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion_core.models.registry import build_detector
from hyperion_edge import qos
from hyperion_edge.detection_bridge import to_detection_array
from hyperion_edge.image_bridge import image_to_bgr
from hyperion_edge.model_params import edge_detector_spec
from hyperion_edge.params import ParamSpec
from hyperion_edge.runtime import HyperionNode, run_node
from hyperion_edge.worker import BoundedWorker

PARAMS = (
    ParamSpec(name="queue_depth", default=1, low=1, high=64,
              description="frames waiting for the detector; 1 = latest wins [frames]"),
    ParamSpec(name="tile_columns", default=4, low=1, high=16,
              description="detector tiles across the downscaled frame [tiles]"),
    ParamSpec(name="tile_rows", default=2, low=1, high=16,
              description="detector tiles down the downscaled frame [tiles]"),
    ParamSpec(name="tile_scale", default=0.5, low=0.05, high=1.0,
              description="working resolution as a fraction of the frame [ratio]"),
    ParamSpec(name="tile_overlap", default=0.1, low=0.0, high=0.9,
              description="overlap of neighbouring tiles [fraction of a tile]"),
    ParamSpec(name="score_threshold", default=0.25, low=0.0, high=1.0,
              description="minimum detection confidence [0-1]"),
    ParamSpec(name="nms_iou", default=0.45, low=0.0, high=1.0,
              description="NMS IoU threshold [0-1]"),
    ParamSpec(name="threads", default=1, low=0, high=64,
              description="ONNX Runtime intra-op threads, 0 = all cores [threads]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the camera [-]"),
)


class EdgeDetectorNode(HyperionNode):
    """Runs the edge detector on camera frames, off the executor thread."""

    def __init__(self) -> None:
        super().__init__("edge_detector", params=PARAMS, warn_on=("detect_dropped",))
        p = self.p
        self._detector = build_detector(edge_detector_spec(p))
        self._pub = self.create_publisher(Detection2DArray, qos.EDGE_DETECTIONS, qos.result_qos())
        self._worker: BoundedWorker[Image] = BoundedWorker(
            name="detect", handler=self._detect, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"detector failed: {e}",
                                                       throttle_duration_sec=5.0))
        # Subscribe last: a camera waiting for subscribers starts only once the model is up.
        self.create_subscription(Image, qos.IMAGE, self._worker.submit,
                                 qos.image_qos(p["image_reliability"]))

    def _detect(self, msg: Image) -> None:
        try:
            frame = image_to_bgr(msg)
        except ValueError as err:
            self.skip("malformed_images", f"image skipped: {err}")
            return
        found = self._detector.predict(frame)
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
