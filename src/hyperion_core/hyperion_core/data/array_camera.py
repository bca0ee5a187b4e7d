"""Ultra-HD array-camera frames composed from an ordinary surveillance clip.

An array camera stitches many micro-camera views into one Ultra-HD frame. Without such a
camera (or PANDA) on this machine, the embedded default imitates one: a grid of tiles, each
showing the Debian ``opencv-doc`` clip ``vtest.avi`` (768x576, 10 fps, pedestrians seen
from above) at a different time offset, resized to fill a 3840x2160 frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Where Debian's ``opencv-doc`` package puts the clip; ``HYPERION_VTEST`` overrides it.
DEBIAN_VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def find_vtest_clip() -> Path:
    """Return the path of ``vtest.avi``.

    Raises:
        FileNotFoundError: naming the Debian package to install when the clip is absent.
    """
    candidate = Path(os.environ.get("HYPERION_VTEST", DEBIAN_VTEST))
    if not candidate.is_file():
        raise FileNotFoundError(
            f"surveillance clip not found at {candidate}: install it with "
            "'apt-get install opencv-doc' or point HYPERION_VTEST at a video file"
        )
    return candidate


def read_clip(path: Path, first: int = 0, count: int | None = None) -> list[np.ndarray]:
    """Decode frames ``first .. first+count-1`` of a video as BGR uint8 arrays (H, W, 3).

    Args:
        path: any video OpenCV can read.
        first: index of the first frame to return.
        count: number of frames; ``None`` reads to the end.
    """
    import cv2  # heavy import, only needed when frames are read

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open video {path}")
    frames: list[np.ndarray] = []
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, first)
        while count is None or len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    return frames


@dataclass(frozen=True, kw_only=True)
class ArrayCameraLayout:
    """How clip frames are tiled into one Ultra-HD frame.

    Args:
        columns: tiles per row.
        rows: tiles per column.
        width: output frame width in pixels.
        height: output frame height in pixels.
        tile_stride: tile ``k`` of output frame ``t`` shows clip frame ``t + k * tile_stride``,
            so neighbouring tiles show different moments and people do not repeat.
    """

    columns: int = 5
    rows: int = 4
    width: int = 3840
    height: int = 2160
    tile_stride: int = 2

    @property
    def tiles(self) -> int:
        return self.columns * self.rows

    def clip_frames_needed(self, frames: int) -> int:
        """Clip frames required to compose ``frames`` output frames."""
        return frames + (self.tiles - 1) * self.tile_stride


def compose(tiles: list[np.ndarray], layout: ArrayCameraLayout) -> np.ndarray:
    """Resize ``layout.tiles`` images to their cells and stitch them row-major.

    Tile boundaries are computed with integer rounding so any output size is filled
    exactly. Returns a new (height, width, 3) uint8 array.
    """
    import cv2

    if len(tiles) != layout.tiles:
        raise ValueError(f"need {layout.tiles} tiles, got {len(tiles)}")
    xs = np.linspace(0, layout.width, layout.columns + 1).round().astype(int)
    ys = np.linspace(0, layout.height, layout.rows + 1).round().astype(int)
    frame = np.empty((layout.height, layout.width, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, layout.columns)
        cell = frame[ys[r] : ys[r + 1], xs[c] : xs[c + 1]]
        cv2.resize(tile, (cell.shape[1], cell.shape[0]), dst=cell, interpolation=cv2.INTER_AREA)
    return frame


def array_camera_frames(
    frames: int,
    *,
    layout: ArrayCameraLayout | None = None,
    clip: Path | None = None,
    first: int = 0,
    crop: tuple[int, int, int, int] | None = None,
) -> Iterator[np.ndarray]:
    """Yield ``frames`` Ultra-HD BGR frames composed from a clip (by default the
    surveillance clip).

    Args:
        frames: how many output frames to produce (bounded by the clip's length).
        layout: tiling; defaults to 5x4 tiles in 3840x2160.
        clip: video to tile; defaults to :func:`find_vtest_clip`.
        first: clip frame shown by tile 0 of the first output frame.
        crop: ``(x0, y0, x1, y1)`` of every clip frame to keep (e.g. without black bars).
    """
    layout = layout or ArrayCameraLayout()
    source = read_clip(clip or find_vtest_clip(), first, layout.clip_frames_needed(frames))
    if crop is not None:
        x0, y0, x1, y1 = crop
        source = [f[y0:y1, x0:x1] for f in source]
    available = len(source) - (layout.tiles - 1) * layout.tile_stride
    for t in range(min(frames, max(available, 0))):
        yield compose([source[t + k * layout.tile_stride] for k in range(layout.tiles)], layout)
