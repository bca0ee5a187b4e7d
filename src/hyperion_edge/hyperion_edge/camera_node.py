"""camera: publishes camera frames on ``/hyperion/image`` (bgr8) at a fixed rate.

Sources: the embedded array-camera mosaic of ``vtest.avi`` (default), a video file or an
image folder. To use an existing camera driver instead, do not start this node and remap
the consumers' ``/hyperion/image`` to the driver's topic.

The header stamp is the capture stamp: the time the frame became available here. Every
downstream message about the frame carries it (header) and its nanoseconds (sequence).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from hyperion_core.data.array_camera import ArrayCameraLayout
from hyperion_edge.frame_sources import array_camera_stream, folder_frames, video_frames
from hyperion_runtime import qos
from hyperion_runtime.diagnostics import ACTIVE, LIFECYCLE_KEY
from hyperion_runtime.image_bridge import array_to_image
from hyperion_runtime.node import HyperionNode, run_node
from hyperion_runtime.params import ParameterError, ParamSpec

SOURCES = ("array_camera", "video", "folder")
#: The nodes of the edge graph the camera feeds (directly or not).
EDGE_GRAPH_NODES = ("edge_detector", "scorer", "scheduler", "encoder", "edge_link", "ensembler")
#: How often the subscriber count is checked while waiting for the graph, seconds.
WAIT_POLL_S = 0.1

PARAMS = (
    ParamSpec(name="source", default="array_camera", choices=SOURCES,
              description="frame source [-]"),
    ParamSpec(name="path", default="",
              description="video file or image folder; for array_camera the clip to tile "
                          "('' = vtest.avi from opencv-doc) [path]"),
    ParamSpec(name="grid_columns", default=5, low=1, high=16,
              description="array_camera: tiles per row [tiles]"),
    ParamSpec(name="grid_rows", default=4, low=1, high=16,
              description="array_camera: tiles per column [tiles]"),
    ParamSpec(name="width", default=3840, low=64, high=16384,
              description="array_camera: mosaic width [px]"),
    ParamSpec(name="height", default=2160, low=64, high=16384,
              description="array_camera: mosaic height [px]"),
    ParamSpec(name="rate_hz", default=0.5, low=0.01, high=120.0,
              description="publishing rate [Hz]"),
    ParamSpec(name="max_frames", default=0, low=0, high=1_000_000_000,
              description="stop publishing after this many frames, 0 = never [frames]"),
    ParamSpec(name="loop", default=True, description="restart the source at its end [bool]"),
    ParamSpec(name="frame_id", default="array_camera",
              description="header.frame_id of the published frames [-]"),
    ParamSpec(name="wait_for_subscribers", default=0, low=0, high=64,
              description="hold the first frame until the image topic has this many "
                          "subscribers (the graph is up) [subscriptions]"),
    ParamSpec(name="wait_for_nodes", default=",".join(EDGE_GRAPH_NODES),
              description="comma-separated names of nodes that must have said they are "
                          "active on /diagnostics before the first frame, '' = none (the "
                          "camera alone); unlike the subscriber count, not fooled by a "
                          "crashed node's readers [-]"),
    ParamSpec(name="discovery_settle_s", default=1.0, low=0.0, high=60.0,
              description="after those waits: wait this long more, so every reader has "
                          "matched the camera too [s]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the subscribers [-]"),
)


class CameraNode(HyperionNode):
    """Publishes frames of one source at ``rate_hz``."""

    def __init__(self) -> None:
        super().__init__("camera", params=PARAMS)

    def configure(self) -> None:
        p = self.p
        self._frames = self._open_source()
        self._pub = self.create_publisher(Image, qos.IMAGE, qos.image_qos(p["image_reliability"]))
        self._published = 0
        self._counted_ns: int | None = None
        self._timer = self.create_timer(1.0 / p["rate_hz"], self._tick)
        self._awaited = {n.strip() for n in p["wait_for_nodes"].split(",") if n.strip()}
        self._active_nodes: set[str] = set()
        if self._awaited:
            self.create_subscription(DiagnosticArray, qos.DIAGNOSTICS, self._on_diagnostics,
                                     qos.diagnostics_qos())
        self._poll = self.create_timer(WAIT_POLL_S, self._wait_for_graph)
        if p["wait_for_subscribers"] > 0 or self._awaited:
            self._timer.cancel()  # started by _wait_for_graph
        else:
            self._poll.cancel()
        self.get_logger().info(
            f"{p['source']} frames at {p['rate_hz']} Hz on {self._pub.topic_name} "
            f"(reliability {p['image_reliability']}, max_frames {p['max_frames'] or 'inf'})"
        )

    def _open_source(self) -> Iterator[np.ndarray]:
        p = self.p
        path = Path(p["path"]) if p["path"] else None
        if p["source"] == "array_camera":
            layout = ArrayCameraLayout(columns=p["grid_columns"], rows=p["grid_rows"],
                                       width=p["width"], height=p["height"])
            return array_camera_stream(layout=layout, clip=path, loop=p["loop"])
        if path is None:
            raise ParameterError(f"parameter path is required for source {p['source']}")
        if p["source"] == "video":
            return video_frames(path, loop=p["loop"])
        return folder_frames(path, loop=p["loop"])

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            node = status.hardware_id.rsplit("/", 1)[-1]
            state = next((kv.value for kv in status.values if kv.key == LIFECYCLE_KEY), None)
            if state == ACTIVE:
                self._active_nodes.add(node)
            elif state is not None:
                self._active_nodes.discard(node)

    def _wait_for_graph(self) -> None:
        """Start the frames once the graph is up and discovery had time to settle.

        Up: the awaited nodes said they are active, and enough readers subscribed. The count
        alone is not enough after a crash: a killed node's readers stay matched until its
        lease expires. And the camera's side of a match can complete before the reader's:
        a frame sent then is dropped by that reader and, with keep-last 1, replaced before
        it can be resent; hence the settling time.
        """
        p = self.p
        count = self._pub.get_subscription_count()
        missing = sorted(self._awaited - self._active_nodes)
        if count < p["wait_for_subscribers"] or missing:
            self._counted_ns = None
            self.get_logger().info(f"waiting for {p['wait_for_subscribers']} subscribers "
                                   f"({count}) and active nodes {missing}",
                                   throttle_duration_sec=5.0)
            return
        now_ns = self.now_ns()
        if self._counted_ns is None:
            self._counted_ns = now_ns
        if now_ns - self._counted_ns < p["discovery_settle_s"] * 1e9:
            return
        self._poll.cancel()
        self._timer.reset()
        self._tick()

    def _tick(self) -> None:
        p = self.p
        if p["max_frames"] and self._published >= p["max_frames"]:
            self._timer.cancel()
            self.get_logger().info(f"published {self._published} frames; done")
            return
        frame = next(self._frames, None)
        if frame is None:
            self._timer.cancel()
            self.get_logger().info(f"source exhausted after {self._published} frames")
            return
        # The capture stamp: when the frame became available.
        header = Header(stamp=self.now_msg(), frame_id=p["frame_id"])
        self._pub.publish(array_to_image(frame, header=header, encoding="bgr8"))
        self._published += 1
        self.counters.add("frames_published")


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``camera --ros-args ...``."""
    return run_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
