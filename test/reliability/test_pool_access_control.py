"""Per-edge certificates at the pool's router: an edge reaches only its own keys.

Real router (mutual TLS, zenoh access control by certificate common name), a real worker
and a real edge ``edge-b`` (processes); the test's own session holds ``edge-a``'s
certificate and tries to read edge-b's frames and answers and to publish a frame under
edge-b's prefix. Positive controls in the same run: edge-b's frames are all answered, and
edge-a's own frame is acknowledged on its own key.
"""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("zenoh")
pytest.importorskip("cryptography")

import zenoh

from hyperion_core.link.certs import make_pki
from hyperion_core.link.zenoh_link import LinkConfig, link_attachment

from .pool_processes import ROUTER_CONFIG, Processes, free_port, go, report

ROOT = "hyperion/pool"
FRAMES = 8


class Heard:
    """Samples received by a subscriber (zenoh's thread appends)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.event = threading.Event()

    def __call__(self, sample: zenoh.Sample) -> None:
        self.keys.append(str(sample.key_expr))
        self.event.set()


def tls_args(pki, party: str) -> list[str]:
    return ["--tls-ca", str(pki.ca_cert), "--tls-cert", str(pki.certs[party]),
            "--tls-key", str(pki.keys[party])]


def test_edge_a_can_neither_read_nor_write_edge_b_keys(tmp_path):
    pki = make_pki(tmp_path, parties=("router", "edge-a", "edge-b", "pool-worker"), days=1)
    endpoint = f"tls/localhost:{free_port()}"
    spy_config = LinkConfig(mode="client", connect=(endpoint,), tls_ca=str(pki.ca_cert),
                            tls_cert=str(pki.certs["edge-a"]), tls_key=str(pki.keys["edge-a"]),
                            tls_mutual=True).to_zenoh()
    with Processes() as procs:
        procs.router(endpoint, ROUTER_CONFIG, "--edges", "edge-a,edge-b",
                     "--worker-names", "pool-worker", *tls_args(pki, "router"))
        procs.worker(endpoint, "w1", 0.01, *tls_args(pki, "pool-worker"))
        victim = procs.edge(endpoint, "edge-b", "--frames", str(FRAMES), "--fps", "4",
                            "--budget-s", "60", "--linger-s", "2", *tls_args(pki, "edge-b"))
        with zenoh.open(spy_config) as spy:
            stolen = Heard()
            # Remote samples only: a session hears its own puts locally, ACL or not.
            keys = (f"{ROOT}/edge/edge-b/up", f"{ROOT}/edge/edge-b/down",
                    f"{ROOT}/edge/edge-b/ack", f"{ROOT}/edge/*/up", f"{ROOT}/**")
            subs = [spy.declare_subscriber(key, stolen, allowed_origin=zenoh.Locality.REMOTE)
                    for key in keys]
            own_ack = Heard()
            subs.append(spy.declare_subscriber(f"{ROOT}/edge/edge-a/ack", own_ack,
                                               allowed_origin=zenoh.Locality.REMOTE))
            # A forged frame under edge-b's prefix: were it let through, the pool would
            # answer it on edge-b's downlink, and edge-b would count a foreign answer.
            forged = b"\xff" * 64
            spy.put(f"{ROOT}/edge/edge-b/up", forged,
                    attachment=link_attachment(1, len(forged)))
            go([victim])
            # Edge-a's own frame (positive control: the spy's session works and is let in).
            for _ in range(50):
                spy.put(f"{ROOT}/edge/edge-a/up", forged,
                        attachment=link_attachment(1, len(forged)))
                if own_ack.event.wait(0.2):
                    break
            got = report(victim)
            assert own_ack.keys, "edge-a's own frame was never acknowledged"
            # The wildcards may carry edge-a's own acknowledgements; nothing of edge-b's.
            assert [key for key in stolen.keys if "/edge-b/" in key] == [], stolen.keys
            for sub in subs:
                sub.undeclare()
    assert got["answers"] == {str(i): 1 for i in range(FRAMES)}, got
    assert got["foreign"] == 0, got
