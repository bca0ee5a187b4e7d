"""The real edge graph behind the shared pool while its router is SIGKILLed and restarted.

`hyperion run router`, `hyperion run cloud --workers 1` (the real cloud detector) and an
edge graph whose edge_link is a client of the router. Once a frame is fused, the router
is killed for 10 s and started again; nothing else is restarted. Checked: the scheduler
plans every frame captured more than one deadline after the kill edge-only ("link down"
among the reasons), every frame captured during the outage is answered, frames are fused
again after the restart, and no frame is answered twice. Deadlines are 6 s (this loaded
2-core machine); only the outage is a set time.
"""

import time

import pytest

from hyperion.session import HYPERION
from hyperion_msgs.msg import QualityPlan

from .graphs import SMALL_EDGE, Graph, Watch, domain_pair, free_port, stop_all, wait_until
from .pool_processes import Processes
from .test_graph_faults import assert_one_answer_per_frame, fused_after

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
BUDGET_S = 6.0
OUTAGE_S = 10.0


def stamp_ns(plan: QualityPlan) -> int:
    return plan.header.stamp.sec * 10**9 + plan.header.stamp.nanosec


def test_edge_graph_behind_a_killed_router_answers_alone_then_fuses_again():
    edge_domain, cloud_domain = domain_pair()
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    workers = edge = None
    watch = Watch(edge_domain)
    try:
        with Processes() as procs:
            router = procs.command(HYPERION, "run", "router", "--listen", endpoint)
            workers = Graph("cloud", domain=cloud_domain, params=["cloud_detector.threads:=1"],
                            extra=("--workers", "1", "--router", endpoint, "--worker-id",
                                   "test"))
            edge = Graph("edge", domain=edge_domain, params=[
                *SMALL_EDGE, "edge_link.mode:=client", f"edge_link.connect:={endpoint}",
                "edge_link.key_prefix:=hyperion/pool/edge/cam-1", "camera.rate_hz:=1.0",
                "camera.wait_for_subscribers:=4", f"latency_budget_s:={BUDGET_S}",
                "scheduler.cloud_latency_s:=1.5"])
            wait_until(lambda: fused_after(watch, 0), 240,
                       f"a first fused answer\n{edge.output()[-3000:]}")
            killed_ns = time.time_ns()
            router.kill()
            router.wait(timeout=10)
            time.sleep(OUTAGE_S)  # the outage under test, not a wait for readiness
            restarted_ns = time.time_ns()
            procs.command(HYPERION, "run", "router", "--listen", endpoint)
            wait_until(lambda: fused_after(watch, restarted_ns), 120,
                       f"a fused answer after the restart\n{edge.output()[-3000:]}\n"
                       f"{workers.output()[-2000:]}")
            frames, answers, _ = watch.settled_snapshot()
            assert_one_answer_per_frame(watch)
    finally:
        watch.close()
        stop_all(edge, workers)
    outage = [p for p in watch.plans
              if killed_ns + BUDGET_S * 1e9 < stamp_ns(p) < restarted_ns]
    assert outage, "no frame planned during the outage"
    assert all(p.edge_only for p in outage), [(p.edge_only, p.reason) for p in outage]
    assert "link down" in {p.reason for p in outage}, {p.reason for p in outage}
    print(f"{len(outage)} frames planned during the outage, all edge-only: "
          f"{sorted({p.reason for p in outage})}")
    answered = {a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers}
    in_outage = [s for s in frames if killed_ns < s < restarted_ns]
    assert in_outage and set(in_outage) <= answered, (len(in_outage), len(answered))
