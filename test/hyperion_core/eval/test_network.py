"""Trace-driven transfer times against hand-computed cases."""

import math

import pytest

from hyperion_core.eval.network import Link, ping_for
from hyperion_core.link.trace import DelayTrace, Trace


def step_trace():
    # 8 Mbit/s for 1 s, outage for 1 s, 16 Mbit/s for 2 s; no loop (down after 4 s).
    return Trace.from_steps([(8e6, 1.0), (0.0, 1.0), (16e6, 2.0)], loop=False)


def transfer(trace, start_s, nbytes, **kwargs):
    return Link(throughput=trace).send(start_s, nbytes, **kwargs)


def mean_rate_bps(trace, t0, t1):
    return Link(throughput=trace).mean_rate_bps(t0, t1)


def test_transfer_within_one_step():
    # 500 kB = 4 Mbit at 8 Mbit/s from t=0.25: 0.5 s.
    sent = transfer(step_trace(), 0.25, 500_000)
    assert sent.completed and sent.end_s == pytest.approx(0.75)
    assert sent.throughput_bps() == pytest.approx(8e6)


def test_transfer_waits_out_an_outage():
    # From t=0.5: 4 Mbit by t=1.0, nothing until 2.0, remaining 4 Mbit at 16 Mbit/s: 2.25.
    sent = transfer(step_trace(), 0.5, 1_000_000)
    assert sent.completed and sent.end_s == pytest.approx(2.25)
    assert sent.throughput_bps() == pytest.approx(8e6 / 1.75)


def test_transfer_started_in_outage():
    sent = transfer(step_trace(), 1.5, 2_000_000)  # 16 Mbit from 2.0 at 16 Mbit/s
    assert sent.end_s == pytest.approx(3.0)


def test_cancelled_transfer_is_charged_only_the_bits_carried():
    sent = transfer(step_trace(), 0.5, 1_000_000, cancel_at_s=2.1)
    assert not sent.completed
    assert sent.end_s == pytest.approx(2.1)
    assert sent.bits_sent == pytest.approx(4e6 + 1.6e6)
    assert sent.bytes_sent == pytest.approx((4e6 + 1.6e6) / 8)


def test_transfer_past_the_end_never_completes():
    sent = transfer(step_trace(), 3.5, 10_000_000)
    assert not sent.completed and math.isinf(sent.end_s)
    assert sent.bits_sent == pytest.approx(8e6)


def test_zero_bytes_take_no_time_and_probe_rate():
    assert transfer(step_trace(), 1.2, 0).end_s == pytest.approx(1.2)
    assert mean_rate_bps(step_trace(), 0.5, 1.5) == pytest.approx(4e6)
    assert mean_rate_bps(step_trace(), 1.5, 1.5) == 0.0


def test_round_trip_times_come_from_the_ping_trace():
    ping = DelayTrace(times_s=[0.0, 1.0], rtt_s=[0.02, 0.05], period_s=1.0, loop=False)
    link = Link(throughput=step_trace(), ping=ping)
    assert link.rtt_s(0.5) == pytest.approx(0.02) and link.rtt_s(1.5) == pytest.approx(0.05)
    assert Link(throughput=step_trace()).rtt_s(0.5) == 0.0


def test_ping_for_falls_back_to_the_same_file(tmp_path):
    for kind, values in (("throughput", "30,31,29"), ("ping", "20,25,30")):
        folder = tmp_path / kind / "driving" / "lte"
        folder.mkdir(parents=True)
        (folder / f"{kind}.list").write_text(f"#####\nRun 1\n{values}\n")
    exact = ping_for(tmp_path, "driving/lte/1")
    assert exact is not None and exact.rtt_at(0.0) == pytest.approx(0.020)
    # No ping run 7: the first run of the same file stands in.
    fallback = ping_for(tmp_path, "driving/lte/7")
    assert fallback is not None and fallback.rtt_at(0.15) == pytest.approx(0.025)
    assert ping_for(tmp_path, "walking/5g/away/1") is None

