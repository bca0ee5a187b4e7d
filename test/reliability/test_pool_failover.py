"""Two routers, each with its own pool and worker; one is SIGKILLed: its edges move over.

Real processes over real zenoh, mutual TLS with per-edge access control on both routers:
router A lets in cam-a, cam-b and cam-c, router B only cam-a and cam-b; worker wa serves
A's pool, wb B's. Every edge lists A first, then B (zenoh connects to the first that
answers, and to the next when it goes). A is killed while its edges are offloading to it:

- cam-a and cam-b are fused again through B (printed: kill → first fused answer);
- cam-c, which B's access control does not let in, finds no pool there: from one deadline
  after the kill it offloads nothing and answers every frame alone (the negative case);
- no frame of any edge is answered twice, late or with another edge's answer.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("zenoh")
pytest.importorskip("cryptography")

from hyperion_core.link.certs import make_pki

from .pool_processes import ROUTER_CONFIG, Processes, free_port, go, report, wait_for_starts

FRAMES = 40
BUDGET_S = 3.0


def tls_args(pki, party: str) -> list[str]:
    return ["--tls-ca", str(pki.ca_cert), "--tls-cert", str(pki.certs[party]),
            "--tls-key", str(pki.keys[party])]


def test_edges_fail_over_to_the_second_router_whose_access_control_applies(tmp_path):
    pki = make_pki(tmp_path, parties=("router", "pool-worker", "cam-a", "cam-b", "cam-c"),
                   days=1)
    first, second = (f"tls/localhost:{free_port()}" for _ in range(2))
    with Processes() as procs:
        router_a = procs.router(first, ROUTER_CONFIG, "--edges", "cam-a,cam-b,cam-c",
                                *tls_args(pki, "router"))
        procs.router(second, ROUTER_CONFIG, "--edges", "cam-a,cam-b", *tls_args(pki, "router"))
        worker_a = procs.worker(first, "wa", 0.05, "--announce-jobs",
                                *tls_args(pki, "pool-worker"))
        procs.worker(second, "wb", 0.05, *tls_args(pki, "pool-worker"))
        names = ("cam-a", "cam-b", "cam-c")
        edges = [procs.edge(first, name, "--connect", second, "--frames", str(FRAMES),
                            "--fps", "2", "--budget-s", str(BUDGET_S), "--linger-s", "2",
                            *tls_args(pki, name))
                 for name in names]
        go(edges)
        wait_for_starts(worker_a, 15)  # A has served a few frames of its edges
        killed_s = time.monotonic()
        router_a.kill()
        router_a.wait(timeout=10)
        reports = dict(zip(names, (report(proc) for proc in edges), strict=True))
    failover = {}
    for name, got in reports.items():
        sent_at = got["sent_at_s"]
        answered_at = {int(i): t for i, t in got["answered_at_s"].items()}
        assert got["foreign"] == 0 and got["late"] == [], got
        assert all(n == 1 for n in got["answers"].values()), got["answers"]
        assert any(sent_at[i] < killed_s for i in answered_at), f"{name}: none fused via A"
        after = [t for i, t in answered_at.items() if sent_at[i] > killed_s]
        if name == "cam-c":
            assert after == [], f"cam-c was answered through B: {after}"
            late_offloads = [i for i in got["offloaded"] if sent_at[i] > killed_s + BUDGET_S]
            assert late_offloads == [], late_offloads
        else:
            assert after, f"{name}: nothing fused through B"
            failover[name] = round(min(after) - killed_s, 2)
    print(f"router A killed -> first fused answer through B: {failover} s")
