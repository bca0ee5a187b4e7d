import numpy as np
import pytest

from hyperion_core.schedule.accuracy_table import ShareAccuracy
from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.price import choose_byte_price, frame_price
from hyperion_core.schedule.profiles import FitStats
from hyperion_core.schedule.size_table import SizeTable

STATS = FitStats(r=1.0, r2=1.0, n=1, rmse=0.0)
QUALITIES = (10, 30, 50, 70, 90)
SIZE = SizeTable(qualities=QUALITIES, ratios={(c, 1): (0.01, 0.02, 0.04, 0.08, 0.16)
                                              for c in range(3)}, beta=0.0)


def _accuracy(tables):
    return ShareAccuracy(knots=QUALITIES, tables={(c, 1): t for c, t in enumerate(tables)},
                         bias=0.5, stats=STATS)


def _plan_at(price, acc, shares):
    config = SchedulerConfig(qualities=QUALITIES, budget_s=1.0, size_safety=0.0, byte_price=price)
    return TransmissionScheduler(size_profile=SIZE, accuracy_profile=acc, config=config).plan(
        shares=shares, raw_bytes=10_000_000, t_edge_s=0, t_cloud_s=0, bandwidth_bytes_per_s=1e15)


def test_price_keeps_the_asked_share_of_the_gain_and_no_more():
    acc = _accuracy([(0.0, 0.10, 0.15, 0.17, 0.18)] * 3)
    shares = np.array([0.5, 0.3, 0.2])
    price = frame_price(size=SIZE, accuracy=acc, shares=shares, raw_bytes=10_000_000,
                        qualities=QUALITIES, keep=0.9)
    # Brute check of the rule: at the price the plan keeps >= 90 % of the 0.18 gain; a
    # slightly higher price loses it.
    assert _plan_at(price, acc, shares).predicted_accuracy >= 0.5 + 0.9 * 0.18 - 1e-9
    assert _plan_at(price * 1.05 + 1e-9, acc, shares).predicted_accuracy < 0.5 + 0.9 * 0.18
    assert price > 0


def test_no_gain_means_no_price_and_frames_take_the_median():
    flat = _accuracy([(0.0,) * 5] * 3)
    assert frame_price(size=SIZE, accuracy=flat, shares=np.ones(3) / 3, raw_bytes=1_000_000,
                       qualities=QUALITIES) == 0.0
    acc = _accuracy([(0.0, 0.10, 0.15, 0.17, 0.18)] * 3)
    frames = [(np.array(s), 10_000_000) for s in ([0.5, 0.3, 0.2], [0.8, 0.1, 0.1],
                                                  [0.2, 0.4, 0.4])]
    each = [frame_price(size=SIZE, accuracy=acc, shares=s, raw_bytes=r, qualities=QUALITIES)
            for s, r in frames]
    assert choose_byte_price(size=SIZE, accuracy=acc, frames=frames, qualities=QUALITIES) == (
        pytest.approx(float(np.median(each))))
    with pytest.raises(ValueError):
        frame_price(size=SIZE, accuracy=acc, shares=np.ones(3) / 3, raw_bytes=1,
                    qualities=QUALITIES, keep=0)
