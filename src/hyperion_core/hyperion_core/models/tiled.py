"""Edge-side reduced-resolution inference: downscale the frame, run a detector on a few tiles.

A 640-input detector given a whole 4K frame shrinks people to ~8x15 px and finds almost
nobody; a small fixed grid of tiles over a moderately downscaled frame keeps the number of
passes (and so the latency) bounded while people stay large enough to be found.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hyperion_core.models.base import Detections, Detector
from hyperion_core.models.boxes import FrameTransform, nms, to_frame_pixels


@dataclass(frozen=True, kw_only=True)
class TiledConfig:
    """How the frame is reduced and cut.

    Args:
        scale: working resolution as a fraction of the frame (0.5: 3840x2160 → 1920x1080).
        columns: tiles across the working image.
        rows: tiles down the working image.
        overlap: fraction of a tile's width/height shared with its neighbour, so people on a
            tile border are whole in at least one tile.
        merge_iou: IoU for the class-aware NMS that merges tiles' detections.
        tile_px: if set, ``columns`` and ``rows`` are ignored and derived per image so that
            each tile spans about ``tile_px`` working pixels (:meth:`grid_for`).
    """

    scale: float = 0.5
    columns: int = 3
    rows: int = 2
    overlap: float = 0.1
    merge_iou: float = 0.45
    tile_px: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1 or self.columns < 1 or self.rows < 1:
            raise ValueError(f"invalid tiling {self}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"overlap must lie in [0, 1), got {self.overlap}")
        if self.tile_px is not None and self.tile_px < 16:
            raise ValueError(f"tile_px must be >= 16, got {self.tile_px}")

    def grid_for(self, width: int, height: int) -> tuple[int, int]:
        """``(columns, rows)`` of tiles for a ``width`` x ``height`` image (passes = their
        product): the fixed grid, or with ``tile_px`` the fewest tiles of at most about
        ``tile_px`` working pixels a side."""
        if self.tile_px is None:
            return self.columns, self.rows
        return (max(1, round(width * self.scale / self.tile_px + 0.25)),
                max(1, round(height * self.scale / self.tile_px + 0.25)))


def tile_windows(size: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """Split ``[0, size)`` into ``count`` equal windows sharing ``overlap`` of their length.

    Returns:
        ``(start, stop)`` pixel pairs covering ``[0, size)`` exactly.
    """
    if count == 1:
        return [(0, size)]
    length = size / (count - (count - 1) * overlap)
    starts = np.linspace(0, size - length, count)
    return [(round(s), min(size, round(s + length))) for s in starts]


class TiledDetector(Detector):
    """Runs an inner detector on ``rows x columns`` tiles of a downscaled frame."""

    def __init__(self, *, inner: Detector, config: TiledConfig) -> None:
        """Args:
        inner: detector run on each tile (its boxes come back in tile pixels).
        config: working scale and tile grid.
        """
        self.inner = inner
        self.config = config

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.inner.class_names

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
            image: (H, W, 3) uint8 BGR; not modified.

        Returns:
            Detections merged over tiles, xyxy in pixels of ``image``.
        """
        cfg = self.config
        h, w = image.shape[:2]
        work_w, work_h = max(1, round(w * cfg.scale)), max(1, round(h * cfg.scale))
        work = image
        if (work_w, work_h) != (w, h):
            work = cv2.resize(image, (work_w, work_h), interpolation=cv2.INTER_AREA)
        sx, sy = work_w / w, work_h / h
        columns, rows = cfg.grid_for(w, h)
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for y0, y1 in tile_windows(work_h, rows, cfg.overlap):
            for x0, x1 in tile_windows(work_w, columns, cfg.overlap):
                found = self.inner.predict(np.ascontiguousarray(work[y0:y1, x0:x1]))
                # Tile pixels → frame pixels: undo the crop offset and the downscale at once.
                back = FrameTransform(scale_x=sx, scale_y=sy, crop_x=x0 / sx, crop_y=y0 / sy)
                parts.append(
                    (to_frame_pixels(found.boxes, back, (w, h)), found.scores, found.class_ids)
                )
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        class_ids = np.concatenate([p[2] for p in parts])
        kept = nms(boxes, scores, cfg.merge_iou, class_ids=class_ids)
        return Detections(boxes[kept], scores[kept], class_ids[kept], self.class_names)
