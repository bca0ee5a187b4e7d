"""Human labels of the embedded clip, and 4K array-camera frames built from labelled frames.

``data/vtest_people.json`` holds hand-made person boxes for 20 frames of ``vtest.avi``
(COCO format; how they were made is in ``data/README.md``). A 3840x2160 composite whose
tiles are all labelled frames then has human ground truth at 4K: each tile's boxes are
scaled into its cell, exactly as :func:`~hyperion_core.data.array_camera.compose` scales
the tile's pixels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperion_core.data.array_camera import ArrayCameraLayout, compose, find_vtest_clip, read_clip
from hyperion_core.fuse.boxes import Detections

VTEST_LABELS = Path(__file__).parent / "data" / "vtest_people.json"


@dataclass(frozen=True, kw_only=True, eq=False)
class LabelledFrame:
    """Ground truth of one image.

    Args:
        boxes: ``(N, 4)`` float64 xyxy pixels.
        crowd: ``(N,)`` bool, COCO ``iscrowd`` (ignore regions).
        tiles: ``(N,)`` int, which composite tile each box lies in (0 for a plain frame).
    """

    boxes: np.ndarray
    crowd: np.ndarray
    tiles: np.ndarray

    def detections(self) -> Detections:
        """The boxes as ground-truth detections (label 0 = person, score 1)."""
        n = len(self.boxes)
        return Detections(boxes=self.boxes, scores=np.ones(n), labels=np.zeros(n, np.int64))


def load_labels(path: Path = VTEST_LABELS) -> dict[int, LabelledFrame]:
    """Person boxes per clip frame index from a COCO file with ``frame_index`` per image.

    Raises:
        ValueError: naming the file when it is not such a COCO file.
    """
    document = json.loads(Path(path).read_text())
    try:
        frame_of = {img["id"]: int(img["frame_index"]) for img in document["images"]}
        rows: dict[int, list[tuple[list[float], bool]]] = {f: [] for f in frame_of.values()}
        for ann in document["annotations"]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            rows[frame_of[ann["image_id"]]].append(([x, y, x + w, y + h], bool(ann["iscrowd"])))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a COCO file with frame_index per image ({err!r})") from err
    return {
        frame: LabelledFrame(
            boxes=np.array([b for b, _ in found], np.float64).reshape(-1, 4),
            crowd=np.array([c for _, c in found], bool),
            tiles=np.zeros(len(found), np.int64),
        )
        for frame, found in sorted(rows.items())
    }


def labelled_composite(
    frames: list[int], labels: dict[int, LabelledFrame], *,
    layout: ArrayCameraLayout | None = None, clip: Path | None = None,
) -> tuple[np.ndarray, LabelledFrame]:
    """A composite whose tile ``k`` shows clip frame ``frames[k]``, with its ground truth.

    Args:
        frames: one labelled clip frame per tile, row-major.
        labels: from :func:`load_labels`.
        layout: tiling (default 5x4 tiles in 3840x2160).
        clip: the video (default ``vtest.avi``).

    Returns:
        ``(frame, truth)``: the ``(H, W, 3)`` uint8 BGR composite and its boxes in its pixels.
    """
    layout = layout or ArrayCameraLayout()
    if len(frames) != layout.tiles:
        raise ValueError(f"need {layout.tiles} frames, got {len(frames)}")
    missing = [f for f in frames if f not in labels]
    if missing:
        raise KeyError(f"clip frames {missing} are not labelled")
    source = clip or find_vtest_clip()
    tiles = [read_clip(source, f, 1)[0] for f in frames]
    xs = np.linspace(0, layout.width, layout.columns + 1).round().astype(int)
    ys = np.linspace(0, layout.height, layout.rows + 1).round().astype(int)
    boxes, crowd, where = [], [], []
    for k, (tile, frame) in enumerate(zip(tiles, frames, strict=True)):
        r, c = divmod(k, layout.columns)
        sx = (xs[c + 1] - xs[c]) / tile.shape[1]
        sy = (ys[r + 1] - ys[r]) / tile.shape[0]
        truth = labels[frame]
        boxes.append(truth.boxes * [sx, sy, sx, sy] + [xs[c], ys[r], xs[c], ys[r]])
        crowd.append(truth.crowd)
        where.append(np.full(len(truth.boxes), k))
    return compose(tiles, layout), LabelledFrame(
        boxes=np.concatenate(boxes), crowd=np.concatenate(crowd), tiles=np.concatenate(where))


def tile_of(boxes: np.ndarray, layout: ArrayCameraLayout | None = None) -> np.ndarray:
    """Composite tile index of each box's centre (for per-tile resampling of scores)."""
    layout = layout or ArrayCameraLayout()
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    col = np.clip((cx * layout.columns / layout.width).astype(int), 0, layout.columns - 1)
    row = np.clip((cy * layout.rows / layout.height).astype(int), 0, layout.rows - 1)
    return row * layout.columns + col
