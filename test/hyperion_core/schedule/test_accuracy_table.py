import itertools

import numpy as np
import pytest

from hyperion_core.schedule.accuracy_table import ShareAccuracy, fit_share_accuracy
from hyperion_core.schedule.profiles import FitStats, ProfileRecord

KNOTS = (10, 30, 50, 70, 90)
STATS = FitStats(r=1.0, r2=1.0, n=1, rmse=0.0)


def _saturating(cls, q):
    """Per unit share: class 2 gains most, and every class saturates above q50."""
    return (0.1 * (cls + 1)) * (1 - np.exp(-(q - 10) / 20))


def _records(rng, frames=30, noise=0.003, downsample=False):
    out = []
    for _ in range(frames):
        shares = rng.dirichlet([6, 3, 1])
        for combo in itertools.product(KNOTS, repeat=3):
            if rng.random() > 0.3:
                continue
            d0 = int(rng.choice([1, 4])) if downsample else 1
            acc = 0.5 + sum(shares[c] * _saturating(c, combo[c]) for c in range(3))
            if d0 == 4:
                acc -= shares[0] * 0.05  # downsampling class 0 costs a little
            out.append(ProfileRecord(shares=tuple(shares), qualities=combo,
                                     downsample=(d0, 1, 1), bytes=1, raw_bytes=1,
                                     accuracy=acc + rng.normal(0, noise)))
    return out


def test_table_recovers_a_saturating_curve_per_unit_share():
    model = fit_share_accuracy(_records(np.random.default_rng(1)))
    assert model.knots == KNOTS and model.classes == 3
    assert model.bias == pytest.approx(0.5, abs=0.01)
    for c in range(3):
        expected = [_saturating(c, q) for q in KNOTS]
        assert model.tables[(c, 1)] == pytest.approx(expected, abs=0.03)
    assert model.stats.r > 0.95


def test_tables_never_decrease_even_when_the_data_do():
    rng = np.random.default_rng(2)
    records = []
    for _ in range(200):
        shares = rng.dirichlet([1, 1, 1])
        combo = tuple(int(v) for v in rng.choice(KNOTS, 3))
        # Class 1's accuracy falls with quality: fitted noise the scheduler must not chase.
        acc = 0.4 + shares[0] * 0.002 * combo[0] - shares[1] * 0.001 * combo[1]
        records.append(ProfileRecord(shares=tuple(shares), qualities=combo, bytes=1,
                                     raw_bytes=1, accuracy=acc + rng.normal(0, 0.002)))
    model = fit_share_accuracy(records)
    for values in model.tables.values():
        assert np.all(np.diff(values) >= -1e-12)
    assert max(model.tables[(1, 1)]) == pytest.approx(0.0, abs=1e-9)
    # Class 0's real gain (0.16 per unit share) is still found; the clamp on class 1 biases
    # it somewhat, since shares sum to 1.
    assert 0.12 < model.tables[(0, 1)][-1] < 0.22


def test_linear_shape_is_the_paper_form_per_unit_share():
    rng = np.random.default_rng(5)
    records = []
    for _ in range(150):
        shares = rng.dirichlet([3, 2, 1])
        combo = tuple(int(v) for v in rng.choice(KNOTS, 3))
        acc = 0.3 + sum(shares[c] * 0.001 * (c + 1) * (combo[c] - 10) for c in range(3))
        records.append(ProfileRecord(shares=tuple(shares), qualities=combo, bytes=1,
                                     raw_bytes=1, accuracy=acc))
    model = fit_share_accuracy(records, shape="linear")
    for c in range(3):
        slope = np.diff(model.tables[(c, 1)]) / np.diff(KNOTS)
        assert slope == pytest.approx([0.001 * (c + 1)] * 4, rel=1e-6)
    assert model.predict(np.array([90, 10, 50]), shares=np.array([0.5, 0.3, 0.2])) == (
        pytest.approx(0.3 + 0.5 * 0.08 + 0.2 * 0.003 * 40))


def test_downsampled_option_has_its_own_level_of_either_sign():
    model = fit_share_accuracy(_records(np.random.default_rng(7), downsample=True))
    full, small = model.tables[(0, 1)], model.tables[(0, 4)]
    assert small[0] == pytest.approx(-0.05, abs=0.02)
    assert np.subtract(small, full) == pytest.approx([-0.05] * len(KNOTS), abs=0.03)


def test_option_gain_scales_with_share_and_refuses_unknown_options():
    model = ShareAccuracy(knots=(10, 90), tables={(0, 1): (0.0, 0.4), (1, 1): (0.0, 0.8)},
                          bias=0.2, stats=STATS)
    gain = model.option_gain(shares=np.array([0.75, 0.25]),
                             quality=np.array([[10.0, 50.0], [90.0, 50.0]]),
                             downsample=np.ones((2, 2), np.int64))
    assert gain == pytest.approx(np.array([[0.0, 0.75 * 0.2], [0.25 * 0.8, 0.25 * 0.4]]))
    assert model.effect(1, 0.25) == pytest.approx(0.2)
    assert not model.supports(0, 95, 1) and not model.supports(0, 50, 2)
    with pytest.raises(KeyError):
        model.gain(0, 95, 1)


def test_too_few_records_or_a_class_never_at_full_resolution():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="records"):
        fit_share_accuracy(_records(rng)[:5])
    only_small = [ProfileRecord(shares=(0.5, 0.5), qualities=(q, q), downsample=(4, 1),
                                bytes=1, raw_bytes=1, accuracy=0.5) for q in KNOTS]
    with pytest.raises(ValueError, match="class 0"):
        fit_share_accuracy(only_small)
