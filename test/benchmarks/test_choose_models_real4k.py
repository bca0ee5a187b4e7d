"""The real-4K selection script: pure helpers, and a clean skip without the frames."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.metrics.ap_matches import ImageMatches

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "choose_models_real4k.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("choose_models_real4k", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_skips_cleanly_without_the_frames(script, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out.json"
    monkeypatch.setattr(sys, "argv", ["x", "--json", str(out), "--data", str(tmp_path / "none"),
                                      "--cache", str(tmp_path / "cache")])
    script.main()
    assert "skipped" in capsys.readouterr().out
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_pass_counts(script):
    edge, cloud = script.edge_specs(), script.cloud_specs()
    assert script.passes(edge["nanodet 4x2 at 0.5"]) == 8
    assert script.passes(cloud["nanodet SAHI 640 + full"]) == 33  # 8x4 slices + full frame
    assert script.passes(cloud["nanodet SAHI 640"]) == 32
    assert script.passes(cloud["nanodet + flip SAHI 640 + full"]) == 66


def test_grown_boxes_and_empty_input(script):
    grown = script.grown(np.array([[10.0, 20.0, 20.0, 40.0]]), 0.5)
    assert grown.tolist() == [[0.0, 10.0, 30.0, 50.0]]
    assert script.grown(np.zeros((0, 4)), 2.0).shape == (0, 4)


def _matches(hits):
    return [ImageMatches(scores=np.linspace(0.9, 0.1, len(h)), hits=np.array(h, bool),
                         truths=len(h)) for h in hits]


def test_pick_prefers_the_cheapest_equivalent_within_the_limit(script):
    good = _matches([[True, True]] * 6)
    rows = [{"name": "slow best", "matches": good, "t": 3.0},
            {"name": "fast same", "matches": good, "t": 1.0},
            {"name": "fast bad", "matches": _matches([[False, False]] * 6), "t": 0.5},
            {"name": "unmeasured", "matches": good, "t": None}]
    choose = np.arange(6)
    assert script.pick(rows, choose, 2.0, "t")["name"] == "fast same"
    assert script.pick(rows, choose, 0.6, "t")["name"] == "fast bad"
    assert script.pick(rows, choose, 0.1, "t") is None
    best = script.pick(rows, choose, 5.0, "t", parsimonious=False)
    assert best["name"] in ("slow best", "fast same")
