"""The resampling-friendly AP50 equals pycocotools' COCOeval (via coco_ap) exactly."""

import numpy as np
import pytest

from hyperion_core.fuse.boxes import Detections
from hyperion_core.metrics.ap_matches import RankedMatches, ap50, match_image
from hyperion_core.metrics.coco_ap import coco_ap


def _frame(rng, n_truth, n_false):
    xy = rng.uniform(0, 800, (n_truth, 2))
    truth = np.hstack([xy, xy + rng.uniform(15, 80, (n_truth, 2))])
    kept = truth[rng.random(n_truth) < 0.85]
    jitter = kept + rng.normal(0, 4, kept.shape)
    fxy = rng.uniform(0, 800, (n_false, 2))
    false = np.hstack([fxy, fxy + rng.uniform(15, 80, (n_false, 2))])
    boxes = np.vstack([jitter, false, jitter[:3] + 2.0])  # a few duplicates too
    found = Detections(boxes=boxes, scores=rng.random(len(boxes)),
                       labels=np.zeros(len(boxes), int))
    return Detections(boxes=truth, scores=np.ones(n_truth), labels=np.zeros(n_truth, int)), found


@pytest.mark.parametrize("seed", range(6))
def test_equals_cocoeval(seed):
    rng = np.random.default_rng(seed)
    frames = [_frame(rng, int(rng.integers(0, 40)), int(rng.integers(0, 15))) for _ in range(7)]
    truths, founds = zip(*frames, strict=True)
    expected = coco_ap(list(truths), list(founds))["AP50"]
    got = ap50([match_image(t, f) for t, f in frames])
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_resamples_with_repeats_equal_cocoeval_on_the_repeated_images():
    rng = np.random.default_rng(9)
    frames = [_frame(rng, 20, 5) for _ in range(4)]
    pick = [2, 2, 0, 3, 3, 3]
    matches = [match_image(*frames[i]) for i in range(4)]
    expected = coco_ap([frames[i][0] for i in pick], [frames[i][1] for i in pick])["AP50"]
    assert ap50([matches[i] for i in pick]) == pytest.approx(expected, abs=1e-12)


def test_max_dets_and_empty_cases():
    rng = np.random.default_rng(3)
    truth, found = _frame(rng, 30, 20)
    assert ap50([match_image(truth, found, max_dets=10)]) == pytest.approx(
        coco_ap([truth], [found], max_dets=10)["AP50"], abs=1e-12)
    assert ap50([match_image(truth, Detections.empty())]) == 0.0
    assert np.isnan(ap50([match_image(Detections.empty(), found)]))


def test_ranked_matches_equal_ap50_on_the_repeated_images():
    rng = np.random.default_rng(11)
    groups = [[match_image(*_frame(rng, int(rng.integers(0, 25)), int(rng.integers(0, 10))))
               for _ in range(int(rng.integers(1, 4)))] for _ in range(9)]
    ranked = RankedMatches(groups)
    # Every count once: the pooled AP50 itself, bit for bit.
    assert ranked.ap50(np.ones(9, int)) == ap50([m for g in groups for m in g])
    for _ in range(40):  # resamples with repeats and absent groups (scores have no ties)
        idx = rng.integers(0, 9, 9)
        expected = ap50([m for i in idx for m in groups[i]])
        got = ranked.ap50(np.bincount(idx, minlength=9))
        if np.isnan(expected):
            assert np.isnan(got)
        else:
            assert got == pytest.approx(expected, abs=1e-12)


def test_ranked_matches_empty_cases():
    rng = np.random.default_rng(4)
    truth, found = _frame(rng, 10, 5)
    ranked = RankedMatches([[match_image(truth, Detections.empty())],
                            [match_image(Detections.empty(), found)]])
    assert ranked.ap50(np.array([1, 0])) == 0.0
    assert np.isnan(ranked.ap50(np.array([0, 3])))
    assert ranked.ap50(np.array([1, 1])) == 0.0  # only false positives and missed truths


@pytest.mark.parametrize("seed", range(5))
def test_ignore_regions_equal_cocoeval_iscrowd(seed):
    rng = np.random.default_rng(100 + seed)
    truths, founds, crowds = [], [], []
    for _ in range(6):
        truth, found = _frame(rng, int(rng.integers(0, 20)), int(rng.integers(0, 10)))
        # Two large ignore regions per image, with detections inside them and partly out.
        xy = rng.uniform(0, 600, (2, 2))
        regions = np.hstack([xy, xy + rng.uniform(100, 250, (2, 2))])
        inside = regions[:, None, :2] + rng.uniform(0, 80, (2, 3, 2))
        inside = np.concatenate([inside, inside + rng.uniform(20, 60, (2, 3, 2))], axis=2)
        boxes = np.vstack([found.boxes, inside.reshape(-1, 4)])
        founds.append(Detections(boxes=boxes, scores=rng.random(len(boxes)),
                                 labels=np.zeros(len(boxes), int)))
        truths.append(Detections(boxes=np.vstack([truth.boxes, regions]),
                                 scores=np.ones(len(truth) + 2),
                                 labels=np.zeros(len(truth) + 2, int)))
        crowds.append(np.r_[np.zeros(len(truth), bool), True, True])
    expected = coco_ap(truths, founds, crowd=crowds)["AP50"]
    got = ap50([match_image(t, f, crowd=c)
                for t, f, c in zip(truths, founds, crowds, strict=True)])
    assert got == pytest.approx(expected, abs=1e-12)
