"""Fitting the calibrated fusion on labelled samples."""

from dataclasses import replace

import numpy as np
import pytest

from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import CloudView
from hyperion_core.fuse.ensemble import ensemble
from hyperion_core.fuse.fit import (
    FusionSample,
    candidates,
    fit_fusion,
    fit_logistic,
    positives,
)
from hyperion_core.metrics.ap_matches import ap50, match_image


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def random_boxes(rng, n):
    xy = rng.uniform(0, 300, size=(n, 2))
    wh = rng.uniform(5, 60, size=(n, 2))
    return np.column_stack([xy, xy + wh])


def test_positives_agree_with_a_brute_force_loop():
    rng = np.random.default_rng(1)
    for _ in range(20):
        boxes = random_boxes(rng, 15)
        labels = rng.integers(0, 2, 15)
        gt = random_boxes(rng, 6)
        gt_labels = rng.integers(0, 2, 6)
        truth = Detections(boxes=gt, scores=np.ones(6), labels=gt_labels)
        expected = [any(iou(b, g) >= 0.5 and lb == gl for g, gl in zip(gt, gt_labels, strict=True))
                    for b, lb in zip(boxes, labels, strict=True)]
        np.testing.assert_array_equal(positives(boxes, labels, truth), expected)


def test_a_group_with_one_label_class_keeps_only_its_base_rate():
    m = fit_logistic(np.zeros((4, 3)), np.zeros(4, bool))
    assert m.weights == (0.0, 0.0, 0.0)
    assert m.probability(np.zeros((1, 3)))[0] == pytest.approx(1 / 6)
    empty = fit_logistic(np.zeros((0, 2)), np.zeros(0, bool))
    assert empty.probability(np.zeros((1, 2)))[0] == pytest.approx(0.5)


def scene(rng, people=8):
    """A frame whose cloud finds people well and whose edge adds confident false boxes."""
    truth = random_boxes(rng, people)
    jitter = rng.normal(0, 1.0, truth.shape)
    found = rng.random(people) < 0.9
    cloud = Detections(boxes=(truth + jitter)[found], scores=rng.uniform(0.3, 0.9, found.sum()),
                       labels=np.zeros(found.sum(), np.int64))
    seen = rng.random(people) < 0.5
    false = random_boxes(rng, 6) + 400  # away from every person
    edge_boxes = np.concatenate([(truth + rng.normal(0, 2.0, truth.shape))[seen], false])
    edge_scores = np.concatenate([rng.uniform(0.2, 0.6, seen.sum()), rng.uniform(0.5, 0.95, 6)])
    edge = Detections(boxes=edge_boxes, scores=edge_scores,
                      labels=np.zeros(len(edge_boxes), np.int64))
    gt = Detections(boxes=truth, scores=np.ones(people), labels=np.zeros(people, np.int64))
    view = CloudView(class_map=np.ones((50, 50), np.uint8), qualities=(10, 50, 90), patch=16)
    return FusionSample(edge=edge, cloud=cloud, view=view, truth=gt)


def test_the_fitted_fusion_scores_above_eq6_and_either_input_on_unseen_frames():
    rng = np.random.default_rng(7)
    train = [replace(scene(rng), frame=k) for k in range(40)]
    test = [scene(rng) for _ in range(40)]
    fitted = fit_fusion(train, [(s.edge, s.truth) for s in train])
    from hyperion_core.fuse.calibrated import fuse_calibrated

    def pooled(answers):
        return ap50([match_image(s.truth, a) for s, a in zip(test, answers, strict=True)])

    fused = pooled([fuse_calibrated(s.edge, s.cloud, fitted, s.view) for s in test])
    eq6 = pooled([ensemble(s.edge, s.cloud) for s in test])
    cloud = pooled([s.cloud for s in test])
    edge = pooled([s.edge for s in test])
    assert fused >= max(cloud, edge) and fused > eq6
    assert fitted.provenance["held_out_ap50"]


def test_a_calibrated_candidate_must_beat_the_simpler_ones_by_the_margin():
    from hyperion_core.fuse.fit import TIE_MARGIN, candidates, describe

    rng = np.random.default_rng(5)
    samples = [replace(scene(rng), frame=k) for k in range(12)]
    fitted = fit_fusion(samples, [(s.edge, s.truth) for s in samples])
    tried = fitted.provenance["held_out_ap50"]
    names = [describe(c) for c in candidates()]
    assert list(tried) == names
    # Replay the rule: walk the candidates in order, switching only on a clear gain.
    best = names[0]
    for name in names[1:]:
        if tried[name] > tried[best] + TIE_MARGIN:
            best = name
    chosen = describe(fitted)
    assert chosen == best


def test_the_fit_is_deterministic_and_records_what_it_tried():
    rng = np.random.default_rng(3)
    samples = [replace(scene(rng), frame=k) for k in range(10)]
    a = fit_fusion(samples, [(s.edge, s.truth) for s in samples], provenance={"frames": ["x"]})
    b = fit_fusion(samples, [(s.edge, s.truth) for s in samples], provenance={"frames": ["x"]})
    assert a == b
    assert len(a.provenance["held_out_ap50"]) == len(candidates())
    assert a.provenance["frames"] == ["x"]
    with pytest.raises(ValueError):
        fit_fusion([], [])
