"""Every node is a lifecycle node: with ``autostart:=false`` a real scheduler process waits
unconfigured, and the standard lifecycle services move it through configure, activate,
deactivate and cleanup, with its topics and its work following the state."""

from __future__ import annotations

import subprocess
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_msgs.msg import PatchScores, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.node import ns_to_stamp

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros


class Manager(SpinningNode):
    """A lifecycle manager and a scheduler's neighbours in one test node."""

    def __init__(self, domain: int) -> None:
        super().__init__("lifecycle_test_manager", domain=domain)
        self.change = self.node.create_client(ChangeState, "/scheduler/change_state")
        self.get = self.node.create_client(GetState, "/scheduler/get_state")
        self.scores = self.node.create_publisher(PatchScores, qos.PATCH_SCORES,
                                                 qos.result_qos())
        self.plans: list[int] = []
        self.counters: dict[str, str] = {}
        self.node.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())
        self.node.create_subscription(DiagnosticArray, qos.DIAGNOSTICS, self._on_diagnostics,
                                      qos.diagnostics_qos())
        self.start()

    def _on_plan(self, msg: QualityPlan) -> None:
        with self.lock:
            self.plans.append(msg.sequence)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for status in msg.status:
                if status.name.endswith("scheduler"):
                    self.counters = {kv.key: kv.value for kv in status.values}

    def counter(self, name: str) -> int:
        with self.lock:
            return int(self.counters.get(name, 0))

    def state(self) -> int:
        """The scheduler's state. GetState is a query, so an unanswered request is sent
        again: ``service_is_ready`` sees only that the server reads requests, and the first
        answer is lost when the server has not yet matched this client's reply reader (the
        DDS discovery race seen once in a full run: the first call of a fresh client, no
        answer in 10 s). The transitions that follow use the then-matched client."""
        futures = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            futures.append(self.get.call_async(GetState.Request()))
            try:
                wait_until(lambda: any(f.done() for f in futures), 3, "get_state")
            except TimeoutError:
                continue
            return next(f for f in futures if f.done()).result().current_state.id
        raise TimeoutError(f"get_state unanswered after {len(futures)} requests in 30 s")

    def transition(self, transition_id: int) -> None:
        future = self.change.call_async(
            ChangeState.Request(transition=Transition(id=transition_id)))
        wait_until(future.done, 30, f"transition {transition_id}")
        assert future.result().success, f"transition {transition_id} refused"

    def send_scores(self) -> int:
        now = time.time_ns()
        msg = PatchScores(sequence=now, frame_width=32, frame_height=32, patch_size=16,
                          grid_rows=2, grid_cols=2, num_classes=3)
        msg.header.stamp = ns_to_stamp(now)
        msg.importance, msg.classes = [0.1, 0.2, 0.3, 0.4], bytes([0, 1, 2, 2])
        self.scores.publish(msg)
        return now

    def planned(self, sequence: int) -> bool:
        with self.lock:
            return sequence in self.plans


def test_scheduler_follows_its_lifecycle(tmp_path):
    domain, _ = domain_pair()
    log_path = tmp_path / "scheduler.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(executable("hyperion_edge", "scheduler")), "--ros-args",
             "-p", "autostart:=false", "-p", "diagnostics_period_s:=0.2",
             "-p", "force_edge_only:=true"],
            env={**graph_env(), "ROS_DOMAIN_ID": str(domain)}, stdout=log,
            stderr=subprocess.STDOUT)
    manager = Manager(domain)
    try:
        wait_until(lambda: manager.get.service_is_ready(), 60,
                   f"the lifecycle services\n{log_path.read_text()}")
        assert manager.state() == State.PRIMARY_STATE_UNCONFIGURED
        assert manager.node.count_publishers(qos.PLAN) == 0  # nothing built yet

        manager.transition(Transition.TRANSITION_CONFIGURE)
        assert manager.state() == State.PRIMARY_STATE_INACTIVE
        wait_until(lambda: manager.scores.get_subscription_count() >= 1, 30, "subscribed")
        wait_until(lambda: (manager.send_scores(), manager.counter("inputs_while_inactive"))[1]
                   >= 1, 30, "scores refused while inactive")

        manager.transition(Transition.TRANSITION_ACTIVATE)
        assert manager.state() == State.PRIMARY_STATE_ACTIVE
        sequence = manager.send_scores()
        wait_until(lambda: manager.planned(sequence), 30, "a plan while active")

        manager.transition(Transition.TRANSITION_DEACTIVATE)
        before = manager.counter("inputs_while_inactive")
        wait_until(lambda: (manager.send_scores(), manager.counter("inputs_while_inactive"))[1]
                   > before, 30, "scores refused after deactivation")

        manager.transition(Transition.TRANSITION_CLEANUP)
        assert manager.state() == State.PRIMARY_STATE_UNCONFIGURED
        wait_until(lambda: manager.node.count_publishers(qos.PLAN) == 0, 30,
                   "the plan publisher gone after cleanup")
    finally:
        manager.close()
        proc.terminate()
        assert proc.wait(10) == 0, log_path.read_text()
