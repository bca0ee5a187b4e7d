import statistics

import numpy as np
import pytest

from hyperion_core.schedule.bandwidth import BandwidthConfig, BandwidthEstimator


def test_harmonic_mean_of_window():
    rng = np.random.default_rng(7)
    est = BandwidthEstimator(config=BandwidthConfig(window=4))
    samples = rng.uniform(1e5, 1e7, 10).tolist()
    for s in samples:
        est.add_sample(s)
    assert est.estimate() == pytest.approx(statistics.harmonic_mean(samples[-4:]))


def test_startup_prior_and_unknown():
    assert BandwidthEstimator().estimate() is None
    est = BandwidthEstimator(config=BandwidthConfig(prior_bytes_per_s=1e6))
    assert est.estimate() == 1e6


def test_outage_and_recovery():
    est = BandwidthEstimator(config=BandwidthConfig(window=3))
    for s in (1e6, 2e6):
        est.add_sample(s)
    est.add_sample(0.0)
    assert est.estimate() == 0.0
    est.add_sample(0.0)
    assert est.estimate() == 0.0
    est.add_sample(4e6)
    assert est.samples == (4e6,) and est.estimate() == 4e6


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_rejects_invalid(bad):
    with pytest.raises(ValueError):
        BandwidthEstimator().add_sample(bad)
    with pytest.raises(ValueError):
        BandwidthEstimator(config=BandwidthConfig(window=0))
