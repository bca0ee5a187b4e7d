import json

import pytest

from hyperion_core import bench

STAGES = ("importance", "jenks", "reclass", "schedule", "encode", "decode", "ensemble")


def test_bench_writes_all_stages(tmp_path):
    pytest.importorskip("jenkspy")
    try:
        from hyperion_core.data.array_camera import find_vtest_clip

        find_vtest_clip()
    except FileNotFoundError as exc:
        pytest.skip(f"vtest clip missing: {exc}")
    out = tmp_path / "bench.json"
    assert bench.main(["--json", str(out), "--repeats", "1"]) == 0
    results = json.loads(out.read_text())
    for stage in STAGES:
        assert results[stage]["runs"] == 1 and results[stage]["median_ms"] > 0
    assert results["jenks_gvf"]["exact"] - results["jenks_gvf"]["fast"] <= 0.005
    assert 0.9 < results["codec_overhead_ratio"] <= 1.10
