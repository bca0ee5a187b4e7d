import numpy as np
import pytest

from hyperion_core.score.jenks import JenksConfig, exact_jenks_classes, jenks_classes

jenkspy = pytest.importorskip("jenkspy")


def _gvf(values, classes):
    """Goodness of variance fit written out: 1 - within-class / total squared deviation."""
    values = np.asarray(values, float).reshape(-1)
    classes = np.asarray(classes).reshape(-1)
    total = ((values - values.mean()) ** 2).sum()
    within = sum(((values[classes == c] - values[classes == c].mean()) ** 2).sum()
                 for c in np.unique(classes))
    return 1.0 - within / total if total > 0 else 1.0


def _assign(values, breaks):
    """Class of each value by the convention breaks[c-1] < v <= breaks[c], counted directly."""
    values = np.asarray(values, float)
    return sum((values > b).astype(int) for b in breaks).astype(np.uint8)


def _distributions():
    rng = np.random.default_rng(1)
    n = 6000  # jenkspy is quadratic: keep the reference fast
    field = np.cumsum(np.cumsum(rng.normal(size=(60, 100)), 0), 1)
    return {
        "lognormal": rng.lognormal(0, 1, n),
        "pareto": rng.pareto(1.5, n),
        "multimodal": np.concatenate(
            [rng.normal(0, 1, 4000), rng.normal(5, 0.5, 1500), rng.normal(12, 2, 500)]
        ),
        "attention_like": np.exp(field / field.std()).reshape(-1),
    }


@pytest.mark.parametrize("name", list(_distributions()))
def test_fast_close_to_exact_and_monotone(name):
    values = _distributions()[name]
    fast = jenks_classes(values)
    exact = exact_jenks_classes(values)
    assert exact.gvf - fast.gvf <= 0.005
    order = np.argsort(values)
    assert np.all(np.diff(fast.classes[order].astype(int)) >= 0)
    assert fast.gvf == pytest.approx(_gvf(values, fast.classes))


def test_real_frame_scores():
    from hyperion_core.bench import proxy_importance
    from hyperion_core.data.array_camera import array_camera_frames

    try:
        frame = next(array_camera_frames(1))
    except FileNotFoundError as exc:
        pytest.skip(f"vtest clip missing: {exc}")
    scores = proxy_importance(frame)[::2, ::2]  # 8,100 patches keep jenkspy quick
    assert exact_jenks_classes(scores).gvf - jenks_classes(scores).gvf <= 0.005


def test_degenerate_inputs():
    constant = jenks_classes(np.full(10, 3.0))
    assert constant.classes.max() == 0 and constant.gvf == 1.0
    two = jenks_classes(np.array([1.0, 2.0, 1.0]))
    assert two.classes.tolist() == [0, 1, 0] and len(two.breaks) == 2
    with pytest.raises(ValueError):
        jenks_classes(np.array([1.0, np.nan]))
    with pytest.raises(ValueError):
        jenks_classes(np.array([1.0, np.inf]))
    with pytest.raises(ValueError):
        jenks_classes(np.array([]))
    single = jenks_classes(np.arange(5.0), JenksConfig(classes=1))
    assert single.classes.max() == 0


def test_shape_kept_and_assign():
    grid = np.random.default_rng(2).random((7, 9))
    result = jenks_classes(grid)
    assert result.classes.shape == grid.shape and result.classes.dtype == np.uint8
    np.testing.assert_array_equal(_assign(grid, result.breaks), result.classes)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("classes", [2, 3, 4])
def test_small_inputs_give_exactly_jenkspys_breaks(seed, classes):
    """Up to 128 distinct values every value is its own bin, so the mini-batch method is
    exact: its breaks must be jenkspy's, value for value (a break one value off fails)."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.lognormal(0, 1, int(rng.integers(12, 120))), 6)
    if len(np.unique(values)) < classes + 1:
        pytest.skip("too few distinct values")
    expected = jenkspy.jenks_breaks(values.tolist(), n_classes=classes)[1:-1]
    fast = jenks_classes(values, JenksConfig(classes=classes))
    assert fast.breaks.tolist() == pytest.approx(expected, abs=0)
    np.testing.assert_array_equal(fast.classes, _assign(values, expected))
    assert fast.gvf == pytest.approx(_gvf(values, fast.classes))

