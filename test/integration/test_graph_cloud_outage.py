"""The cloud dies mid-run: every later frame still gets an edge answer by its deadline, and
fused answers resume after the cloud restarts, without restarting the edge."""

import time

import pytest

from hyperion_msgs.msg import FrameTiming

from .harness import SMALL_EDGE, Graph, Probe, domain_pair, free_port, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
BUDGET_S = 6.0


def fused_after(probe: Probe, after_ns: int) -> bool:
    return any(t.source == FrameTiming.SOURCE_FUSED and t.sequence > after_ns
               for t in probe.snapshot()[2])


def test_edge_answers_through_a_cloud_outage():
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud_params = [f"cloud_link.listen:=tcp/127.0.0.1:{port}"]
    cloud = Graph("cloud", domain=cloud_domain, params=cloud_params)
    probe = Probe(edge_domain)
    edge = None
    try:
        edge = Graph("edge", domain=edge_domain, params=[
            *SMALL_EDGE, f"edge_link.connect:=tcp/127.0.0.1:{port}", "camera.rate_hz:=1.0",
            "camera.wait_for_subscribers:=4", f"latency_budget_s:={BUDGET_S}",
            "scheduler.cloud_latency_s:=1.5"])
        wait_until(lambda: fused_after(probe, 0), 120,
                   f"a first fused answer\n{edge.output()[-3000:]}\n{cloud.output()[-2000:]}")

        cloud.kill()
        killed_ns = time.time_ns()
        wait_until(lambda: sum(t.sequence > killed_ns for t in probe.snapshot()[2]) >= 3,
                   60, f"3 answers after the cloud died\n{edge.output()[-3000:]}")
        _, _, timings = probe.snapshot()
        late = [t for t in timings if t.published_stamp.sec * 10**9
                + t.published_stamp.nanosec > killed_ns]
        assert late and all(t.deadline_met for t in late), [(t.sequence, t.latency_s)
                                                           for t in late]
        after = [t for t in timings if t.sequence > killed_ns]
        assert all(t.source == FrameTiming.SOURCE_EDGE for t in after)

        restarted_ns = time.time_ns()
        cloud = Graph("cloud", domain=cloud_domain, params=cloud_params)
        wait_until(lambda: fused_after(probe, restarted_ns), 120,
                   f"fused answers after the restart\n{edge.output()[-3000:]}"
                   f"\n{cloud.output()[-2000:]}")
        assert edge.proc.poll() is None, "the edge graph was restarted or died"
        frames, answers, timings = probe.settled_snapshot()
        sequences = [t.sequence for t in timings]
        assert len(sequences) == len(set(sequences)) == len(answers)  # one answer per frame
        assert set(sequences) <= set(frames)
    finally:
        probe.close()
        if edge is not None:
            assert edge.stop() == 0, edge.output()[-3000:]
        cloud.stop()
