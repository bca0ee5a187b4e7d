"""Two real processes exchange payloads over zenoh on loopback (plain, shaped, mutual TLS)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zenoh")

from hyperion_core.link.token_bucket import TokenBucket
from hyperion_core.link.trace import Trace
from hyperion_core.link.zenoh_link import EdgeLink, LinkConfig

MB4 = 4_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _cloud(*args: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperion_core.link.cloud_echo", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()  # bounded: the process exits on error
        assert line == "READY", (line, proc.stderr.read() if proc.poll() is not None else "")
        yield proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class _Replies:
    def __init__(self) -> None:
        self.got: dict[int, int] = {}
        self.cond = threading.Condition()

    def __call__(self, seq: int, payload: bytes) -> None:
        with self.cond:
            self.got[seq] = len(payload)
            self.cond.notify_all()

    def wait(self, seq: int, timeout_s: float) -> int | None:
        with self.cond:
            self.cond.wait_for(lambda: seq in self.got, timeout=timeout_s)
            return self.got.get(seq)


def test_4mb_payload_and_reply_between_processes():
    port, prefix = _free_port(), f"test/{_free_port()}"
    payload = np.random.default_rng(0).integers(0, 256, MB4, dtype=np.uint8).tobytes()
    replies = _Replies()
    with _cloud("--listen", f"tcp/127.0.0.1:{port}", "--prefix", prefix,
                "--reply-bytes", "2048") as proc:
        cfg = LinkConfig(connect=(f"tcp/127.0.0.1:{port}",), key_prefix=prefix)
        with EdgeLink(config=cfg, on_reply=replies) as edge:
            assert edge.wait_connected(10.0)
            seqs = [edge.send(payload) for _ in range(2)]
            samples = [edge.wait_ack(s, 20.0) for s in seqs]
            assert all(s is not None for s in samples)
            assert [replies.wait(s, 20.0) for s in seqs] == [2048, 2048]
            print("4 MB transfers: " + ", ".join(
                f"{s.duration_s * 1e3:.1f} ms = {s.throughput_bps / 1e6:.0f} Mbit/s"
                for s in samples))
            assert [s.nbytes for s in edge.samples()] == [MB4, MB4]
            assert all(t > 0 for t in edge.throughputs_bps())
        first = proc.stdout.readline().strip()
    assert first == f'{{"seq": {seqs[0]}, "bytes": {MB4}}}'


def test_shaped_link_measures_trace_rate():
    port, prefix = _free_port(), f"test/{_free_port()}"
    rate = 40e6
    shaper = TokenBucket(trace=Trace.from_samples([rate], period_s=1.0))
    with _cloud("--listen", f"tcp/127.0.0.1:{port}", "--prefix", prefix):
        cfg = LinkConfig(connect=(f"tcp/127.0.0.1:{port}",), key_prefix=prefix)
        with EdgeLink(config=cfg, shaper=shaper) as edge:
            assert edge.wait_connected(10.0)
            measured = []
            for _ in range(3):
                sample = edge.wait_ack(edge.send(b"\0" * 2_000_000), 20.0)
                assert sample is not None
                measured.append(sample.throughput_bps)
    print("shaped at 40 Mbit/s, measured Mbit/s:", [round(m / 1e6, 1) for m in measured])
    for m in measured:
        assert abs(m - rate) <= 0.30 * rate, measured


def test_no_cloud_means_not_connected():
    cfg = LinkConfig(connect=(f"tcp/127.0.0.1:{_free_port()}",), key_prefix="test/none")
    with EdgeLink(config=cfg) as edge:
        assert not edge.wait_connected(1.0)
        seq = edge.send(b"lost")
        assert edge.wait_ack(seq, 0.5) is None
        assert edge.samples() == []


def test_config_validation():
    with pytest.raises(ValueError):
        LinkConfig(mode="router", connect=("tcp/127.0.0.1:1",))
    with pytest.raises(ValueError):
        LinkConfig()
    with pytest.raises(ValueError):
        LinkConfig(listen=("tls/localhost:1",), tls_mutual=True)


def _pki(directory: Path) -> dict[str, str]:
    """A throw-away CA with ``cloud`` and ``edge`` certificates, as ``hyperion certs`` makes."""
    pytest.importorskip("cryptography")
    from hyperion_core.link.certs import make_pki

    paths = make_pki(directory, days=1)
    return {"ca.pem": str(paths.ca_cert),
            **{f"{p}.pem": str(c) for p, c in paths.certs.items()},
            **{f"{p}.key": str(k) for p, k in paths.keys.items()}}


def _tls_cloud(endpoint: str, prefix: str, pki: dict[str, str]):
    return _cloud("--listen", endpoint, "--prefix", prefix, "--tls-ca", pki["ca.pem"],
                  "--tls-cert", pki["cloud.pem"], "--tls-key", pki["cloud.key"], "--tls-mutual")


def _tls_edge(endpoint: str, prefix: str, pki: dict[str, str], ca: str) -> LinkConfig:
    return LinkConfig(connect=(endpoint,), key_prefix=prefix, tls_ca=ca,
                      tls_cert=pki["edge.pem"], tls_key=pki["edge.key"], tls_mutual=True)


def test_mutual_tls_accepts_valid_client_and_refuses_others(tmp_path):
    pki = _pki(tmp_path)
    port, prefix = _free_port(), f"test/{_free_port()}"
    endpoint = f"tls/localhost:{port}"
    with _tls_cloud(endpoint, prefix, pki):
        # Negative case first: a client that trusts the CA but has no certificate.
        bare = LinkConfig(connect=(endpoint,), key_prefix=prefix, tls_ca=pki["ca.pem"])
        with EdgeLink(config=bare) as edge:
            assert not edge.wait_connected(3.0)
        # An edge whose certificate comes from another CA is refused too.
        stranger = _pki(tmp_path / "stranger")
        with EdgeLink(config=_tls_edge(endpoint, prefix, stranger, stranger["ca.pem"])) as edge:
            assert not edge.wait_connected(3.0)
        with EdgeLink(config=_tls_edge(endpoint, prefix, pki, pki["ca.pem"])) as edge:
            assert edge.wait_connected(10.0)
            assert edge.wait_ack(edge.send(b"x" * 100_000), 10.0) is not None


def test_edge_refuses_an_impostor_cloud(tmp_path):
    """A cloud whose certificate is not from the edge's CA never gets the edge's payloads."""
    pki, impostor = _pki(tmp_path / "ours"), _pki(tmp_path / "impostor")
    port, prefix = _free_port(), f"test/{_free_port()}"
    endpoint = f"tls/localhost:{port}"
    with _tls_cloud(endpoint, prefix, impostor) as cloud:
        with EdgeLink(config=_tls_edge(endpoint, prefix, pki, pki["ca.pem"])) as edge:
            assert not edge.wait_connected(3.0)
            edge.send(b"secret" * 1000)
        cloud.stdin.close()
        assert cloud.wait(timeout=10) == 0
        assert cloud.stdout.read().strip() == "", "the impostor received a payload"


def test_probe_is_acknowledged_but_never_delivered():
    port, prefix = _free_port(), f"test/{_free_port()}"
    endpoint = f"tcp/127.0.0.1:{port}"
    with _cloud("--listen", endpoint, "--prefix", prefix) as cloud:
        with EdgeLink(config=LinkConfig(connect=(endpoint,), key_prefix=prefix)) as edge:
            assert edge.wait_connected(10.0)
            sample = edge.wait_ack(edge.send(b"p" * 50_000, probe=True), 10.0)
            assert sample is not None and sample.nbytes == 50_000
            assert edge.oldest_in_flight() is None and edge.unacknowledged_bytes() == 0
        cloud.stdin.close()
        assert cloud.wait(timeout=10) == 0
        assert cloud.stdout.read().strip() == "", "a probe reached the cloud's callback"


def test_unacknowledged_payload_bounds_the_throughput():
    # Nobody listens: the payload stays in flight and its age keeps growing.
    config = LinkConfig(connect=(f"tcp/127.0.0.1:{_free_port()}",), key_prefix="test/none")
    with EdgeLink(config=config) as edge:
        assert edge.oldest_in_flight() is None
        edge.send(b"x" * 1000)
        first = edge.oldest_in_flight()
        assert first is not None and first[0] == 1000
        edge.send(b"y" * 10)
        later = edge.oldest_in_flight()
        assert later[0] == 1000 and later[1] >= first[1]
        assert edge.unacknowledged_bytes() == 1010


def test_transfer_unacknowledged_past_the_timeout_is_presumed_lost():
    config = LinkConfig(connect=(f"tcp/127.0.0.1:{_free_port()}",), key_prefix="test/lost",
                        ack_timeout_s=0.2)
    with EdgeLink(config=config) as edge:
        edge.send(b"x" * 1000)
        assert edge.oldest_in_flight() is not None and edge.unacknowledged_bytes() == 1000
        deadline = time.monotonic() + 5.0
        while edge.oldest_in_flight() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert edge.oldest_in_flight() is None and edge.unacknowledged_bytes() == 0
        assert edge.lost_transfers == 1
