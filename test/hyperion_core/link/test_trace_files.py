import pytest

from hyperion_core.link.mahimahi import write_mahimahi
from hyperion_core.link.trace import Trace
from hyperion_core.link.trace_files import read_trace_file


def test_csv_rates_hold_until_the_next_row(tmp_path):
    path = tmp_path / "uplink.csv"
    path.write_text("time_s,rate_mbps\n0,8\n0.5,2\n1.0,0\n1.5,4\n")
    trace = read_trace_file(path)
    assert trace.rate_at(0.25) == 8e6 and trace.rate_at(0.75) == 2e6
    assert trace.rate_at(1.2) == 0.0 and trace.duration_s == pytest.approx(2.0)
    # 1 MB at 8 Mbit/s for 0.5 s then 2 Mbit/s: 4 Mbit in 0.5 s, 1 Mbit more in 0.5 s.
    assert trace.bits_until(1.0) == pytest.approx(5e6)


def test_mahimahi_round_trip_and_errors(tmp_path):
    original = Trace.from_steps([(12e6, 1.0), (3e6, 1.0)], loop=True, name="x")
    path = write_mahimahi(original, tmp_path / "x.mahimahi")
    trace = read_trace_file(path)
    assert trace.bits_until(2.0) == pytest.approx(original.bits_until(2.0), rel=0.01)
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,rate_mbps\n0,8\nhalf,2\n")
    with pytest.raises(ValueError, match=r"bad\.csv:3"):
        read_trace_file(bad)
    (tmp_path / "back.csv").write_text("0,1\n2,1\n1,1\n")
    with pytest.raises(ValueError, match="ascending"):
        read_trace_file(tmp_path / "back.csv")
    with pytest.raises(FileNotFoundError):
        read_trace_file(tmp_path / "missing.csv")
