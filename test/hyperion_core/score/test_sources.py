import numpy as np
import pytest

from hyperion_core.score.sources import (
    ImportanceConfig,
    edge_objectness,
    importance_map,
    rank_percentile,
)


def _brute_objectness(boxes, scores, grid, patch, floor, max_height=np.inf, cap_below=0.0):
    """Patch by patch: the best score among boxes containing the patch centre."""
    out = np.zeros(grid)
    for r in range(grid[0]):
        for c in range(grid[1]):
            x, y = (c + 0.5) * patch, (r + 0.5) * patch
            for (x1, y1, x2, y2), s in zip(boxes, scores, strict=True):
                if s < cap_below and y2 - y1 > max_height:
                    continue
                if s >= floor and x1 <= x < x2 and y1 <= y < y2:
                    out[r, c] = max(out[r, c], s)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_objectness_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    grid, patch = (9, 13), 16
    xy = rng.uniform(-20, 220, (25, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 80, (25, 2))], axis=1)
    scores = rng.uniform(0, 1, 25)
    got = edge_objectness(boxes, scores, grid=grid, patch_size=patch, floor=0.3)
    assert np.array_equal(got, _brute_objectness(boxes, scores, grid, patch, 0.3))


@pytest.mark.parametrize("seed", range(5))
def test_height_cap_matches_brute_force(seed):
    rng = np.random.default_rng(10 + seed)
    grid, patch = (9, 13), 16
    xy = rng.uniform(-20, 220, (25, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 120, (25, 2))], axis=1)
    scores = rng.uniform(0, 0.3, 25)
    got = edge_objectness(boxes, scores, grid=grid, patch_size=patch, floor=0.02,
                          max_height=40.0, cap_below=0.1)
    want = _brute_objectness(boxes, scores, grid, patch, 0.02, max_height=40.0, cap_below=0.1)
    assert np.array_equal(got, want)


def test_height_cap_spares_confident_boxes_and_is_off_by_default():
    grid = (8, 8)  # a 128-px-high frame: 1/8 of it is 16 px
    tall = np.array([[0, 0, 32, 128], [64, 0, 96, 128]], float)
    scores = np.array([0.05, 0.6])
    common = dict(vit={}, boxes_xyxy=tall, scores=scores, grid=grid, patch_size=16)
    plain = importance_map(ImportanceConfig(), **common)
    assert plain[:, 0].tolist() == [0.05] * 8 and plain[:, 4].tolist() == [0.6] * 8
    capped = importance_map(ImportanceConfig(objectness_max_height=1 / 8), **common)
    assert not capped[:, :2].any()  # the tall low-confidence box is gone
    assert np.array_equal(capped[:, 4:6], plain[:, 4:6])  # the confident one stays
    small = np.array([[0, 0, 16, 16]], float)
    kept = importance_map(ImportanceConfig(objectness_max_height=1 / 8), vit={},
                          boxes_xyxy=small, scores=np.array([0.05]), grid=grid, patch_size=16)
    assert kept[0, 0] == 0.05  # 16 px is not taller than 1/8 of 128 px
    everything = importance_map(ImportanceConfig(objectness_max_height=0.0,
                                                 objectness_cap_below=1.0), **common)
    assert not everything.any()
    with pytest.raises(ValueError):
        ImportanceConfig(objectness_max_height=1.5)
    with pytest.raises(ValueError):
        ImportanceConfig(objectness_cap_below=-0.1)


def test_objectness_ignores_bad_boxes_and_empty_input():
    boxes = np.array([[np.nan, 0, 10, 10], [0, 0, 32, 32]], float)
    got = edge_objectness(boxes, np.array([0.9, np.nan]), grid=(3, 3), patch_size=16)
    assert not got.any()
    assert not edge_objectness(np.zeros((0, 4)), np.zeros(0), grid=(2, 2), patch_size=16).any()


def test_rank_percentile_is_uniform_and_keeps_ties_equal():
    values = np.array([[5.0, 1.0, 3.0], [3.0, 9.0, 7.0]])
    ranks = rank_percentile(values)
    assert ranks.min() == 0 and ranks.max() == 1
    assert ranks[0, 2] == ranks[1, 0]  # the two 3s
    assert list(np.argsort(ranks, axis=None)) == list(np.argsort(values, axis=None, kind="stable"))


def test_sources_and_hybrid():
    grid = (2, 3)
    vit = {"attention": np.arange(6.0).reshape(grid), "saliency": np.ones(grid) * 0.5}
    boxes = np.array([[0, 0, 16, 16]], float)
    common = dict(vit=vit, boxes_xyxy=boxes, scores=np.array([0.8]), grid=grid, patch_size=16)
    assert np.array_equal(importance_map(ImportanceConfig(source="attention"), **common),
                          vit["attention"])
    objectness = importance_map(ImportanceConfig(source="edge_objectness"), **common)
    assert objectness[0, 0] == 0.8 and objectness.sum() == 0.8
    config = ImportanceConfig(source="hybrid", weights=(1.0, 0.0, 0.0, 3.0))
    assert config.vit_maps() == ("attention",)
    hybrid = importance_map(config, **common)
    expected = (rank_percentile(vit["attention"]) + 3 * objectness) / 4
    assert np.allclose(hybrid, expected)
    with pytest.raises(KeyError):
        importance_map(ImportanceConfig(source="cls_attention"), **common)
    with pytest.raises(ValueError):
        ImportanceConfig(source="magic")
    with pytest.raises(ValueError):
        ImportanceConfig(source="hybrid", weights=(0, 0, 0, 0))
