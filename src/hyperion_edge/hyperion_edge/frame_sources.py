"""Camera frame sources: the embedded array-camera mosaic, a video file, an image folder.

Each source is an endless (``loop=True``) or finite iterator of BGR ``(H, W, 3)`` uint8
frames. Frames are produced on demand so memory stays at one clip window, not a clip.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.data.array_camera import ArrayCameraLayout, compose, find_vtest_clip

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _video_frames(path: Path, loop: bool) -> Iterator[np.ndarray]:
    while True:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise OSError(f"cannot open video {path}")
        produced = 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                produced += 1
                yield frame
        finally:
            capture.release()
        if not loop or produced == 0:
            return


def video_frames(path: Path, *, loop: bool) -> Iterator[np.ndarray]:
    """Frames of a video file in order, restarting at the end when ``loop``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"video {path} not found")
    return _video_frames(Path(path), loop)


def _folder_frames(files: list[Path], loop: bool) -> Iterator[np.ndarray]:
    while True:
        produced = 0
        for file in files:
            frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if frame is not None:
                produced += 1
                yield frame
        # A pass without one readable image would repeat forever without yielding.
        if not loop or produced == 0:
            return


def folder_frames(path: Path, *, loop: bool) -> Iterator[np.ndarray]:
    """Images of a folder in name order (unreadable files are skipped).

    Raises:
        FileNotFoundError: at the call (not at the first frame) when ``path`` is no folder
            or holds no file with an image suffix.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {path} not found")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    return _folder_frames(files, loop)


def _mosaics(layout: ArrayCameraLayout, clip: Path, loop: bool) -> Iterator[np.ndarray]:
    span = (layout.tiles - 1) * layout.tile_stride + 1
    window: deque[np.ndarray] = deque(maxlen=span)
    for clip_frame in _video_frames(clip, loop):
        window.append(clip_frame)
        if len(window) == span:
            yield compose([window[k * layout.tile_stride] for k in range(layout.tiles)], layout)


def array_camera_stream(
    *, layout: ArrayCameraLayout, clip: Path | None = None, loop: bool = True
) -> Iterator[np.ndarray]:
    """Array-camera mosaics of a clip: tile ``k`` of frame ``t`` shows clip frame
    ``t + k * layout.tile_stride`` (as :mod:`hyperion_core.data.array_camera`).

    Keeps only the ``(tiles - 1) * stride + 1`` clip frames one mosaic needs. Without
    ``loop``, a clip of ``n`` frames gives ``n - (tiles - 1) * stride`` mosaics.

    Raises:
        FileNotFoundError: at the call when the clip (default ``vtest.avi``) is missing.
    """
    path = Path(clip) if clip is not None else find_vtest_clip()
    if not path.is_file():
        raise FileNotFoundError(f"video {path} not found")
    return _mosaics(layout, path, loop)
