import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    FitStats,
    ProfileRecord,
    RelativeErrors,
    SizeProfile,
    fit_size_profile,
)

STATS = FitStats(r=1.0, r2=1.0, n=10, rmse=0.0)
QUALITIES = (10, 30, 50, 70, 90)


def _errors(p95):
    return RelativeErrors(p50=0.0, p90=p95 / 2, p95=p95, p99=p95, max=p95, n=10)


def _scheduler(alpha, beta, weights, grid=1000, downsample=(1,), p95=None, safety=None):
    size = SizeProfile(alpha=alpha, beta=beta, stats=STATS,
                       relative_error=None if p95 is None else _errors(p95))
    acc = AccuracyProfile(weights=weights, bias=0.1, stats=STATS)
    config = SchedulerConfig(qualities=QUALITIES, size_grid=grid, class0_downsample=downsample,
                             size_safety=safety)
    return TransmissionScheduler(size_profile=size, accuracy_profile=acc, config=config), size, acc


def _brute(size, acc, shares, raw, budget, options, safety=0.0):
    """Best ``Â`` over all plans whose inflated size ``Ŝ·(1 + safety)`` fits ``budget``."""
    best = None
    for combo in itertools.product(*options):
        q = np.array([o[0] for o in combo])
        d = np.array([o[1] for o in combo])
        nbytes = size.predict_bytes(raw_bytes=raw, shares=shares, qualities=q, downsample=d)
        if nbytes * (1 + safety) <= budget:
            value = acc.predict(q, d)
            best = value if best is None else max(best, value)
    return best


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shares=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda s: sum(s) > 0),
    w=st.lists(st.floats(-1e-3, 5e-3), min_size=4, max_size=4),
    bandwidth=st.floats(0.0, 2e6),
    beta=st.floats(0.0, 0.02),
    p95=st.sampled_from([None, -0.1, 0.0, 0.15, 0.6]),
    override=st.sampled_from([None, 0.0, 0.25]),
)
def test_dp_matches_brute_force(shares, w, bandwidth, beta, p95, override):
    shares = np.array(shares) / sum(shares)
    weights = {(0, 1): w[0], (0, 4): w[3], (1, 1): w[1], (2, 1): w[2]}
    sched, size, acc = _scheduler({1: 0.002, 4: 0.0006}, beta, weights, downsample=(1, 4),
                                  p95=p95, safety=override)
    # The margin in effect: the override, else the profile's p95 floored at 0, else 0.
    safety = override if override is not None else max(p95 or 0.0, 0.0)
    assert sched.size_safety == pytest.approx(safety)
    raw = 1_000_000
    plan = sched.plan(
        shares=shares, raw_bytes=raw, t_edge_s=0.1, t_cloud_s=0.1, bandwidth_bytes_per_s=bandwidth
    )
    budget = 0.2 * bandwidth
    options = [[(q, d) for d in (1, 4) for q in QUALITIES]] + [[(q, 1) for q in QUALITIES]] * 2
    exact = _brute(size, acc, shares, raw, budget, options, safety)
    if exact is None or bandwidth == 0:
        assert plan.edge_only
        return
    # Rounding sizes up costs at most one grid unit per class.
    unit = (budget - raw * beta * (1 + safety)) / 1000
    shrunk = _brute(size, acc, shares, raw, budget - 3 * unit, options, safety)
    if plan.edge_only:
        assert shrunk is None
        return
    assert plan.planned_bytes <= budget * (1 + 1e-9)
    assert plan.planned_bytes == pytest.approx(plan.predicted_bytes * (1 + safety))
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


def _convex_bytes(raw, shares, qualities):
    """A stand-in for JPEG: bytes grow faster than linearly in quality (ratio units)."""
    q = np.asarray(qualities, np.float64)
    return raw * (float(np.dot(shares, 2e-4 * q + 1.2e-5 * q**2)) + 0.002)


def test_margin_from_profile_makes_real_bytes_fit_more_often():
    # Fit Eq. 3 on a super-linear size function, as the profiler does on real JPEGs, then
    # plan with the fit's own p95 margin and without any: the real bytes of the plans
    # with the margin must overrun the budget less often.
    rng = np.random.default_rng(11)
    raw = 1_000_000
    records = []
    for _ in range(200):
        shares = rng.dirichlet([5, 4, 1])
        q = rng.choice(QUALITIES, 3)
        nbytes = _convex_bytes(raw, shares, q) * (1 + rng.normal(0, 0.02))
        records.append(ProfileRecord(shares=tuple(shares), qualities=tuple(int(v) for v in q),
                                     bytes=int(nbytes), raw_bytes=raw, accuracy=0.5))
    size = fit_size_profile(records)
    assert size.relative_error is not None and size.relative_error.p95 > 0.05
    acc = AccuracyProfile(weights={(0, 1): 1e-3, (1, 1): 2e-3, (2, 1): 4e-3}, bias=0.1,
                          stats=STATS)

    def plans(config):
        sched = TransmissionScheduler(size_profile=size, accuracy_profile=acc, config=config)
        return sched, [sched.plan(shares=s, raw_bytes=raw, t_edge_s=0.1, t_cloud_s=0.1,
                                  bandwidth_bytes_per_s=b) for s, b in frames]

    frames = [(rng.dirichlet([5, 4, 1]), rng.uniform(5e4, 5e5)) for _ in range(300)]
    margin, with_margin = plans(SchedulerConfig(qualities=QUALITIES))
    bare, without = plans(SchedulerConfig(qualities=QUALITIES, size_safety=0.0))
    assert margin.size_safety == pytest.approx(size.relative_error.p95)
    assert bare.size_safety == 0.0

    def fit_ratio(chosen):
        sent = [(p, s, b) for p, (s, b) in zip(chosen, frames, strict=True) if not p.edge_only]
        fits = [_convex_bytes(raw, s, p.qualities) <= 0.2 * b for p, s, b in sent]
        return sum(fits) / len(fits)

    assert fit_ratio(with_margin) > fit_ratio(without) + 0.1
    # p95 margin: most plans fit (0.91 here; 0.63 without the margin).
    assert fit_ratio(with_margin) >= 0.85


def test_margin_override_and_validation():
    weights = {(0, 1): 1e-3, (1, 1): 2e-3, (2, 1): 4e-3}
    assert _scheduler({1: 0.002}, 0.0, weights)[0].size_safety == 0.0  # no statistic
    assert _scheduler({1: 0.002}, 0.0, weights, p95=0.3)[0].size_safety == pytest.approx(0.3)
    assert _scheduler({1: 0.002}, 0.0, weights, p95=0.3, safety=0.1)[0].size_safety == 0.1
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="size_safety"):
            _scheduler({1: 0.002}, 0.0, weights, safety=bad)
    # The same frame plans fewer bytes with a margin, and the margin is what was budgeted.
    args = dict(shares=np.array([0.5, 0.3, 0.2]), raw_bytes=1_000_000, t_edge_s=0.1,
                t_cloud_s=0.1, bandwidth_bytes_per_s=3e5)
    bare = _scheduler({1: 0.002}, 0.0, weights)[0].plan(**args)
    safe = _scheduler({1: 0.002}, 0.0, weights, p95=0.3)[0].plan(**args)
    assert safe.predicted_bytes < bare.predicted_bytes
    assert safe.planned_bytes == pytest.approx(1.3 * safe.predicted_bytes)
    assert safe.planned_bytes <= safe.byte_budget


def _tables(rng):
    """Random per-class size tables (increasing in quality) and monotone accuracy tables."""
    from hyperion_core.schedule.accuracy_table import ShareAccuracy
    from hyperion_core.schedule.size_table import SizeTable

    ratios = {(c, 1): tuple(np.cumsum(rng.uniform(1e-3, 2e-2, len(QUALITIES))))
              for c in range(3)}
    ratios[(0, 4)] = tuple(np.asarray(ratios[(0, 1)]) / 8)
    gains = {(c, 1): tuple(np.concatenate([[0.0], np.cumsum(rng.uniform(0, 0.1, 4))]))
             for c in range(3)}
    gains[(0, 4)] = tuple(np.asarray(gains[(0, 1)]) - rng.uniform(0, 0.05))
    return (SizeTable(qualities=QUALITIES, ratios=ratios, beta=float(rng.uniform(0, 0.003))),
            ShareAccuracy(knots=QUALITIES, tables=gains, bias=0.4, stats=STATS))


def _brute_net(size, acc, shares, raw, budget, options, *, price, correction):
    """Best net value ``Â − λ·Ŝ`` (and its plan) over plans whose corrected bytes fit."""
    best = None
    for combo in itertools.product(*options):
        q = tuple(o[0] for o in combo)
        d = tuple(o[1] for o in combo)
        per_class = size.class_bytes(raw_bytes=raw, shares=shares, qualities=q, downsample=d)
        nbytes = float((per_class * correction).sum()) + size.fixed_bytes(raw)
        if nbytes <= budget:
            value = acc.predict(np.array(q), np.array(d), shares=shares) - price * nbytes / 1e6
            if best is None or value > best[0]:
                best = (value, q, d, nbytes)
    return best


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), bandwidth=st.floats(1e3, 3e6),
       price=st.sampled_from([0.0, 0.05, 0.5, 5.0]),
       edge=st.sampled_from([None, 0.3, 0.45]))
def test_table_models_with_price_and_correction_match_brute_force(seed, bandwidth, price, edge):
    rng = np.random.default_rng(seed)
    size, acc = _tables(rng)
    shares = rng.dirichlet([5, 3, 1])
    correction = rng.uniform(0.6, 1.6, 3)
    raw = 2_000_000
    config = SchedulerConfig(qualities=QUALITIES, class0_downsample=(1, 4), size_safety=0.0,
                             byte_price=price, edge_accuracy=edge)
    sched = TransmissionScheduler(size_profile=size, accuracy_profile=acc, config=config)
    plan = sched.plan(shares=shares, raw_bytes=raw, t_edge_s=0.1, t_cloud_s=0.1,
                      bandwidth_bytes_per_s=bandwidth, size_correction=correction)
    budget = 0.2 * bandwidth
    options = [[(q, d) for d in (1, 4) for q in QUALITIES]] + [[(q, 1) for q in QUALITIES]] * 2
    exact = _brute_net(size, acc, shares, raw, budget, options, price=price,
                       correction=correction)
    unit = (budget - size.fixed_bytes(raw)) / config.size_grid
    shrunk = _brute_net(size, acc, shares, raw, budget - 3 * unit, options, price=price,
                        correction=correction)
    worth = exact is not None and (edge is None or exact[0] > edge)
    if not worth:
        assert plan.edge_only
        return
    if plan.edge_only:  # only rounding may lose a plan: the shrunk budget has none worth it
        assert shrunk is None or (edge is not None and shrunk[0] <= edge)
        return
    net = plan.predicted_accuracy - price * plan.predicted_bytes / 1e6
    assert net <= exact[0] + 1e-9
    if shrunk is not None:
        assert net >= shrunk[0] - 1e-9
    assert plan.predicted_bytes <= budget * (1 + 1e-9)
    model = size.class_bytes(raw_bytes=raw, shares=shares, qualities=plan.qualities,
                             downsample=plan.downsample)
    assert plan.class_bytes == pytest.approx(tuple(model))
    assert plan.predicted_bytes == pytest.approx((model * correction).sum() + size.fixed_bytes(raw))
    last = plan
    for fallback in plan.fallbacks:
        assert fallback.predicted_bytes < last.predicted_bytes
        assert not fallback.fallbacks and fallback.byte_budget == plan.byte_budget
        last = fallback


def test_a_price_stops_buying_bytes_that_buy_nothing():
    from hyperion_core.schedule.accuracy_table import ShareAccuracy
    from hyperion_core.schedule.size_table import SizeTable

    # Accuracy saturates at q50 for every class; bytes keep growing.
    size = SizeTable(qualities=QUALITIES, ratios={(c, 1): (0.01, 0.02, 0.04, 0.08, 0.16)
                                                  for c in range(3)}, beta=0.0)
    acc = ShareAccuracy(knots=QUALITIES, tables={(c, 1): (0.0, 0.2, 0.3, 0.3, 0.3)
                                                 for c in range(3)}, bias=0.5, stats=STATS)
    args = dict(shares=np.array([0.5, 0.3, 0.2]), raw_bytes=10_000_000, t_edge_s=0.1,
                t_cloud_s=0.1, bandwidth_bytes_per_s=1e9)

    def plan(price, edge=None):
        config = SchedulerConfig(qualities=QUALITIES, size_safety=0.0, byte_price=price,
                                 edge_accuracy=edge)
        return TransmissionScheduler(size_profile=size, accuracy_profile=acc,
                                     config=config).plan(**args)

    # No price: ties between q50..q90 are broken by the DP, bytes are free to fill.
    assert plan(0.0).predicted_accuracy == pytest.approx(0.8)
    priced = plan(0.01)
    assert priced.qualities == (50, 50, 50)
    assert priced.predicted_bytes == pytest.approx(0.04 * 10_000_000)
    # 400 kB at 0.01 per MB costs 0.004: worth it against an edge at 0.79, not at 0.797.
    assert not plan(0.01, edge=0.79).edge_only
    refused = plan(0.01, edge=0.797)
    assert refused.edge_only and refused.reason == "offload not worth its bytes"
