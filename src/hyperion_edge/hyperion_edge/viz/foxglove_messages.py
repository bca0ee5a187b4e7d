"""Foxglove channel messages built from Hyperion's ROS messages.

Time series go out as JSON with a JSON schema so Foxglove's Plot panel offers each field
(e.g. ``/hyperion/viz/timing.latency_ms``); image overlays use the Foxglove
``ImageAnnotations`` schema with timestamps equal to the capture stamp, which the Image
panel uses to pair them with the matching frame.
"""

from __future__ import annotations

from foxglove.messages import (
    Color,
    ImageAnnotations,
    Point2,
    PointsAnnotation,
    PointsAnnotationType,
    TextAnnotation,
    Timestamp,
)

from hyperion_edge.viz.render import Box

#: JSON schemas of the plot channels: field -> JSON type.
TIMING_FIELDS = {"stamp_s": "number", "latency_ms": "number", "bytes_sent": "integer",
                 "deadline_met": "boolean", "source": "integer"}
PLAN_FIELDS = {"stamp_s": "number", "edge_only": "boolean", "q0": "integer", "q1": "integer",
               "q2": "integer", "class0_downsample": "integer", "predicted_bytes": "integer",
               "byte_budget": "integer", "bandwidth_mbps": "number"}
LINK_FIELDS = {"stamp_s": "number", "link_up": "boolean", "bandwidth_mbps": "number",
               "bytes_sent": "integer", "bytes_received": "integer", "answers_missed": "integer"}


def json_schema(fields: dict[str, str]) -> dict:
    return {"type": "object", "properties": {k: {"type": v} for k, v in fields.items()}}


def stamp_of(header: object) -> Timestamp:
    return Timestamp(sec=header.stamp.sec, nsec=header.stamp.nanosec)


def seconds(stamp: object) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def annotations(boxes: list[Box], *, stamp: Timestamp, bgr: tuple[int, int, int],
                labels: bool) -> ImageAnnotations:
    """Boxes (display pixels) as closed outlines in one colour, with optional labels."""
    colour = Color(r=bgr[2] / 255, g=bgr[1] / 255, b=bgr[0] / 255, a=1.0)
    outlines = [
        PointsAnnotation(
            timestamp=stamp, type=PointsAnnotationType.LineLoop, outline_color=colour,
            thickness=1.5, points=[Point2(x=b.x0, y=b.y0), Point2(x=b.x1, y=b.y0),
                                   Point2(x=b.x1, y=b.y1), Point2(x=b.x0, y=b.y1)],
        )
        for b in boxes
    ]
    texts = [
        TextAnnotation(timestamp=stamp, position=Point2(x=b.x0, y=b.y0), text=b.label,
                       font_size=10.0, text_color=colour, background_color=Color(a=0.5))
        for b in boxes if labels and b.label
    ]
    return ImageAnnotations(points=outlines, texts=texts)


def timing_row(msg: object) -> dict:
    """A plot row from hyperion_msgs/FrameTiming."""
    return {"stamp_s": seconds(msg.header.stamp), "latency_ms": msg.latency_s * 1e3,
            "bytes_sent": int(msg.bytes_sent), "deadline_met": bool(msg.deadline_met),
            "source": int(msg.source)}


def plan_row(msg: object) -> dict:
    """A plot row from hyperion_msgs/QualityPlan (qualities of classes 0-2, 0 if absent)."""
    quality = [*msg.class_quality, 0, 0, 0]
    return {"stamp_s": seconds(msg.header.stamp), "edge_only": bool(msg.edge_only),
            "q0": int(quality[0]), "q1": int(quality[1]), "q2": int(quality[2]),
            "class0_downsample": int(msg.class0_downsample),
            "predicted_bytes": int(msg.predicted_bytes), "byte_budget": int(msg.byte_budget),
            "bandwidth_mbps": msg.bandwidth_estimate_bps / 1e6}


def link_row(msg: object) -> dict:
    """A plot row from hyperion_msgs/LinkStats."""
    return {"stamp_s": seconds(msg.header.stamp), "link_up": bool(msg.link_up),
            "bandwidth_mbps": msg.bandwidth_estimate_bps / 1e6,
            "bytes_sent": int(msg.bytes_sent), "bytes_received": int(msg.bytes_received),
            "answers_missed": int(msg.answers_missed)}
