"""The ros2 command line as a user drives it, against graphs started with the real
``ros2 launch`` from the colcon workspace: node list, topic echo, param set (a run-time
parameter takes effect, an out-of-range value is refused with the reason), lifecycle set
(the scheduler paused and resumed, no frame unanswered) and interface show."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .tools import require_tools

require_tools()

from hyperion.graph import GRAPHS  # noqa: E402
from hyperion_msgs.msg import QualityPlan  # noqa: E402
from hyperion_runtime import qos  # noqa: E402

from .tools import (  # noqa: E402
    Probe,
    answered,
    cloud_overrides,
    domain_pair,
    edge_overrides,
    free_port,
    params_file,
    ros2,
    wait_until,
)

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
QUALITY_PLAN = Path(__file__).resolve().parents[2] / "src" / "hyperion_msgs" / "msg" / \
    "QualityPlan.msg"
NO_DAEMON = ("--no-daemon", "--spin-time", "5")


class Launched:
    """``ros2 launch hyperion <graph>.launch.py params_file:=...`` in ``domain``."""

    def __init__(self, graph: str, domain: int, params: Path, log: Path) -> None:
        self.log = log.open("w")
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
        self.proc = subprocess.Popen(
            [shutil.which("ros2"), "launch", "hyperion", f"{graph}.launch.py",
             f"params_file:={params}"], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.path = log

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        """SIGINT to ros2 launch alone (it forwards it to the nodes), SIGKILL after 30 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


class Watch(Probe):
    """The probe plus the scheduler's plans."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain)
        self.plans: list[QualityPlan] = []
        self.node.create_subscription(QualityPlan, qos.PLAN, self._on_plan, qos.result_qos())

    def _on_plan(self, msg: QualityPlan) -> None:
        with self.lock:
            self.plans.append(msg)

    def plans_after(self, after_ns: int) -> list[QualityPlan]:
        with self.lock:
            return [p for p in self.plans if p.sequence > after_ns]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """Both graphs launched with ros2 launch; the probe joined before the first frame."""
    folder = tmp_path_factory.mktemp("ros2_cli")
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Launched("cloud", cloud_domain,
                     params_file("cloud", cloud_overrides(port), folder / "cloud.yaml"),
                     folder / "cloud.log")
    watch = Watch(edge_domain)
    edge = Launched("edge", edge_domain,
                    params_file("edge", edge_overrides(port), folder / "edge.yaml"),
                    folder / "edge.log")
    try:
        wait_until(lambda: len(watch.snapshot()[1]) >= 1, 180,
                   f"a first answer\n{edge.output()}\n{cloud.output()}")
        yield {"edge": edge_domain, "cloud": cloud_domain, "watch": watch}
    finally:
        watch.close()
        edge_status, cloud_status = edge.stop(), cloud.stop()
        assert (edge_status, cloud_status) == (0, 0), f"{edge.output()}\n{cloud.output()}"


def test_node_list_shows_every_node(graphs):
    for graph in ("edge", "cloud"):
        listed = ros2("node", "list", *NO_DAEMON, domain=graphs[graph])
        names = set(listed.stdout.split())
        expected = {f"/{n.name}" for n in GRAPHS[graph].nodes if n.start_if != "compressed_input"}
        assert expected <= names, (graph, listed.stdout, listed.stderr)


def test_topic_echo_once_prints_an_answer(graphs):
    echoed = ros2("topic", "echo", "--once", "--no-daemon", qos.DETECTIONS,
                  "vision_msgs/msg/Detection2DArray", domain=graphs["edge"], timeout_s=90)
    assert echoed.returncode == 0, echoed.stderr
    assert "frame_id: array_camera" in echoed.stdout and "detections:" in echoed.stdout


def test_param_set_takes_effect_and_refuses_out_of_range(graphs):
    watch, domain = graphs["watch"], graphs["edge"]
    refused = ros2("param", "set", *NO_DAEMON, "/scheduler", "cloud_latency_s", "500.0",
                   domain=domain)
    assert "Setting parameter failed" in refused.stderr, refused
    assert "cloud_latency_s" in refused.stderr or "range" in refused.stderr, refused.stderr
    read_only = ros2("param", "set", *NO_DAEMON, "/scheduler", "size_grid", "500",
                     domain=domain)
    assert "Setting parameter failed" in read_only.stderr, read_only
    try:
        done = ros2("param", "set", *NO_DAEMON, "/scheduler", "force_edge_only", "true",
                    domain=domain)
        assert "Set parameter successful" in done.stdout, done
        switched_ns = time.time_ns()
        # Frames captured after the switch are planned edge-only, for this reason.
        wait_until(lambda: len(watch.plans_after(switched_ns + 10**9)) >= 2, 90,
                   "two plans after force_edge_only:=true")
        later = watch.plans_after(switched_ns + 10**9)
        assert all(p.edge_only and p.reason == "edge-only mode" for p in later), [
            (p.edge_only, p.reason) for p in later]
        got = ros2("param", "get", *NO_DAEMON, "/scheduler", "force_edge_only", domain=domain)
        assert "True" in got.stdout, got
    finally:
        ros2("param", "set", *NO_DAEMON, "/scheduler", "force_edge_only", "false",
             domain=domain)


def test_lifecycle_set_pauses_and_resumes_without_losing_a_frame(graphs):
    watch, domain = graphs["watch"], graphs["edge"]
    paused = ros2("lifecycle", "set", *NO_DAEMON, "/scheduler", "deactivate", domain=domain)
    assert "Transitioning successful" in paused.stdout, paused
    paused_ns = time.time_ns()
    state = ros2("lifecycle", "get", *NO_DAEMON, "/scheduler", domain=domain)
    assert state.stdout.startswith("inactive"), state
    # While the scheduler is inactive, frames get no plan and are answered by the edge.
    wait_until(lambda: any(t.sequence > paused_ns and t.edge_reason == "no plan"
                           for t in watch.snapshot()[2]), 90, "an answer without a plan")
    resumed = ros2("lifecycle", "set", *NO_DAEMON, "/scheduler", "activate", domain=domain)
    assert "Transitioning successful" in resumed.stdout, resumed
    resumed_ns = time.time_ns()
    wait_until(lambda: watch.plans_after(resumed_ns), 90, "a plan after reactivation")
    # Every frame captured from before the pause until after the resume: one answer each.
    frames = [s for s in watch.snapshot()[0] if paused_ns - 3 * 10**9 < s < resumed_ns + 10**9]
    wait_until(lambda: set(frames) <= set(answered(watch.snapshot()[1])), 60,
               "answers to every frame around the pause")
    stamps = answered(watch.snapshot()[1])
    assert frames and all(stamps.count(s) == 1 for s in frames), frames


def test_interface_show_prints_the_documented_fields():
    shown = ros2("interface", "show", "hyperion_msgs/msg/QualityPlan", domain=0)
    assert shown.returncode == 0, shown.stderr
    for line in QUALITY_PLAN.read_text().splitlines():
        field = line.split("#", 1)[0].split()
        if len(field) >= 2:  # "<type> <name>": shown with its comment
            assert field[1] in shown.stdout, field
    comments = [line for line in shown.stdout.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 3, shown.stdout


@pytest.mark.parametrize(("graph", "arguments"), [
    ("edge", ["params_file", "image_topic", "compressed_topic", "use_camera",
              "compressed_input"]),
    ("cloud", ["params_file"]),
])
def test_launch_arguments_are_described(graph, arguments):
    shown = ros2("launch", "hyperion", f"{graph}.launch.py", "--show-args", domain=0)
    assert shown.returncode == 0, shown.stderr
    for name in arguments:
        described = re.search(rf"'{name}':\n +(\S.*)\n", shown.stdout)
        assert described and described.group(1).strip(), (name, shown.stdout)
