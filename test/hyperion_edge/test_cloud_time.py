"""T_cloud with a shared detector pool: the pool's queue delay lengthens the profile."""

import math

import pytest

from hyperion_edge.scheduler_node import cloud_time_s


def test_a_busy_pool_lengthens_the_profiled_cloud_time():
    assert cloud_time_s(profile_s=0.3, measured_s=0.0, pool_queue_delay_s=0.5) == pytest.approx(0.8)


def test_no_pool_means_the_profile_or_the_longer_measurement():
    assert cloud_time_s(profile_s=0.3, measured_s=0.0, pool_queue_delay_s=0.0) == 0.3
    assert cloud_time_s(profile_s=0.3, measured_s=0.9, pool_queue_delay_s=0.0) == 0.9


def test_queueing_already_measured_is_not_counted_twice():
    # Answers that met the pool's queue measured 1.0 s; the pool now says 0.5 s of it.
    assert cloud_time_s(profile_s=0.3, measured_s=1.0, pool_queue_delay_s=0.5) == 1.0


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_a_meaningless_delay_counts_as_none(bad):
    assert cloud_time_s(profile_s=0.3, measured_s=0.0, pool_queue_delay_s=bad) == 0.3


def test_the_scheduler_plans_fewer_bytes_behind_a_busy_pool():
    """The knapsack's byte budget shrinks by the pool's delay times the bandwidth."""
    from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
    from hyperion_edge.scheduler_node import prior_profiles

    profiles = prior_profiles(3)
    scheduler = TransmissionScheduler(size_profile=profiles.size,
                                      accuracy_profile=profiles.accuracy,
                                      config=SchedulerConfig(budget_s=1.0))
    plans = [scheduler.plan(shares=[0.6, 0.3, 0.1], raw_bytes=3840 * 2160 * 3, t_edge_s=0.1,
                            bandwidth_bytes_per_s=2e6,
                            t_cloud_s=cloud_time_s(profile_s=0.3, measured_s=0.0,
                                                   pool_queue_delay_s=delay))
             for delay in (0.0, 0.4, 0.7)]
    budgets = [plan.byte_budget for plan in plans]
    assert budgets[0] == pytest.approx(1.2e6) and budgets[1] == pytest.approx(0.4e6)
    assert plans[2].edge_only  # 0.1 + 0.3 + 0.7 > 1 s: nothing can arrive in time
