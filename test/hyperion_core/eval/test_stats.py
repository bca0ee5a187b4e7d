import numpy as np
import pytest

from hyperion_core.eval.stats import bootstrap, mean_interval, paired_difference


def test_mean_interval_covers_the_truth_at_about_its_level():
    # Coverage check against the truth of a known distribution: not a fixture of ours.
    rng = np.random.default_rng(1)
    covered = 0
    trials = 200
    for seed in range(trials):
        sample = rng.normal(3.0, 1.0, 40)
        ci = mean_interval(sample, reps=400, seed=seed)
        covered += ci.low <= 3.0 <= ci.high
        assert ci.value == pytest.approx(sample.mean()) and ci.low <= ci.value <= ci.high
    assert 0.88 <= covered / trials <= 0.99


def test_paired_difference_cancels_what_units_share():
    rng = np.random.default_rng(2)
    unit_effect = rng.normal(0, 10, 30)  # large, shared by both methods
    a = unit_effect + 1.0 + rng.normal(0, 0.1, 30)
    b = unit_effect + rng.normal(0, 0.1, 30)
    paired = paired_difference(lambda i: a[i].mean(), lambda i: b[i].mean(), 30, reps=500)
    assert paired.excludes_zero() and paired.low > 0.9 and paired.high < 1.1
    # Unpaired intervals of the two means overlap: the shared effect hides the difference.
    ia, ib = mean_interval(a, reps=500), mean_interval(b, reps=500, seed=1)
    assert ia.low < ib.high


def test_nan_resamples_are_left_out_and_arguments_checked():
    values = np.array([np.nan, 1.0, 2.0])
    ci = bootstrap(lambda i: float(values[i].mean()), 3, reps=200)
    assert ci.reps == 200 and np.isnan(ci.value)
    with pytest.raises(ValueError):
        bootstrap(lambda i: 0.0, 0)
    with pytest.raises(ValueError):
        bootstrap(lambda i: 0.0, 3, level=1.0)
