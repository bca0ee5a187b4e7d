"""The real edge graph behind the shared pool: `hyperion run router`, `hyperion run cloud
--workers 2` (the real cloud detector) and an edge graph whose edge_link is a pool client
get fused answers, one per frame."""

import pytest

from hyperion.session import HYPERION
from hyperion_msgs.msg import FrameTiming, LinkStats
from hyperion_runtime import qos

from .graphs import SMALL_EDGE, Graph, Watch, domain_pair, free_port, stop_all, wait_until
from .pool_processes import Processes

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]


def test_edge_graph_gets_fused_answers_from_a_pool_of_two_workers():
    edge_domain, cloud_domain = domain_pair()
    endpoint = f"tcp/127.0.0.1:{free_port()}"
    workers = None
    watch, edge = Watch(edge_domain), None
    delays: list[float] = []
    watch.node.create_subscription(LinkStats, qos.LINK_STATS,
                                   lambda m: delays.append(m.cloud_queue_delay_s),
                                   qos.latest_state_qos())
    try:
        with Processes() as procs:
            procs.command(HYPERION, "run", "router", "--listen", endpoint)
            workers = Graph("cloud", domain=cloud_domain, params=["cloud_detector.threads:=1"],
                            extra=("--workers", "2", "--router", endpoint, "--worker-id",
                                   "test"))
            edge = Graph("edge", domain=edge_domain, params=[
                *SMALL_EDGE, "edge_link.mode:=client", f"edge_link.connect:={endpoint}",
                "edge_link.key_prefix:=hyperion/pool/edge/cam-1", "camera.rate_hz:=1.0",
                "camera.max_frames:=8", "camera.wait_for_subscribers:=4",
                "latency_budget_s:=6.0", "scheduler.cloud_latency_s:=1.5"])
            wait_until(lambda: len(watch.snapshot()[2]) >= 8, 240,
                       f"8 answers\n{edge.output()[-3000:]}\n{workers.output()[-2000:]}")
            timings = watch.snapshot()[2]
            fused = [t for t in timings if t.source == FrameTiming.SOURCE_FUSED]
            assert fused, [(t.source, t.edge_reason) for t in timings]
            sequences = [t.sequence for t in timings]
            assert len(sequences) == len(set(sequences)) == 8
            # The pool's queue delay reached the edge graph (any frame waits a little).
            assert any(d > 0 for d in delays), delays[-10:]
    finally:
        watch.close()
        stop_all(edge, workers)
