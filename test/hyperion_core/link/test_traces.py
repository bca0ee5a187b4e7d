"""Trace type, 5G-MeMU loaders (own small files + the real dataset) and mahimahi I/O."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.link.mahimahi import PACKET_BITS, read_mahimahi, to_mahimahi_ms, write_mahimahi
from hyperion_core.link.trace import Trace
from hyperion_core.link.traces import (
    TraceSpecError,
    available_specs,
    load_memu,
    load_memu_ping,
    parse_list_file,
)

# The shared 5G-MeMU dataset beside the checkout (../shared); tests that read it skip without it.
REAL_ROOT = Path(__file__).resolve().parents[4] / "shared" / "traces" / "5g-memu"
SEP = "#" * 31


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def memu(tmp_path: Path) -> Path:
    _write(tmp_path, "throughput/driving/lte/throughput.list",
           f"{SEP}\nRun 1\n1.0,2.0,0.0,4.0\n{SEP}\nRun 3\n\n10,20\n")
    ts1 = ",".join(f"{18.7 + 0.1 * i:.1f}" for i in range(4))
    _write(tmp_path, "throughput/driving/5g/throughput.list",
           f"{SEP}\nRun 1\n{ts1}\n5,6,7,8\n0.0,0.1,0.2,0.2,0.4,0.5,0.6\n1,2,3,4,5,6,7\n")
    _write(tmp_path, "throughput/static/5g/away_p1.list", "Run 1\n100,120\n")
    _write(tmp_path, "throughput/static/5g/away_p2.list", "Run 2\n90\n")
    _write(tmp_path, "ping/driving/lte/ping.list", f"{SEP}\nRun 1\n30.0,50.0\n")
    return tmp_path


def test_parse_runs_out_of_order_and_blank_lines(tmp_path):
    p = _write(tmp_path, "a.list", f"Run 7\n1,2\n{SEP}\nRun 5\n\n3\n")
    runs = parse_list_file(p)
    assert list(runs) == [7, 5]
    assert runs[5][0].values.tolist() == [3.0] and runs[5][0].times_s is None


@pytest.mark.parametrize("text", ["1,2\n", "Run 1\n1\nRun 1\n2\n", "Run 1\n1,abc\n"])
def test_parse_rejects_bad_files(tmp_path, text):
    with pytest.raises(ValueError):
        parse_list_file(_write(tmp_path, "bad.list", text))


def test_load_untimestamped_uses_explicit_period(memu):
    tr = load_memu(memu, "driving/lte/1", period_s=0.5)
    assert tr.times_s.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert tr.rates_bps.tolist() == [1e6, 2e6, 0.0, 4e6]
    assert tr.duration_s == pytest.approx(2.0) and tr.name == "driving/lte/1"
    assert load_memu(memu, "driving/lte/3").period_s == 0.1  # documented default


def test_load_timestamped_segments(memu):
    seg0 = load_memu(memu, "driving/5g/1")
    np.testing.assert_allclose(seg0.times_s, [0.0, 0.1, 0.2, 0.3], atol=1e-9)
    assert seg0.rates_bps.tolist() == [5e6, 6e6, 7e6, 8e6]
    seg1 = load_memu(memu, "driving/5g/1:1")  # the repeated 0.2 is dropped
    np.testing.assert_allclose(seg1.times_s, [0.0, 0.1, 0.2, 0.4, 0.5, 0.6])
    assert seg1.rates_bps.tolist() == [1e6, 2e6, 3e6, 5e6, 6e6, 7e6]
    assert seg1.rate_at(0.35) == 3e6  # held across the gap


def test_spec_errors_list_what_exists(memu):
    with pytest.raises(TraceSpecError, match="driving/lte/3"):
        load_memu(memu, "lte/driving/8")  # network/scenario order is not accepted
    with pytest.raises(TraceSpecError, match=r"runs there: \[1, 3\]"):
        load_memu(memu, "driving/lte/2")
    with pytest.raises(TraceSpecError, match="holds 2 files"):
        load_memu(memu, "static/5g/1")
    with pytest.raises(TraceSpecError, match="segment"):
        load_memu(memu, "driving/lte/1:1")
    with pytest.raises(TraceSpecError, match="malformed"):
        load_memu(memu, "driving")
    assert load_memu(memu, "static/5g/away_p2/2").rates_bps.tolist() == [90e6]
    assert "static/5g/away_p1/1" in available_specs(memu)


def test_ping_in_seconds(memu):
    p = load_memu_ping(memu, "driving/lte/1", period_s=1.0)
    assert p.rtt_at(0.5) == pytest.approx(0.030) and p.rtt_at(2.5) == pytest.approx(0.030)


def test_trace_rate_bits_and_inverse():
    tr = Trace.from_steps([(8e6, 2.0), (0.0, 1.0), (16e6, 1.0)], loop=True)
    assert tr.duration_s == 4.0 and tr.total_bits == 32e6
    assert tr.rate_at(2.5) == 0.0 and tr.rate_at(4.5) == 8e6
    assert tr.bits_until(3.5) == pytest.approx(24e6)
    # Crossing an outage: 8 Mbit from t=1.5 needs 0.5 s at 8, 1 s outage, 0.25 s at 16.
    assert tr.time_for_bits(1.5, 8e6) == pytest.approx(3.25)
    assert tr.time_for_bits(0.0, 32e6) == pytest.approx(4.0)  # earliest, not after the loop
    assert tr.time_for_bits(0.0, 40e6) == pytest.approx(5.0)
    once = Trace.from_steps([(8e6, 1.0)], loop=False)
    assert once.rate_at(5.0) == 0.0 and math.isinf(once.time_for_bits(0.5, 8e6))
    np.testing.assert_allclose(tr.window_rates_bps(1.0), [8e6, 8e6, 0, 16e6])


@pytest.mark.parametrize("times,rates", [([], []), ([0.0, 0.0], [1, 1]), ([0.0], [np.nan]),
                                         ([0.0], [-1.0]), ([1.0], [1.0])])
def test_trace_rejects_degenerate_input(times, rates):
    with pytest.raises(ValueError):
        Trace(times_s=np.array(times), rates_bps=np.array(rates))


def test_mahimahi_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    tr = Trace.from_samples(rng.uniform(0, 20e6, 30), period_s=0.1)
    path = write_mahimahi(tr, tmp_path / "t.mm")
    ms = np.array([int(x) for x in path.read_text().split()])
    assert np.all(np.diff(ms) >= 0) and ms[0] >= 1 and ms[-1] == 3000
    back = read_mahimahi(path, bin_s=0.1)
    assert back.duration_s == pytest.approx(3.0)
    # Each bin may gain or lose one packet at either edge (ms rounding), no more.
    assert np.max(np.abs(back.rates_bps - tr.rates_bps)) <= 2 * PACKET_BITS / 0.1 + 1
    assert back.total_bits == pytest.approx(tr.total_bits, abs=PACKET_BITS)


def test_mahimahi_reader_counts_and_errors(tmp_path):
    tr = read_mahimahi(_write(tmp_path, "a", "1\n1\n500\n1000\n"), bin_s=0.5)
    assert tr.rates_bps.tolist() == [2 * PACKET_BITS / 0.5, 2 * PACKET_BITS / 0.5]
    for bad in ["", "0\n", "5\n3\n", "1.5\n"]:
        with pytest.raises(ValueError):
            read_mahimahi(_write(tmp_path, "b", bad))
    with pytest.raises(ValueError):
        to_mahimahi_ms(Trace.from_steps([(1000.0, 1.0)]))


@pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f"dataset not at {REAL_ROOT}")
def test_real_dataset_lte_driving_8():
    specs = available_specs(REAL_ROOT)
    assert "driving/lte/8" in specs and len(specs) > 100
    tr = load_memu(REAL_ROOT, "driving/lte/8")
    assert tr.times_s.size == 5740 and tr.duration_s == pytest.approx(574.0)
    assert 20e6 < tr.mean_rate_bps() < 40e6 and tr.rates_bps.max() < 100e6
    assert len(parse_list_file(REAL_ROOT / "throughput/driving/lte/throughput.list")) == 10
    ts = load_memu(REAL_ROOT, "driving/5g/1")
    assert np.median(np.diff(ts.times_s)) == pytest.approx(0.1)
    print(f"driving/lte/8: {tr.times_s.size} samples, {tr.duration_s:.1f} s, "
          f"mean {tr.mean_rate_bps() / 1e6:.1f} Mbit/s; {len(specs)} throughput runs")


def test_embedded_runs_load():
    from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT

    for spec in ("driving/lte/8", "walking/5g/away/1"):
        assert load_memu(EMBEDDED_TRACES_ROOT, spec).duration_s > 50


@pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f"dataset not at {REAL_ROOT}")
def test_embedded_runs_match_the_dataset():
    """The shipped excerpt is the dataset's run, sample for sample."""
    from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT

    for spec in ("driving/lte/8", "walking/5g/away/1"):
        embedded = load_memu(EMBEDDED_TRACES_ROOT, spec)
        original = load_memu(REAL_ROOT, spec)
        np.testing.assert_array_equal(embedded.rates_bps, original.rates_bps)
