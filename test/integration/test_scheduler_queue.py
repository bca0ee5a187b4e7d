"""The scheduler node (a real process) plans with what the link and the cloud really take.

A probe plays edge_link: it publishes LinkStats with a fixed bandwidth and a growing
``bytes_queued``, cloud answers with measured cloud times, then patch scores of a small
frame, and reads the plan. Eq. 5's byte budget must shrink by exactly the queued bytes
and by a cloud slower than its profile, and a queue longer than the budget must make the
frame edge-only.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_msgs.msg import CloudDetections, LinkStats, PatchScores, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.node import ns_to_stamp

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros

BUDGET_S, CLOUD_S = 10.0, 1.0
RATE = 10_000.0  # bytes/s of the pretend uplink


class FakeEdgeLink(SpinningNode):
    """Plays edge_link (stats), the scorer (scores) and the cloud (answers) for the scheduler."""

    def __init__(self, domain: int) -> None:
        super().__init__("fake_edge_link", domain=domain)
        self.stats = self.node.create_publisher(LinkStats, qos.LINK_STATS,
                                                qos.latest_state_qos())
        self.scores = self.node.create_publisher(PatchScores, qos.PATCH_SCORES,
                                                 qos.result_qos())
        self.answers = self.node.create_publisher(CloudDetections, qos.CLOUD_DETECTIONS,
                                                  qos.result_qos())
        self.plans: dict[int, QualityPlan] = {}
        self.node.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())
        self.start()

    def _on_plan(self, msg: QualityPlan) -> None:
        with self.lock:
            self.plans[msg.sequence] = msg

    def answer(self, cloud_s: float) -> None:
        """A cloud answer whose detector took ``cloud_s`` from receipt to inference."""
        now = time.time_ns()
        self.answers.publish(CloudDetections(
            sequence=now, received_stamp=ns_to_stamp(now - int(cloud_s * 1e9)),
            inferred_stamp=ns_to_stamp(now)))

    def plan_for(self, queued: int, cloud_s: float = CLOUD_S, pool_delay_s: float = 0.0
                 ) -> QualityPlan:
        """Publish stats with ``queued`` bytes (and a detector pool's queue delay), then
        scores, until a plan reflects them and assumes ``cloud_s`` for the cloud."""
        for _ in range(20):
            now = time.time_ns()
            stats = LinkStats(link_up=True, bandwidth_estimate_bps=8 * RATE,
                              bytes_queued=queued, cloud_queue_delay_s=pool_delay_s)
            stats.throughput_bps, stats.transfer_bytes = [8 * RATE], [10_000]
            stats.transfer_stamps = [ns_to_stamp(now)]
            self.stats.publish(stats)
            time.sleep(0.2)  # stats and scores are separate topics: no order between them
            scores = PatchScores(sequence=now, frame_width=64, frame_height=48, patch_size=16,
                                 grid_rows=3, grid_cols=4, num_classes=3)
            scores.header.stamp = ns_to_stamp(now)
            scores.importance = [float(k) for k in range(12)]
            scores.classes = bytes([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
            self.scores.publish(scores)
            wait_until(lambda seq=now: seq in self.plans, 10, "a plan")
            plan = self.plans[now]
            # The plan must show these stats (a plan made before they arrived has no
            # bandwidth) and the cloud time asked for.
            if (abs(plan.bandwidth_estimate_bps - 8 * RATE) < 1e-6
                    and abs(plan.queue_wait_s - queued / RATE) < 1e-6
                    and abs(plan.cloud_latency_s - cloud_s) < 1e-6):
                return plan
        raise AssertionError(f"no plan saw bytes_queued={queued}, cloud {cloud_s} s")


def start_scheduler(tmp_path: Path, domain: int, *params: str
                    ) -> tuple[subprocess.Popen, object]:
    """The scheduler process with the test's budget and cloud time, plus ``params``."""
    env = {**graph_env(), "ROS_DOMAIN_ID": str(domain)}
    scheduler = executable("hyperion_edge", "scheduler")
    log = (tmp_path / "scheduler.log").open("w")
    args = [f"latency_budget_s:={BUDGET_S}", f"cloud_latency_s:={CLOUD_S}",
            "encode_latency_s:=0.0", "bandwidth_stale_s:=3600.0", *params]
    command = [str(scheduler), "--ros-args", *[a for p in args for a in ("-p", p)]]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log


def test_queued_bytes_and_a_slow_cloud_shrink_the_byte_budget(tmp_path):
    domain, _ = domain_pair()
    proc, log = start_scheduler(tmp_path, domain)
    link = FakeEdgeLink(domain)
    try:
        wait_until(lambda: link.scores.get_subscription_count() >= 1, 60,
                   f"the scheduler\n{(tmp_path / 'scheduler.log').read_text()}")
        idle = link.plan_for(0)
        queued = link.plan_for(60_000)  # 6 s of the 9 s left
        full = link.plan_for(100_000)   # 10 s: more than the whole budget
        for _ in range(3):  # the cloud turns out slower than its 1 s profile
            link.answer(4.0)
        slow_cloud = link.plan_for(0, cloud_s=4.0)
        link.answer(0.5)  # one fast answer: the median of 4, 4, 4, 0.5 is still 4
        still_slow = link.plan_for(0, cloud_s=4.0)
    finally:
        link.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    assert not idle.edge_only and idle.queue_wait_s == 0.0
    assert not queued.edge_only
    assert queued.edge_latency_s >= queued.queue_wait_s == pytest.approx(6.0)
    # S_max = (T_budget - T_edge - T_cloud) * B, with T_edge now holding the queue's 6 s.
    expected = (BUDGET_S - queued.edge_latency_s - CLOUD_S) * RATE
    assert abs(queued.byte_budget - expected) <= RATE * 0.01 + 1
    assert idle.byte_budget - queued.byte_budget == pytest.approx(60_000, abs=RATE * 0.5)
    assert full.edge_only and full.reason.startswith("nothing fits")
    # Measured 4 s instead of the profiled 1 s: 3 s less to transmit.
    assert idle.byte_budget - slow_cloud.byte_budget == pytest.approx(30_000, abs=RATE * 0.5)
    assert not still_slow.edge_only


def test_a_busy_detector_pool_shrinks_the_byte_budget(tmp_path):
    """A shared pool's queue delay (LinkStats.cloud_queue_delay_s, from edge_link) adds to
    the profiled cloud time: less time to transmit, and edge-only when nothing is left."""
    domain, _ = domain_pair()
    proc, log = start_scheduler(tmp_path, domain)
    link = FakeEdgeLink(domain)
    try:
        wait_until(lambda: link.scores.get_subscription_count() >= 1, 60,
                   f"the scheduler\n{(tmp_path / 'scheduler.log').read_text()}")
        idle = link.plan_for(0)
        busy = link.plan_for(0, cloud_s=CLOUD_S + 3.0, pool_delay_s=3.0)
        swamped = link.plan_for(0, cloud_s=CLOUD_S + 9.5, pool_delay_s=9.5)
        idle_again = link.plan_for(0)
    finally:
        link.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    assert not busy.edge_only
    assert idle.byte_budget - busy.byte_budget == pytest.approx(30_000, abs=RATE * 0.5)
    assert swamped.edge_only and swamped.reason.startswith("nothing fits")
    assert not idle_again.edge_only


def test_encode_reports_correct_the_predicted_bytes(tmp_path):
    """Real class bytes twice the size model's: after a few reports the plans predict the
    payload at twice the model's class bytes (the closed loop), and say so per class."""
    from hyperion_msgs.msg import EncodeReport

    domain, _ = domain_pair()
    proc, log = start_scheduler(tmp_path, domain, "size_correction_window:=3")
    link = FakeEdgeLink(domain)
    reports = link.node.create_publisher(EncodeReport, qos.ENCODE_REPORT, qos.result_qos())
    try:
        wait_until(lambda: link.scores.get_subscription_count() >= 1
                   and reports.get_subscription_count() >= 1, 60,
                   f"the scheduler\n{(tmp_path / 'scheduler.log').read_text()}")
        before = link.plan_for(0)
        model = list(before.class_model_bytes)
        for _ in range(3):
            reports.publish(EncodeReport(sent=True, class_model_bytes=model,
                                         class_bytes=[int(2 * b) for b in model]))
        corrected = None
        for _ in range(10):  # reports and scores are separate topics: no order between them
            plan = link.plan_for(0)
            if plan.predicted_bytes > 1.5 * before.predicted_bytes:
                corrected = plan
                break
    finally:
        link.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    assert not before.edge_only and len(model) == 3
    fixed = before.predicted_bytes - sum(model)
    assert fixed >= -1  # predicted_bytes is whole bytes, the class bytes are not
    assert corrected is not None, "plans never showed the correction"
    twice = 2 * sum(corrected.class_model_bytes) + fixed
    assert corrected.predicted_bytes == pytest.approx(twice, rel=0.01, abs=2)


def test_a_slow_cloud_is_forgotten_after_its_memory(tmp_path):
    """Measured cloud times expire: a cloud once too slow for the budget (every frame
    edge-only, so no new measurement) is planned with its profile again afterwards."""
    memory_s = 10.0
    domain, _ = domain_pair()
    proc, log = start_scheduler(tmp_path, domain, f"cloud_latency_memory_s:={memory_s}")
    link = FakeEdgeLink(domain)
    try:
        wait_until(lambda: link.scores.get_subscription_count() >= 1
                   and link.answers.get_subscription_count() >= 1, 60,
                   f"the scheduler\n{(tmp_path / 'scheduler.log').read_text()}")
        link.plan_for(0)  # discovery complete both ways before the answers go out
        answered = time.monotonic()
        for _ in range(3):
            link.answer(20.0)  # longer than the whole 10 s budget
        slow = link.plan_for(0, cloud_s=20.0)
        assert time.monotonic() - answered < memory_s, "too slow to see the slow cloud"
        time.sleep(max(0.0, answered + memory_s + 0.5 - time.monotonic()))
        recovered = link.plan_for(0)  # the profile's 1 s again
    finally:
        link.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    assert slow.edge_only and slow.reason.startswith("nothing fits")
    assert not recovered.edge_only
