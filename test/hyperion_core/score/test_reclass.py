import numpy as np
import pytest

from hyperion_core.score.reclass import ReclassConfig, boxes_cover_patches, reclass_patches


def test_cover_matches_bruteforce():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-20, 150, (30, 2))
    boxes = np.hstack([xy, xy + rng.uniform(0, 60, (30, 2))])
    mask = boxes_cover_patches(boxes, grid=(9, 11), patch_size=16)
    cy, cx = (np.mgrid[0:9, 0:11] + 0.5) * 16
    ref = np.zeros((9, 11), bool)
    for x1, y1, x2, y2 in boxes:
        ref |= (cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2)
    np.testing.assert_array_equal(mask, ref)
    assert not boxes_cover_patches(np.zeros((0, 4)), grid=(2, 2), patch_size=16).any()
    assert not boxes_cover_patches(np.array([[np.nan, 0, 9, 9]]), grid=(2, 2), patch_size=16).any()


def test_rule_needs_both_thresholds():
    classes = np.array([[2, 2], [1, 0]])
    importance = np.array([[5.0, 5.0], [3.0, 0.5]])
    boxes = np.array([[0, 0, 16, 16], [16, 0, 32, 16], [0, 16, 32, 32]], float)
    scores = np.array([0.9, 0.3, 0.9])
    out = reclass_patches(
        classes,
        importance,
        breaks=np.array([1.0, 4.0]),
        boxes_xyxy=boxes,
        scores=scores,
        patch_size=16,
    )
    assert out.tolist() == [[0, 2], [0, 0]]
    assert classes.tolist() == [[2, 2], [1, 0]]  # not mutated
    strict = reclass_patches(
        classes,
        importance,
        breaks=np.array([1.0, 4.0]),
        boxes_xyxy=boxes,
        scores=scores,
        patch_size=16,
        config=ReclassConfig(importance_threshold=4.0),
    )
    assert strict.tolist() == [[0, 2], [1, 0]]
    with pytest.raises(ValueError):
        reclass_patches(
            classes,
            importance,
            breaks=np.array([1.0]),
            boxes_xyxy=boxes,
            scores=scores[:2],
            patch_size=16,
        )
