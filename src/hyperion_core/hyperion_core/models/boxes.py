"""Box geometry shared by every backend: letterboxing, rescaling to frame pixels, IoU, NMS.

Conventions: boxes are ``(N, 4)`` float arrays ``x1, y1, x2, y2`` in pixels, with ``x``
to the right and ``y`` down, origin at the top-left corner of the top-left pixel. Images
are ``(H, W, 3)`` uint8 arrays. Nothing here mutates its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Grey used by YOLO-family exporters for letterbox padding (their training used it).
LETTERBOX_FILL = 114


@dataclass(frozen=True, kw_only=True)
class FrameTransform:
    """How a model-input image was made from a region of the frame.

    A frame pixel ``(x, y)`` lands at ``((x - crop_x) * scale_x + pad_x,
    (y - crop_y) * scale_y + pad_y)`` in the model input.

    Args:
        scale_x: model-input pixels per frame pixel, horizontally.
        scale_y: model-input pixels per frame pixel, vertically.
        pad_x: left padding added after resizing, model-input pixels.
        pad_y: top padding added after resizing, model-input pixels.
        crop_x: left edge of the frame region that was resized (a tile's offset), frame pixels.
        crop_y: top edge of that region, frame pixels.
    """

    scale_x: float = 1.0
    scale_y: float = 1.0
    pad_x: float = 0.0
    pad_y: float = 0.0
    crop_x: float = 0.0
    crop_y: float = 0.0


def letterbox(
    image: np.ndarray,
    input_size: tuple[int, int],
    *,
    crop_offset: tuple[int, int] = (0, 0),
    fill: int = LETTERBOX_FILL,
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``image`` to fit ``input_size`` keeping its aspect ratio, padding the rest.

    Args:
        image: (H, W, 3) uint8, any channel order (kept).
        input_size: model input ``(width, height)`` in pixels.
        crop_offset: ``(x, y)`` of ``image`` inside the full frame when it is a tile, so the
            returned transform maps straight back to full-frame pixels.
        fill: padding grey level.

    Returns:
        A new (height, width, 3) uint8 array and the transform from frame to it.
    """
    in_w, in_h = input_size
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"cannot letterbox an empty image of shape {image.shape}")
    scale = min(in_w / w, in_h / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA when shrinking avoids the aliasing that makes small people vanish.
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    out = np.full((in_h, in_w, 3), fill, np.uint8)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    transform = FrameTransform(
        scale_x=new_w / w,
        scale_y=new_h / h,
        pad_x=pad_x,
        pad_y=pad_y,
        crop_x=crop_offset[0],
        crop_y=crop_offset[1],
    )
    return out, transform


def stretch(
    image: np.ndarray, input_size: tuple[int, int], *, crop_offset: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, FrameTransform]:
    """Resize ``image`` to exactly ``input_size`` (aspect not kept, no padding), for models
    trained that way (NanoDet, CenterNet as converted here).

    Args:
        image: (H, W, C) uint8, any channel order (kept).
        input_size: model input ``(width, height)`` in pixels.
        crop_offset: ``(x, y)`` of ``image`` inside the full frame when it is a tile.

    Returns:
        A new (height, width, C) uint8 array and the transform from frame to it.
    """
    in_w, in_h = input_size
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"cannot resize an empty image of shape {image.shape}")
    interp = cv2.INTER_AREA if in_w * in_h < w * h else cv2.INTER_LINEAR
    resized = cv2.resize(image, (in_w, in_h), interpolation=interp)
    return resized, FrameTransform(scale_x=in_w / w, scale_y=in_h / h,
                                   crop_x=crop_offset[0], crop_y=crop_offset[1])


def to_frame_pixels(
    boxes: np.ndarray, transform: FrameTransform, frame_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Map xyxy boxes from model-input pixels back to frame pixels — the one place that does.

    Args:
        boxes: (N, 4) xyxy in model-input pixels.
        transform: how the model input was made from the frame (see :func:`letterbox`).
        frame_size: ``(width, height)`` of the full frame; boxes are clipped to it if given.

    Returns:
        A new (N, 4) float32 array, xyxy in frame pixels.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    out = np.empty_like(boxes)
    out[:, 0::2] = (boxes[:, 0::2] - transform.pad_x) / transform.scale_x + transform.crop_x
    out[:, 1::2] = (boxes[:, 1::2] - transform.pad_y) / transform.scale_y + transform.crop_y
    if frame_size is not None:
        out[:, 0::2] = np.clip(out[:, 0::2], 0, frame_size[0])
        out[:, 1::2] = np.clip(out[:, 1::2], 0, frame_size[1])
    return out


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) centre-x, centre-y, width, height → (N, 4) xyxy (new array)."""
    boxes = np.asarray(boxes, np.float32)
    half = boxes[:, 2:4] / 2
    return np.concatenate([boxes[:, 0:2] - half, boxes[:, 0:2] + half], axis=1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """(N,) areas of xyxy boxes; inverted boxes count as 0."""
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4); 0 if empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float,
    *,
    class_ids: np.ndarray | None = None,
    max_keep: int | None = None,
) -> np.ndarray:
    """Greedy non-maximum suppression; per class when ``class_ids`` is given.

    Args:
        boxes: (N, 4) xyxy, any pixel frame.
        scores: (N,) confidences; NaN scores are dropped.
        iou_threshold: a box is suppressed by a better one overlapping it more than this.
        class_ids: (N,) int; boxes of different classes never suppress each other.
        max_keep: stop after this many boxes.

    Returns:
        (K,) int64 indices into ``boxes``, best score first.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    valid = np.flatnonzero(np.isfinite(scores) & np.isfinite(boxes).all(axis=1))
    if valid.size == 0:
        return np.zeros(0, np.int64)
    work = boxes[valid]
    if class_ids is not None:
        # Shift each class to its own region of the plane so one pass handles all classes.
        span = float(work.max() - work.min()) + 1.0
        work = work + (np.asarray(class_ids)[valid, None] * span)
    local = np.argsort(-scores[valid], kind="stable")
    order, work_sorted = valid[local], work[local]
    areas = box_area(work_sorted)
    keep: list[int] = []
    alive = np.ones(len(order), bool)
    for k in range(len(order)):
        if not alive[k]:
            continue
        keep.append(int(order[k]))
        if max_keep is not None and len(keep) >= max_keep:
            break
        rest = np.flatnonzero(alive[k + 1 :]) + k + 1
        if rest.size == 0:
            break
        lt = np.maximum(work_sorted[k, :2], work_sorted[rest, :2])
        rb = np.minimum(work_sorted[k, 2:], work_sorted[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        union = areas[k] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        alive[rest[iou > iou_threshold]] = False
    return np.asarray(keep, np.int64)
