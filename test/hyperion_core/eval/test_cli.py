"""``hyperion eval`` arguments: the embedded traces are the default, ``--traces-root`` wins;
constant and scaled-down uplinks for the slow-link study."""

from pathlib import Path

import pytest

from hyperion_core.eval.cli import build_parser, constant_link, load_links
from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT, load_memu


def test_default_traces_are_the_embedded_ones(monkeypatch):
    monkeypatch.delenv("HYPERION_TRACES_ROOT", raising=False)
    args = build_parser().parse_args(["--out", "x"])
    assert Path(args.traces_root) == EMBEDDED_TRACES_ROOT
    assert args.traces == ["driving/lte/8", "walking/5g/away/1"]
    for spec in args.traces:  # both load from the package, no /work/shared needed
        trace = load_memu(args.traces_root, spec)
        assert trace.duration_s > 10 and trace.mean_rate_bps() > 0


def test_traces_root_option_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPERION_TRACES_ROOT", str(tmp_path))
    assert Path(build_parser().parse_args(["--out", "x"]).traces_root) == tmp_path
    args = build_parser().parse_args(["--out", "x", "--traces-root", "/data/memu"])
    assert args.traces_root == Path("/data/memu")


def test_constant_and_scaled_uplinks(monkeypatch):
    monkeypatch.delenv("HYPERION_TRACES_ROOT", raising=False)
    args = build_parser().parse_args(["--out", "x", "--traces", "driving/lte/8",
                                      "--trace-scale", "0.1", "--constant-mbps", "2", "6",
                                      "--constant-rtt-ms", "40"])
    links = dict(load_links(args))
    assert set(links) == {"driving/lte/8 x0.1", "constant/2mbps", "constant/6mbps"}
    base = load_memu(EMBEDDED_TRACES_ROOT, "driving/lte/8")
    scaled = links["driving/lte/8 x0.1"].throughput
    assert scaled.mean_rate_bps() == pytest.approx(0.1 * base.mean_rate_bps())
    assert scaled.duration_s == base.duration_s
    two = links["constant/2mbps"]
    for start in (0.0, 37.3, 1000.0):  # 250 kB take one second whenever they start
        assert two.send(start, 250_000).end_s == pytest.approx(start + 1.0)
        assert two.rtt_s(start) == pytest.approx(0.04)
    assert dict(load_links(build_parser().parse_args(["--out", "x", "--traces"]))) == {}
    with pytest.raises(ValueError, match="rate > 0"):
        constant_link(0.0, 30.0)
    with pytest.raises(ValueError, match="> 0"):
        base.scaled(0.0)
