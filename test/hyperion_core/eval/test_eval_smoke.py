"""``hyperion eval --smoke``: the whole evaluation pipeline on 2 real frames and the two
embedded traces, with the real detectors (what the README promises CI runs)."""

import json

import pytest

from hyperion_core.eval.cli import main
from hyperion_core.eval.evaluate import METHODS

pytestmark = [pytest.mark.models, pytest.mark.slow]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("smoke")
    status = main(["--out", str(out), "--smoke", "--jobs", "1",
                   "--cache-dir", str(out / "cache")])
    assert status == 0
    for name in ("results.md", "fig8_accuracy_vs_fps.png", "fig9_time_series.png"):
        assert (out / name).is_file(), name
    return json.loads((out / "results.json").read_text())


def test_every_method_is_scored_with_an_interval(smoke_results):
    rows = smoke_results["methods"]
    # V2 is named by its fixed policy, e.g. "v2:10-50-90".
    assert {m.split(":")[0] for m in rows} == set(METHODS)
    for method, row in rows.items():
        ap = row["ap50"]
        assert 0.0 <= ap["low"] <= ap["value"] <= ap["high"] <= 1.0, method
        # 2 frames x 2 traces: every frame gets an answer (late ones count as violations).
        assert row["frames"] == 4, method


def test_offload_follows_each_method_s_design(smoke_results):
    rows = smoke_results["methods"]
    assert rows["edge-only"]["offload_mb_per_frame"]["value"] == 0.0
    assert rows["edge-only"]["edge_answer_ratio"] == 1.0
    assert rows["cloud-only"]["offload_mb_per_frame"]["value"] > 0.1
    # The real detectors on real frames find the reference's people. (Cloud-only is not
    # checked: without a warm-up its late first answers leave frames with nothing.)
    assert rows["edge-only"]["ap50"]["value"] > 0.5
    assert rows["hyperion"]["ap50"]["value"] > 0.5


def test_hyperion_gaps_are_paired_intervals(smoke_results):
    gaps = smoke_results["hyperion_minus"]
    others = set(smoke_results["methods"]) - {"hyperion"}
    assert others <= set(gaps)
    for method, gap in gaps.items():
        assert gap["low"] <= gap["value"] <= gap["high"], method
