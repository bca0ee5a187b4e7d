"""``hyperion eval`` arguments: the embedded traces are the default, ``--traces-root`` wins."""

from pathlib import Path

from hyperion_core.eval.cli import build_parser
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
