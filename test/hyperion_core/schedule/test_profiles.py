import numpy as np
import pytest
import yaml

from hyperion_core.schedule.knapsack import TransmissionScheduler
from hyperion_core.schedule.profiles import (
    ProfileRecord,
    fit_accuracy_profile,
    fit_size_profile,
    load_profiles,
    save_profiles,
)


def _records(n, rng, downsample=False):
    out = []
    for _ in range(n):
        shares = rng.dirichlet([5, 2, 1])
        q = rng.choice([10, 30, 50, 70, 90], 3)
        d = (int(rng.choice([1, 4])), 1, 1) if downsample else (1, 1, 1)
        alpha = {1: 0.002, 4: 0.0005}
        ratio = sum(alpha[dd] * p * qq for p, qq, dd in zip(shares, q, d, strict=False)) + 0.01
        weights = {(0, 1): 0.0005, (0, 4): 0.0004, (1, 1): 0.002, (2, 1): 0.004}
        acc = (
            sum(weights[(c, dd)] * qq for c, (qq, dd) in enumerate(zip(q, d, strict=False))) + 0.05
        )
        out.append(
            ProfileRecord(
                shares=tuple(shares),
                qualities=tuple(int(v) for v in q),
                downsample=d,
                bytes=int(1e6 * ratio * (1 + rng.normal(0, 0.01))),
                raw_bytes=1_000_000,
                accuracy=acc + rng.normal(0, 0.002),
            )
        )
    return out


def test_recovers_coefficients():
    rng = np.random.default_rng(4)
    records = _records(200, rng, downsample=True)
    size = fit_size_profile(records)
    assert size.alpha[1] == pytest.approx(0.002, rel=0.03)
    assert size.alpha[4] == pytest.approx(0.0005, rel=0.1)
    assert size.beta == pytest.approx(0.01, abs=0.002)
    assert size.stats.r > 0.98 and size.stats.n == 200
    acc = fit_accuracy_profile(records)
    assert acc.weights[(2, 1)] == pytest.approx(0.004, rel=0.05)
    assert acc.weights[(0, 4)] == pytest.approx(0.0004, abs=1e-4)
    assert acc.bias == pytest.approx(0.05, abs=0.01)
    predicted = size.predict_bytes(
        raw_bytes=10, shares=np.array([1.0, 0, 0]), qualities=np.array([50, 50, 50])
    )
    assert predicted == pytest.approx(10 * (size.alpha[1] * 50 + size.beta))
    with pytest.raises(KeyError):
        size.predict_bytes(
            raw_bytes=10,
            shares=np.ones(3) / 3,
            qualities=np.ones(3) * 50,
            downsample=np.array([2, 1, 1]),
        )


def test_refuses_too_few_or_uniform_records():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="records"):
        fit_size_profile(_records(2, rng))
    with pytest.raises(ValueError, match="records"):
        fit_accuracy_profile(_records(4, rng))
    same = [_records(1, rng)[0]] * 10
    with pytest.raises(ValueError, match="vary"):
        fit_accuracy_profile(same)


def test_yaml_round_trip(tmp_path):
    records = _records(50, np.random.default_rng(6), downsample=True)
    size, acc = fit_size_profile(records), fit_accuracy_profile(records)
    path = tmp_path / "profiles.yaml"
    save_profiles(path, size, acc)
    size2, acc2 = load_profiles(path)
    assert size2 == size and size2.relative_error is not None
    assert acc2.weights == acc.weights and acc2.bias == acc.bias and acc2.stats == acc.stats


def test_size_fit_records_its_relative_errors():
    records = _records(200, np.random.default_rng(7))
    size = fit_size_profile(records)
    real = np.array([r.bytes for r in records], np.float64)
    predicted = np.array([size.predict_bytes(raw_bytes=r.raw_bytes, shares=np.array(r.shares),
                                             qualities=np.array(r.qualities))
                          for r in records])
    rel = (real - predicted) / predicted
    errors = size.relative_error
    assert errors is not None and errors.n == 200
    assert errors.p95 == pytest.approx(np.quantile(rel, 0.95), rel=1e-6)
    assert errors.max == pytest.approx(rel.max(), rel=1e-6)
    assert errors.p50 < errors.p90 < errors.p95 < errors.p99 <= errors.max
    # 1 % multiplicative noise on an exactly linear size: p95 is about 1.6 sigma.
    assert 0.005 < errors.p95 < 0.03


def test_file_without_relative_errors_loads_with_zero_margin(tmp_path):
    records = _records(50, np.random.default_rng(8))
    size, acc = fit_size_profile(records), fit_accuracy_profile(records)
    path = tmp_path / "profiles.yaml"
    save_profiles(path, size, acc)
    # A file written before the statistic existed: no relative_error block.
    document = yaml.safe_load(path.read_text())
    assert "relative_error" in document["size"]
    del document["size"]["relative_error"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    old_size, old_acc = load_profiles(path)
    assert old_size.relative_error is None and old_size.alpha == size.alpha
    assert TransmissionScheduler(size_profile=old_size, accuracy_profile=old_acc).size_safety == 0
    assert TransmissionScheduler(size_profile=size, accuracy_profile=acc).size_safety == (
        pytest.approx(max(size.relative_error.p95, 0.0)))


def test_shipped_profiles_cover_the_scheduler_and_value_every_class():
    """The profiles the scheduler ships with: per-class tables covering what the node offers,
    a measured size margin, and no class whose quality is worth nothing (a zero table would
    make the scheduler send it at the lowest quality whatever it holds)."""
    from hyperion_core.eval.evaluate import DEFAULT_PROFILES
    from hyperion_core.schedule.accuracy_table import ShareAccuracy
    from hyperion_core.schedule.knapsack import SchedulerConfig
    from hyperion_core.schedule.profile_file import read_profiles
    from hyperion_core.schedule.size_table import SizeTable

    profiles = read_profiles(DEFAULT_PROFILES)
    assert isinstance(profiles.size, SizeTable) and isinstance(profiles.accuracy, ShareAccuracy)
    config = SchedulerConfig(qualities=(10, 30, 50, 70, 90), class0_downsample=(1, 2, 4),
                             byte_price=profiles.byte_price,
                             edge_accuracy=profiles.edge_accuracy)
    sched = TransmissionScheduler(size_profile=profiles.size,
                                  accuracy_profile=profiles.accuracy, config=config)
    assert sched.classes == 3 and 0 < sched.size_safety < 0.3
    for c in range(3):
        assert profiles.accuracy.tables[(c, 1)][-1] > 0, f"class {c} quality worth nothing"
    assert 0 < profiles.edge_accuracy < profiles.accuracy.bias
    evidence = profiles.provenance["evidence"]
    held = evidence["held_out"]
    assert held["share_table"]["r"] > held["paper_eq4"]["r"]


def test_shipped_plan_space_reaches_a_2_mbit_uplink_at_400_ms():
    """Issue 17: at 2 Mbit/s with the paper's device times (edge 157 ms, cloud 40 ms, the
    median LTE round trip 34 ms) and a 400 ms budget, the default plan space (q5, class 0
    down to 8x) has a plan that fits for a 4K frame of the evaluation frames' mean class
    shares; the former space (q10 and up, class 0 down to 4x) has none. (Whether the plan
    is worth its bytes against the edge's own answer is the scheduler's call per frame.)"""
    from hyperion_core.eval.evaluate import DEFAULT_PROFILES
    from hyperion_core.eval.timeline import Settings
    from hyperion_core.schedule.knapsack import SchedulerConfig
    from hyperion_core.schedule.profile_file import read_profiles

    profiles = read_profiles(DEFAULT_PROFILES)
    shares, raw = np.array([0.92, 0.07, 0.01]), 3840 * 2160 * 3

    def plan(qualities, downsample):
        config = SchedulerConfig(qualities=qualities, class0_downsample=downsample,
                                 byte_price=0.0, budget_s=0.4, edge_accuracy=None)
        sched = TransmissionScheduler(size_profile=profiles.size,
                                      accuracy_profile=profiles.accuracy, config=config)
        return sched.plan(shares=shares, raw_bytes=raw, t_edge_s=0.157, t_cloud_s=0.074,
                          bandwidth_bytes_per_s=2e6 / 8), sched.size_safety

    default = Settings()
    found, safety = plan(default.qualities, default.class0_downsample)
    assert not found.edge_only, found.reason
    assert found.predicted_bytes * (1 + safety) <= (0.4 - 0.157 - 0.074) * 2e6 / 8
    former, _ = plan((10, 30, 50, 70, 90), (1, 2, 4))
    assert former.edge_only and "fits" in former.reason
