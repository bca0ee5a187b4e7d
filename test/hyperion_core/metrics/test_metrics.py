import contextlib
import io

import numpy as np
import pytest

from hyperion_core.fuse.boxes import Detections
from hyperion_core.metrics.coco_ap import coco_ap
from hyperion_core.metrics.latency import (
    answers_for_scoring,
    latency_deviation_rate,
    violation_ratio,
)

pytest.importorskip("pycocotools")


def _det(boxes, scores=None, labels=None):
    boxes = np.array(boxes, float).reshape(-1, 4)
    n = len(boxes)
    return Detections(
        boxes=boxes,
        scores=np.ones(n) if scores is None else np.array(scores, float),
        labels=np.ones(n, int) if labels is None else np.array(labels),
    )


GT = [[10, 10, 50, 90], [100, 100, 140, 180], [200, 20, 260, 120], [300, 300, 330, 360]]


def test_known_values():
    assert coco_ap([_det(GT)], [_det(GT, [0.9, 0.8, 0.7, 0.6])])["AP50"] == pytest.approx(1.0)
    half = coco_ap([_det(GT)], [_det(GT[:2], [0.9, 0.8])])
    assert half["AP50"] == pytest.approx(51 / 101)  # precision 1 up to recall 0.5
    fp_first = coco_ap([_det(GT[:2])], [_det([[500, 500, 540, 540], *GT[:2]], [0.9, 0.8, 0.7])])
    assert fp_first["AP50"] == pytest.approx(2 / 3)  # interpolated precision 2/3 everywhere
    none = coco_ap([_det(GT)], [Detections.empty()])
    assert none["AP50"] == 0.0
    assert np.isnan(coco_ap([Detections.empty()], [_det(GT)])["AP50"])


def test_agrees_with_cocoeval_and_max_dets():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(14)
    gts, dets = [], []
    for _ in range(3):
        xy = rng.uniform(0, 500, (20, 2))
        gt = np.hstack([xy, xy + rng.uniform(10, 60, (20, 2))])
        kept = gt[rng.random(20) < 0.8]
        fp_xy = rng.uniform(0, 500, (5, 2))
        false_pos = np.hstack([fp_xy, fp_xy + rng.uniform(10, 60, (5, 2))])
        det = np.vstack([kept + rng.normal(0, 3, kept.shape), false_pos])
        gts.append(_det(gt, labels=rng.integers(1, 3, 20)))
        dets.append(_det(det, rng.random(len(det)), rng.integers(1, 3, len(det))))
    ours = coco_ap(gts, dets, max_dets=100)
    cats = [{"id": 1}, {"id": 2}]
    anns, res = [], []
    for i, (g, d) in enumerate(zip(gts, dets, strict=False)):
        for b, lab in zip(g.boxes, g.labels, strict=False):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": int(lab),
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                    "area": (b[2] - b[0]) * (b[3] - b[1]),
                    "iscrowd": 0,
                }
            )
        for b, s, lab in zip(d.boxes, d.scores, d.labels, strict=False):
            res.append(
                {
                    "image_id": i,
                    "category_id": int(lab),
                    "score": float(s),
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        gt_coco = COCO()
        gt_coco.dataset = {
            "images": [{"id": i} for i in range(3)],
            "categories": cats,
            "annotations": anns,
        }
        gt_coco.createIndex()
        evaluator = COCOeval(gt_coco, gt_coco.loadRes(res), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert ours["AP"] == pytest.approx(evaluator.stats[0])
    assert ours["AP50"] == pytest.approx(evaluator.stats[1])
    # 150 true positives in one frame: the default 100 detections would cap recall.
    many = np.array([[i * 20, 0, i * 20 + 15, 15] for i in range(150)], float)
    dense = coco_ap([_det(many)], [_det(many, np.linspace(1, 0.5, 150))], max_dets=200)
    capped = coco_ap([_det(many)], [_det(many, np.linspace(1, 0.5, 150))], max_dets=100)
    assert dense["AP50"] == pytest.approx(1.0) and capped["AP50"] < 0.7


def test_crowd_regions_are_ignored_not_missed():
    # GT: two people and one ignore region. A detection on the ignore region is neither a
    # hit nor a false positive; the region itself is never a miss.
    gt = _det([GT[0], GT[1], [400, 400, 480, 480]])
    crowd = [np.array([False, False, True])]
    on_crowd = _det([[405, 405, 470, 470], GT[0], GT[1]], [0.95, 0.9, 0.8])
    assert coco_ap([gt], [on_crowd], crowd=crowd)["AP50"] == pytest.approx(1.0)
    # Without the flag the region is a person never found and the detection a hit on it.
    assert coco_ap([gt], [_det(GT[:2], [0.9, 0.8])])["AP50"] < 0.7
    assert coco_ap([gt], [_det(GT[:2], [0.9, 0.8])], crowd=crowd)["AP50"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        coco_ap([gt], [on_crowd], crowd=[np.array([True])])


def test_latency_metrics():
    measured = np.array([0.3, 0.4, 0.5, 0.8])
    np.testing.assert_allclose(latency_deviation_rate(measured, 0.4), [-0.25, 0.0, 0.25, 1.0])
    assert violation_ratio(measured, 0.4) == 0.5
    assert np.isnan(violation_ratio(np.array([]), 0.4))
    with pytest.raises(ValueError):
        latency_deviation_rate(measured, 0.0)


def test_stale_answer_rule():
    a, b = _det(GT[:1]), _det(GT[1:2])
    scored = answers_for_scoring([None, a, b, None, b], [False, True, False, False, True])
    assert len(scored[0]) == 0
    assert scored[1] is a and scored[2] is a and scored[3] is a and scored[4] is b
    with pytest.raises(ValueError):
        answers_for_scoring([a], [True, False])
