import numpy as np
import pytest

from hyperion_core.schedule.size_table import (
    ClassBytes,
    SizeCorrection,
    SizeTable,
    fit_size_table,
)

QUALITIES = (10, 30, 50, 70, 90)


def _true_ratio(cls, q, d=1):
    """A stand-in for JPEG: convex in quality, dearer for important classes, cheaper
    downsampled."""
    return (1 + 0.5 * cls) * (1e-3 * q + 4e-5 * q**2) / d**2


def _measure(rng, frames=6):
    measured, overhead = [], []
    for _ in range(frames):
        shares = rng.dirichlet([6, 3, 1])
        raw = int(rng.integers(1, 5)) * 1_000_000
        for q in QUALITIES:
            for c in range(3):
                for d in ((1, 4) if c == 0 else (1,)):
                    nbytes = raw * shares[c] * _true_ratio(c, q, d) * rng.normal(1, 0.02)
                    measured.append(ClassBytes(cls=c, quality=q, downsample=d,
                                               share=shares[c], nbytes=int(nbytes),
                                               raw_bytes=raw))
            overhead.append(0.001 + rng.normal(0, 1e-5))
    return measured, overhead


def test_fit_recovers_each_class_table():
    measured, overhead = _measure(np.random.default_rng(0))
    table = fit_size_table(measured, overhead_ratio=overhead)
    assert table.qualities == QUALITIES
    assert set(table.ratios) == {(0, 1), (0, 4), (1, 1), (2, 1)}
    for (c, d), values in table.ratios.items():
        expected = [_true_ratio(c, q, d) for q in QUALITIES]
        assert values == pytest.approx(expected, rel=0.03)
    assert table.beta == pytest.approx(0.001, rel=0.01)


def test_pooling_weights_frames_by_class_area():
    # Two frames, one class: 100 bytes on 1,000 raw bytes of class area, 10 bytes on 1,000
    # more. Pooled: 110 / 2,000, not the mean of the per-frame ratios (0.055 either way
    # here), and 300 bytes on 9,000 weighs 9x more than 10 on 1,000.
    measured = [ClassBytes(cls=0, quality=50, downsample=1, share=1.0, nbytes=10,
                           raw_bytes=1000),
                ClassBytes(cls=0, quality=50, downsample=1, share=0.9, nbytes=300,
                           raw_bytes=10_000)]
    table = fit_size_table(measured, overhead_ratio=[0.0])
    assert table.ratios[(0, 1)] == pytest.approx((310 / 10_000,))


def test_interpolates_log_linearly_and_never_extrapolates():
    table = SizeTable(qualities=(10, 50), ratios={(0, 1): (0.01, 0.04)}, beta=0.0)
    # Geometric mean half-way: sqrt(0.01 * 0.04) = 0.02.
    assert table.ratio(0, 30, 1) == pytest.approx(0.02)
    assert table.ratio(0, 10, 1) == pytest.approx(0.01)
    for quality, downsample in ((5, 1), (60, 1), (30, 2)):
        assert not table.supports(0, quality, downsample)
        with pytest.raises(KeyError):
            table.ratio(0, quality, downsample)


def test_option_bytes_and_plan_prediction():
    table = SizeTable(qualities=QUALITIES,
                      ratios={(c, 1): tuple(_true_ratio(c, q) for q in QUALITIES)
                              for c in range(3)}, beta=0.002)
    shares = np.array([0.6, 0.3, 0.1])
    quality = np.array([[10, 90], [30, 50], [70, 90]], np.float64)
    out = table.option_bytes(raw_bytes=1e6, shares=shares, quality=quality,
                             downsample=np.ones((3, 2), np.int64))
    for c in range(3):
        for o in range(2):
            assert out[c, o] == pytest.approx(1e6 * shares[c] * _true_ratio(c, quality[c, o]))
    whole = table.predict_bytes(raw_bytes=1e6, shares=shares, qualities=(10, 30, 70),
                                downsample=(1, 1, 1))
    assert whole == pytest.approx(out[0, 0] + out[1, 0] + out[2, 0] + 2000)


def test_rejects_inconsistent_tables():
    with pytest.raises(ValueError):
        SizeTable(qualities=(50, 10), ratios={(0, 1): (0.1, 0.2)}, beta=0)
    with pytest.raises(ValueError):
        SizeTable(qualities=(10, 50), ratios={(0, 1): (0.1, 0.0)}, beta=0)
    partial = [ClassBytes(cls=0, quality=q, downsample=1, share=1, nbytes=10, raw_bytes=100)
               for q in (10, 50)]
    partial.append(ClassBytes(cls=1, quality=10, downsample=1, share=1, nbytes=10,
                              raw_bytes=100))
    with pytest.raises(ValueError, match="class 1"):
        fit_size_table(partial, overhead_ratio=[0.0])


def test_correction_is_the_recent_median_per_class():
    corr = SizeCorrection(classes=3, window=3)
    assert corr.factors().tolist() == [1.0, 1.0, 1.0]
    for real in ([110, 0, 50], [120, 0, 50], [300, 0, 50], [130, 0, 50]):
        corr.add(predicted=np.array([100.0, 100.0, 100.0]), real=np.array(real, float))
    # Class 0: last three ratios 1.2, 3.0, 1.3 → 1.3; class 1 never present → 1; class 2: 0.5.
    assert corr.factors() == pytest.approx([1.3, 1.0, 0.5])
    with pytest.raises(ValueError):
        corr.add(predicted=np.array([1.0, np.nan, 1.0]), real=np.ones(3))
    with pytest.raises(ValueError):
        corr.add(predicted=np.ones(2), real=np.ones(2))
    off = SizeCorrection(classes=2, window=0)
    off.add(predicted=np.ones(2), real=np.full(2, 5.0))
    assert off.factors().tolist() == [1.0, 1.0]


def test_correction_converges_on_content_that_compresses_differently():
    # A table fitted on one kind of content; the stream's content costs 1.4x (class 0) and
    # 0.7x (class 2). After a few frames the corrected prediction is within 5 %.
    rng = np.random.default_rng(3)
    measured, overhead = _measure(rng)
    table = fit_size_table(measured, overhead_ratio=overhead)
    corr = SizeCorrection(classes=3, window=5)
    errors = []
    for _ in range(12):
        shares = rng.dirichlet([6, 3, 1])
        q = (30, 50, 90)
        model = table.class_bytes(raw_bytes=1e6, shares=shares, qualities=q, downsample=(1, 1, 1))
        real = np.array([1e6 * shares[c] * _true_ratio(c, q[c]) for c in range(3)])
        real *= np.array([1.4, 1.0, 0.7]) * rng.normal(1, 0.02, 3)
        predicted = model * corr.factors()
        errors.append(abs(predicted.sum() - real.sum()) / real.sum())
        corr.add(predicted=model, real=real)
    assert errors[0] > 0.1
    assert max(errors[3:]) < 0.05


def test_a_class_never_seen_borrows_its_nearest_neighbours_table():
    measured = [ClassBytes(cls=c, quality=q, downsample=1, share=0.5, nbytes=10 * q * (c + 1),
                           raw_bytes=1000) for c in (0, 1) for q in (10, 50)]
    table = fit_size_table(measured, overhead_ratio=[0.0], classes=3)
    assert table.ratios[(2, 1)] == table.ratios[(1, 1)]
    assert fit_size_table(measured, overhead_ratio=[0.0]).ratios.keys() == {(0, 1), (1, 1)}
