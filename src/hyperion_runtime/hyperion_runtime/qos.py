"""QoS of every Hyperion topic, chosen once here and used by publishers and subscribers alike.

Why each choice (README table mirrors this module):

- Camera images (``/hyperion/image``, and ``/hyperion/image/compressed`` into the
  decompressor): keep-last 1, volatile. Only the newest frame matters
  (latest wins); a deeper queue would only add latency. Reliability is a node parameter
  (``image_reliability``, default ``reliable``): Fast DDS delivered 0 of 30 best-effort 4K
  frames between processes (fragments are lost and never repaired), so best effort is for
  small images or intra-process use only. Publisher and subscribers must agree: a
  best-effort publisher never matches a reliable subscriber.
- Per-frame results (detections, scores, plans, encoded frames, encode reports, timing,
  cloud answers):
  reliable, volatile, keep-last 10. Every frame needs exactly one answer, so these must
  not be lost; 10 frames of slack absorbs a slow consumer for a second at 10 fps.
- Edge detections (``/hyperion/edge/detections``), the answers (``/hyperion/detections``)
  and their timing (``/hyperion/timing``): the same, but transient-local. The edge
  detections are the one input without which the ensembler cannot answer a frame, and the
  answers are what a consumer is there for; at start-up (or after a restart) a writer can
  publish before discovery has matched it with a reader, and a volatile writer never
  resends that to a reader matched later (one frame in ~20 graph start-ups was lost so;
  after a SIGKILL and restart of the edge graph, the first answers missed a consumer that
  had been running all along). Transient-local writers keep their last 10 and send them
  to every transient-local reader that matches later; volatile readers (``ros2 topic
  echo``, rviz2) still match and get what comes after. A replacement edge detector must
  publish edge detections transient-local (the ensembler's reader does not match a
  volatile writer).
- The POI map image is for viewing: keep-last 1, best effort (small, loss is harmless).
- Link stats (``/hyperion/link/stats``): keep-last 1, reliable; only the newest estimate
  is meaningful to the scheduler.
- The edge detector's classes (``/hyperion/edge/label_info``, ``vision_msgs/LabelInfo``):
  keep-last 1, reliable, transient-local, as ROS label_info topics are: published at
  activation and on each change of ``classes``, read by the encoder whenever it starts.
- ``/diagnostics``: keep-last 10, reliable (the ROS convention for diagnostic_msgs).
"""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

#: Topic names of the edge graph (absolute; remap to plug in an existing camera).
IMAGE = "/hyperion/image"
#: Compressed camera frames (JPEG/PNG), read by the decompressor when it runs.
COMPRESSED_IMAGE = "/hyperion/image/compressed"
EDGE_DETECTIONS = "/hyperion/edge/detections"
#: The classes the edge detector detects now (LabelInfo), sent on to the cloud per frame.
EDGE_LABEL_INFO = "/hyperion/edge/label_info"
PATCH_SCORES = "/hyperion/patch_scores"
POI_MAP = "/hyperion/poi_map"
PLAN = "/hyperion/plan"
ENCODED = "/hyperion/encoded"
#: What the encoder produced for each offload plan (real bytes per class, sent or not).
ENCODE_REPORT = "/hyperion/encode_report"
LINK_STATS = "/hyperion/link/stats"
CLOUD_DETECTIONS = "/hyperion/cloud/detections"
DETECTIONS = "/hyperion/detections"
TIMING = "/hyperion/timing"
DIAGNOSTICS = "/diagnostics"
#: Topic names of the cloud graph (a separate ROS domain).
CLOUD_ENCODED = "/hyperion/cloud/encoded"
CLOUD_ANSWERS = "/hyperion/cloud/answers"

RELIABILITY_CHOICES = ("reliable", "best_effort")

#: Depth of per-frame result topics (frames of slack for a slow consumer).
RESULT_DEPTH = 10


def image_qos(reliability: str = "reliable") -> QoSProfile:
    """Keep-last 1, volatile image QoS.

    Args:
        reliability: ``"reliable"`` or ``"best_effort"`` (see the module docstring).
    """
    if reliability not in RELIABILITY_CHOICES:
        raise ValueError(f"reliability must be one of {RELIABILITY_CHOICES}, got {reliability!r}")
    policy = (
        ReliabilityPolicy.RELIABLE if reliability == "reliable" else ReliabilityPolicy.BEST_EFFORT
    )
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1, reliability=policy,
        durability=DurabilityPolicy.VOLATILE,
    )


def result_qos() -> QoSProfile:
    """Reliable, volatile, keep-last :data:`RESULT_DEPTH`: per-frame results."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=RESULT_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    )


def resent_result_qos() -> QoSProfile:
    """:func:`result_qos`, but transient-local: readers that match late get the last 10."""
    profile = result_qos()
    profile.durability = DurabilityPolicy.TRANSIENT_LOCAL
    return profile


def viewer_qos() -> QoSProfile:
    """Best-effort keep-last 1: images for people to look at (POI map)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1,
        reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE,
    )


def latest_state_qos() -> QoSProfile:
    """Reliable keep-last 1: state where only the newest value matters (link stats)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1,
        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    )


def label_info_qos() -> QoSProfile:
    """Reliable keep-last 1, transient local: the classes in force, for late joiners too."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=1,
        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )


def diagnostics_qos() -> QoSProfile:
    """Reliable keep-last 10, as diagnostic aggregators expect."""
    return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
