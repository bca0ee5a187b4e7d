"""Multi-object tracking on the graph's final answers (ROS-free): :mod:`.bytetrack`."""

from hyperion_core.track.bytetrack import ByteTracker, TrackerConfig

__all__ = ["ByteTracker", "TrackerConfig"]
