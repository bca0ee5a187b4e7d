"""Frame sequences for evaluation and profiling.

A :class:`FrameSpec` names 3840x2160 frames: array-camera composites of one of the real
clips of :mod:`hyperion_core.data.sources` (``vtest``, ``market-street``), frames of a video
file or an image folder (e.g. a PANDA sequence), or the image messages of a recorded
rosbag2 (``bag:PATH[#TOPIC]``, a user's own camera).

The defaults keep profiling and evaluation apart: their composites use disjoint ranges of
each clip (no clip frame appears in both), so profiles are fitted on frames the evaluation
never scores.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: Pixels of the frame size the paper evaluates (PANDA downsampled to Ultra-HD).
UHD_PIXELS = 3840 * 2160
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True, kw_only=True)
class FrameSpec:
    """Where frames come from.

    Args:
        source: a clip of :data:`hyperion_core.data.sources.SOURCES` (4K composites), a
            video file, an image folder (sorted by name), ``bag:PATH[#TOPIC]``, or
            ``labelled:SET`` (the two hand-labelled composites of a label set).
        first: first composite (tile 0's clip frame), video frame, image or bag message.
        frames: number of frames.
        stride: frames between consecutive frames (1 = contiguous).
    """

    source: str = "vtest"
    first: int = 0
    frames: int = 8
    stride: int = 1

    def __post_init__(self) -> None:
        if self.frames < 1 or self.stride < 1 or self.first < 0:
            raise ValueError(f"need frames >= 1, stride >= 1, first >= 0: {self}")

    def describe(self) -> str:
        return f"{self.source} {self.frames} frames from {self.first} every {self.stride}"


#: Profiling frames (disjoint clip ranges from EVALUATION): vtest composites 0-150 use clip
#: frames 0-188; market-street composites 0-280 use clip frames 0-690.
PROFILING = (
    FrameSpec(source="vtest", first=0, frames=16, stride=10),
    FrameSpec(source="market-street", first=0, frames=8, stride=40),
)
#: Evaluation frames: vtest composites 200-752 (clip frames 200-790) and market-street
#: composites 720-1358 (clip frames 720-1768): 100 frames in all.
EVALUATION = (
    FrameSpec(source="vtest", first=200, frames=70, stride=8),
    FrameSpec(source="market-street", first=720, frames=30, stride=22),
)


def load_frames(spec: FrameSpec) -> list[np.ndarray]:
    """Decode the frames of ``spec`` as ``(H, W, 3)`` uint8 BGR arrays (new arrays).

    Raises:
        ValueError: the source holds fewer frames than asked for.
        FileNotFoundError: the clip or path is missing (naming how to get it).
    """
    from hyperion_core.data.sources import SOURCES

    if spec.source in SOURCES:
        return list(SOURCES[spec.source].composite_frames(spec.first, spec.frames, spec.stride))
    if spec.source.startswith("labelled:"):
        from hyperion_core.eval.labelled import composites

        every = [c.image for c in composites(spec.source.split(":", 1)[1])]
        picked = every[spec.first :: spec.stride][: spec.frames]
        if len(picked) < spec.frames:
            raise ValueError(f"{spec.source} has {len(every)} frames, {spec.frames} wanted")
        return picked
    if spec.source.startswith("bag:"):
        from hyperion_core.eval.bag_frames import read_bag_frames

        path, _, topic = spec.source[4:].partition("#")
        return read_bag_frames(Path(path), topic=topic or None, first=spec.first,
                               count=spec.frames, stride=spec.stride)
    path = Path(spec.source)
    if not path.exists():
        raise FileNotFoundError(f"frame source {spec.source!r}: no such clip name, file or "
                                f"folder (clips: {sorted(SOURCES)})")
    wanted = [spec.first + k * spec.stride for k in range(spec.frames)]
    if path.is_dir():
        import cv2

        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        frames = [cv2.imread(str(files[i])) for i in wanted if i < len(files)]
    else:
        from hyperion_core.data.array_camera import read_clip

        every = read_clip(path, spec.first, (spec.frames - 1) * spec.stride + 1)
        frames = every[:: spec.stride]
    if len(frames) < spec.frames:
        raise ValueError(f"{spec.source} gave {len(frames)} frames, {spec.frames} wanted")
    return frames


def load_all(specs: tuple[FrameSpec, ...]) -> list[np.ndarray]:
    """The frames of several specs, in order."""
    return [f for spec in specs for f in load_frames(spec)]


def one_frame(spec: FrameSpec, index: int) -> FrameSpec:
    """The spec of the ``index``-th frame of ``spec`` alone."""
    return replace(spec, first=spec.first + index * spec.stride, frames=1, stride=1)


def frame_digest(frame: np.ndarray) -> str:
    """Content hash of a frame (shape and pixels), 20 hex digits: the cache key's first half."""
    h = hashlib.sha1(str(frame.shape).encode())
    h.update(np.ascontiguousarray(frame).data)
    return h.hexdigest()[:20]


def area_scale(frame: np.ndarray) -> float:
    """How many frames of this size make one 3840x2160 frame (1.0 for 4K)."""
    return UHD_PIXELS / float(frame.shape[0] * frame.shape[1])
