"""The link between graphs over mutual TLS: an edge with a certificate from the link's CA
gets fused answers; an edge whose certificates come from another CA gets none."""

import pytest

from hyperion_core.link.certs import make_pki
from hyperion_msgs.msg import FrameTiming

from .graphs import SMALL_EDGE, Graph, Watch, domain_pair, free_port, stop_all, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]


def tls(node: str, pki, party: str) -> list[str]:
    return [f"{node}.tls_ca:={pki.ca_cert}", f"{node}.tls_cert:={pki.certs[party]}",
            f"{node}.tls_key:={pki.keys[party]}", f"{node}.tls_mutual:=true"]


def test_only_an_edge_certified_by_the_link_ca_gets_cloud_answers(tmp_path):
    ours, stranger = make_pki(tmp_path / "ours", days=1), make_pki(tmp_path / "other", days=1)
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    endpoint = f"tls/localhost:{port}"
    cloud = Graph("cloud", domain=cloud_domain,
                  params=[f"cloud_link.listen:={endpoint}", *tls("cloud_link", ours, "cloud")])
    watch, edge = Watch(edge_domain), None
    base = [*SMALL_EDGE, f"edge_link.connect:={endpoint}", "camera.rate_hz:=1.0",
            "camera.wait_for_subscribers:=4", "latency_budget_s:=6.0",
            "scheduler.cloud_latency_s:=1.5"]
    try:
        edge = Graph("edge", domain=edge_domain, params=[*base, *tls("edge_link", ours, "edge")])
        wait_until(lambda: any(t.source == FrameTiming.SOURCE_FUSED
                               for t in watch.snapshot()[2]), 150,
                   f"a fused answer over TLS\n{edge.output()[-3000:]}\n{cloud.output()[-2000:]}")
        assert edge.stop() == 0
        before = len(watch.snapshot()[2])
        edge = Graph("edge", domain=edge_domain,
                     params=[*base, "camera.max_frames:=5", *tls("edge_link", stranger, "edge")])
        wait_until(lambda: len(watch.snapshot()[2]) >= before + 5, 120,
                   f"5 answers for the stranger edge\n{edge.output()[-3000:]}")
        strangers = watch.snapshot()[2][before:]
        assert all(t.source == FrameTiming.SOURCE_EDGE for t in strangers), [
            (t.source, t.edge_reason) for t in strangers]
        assert all(t.deadline_met for t in strangers)
    finally:
        watch.close()
        stop_all(edge, cloud)
