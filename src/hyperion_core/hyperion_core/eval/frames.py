"""Frame sequences for evaluation and profiling, and their 4K-equivalent scale.

The embedded default is the array-camera composite (``vtest.avi`` tiles of 768x540 px).
A smaller grid than the 4K frame's 5x4 tiles keeps every tile, and so every person, at the
same pixel scale while cutting detector time in proportion; ``area_scale`` then says how
many such frames make one 3840x2160 frame, so that byte counts sent over a trace and
area-proportional compute can be reported for a 4K frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: Pixels of the frame size the paper evaluates (PANDA downsampled to Ultra-HD).
UHD_PIXELS = 3840 * 2160
#: Tile size of the 4K array-camera composite (3840/5 x 2160/4).
TILE_SIZE = (768, 540)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True, kw_only=True)
class FrameSpec:
    """Where frames come from.

    Args:
        source: ``"array-camera"`` (embedded vtest composite), a video file or an image
            folder (sorted by name).
        tiles: ``(columns, rows)`` of 768x540 tiles for the array camera ((5, 4) = 3840x2160).
        first: first clip frame (array camera / video) or first image index (folder).
        frames: number of frames.
        stride: clip frames / images between consecutive frames (1 = contiguous; larger
            spreads a few frames over the clip, e.g. for profiling).
    """

    source: str = "array-camera"
    tiles: tuple[int, int] = (5, 4)
    first: int = 0
    frames: int = 8
    stride: int = 1


def load_frames(spec: FrameSpec) -> list[np.ndarray]:
    """Decode the frames of ``spec`` as ``(H, W, 3)`` uint8 BGR arrays (new arrays)."""
    import cv2

    if spec.frames < 1:
        raise ValueError(f"need at least one frame, got {spec.frames}")
    if spec.stride < 1:
        raise ValueError(f"stride must be >= 1, got {spec.stride}")
    if spec.stride > 1:
        frames = []
        for k in range(spec.frames):
            one = replace(spec, first=spec.first + k * spec.stride, frames=1, stride=1)
            frames += load_frames(one)
        return frames
    if spec.source == "array-camera":
        from hyperion_core.data.array_camera import ArrayCameraLayout, array_camera_frames

        cols, rows = spec.tiles
        layout = ArrayCameraLayout(
            columns=cols, rows=rows, width=cols * TILE_SIZE[0], height=rows * TILE_SIZE[1]
        )
        frames = list(array_camera_frames(spec.frames, layout=layout, first=spec.first))
    else:
        path = Path(spec.source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            frames = [cv2.imread(str(p)) for p in files[spec.first : spec.first + spec.frames]]
        else:
            from hyperion_core.data.array_camera import read_clip

            frames = read_clip(path, spec.first, spec.frames)
    if len(frames) < spec.frames:
        raise ValueError(f"{spec.source} gave {len(frames)} frames, {spec.frames} wanted")
    return frames


def frame_digest(frame: np.ndarray) -> str:
    """Content hash of a frame (shape and pixels), 20 hex digits: the cache key's first half."""
    h = hashlib.sha1(str(frame.shape).encode())
    h.update(np.ascontiguousarray(frame).data)
    return h.hexdigest()[:20]


def area_scale(frame: np.ndarray) -> float:
    """How many frames of this size make one 3840x2160 frame (1.0 for 4K, 5.0 for 2x2 tiles)."""
    return UHD_PIXELS / float(frame.shape[0] * frame.shape[1])
