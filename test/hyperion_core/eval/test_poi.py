import numpy as np
import pytest

from hyperion_core.eval.poi import PoiCounts, object_patches, poi_counts
from hyperion_core.score.jenks import JenksConfig, jenks_classes


def test_counts_match_a_direct_count():
    rng = np.random.default_rng(0)
    importance = rng.gamma(2.0, 1.0, (20, 30))
    objects = rng.random((20, 30)) < 0.1
    counts = poi_counts(importance, objects)
    labels = jenks_classes(importance, JenksConfig(classes=3)).classes
    assert counts.objects == objects.sum() and counts.patches == 600
    assert counts.objects_top == sum(1 for r in range(20) for c in range(30)
                                     if objects[r, c] and labels[r, c] == 2)
    assert counts.upper == (labels >= 1).sum()


def test_a_map_that_marks_the_objects_and_one_that_does_not():
    grid, patch = (27, 48), 16
    boxes = np.array([[100, 100, 140, 180], [400, 50, 430, 120], [600, 300, 640, 380]], float)
    objects = object_patches(boxes, grid=grid, patch_size=patch)
    good = np.where(objects, 1.0, 0.05) + np.random.default_rng(1).random(grid) * 0.01
    summary = poi_counts(good, objects).summary()
    assert summary["top_recall"] == 1.0 and summary["top_share"] < 0.05
    assert summary["lift"] > 20
    noise = poi_counts(np.random.default_rng(2).random(grid), objects).summary()
    assert noise["lift"] == pytest.approx(1.0, abs=0.6)
    pooled = poi_counts(good, objects) + poi_counts(good, objects)
    assert pooled.summary() == pytest.approx(summary)
    assert np.isnan(PoiCounts().summary()["top_recall"])
