"""COCO AP and AP50 through pycocotools (never hand-rolled).

Detections and ground truth are handed to ``COCOeval`` in memory. AP values are read from
its accumulated precision array at the largest ``maxDets`` (raised above COCO's 100
because dense frames hold 70-165 people), area range "all"; this is what
``COCOeval.summarize`` prints for stats[0]/stats[1] when ``max_dets`` is 100.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from hyperion_core.fuse.boxes import Detections


def _coco(images: int, categories: list[int], annotations: list[dict]):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {
        "images": [{"id": i} for i in range(images)],
        "categories": [{"id": c} for c in categories],
        "annotations": annotations,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _annotations(frames: Sequence[Detections], with_scores: bool,
                 crowd: Sequence[np.ndarray] | None = None) -> list[dict]:
    out = []
    for image_id, det in enumerate(frames):
        flags = np.zeros(len(det), bool) if crowd is None else np.asarray(crowd[image_id], bool)
        if flags.shape != (len(det),):
            raise ValueError(f"frame {image_id}: {flags.shape} crowd flags for {len(det)} boxes")
        for box, score, label, is_crowd in zip(
            det.boxes.tolist(), det.scores.tolist(), det.labels.tolist(), flags.tolist(),
            strict=True,
        ):
            w, h = box[2] - box[0], box[3] - box[1]
            entry = {
                "id": len(out) + 1,
                "image_id": image_id,
                "category_id": int(label),
                "bbox": [box[0], box[1], w, h],
                "area": w * h,
                "iscrowd": int(is_crowd),
            }
            if with_scores:
                entry["score"] = float(score)
            out.append(entry)
    return out


def coco_ap(
    ground_truth: Sequence[Detections], detections: Sequence[Detections], *, max_dets: int = 500,
    crowd: Sequence[np.ndarray] | None = None,
) -> dict[str, float]:
    """COCO ``AP`` (IoU .50:.95) and ``AP50`` over a set of frames.

    Args:
        ground_truth: per frame, boxes xyxy in frame pixels and labels (scores ignored).
        detections: per frame, same order and units, with scores.
        max_dets: detections kept per frame, highest scores first.
        crowd: per frame, a boolean per ground-truth box: ``True`` marks an ignore region
            (COCO ``iscrowd``: detections on it count neither as hits nor as false
            positives, and it is never a miss). ``None``: no ignore regions.

    Returns:
        ``{"AP": …, "AP50": …}`` in [0, 1]; NaN when there is no ground truth at all.
    """
    from pycocotools.cocoeval import COCOeval

    if len(ground_truth) != len(detections):
        raise ValueError(f"{len(ground_truth)} ground-truth frames, {len(detections)} detected")
    labels = set()
    for frame in (*ground_truth, *detections):
        labels.update(int(v) for v in frame.labels.tolist())
    categories = sorted(labels) or [1]
    gt = _coco(len(ground_truth), categories, _annotations(ground_truth, False, crowd))
    dt = _coco(len(detections), categories, _annotations(detections, True))
    evaluator = COCOeval(gt, dt, iouType="bbox")
    evaluator.params.maxDets = [1, 10, max_dets]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [iou thresholds, recall points, categories, area ranges, max dets]
    precision = evaluator.eval["precision"][:, :, :, 0, -1]

    def mean_valid(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(valid.mean()) if valid.size else float("nan")

    iou_50 = int(np.argmin(np.abs(evaluator.params.iouThrs - 0.5)))
    return {"AP": mean_valid(precision), "AP50": mean_valid(precision[iou_50])}
