import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profiles import AccuracyProfile, FitStats, SizeProfile

STATS = FitStats(r=1.0, r2=1.0, n=10, rmse=0.0)
QUALITIES = (10, 30, 50, 70, 90)


def _scheduler(alpha, beta, weights, grid=1000, downsample=(1,)):
    size = SizeProfile(alpha=alpha, beta=beta, stats=STATS)
    acc = AccuracyProfile(weights=weights, bias=0.1, stats=STATS)
    config = SchedulerConfig(qualities=QUALITIES, size_grid=grid, class0_downsample=downsample)
    return TransmissionScheduler(size_profile=size, accuracy_profile=acc, config=config), size, acc


def _brute(size, acc, shares, raw, budget, options):
    best = None
    for combo in itertools.product(*options):
        q = np.array([o[0] for o in combo])
        d = np.array([o[1] for o in combo])
        nbytes = size.predict_bytes(raw_bytes=raw, shares=shares, qualities=q, downsample=d)
        if nbytes <= budget:
            value = acc.predict(q, d)
            best = value if best is None else max(best, value)
    return best


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shares=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda s: sum(s) > 0),
    w=st.lists(st.floats(-1e-3, 5e-3), min_size=4, max_size=4),
    bandwidth=st.floats(0.0, 2e6),
    beta=st.floats(0.0, 0.02),
)
def test_dp_matches_brute_force(shares, w, bandwidth, beta):
    shares = np.array(shares) / sum(shares)
    weights = {(0, 1): w[0], (0, 4): w[3], (1, 1): w[1], (2, 1): w[2]}
    sched, size, acc = _scheduler({1: 0.002, 4: 0.0006}, beta, weights, downsample=(1, 4))
    raw = 1_000_000
    plan = sched.plan(
        shares=shares, raw_bytes=raw, t_edge_s=0.1, t_cloud_s=0.1, bandwidth_bytes_per_s=bandwidth
    )
    budget = 0.2 * bandwidth
    options = [[(q, d) for d in (1, 4) for q in QUALITIES]] + [[(q, 1) for q in QUALITIES]] * 2
    exact = _brute(size, acc, shares, raw, budget, options)
    if exact is None or bandwidth == 0:
        assert plan.edge_only
        return
    # Rounding sizes up costs at most one grid unit per class.
    unit = (budget - raw * beta) / 1000
    shrunk = _brute(size, acc, shares, raw, budget - 3 * unit, options)
    if plan.edge_only:
        assert shrunk is None
        return
    assert plan.predicted_bytes <= budget * (1 + 1e-9)
    assert plan.predicted_accuracy <= exact + 1e-9
    if shrunk is not None:
        assert plan.predicted_accuracy >= shrunk - 1e-9
    q, d = np.array(plan.qualities), np.array(plan.downsample)
    assert plan.predicted_accuracy == pytest.approx(acc.predict(q, d))
    assert plan.predicted_bytes == pytest.approx(
        size.predict_bytes(raw_bytes=raw, shares=shares, qualities=q, downsample=d)
    )


def test_hand_case_and_edge_only():
    weights = {(0, 1): 0.0, (1, 1): 0.001, (2, 1): 0.01}
    sched, _, _ = _scheduler({1: 0.01}, 0.0, weights)
    shares = np.array([0.5, 0.25, 0.25])
    # Budget 0.2 s * 1e3 B/s = 200 B; raw 100 B -> class bytes 0.25*q each for classes 1, 2.
    plan = sched.plan(
        shares=shares, raw_bytes=100, t_edge_s=0.1, t_cloud_s=0.1, bandwidth_bytes_per_s=1000
    )
    # Class 2 matters most: 90 (22.5 B) with class 0 and 1 at 10 (2.5 + 2.5 B) fits? budget 200 B
    assert plan.qualities == (10, 90, 90)
    assert not sched.plan(
        shares=shares, raw_bytes=100, t_edge_s=0.3, t_cloud_s=0.1, bandwidth_bytes_per_s=1e9
    ).qualities
    assert sched.plan(
        shares=shares, raw_bytes=100, t_edge_s=0.1, t_cloud_s=0.1, bandwidth_bytes_per_s=None
    ).edge_only
    with pytest.raises(ValueError):
        sched.plan(
            shares=np.array([np.nan, 0.5, 0.5]),
            raw_bytes=100,
            t_edge_s=0.1,
            t_cloud_s=0.1,
            bandwidth_bytes_per_s=1.0,
        )
    with pytest.raises(KeyError):
        _scheduler({1: 0.01}, 0.0, weights, downsample=(2,))


@pytest.mark.parametrize("seed", range(3))
def test_coarse_grid_never_exceeds_budget(seed):
    # A 20-unit grid makes rounding errors large: rounding down would overshoot here.
    rng = np.random.default_rng(seed)
    weights = {(0, 1): 1e-3, (1, 1): 2e-3, (2, 1): 4e-3}
    sched, size, acc = _scheduler({1: 0.002}, 0.0, weights, grid=20)
    options = [[(q, 1) for q in QUALITIES]] * 3
    for _ in range(100):
        shares = rng.dirichlet([3, 2, 1])
        bandwidth = rng.uniform(1e3, 1e6)
        plan = sched.plan(
            shares=shares,
            raw_bytes=1_000_000,
            t_edge_s=0.1,
            t_cloud_s=0.1,
            bandwidth_bytes_per_s=bandwidth,
        )
        exact = _brute(size, acc, shares, 1_000_000, 0.2 * bandwidth, options)
        if plan.edge_only:
            continue
        assert plan.predicted_bytes <= 0.2 * bandwidth * (1 + 1e-9)
        assert plan.predicted_accuracy <= exact + 1e-9
