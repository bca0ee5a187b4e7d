"""send_room_bytes: what the encoder may still send for a frame, judged when the payload is
encoded (fake clock: every call is given its now)."""

import pytest

from hyperion_core.schedule.knapsack import byte_budget
from hyperion_edge.encoder_node import send_room_bytes
from hyperion_msgs.msg import QualityPlan

S = 1_000_000_000
T0 = 50 * S


def plan(**fields) -> QualityPlan:
    values = {"sequence": T0, "latency_budget_s": 3.0, "bandwidth_estimate_bps": 8e6,
              "cloud_latency_s": 1.0, "queue_wait_s": 0.0, **fields}
    return QualityPlan(**values)


def test_room_is_the_time_left_after_queue_and_cloud_at_the_plans_bandwidth():
    # 1 MB/s; at capture + 1 s: 2 s left, 1 s of cloud -> 1 MB.
    assert send_room_bytes(plan(), T0 + S) == 1_000_000
    # 0.5 s of uplink queue ahead of it: 0.5 MB.
    assert send_room_bytes(plan(queue_wait_s=0.5), T0 + S) == 500_000
    # Encoded late: at capture + 1.8 s, 0.2 MB.
    # (floored: float seconds may land a byte short, never a byte over)
    assert send_room_bytes(plan(), T0 + 18 * S // 10) == pytest.approx(200_000, abs=1)


@pytest.mark.parametrize("now", [T0 + 2 * S, T0 + 5 * S])
def test_no_room_once_the_cloud_cannot_answer_in_time(now):
    assert send_room_bytes(plan(), now) == 0


def test_a_plan_without_bandwidth_is_not_judged():
    assert send_room_bytes(plan(bandwidth_estimate_bps=0.0), T0 + 5 * S) is None


def test_the_scheduler_and_the_encoder_share_the_byte_budget_formula():
    assert byte_budget(time_left_s=2.0, t_cloud_s=0.5, bandwidth_bytes_per_s=100.0) == 150.0
    assert byte_budget(time_left_s=0.4, t_cloud_s=0.5, bandwidth_bytes_per_s=100.0) < 0
