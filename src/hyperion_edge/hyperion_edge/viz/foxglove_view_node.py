"""FoxgloveView: serve the Hyperion graph live to Foxglove / Lichtblick over WebSocket.

Subscribes to the camera, the three detection streams, the POI map and the timing, plan
and link statistics; serves (ws://host:port, subprotocol ``foxglove.sdk.v1``):

    /hyperion/image/compressed        CompressedImage, JPEG, downscaled to image_max_width
    /hyperion/{edge,cloud,fused}/annotations   ImageAnnotations (orange, blue, green)
    /hyperion/poi_map                 RawImage (rgb8 class map)
    /hyperion/viz/{timing,plan,link}  JSON rows for the Plot panel

and republishes a downscaled frame with all boxes drawn on ``/hyperion/annotated``
(sensor_msgs/Image bgr8) for rviz2, which has no 2D detection overlay of its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import foxglove
from foxglove.channels import CompressedImageChannel, ImageAnnotationsChannel, RawImageChannel
from foxglove.messages import CompressedImage, RawImage
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion_edge.viz import foxglove_messages as fm
from hyperion_edge.viz import render
from hyperion_msgs.msg import CloudDetections, FrameTiming, LinkStats, QualityPlan

#: Frames (downscaled) and detection sets kept to pair late detections with their frame.
HISTORY = 16


class FoxgloveView(Node):
    """Foxglove WebSocket server and annotated-image publisher for the Hyperion topics.

    Args:
        parameter_overrides: initial parameter values (as with any rclpy Node).
    """

    def __init__(self, *, parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__("foxglove_view", parameter_overrides=parameter_overrides or [])
        p = self._declare_parameters()
        if p["reliability"] not in ("reliable", "best_effort"):
            raise ValueError(f"image_reliability must be reliable or best_effort, "
                             f"not {p['reliability']!r}")
        self._max_width, self._quality, self._min_period = p["width"], p["quality"], 1 / p["rate"]
        self._server = foxglove.start_server(name="hyperion", host=p["host"], port=p["port"])
        self.port = self._server.port
        self._image_out = CompressedImageChannel("/hyperion/image/compressed")
        self._boxes_out = {s: ImageAnnotationsChannel(f"/hyperion/{s}/annotations")
                           for s in render.SOURCE_COLOURS}
        self._poi_out = RawImageChannel("/hyperion/poi_map")
        self._rows_out = {
            name: foxglove.Channel(f"/hyperion/viz/{name}", schema=fm.json_schema(fields))
            for name, fields in (("timing", fm.TIMING_FIELDS), ("plan", fm.PLAN_FIELDS),
                                 ("link", fm.LINK_FIELDS))
        }
        self._annotated = (self.create_publisher(Image, "/hyperion/annotated", 1)
                           if p["annotated"] else None)
        # State shared with the render thread, guarded by _lock.
        self._lock = threading.Condition()
        self._pending: Image | None = None
        self._frames: OrderedDict[int, tuple] = OrderedDict()
        # Raw Detection2D lists per source and stamp (source pixels), scaled when drawn.
        self._detections: dict[str, OrderedDict[int, list]] = {
            s: OrderedDict() for s in self._boxes_out}
        self._scale = 1.0
        self._running = True
        self.rendered = 0
        image_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT
                               if p["reliability"] == "best_effort" else ReliabilityPolicy.RELIABLE)
        results_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Image, "/hyperion/image", self._on_image, image_qos)
        self.create_subscription(Image, "/hyperion/poi_map", self._on_poi_map, image_qos)
        self.create_subscription(Detection2DArray, "/hyperion/edge/detections",
                                 lambda m: self._on_detections("edge", m), results_qos)
        self.create_subscription(CloudDetections, "/hyperion/cloud/detections",
                                 lambda m: self._on_detections("cloud", m.detections), results_qos)
        self.create_subscription(Detection2DArray, "/hyperion/detections",
                                 lambda m: self._on_detections("fused", m), results_qos)
        for topic, kind, row in (("/hyperion/timing", FrameTiming, fm.timing_row),
                                 ("/hyperion/plan", QualityPlan, fm.plan_row),
                                 ("/hyperion/link/stats", LinkStats, fm.link_row)):
            name = topic.split("/")[2]
            self.create_subscription(kind, topic, lambda m, n=name, r=row:
                                     self._rows_out[n].log(r(m)), results_qos)
        # JPEG-encoding a 4K frame takes tens of ms: done on a thread, not in a callback.
        self._worker = threading.Thread(target=self._render_loop, name="foxglove-render",
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"Foxglove server on ws://{p['host']}:{self.port} (image reliability "
            f"{p['reliability']}, {p['width']} px, q{p['quality']}, <= {p['rate']:g} Hz)")

    def _declare_parameters(self) -> dict:
        def declare(name: str, default: object, text: str, **ranges: object) -> object:
            descriptor = ParameterDescriptor(description=text, **ranges)
            return self.declare_parameter(name, default, descriptor).value

        read_only = {"read_only": True}
        return {
            "host": declare("host", "127.0.0.1", "address the WebSocket server binds to",
                            **read_only),
            "port": declare("port", 8765, "WebSocket TCP port (0: any free port)",
                            integer_range=[IntegerRange(from_value=0, to_value=65535)],
                            **read_only),
            "width": declare("image_max_width", 1280, "width of the served frame, px",
                             integer_range=[IntegerRange(from_value=160, to_value=3840)],
                             **read_only),
            "quality": declare("jpeg_quality", 75, "JPEG quality of the served frame, 1-100",
                               integer_range=[IntegerRange(from_value=1, to_value=100)],
                               **read_only),
            "rate": declare("max_image_rate_hz", 10.0, "most frames served per second, Hz",
                            floating_point_range=[FloatingPointRange(
                                from_value=0.5, to_value=30.0)], **read_only),
            "reliability": declare("image_reliability", "reliable",
                                   "QoS reliability of the image subscriptions: reliable or "
                                   "best_effort (best effort loses 4K frames over UDP)",
                                   additional_constraints="reliable | best_effort", **read_only),
            "annotated": declare("publish_annotated", True,
                                 "also publish /hyperion/annotated (boxes drawn) for rviz2",
                                 **read_only),
        }

    def _on_image(self, msg: Image) -> None:
        with self._lock:  # latest wins: an unrendered older frame is simply replaced
            self._pending = msg
            self._lock.notify()

    def _on_poi_map(self, msg: Image) -> None:
        self._poi_out.log(RawImage(timestamp=fm.stamp_of(msg.header),
                                   frame_id=msg.header.frame_id, width=msg.width,
                                   height=msg.height, encoding=msg.encoding, step=msg.step,
                                   data=bytes(msg.data)))

    def _on_detections(self, source: str, msg: Detection2DArray) -> None:
        key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            remember(self._detections[source], key, list(msg.detections))
            frame = self._frames.get(key)
            # The frame's own scale when it was seen, else the stream's latest.
            scale = frame[2] if frame is not None else self._scale
        boxes = render.detection_boxes(msg.detections, scale)
        self._boxes_out[source].log(fm.annotations(
            boxes, stamp=fm.stamp_of(msg.header), bgr=render.SOURCE_COLOURS[source],
            labels=source == "fused"))
        if source == "fused" and frame is not None:
            self._publish_annotated(key, frame)

    def _render_loop(self) -> None:
        last = 0.0
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or not self._running)
                if not self._running:
                    return
                msg, self._pending = self._pending, None
            self._render(msg)
            self.rendered += 1
            # Cap the served rate; frames arriving meanwhile collapse into the newest.
            last, pause = time.monotonic(), self._min_period - (time.monotonic() - last)
            if pause > 0:
                with self._lock:
                    self._lock.wait_for(lambda: not self._running, timeout=pause)

    def _render(self, msg: Image) -> None:
        import cv2

        try:
            bgr = render.image_to_bgr(data=msg.data, width=msg.width, height=msg.height,
                                      step=msg.step, encoding=msg.encoding)
        except ValueError as exc:
            self.get_logger().warning(f"/hyperion/image: {exc}", throttle_duration_sec=5.0)
            return
        scale = render.fit_scale(msg.width, self._max_width)
        small = render.downscale(bgr, scale)
        ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
        if ok:
            self._image_out.log(CompressedImage(timestamp=fm.stamp_of(msg.header),
                                                frame_id=msg.header.frame_id,
                                                data=jpeg.tobytes(), format="jpeg"))
        key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self._scale = scale
            remember(self._frames, key, (small, msg.header, scale))
            fused_known = key in self._detections["fused"]
        if fused_known:
            self._publish_annotated(key, (small, msg.header, scale))

    def _publish_annotated(self, key: int, frame: tuple) -> None:
        if self._annotated is None:
            return
        small, header, scale = frame
        canvas = small.copy()
        with self._lock:
            drawn = {s: found.get(key, []) for s, found in self._detections.items()}
        for source, detections in drawn.items():
            boxes = render.detection_boxes(detections, scale)
            render.draw_boxes(canvas, boxes, render.SOURCE_COLOURS[source])
        out = Image(header=header, height=canvas.shape[0], width=canvas.shape[1],
                    encoding="bgr8", step=canvas.shape[1] * 3)
        out.data = canvas.tobytes()  # bytes, not the array: rclpy copies arrays per element
        self._annotated.publish(out)

    def destroy_node(self) -> None:
        """Stop the render thread and the WebSocket server, then the node."""
        with self._lock:
            self._running = False
            self._lock.notify_all()
        self._worker.join(timeout=5.0)
        self._server.stop()
        super().destroy_node()


def remember(history: OrderedDict, key: int, value: object) -> None:
    """Insert into a bounded, insertion-ordered history (the oldest entry is dropped)."""
    history[key] = value
    while len(history) > HISTORY:
        history.popitem(last=False)


def main(args: list[str] | None = None) -> int:
    """Console entry: spin a FoxgloveView until Ctrl-C."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    try:
        node = FoxgloveView()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
