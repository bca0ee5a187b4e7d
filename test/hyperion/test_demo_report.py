"""The demo report: summary figures match the records, files are readable."""

import json

import numpy as np
import pytest

from hyperion.demo_report import FrameRecord, write_report

cv2 = pytest.importorskip("cv2")


def make_records() -> list[FrameRecord]:
    return [
        FrameRecord(sequence=1, source="fused", latency_s=2.0, deadline_met=True,
                    bytes_sent=800_000, boxes=np.array([[10.0, 20, 50, 90]]),
                    scores=np.array([0.9]), qualities=(10, 50, 90), bandwidth_bps=20e6,
                    stages={"edge_detected": 0.5, "scored": 0.75, "scheduled": 0.8,
                            "encoded": 0.85, "cloud_answer": 1.9, "published": 2.0}),
        FrameRecord(sequence=2, source="edge", latency_s=6.5, deadline_met=False,
                    bytes_sent=0, edge_reason="cloud answer late"),
        FrameRecord(sequence=3, source="edge", latency_s=0.4, deadline_met=True,
                    bytes_sent=0, edge_reason="edge-only plan",
                    stages={"edge_detected": 0.3, "scored": 0.35, "scheduled": 0.37,
                            "published": 0.4}),
    ]


def test_summary_counts_sources_misses_and_bytes(tmp_path):
    records = make_records()
    summary = write_report(tmp_path, records, budget_s=6.0, frames_in=3)
    assert summary["answers_by_source"] == {"fused": 1, "edge": 2}
    assert summary["deadline_misses"] == 1
    assert summary["latency_s"]["median"] == 2.0
    assert summary["mb_sent_per_frame"] == pytest.approx(0.8 / 3)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert [f["sequence"] for f in on_disk["frames"]] == [1, 2, 3]
    assert on_disk["frames"][0]["detections"] == 1
    assert (tmp_path / "series.png").stat().st_size > 0


def test_annotated_video_has_one_frame_per_answered_frame(tmp_path):
    records = make_records()
    frames = {r.sequence: np.full((216, 384, 3), 40 * r.sequence, np.uint8) for r in records}
    write_report(tmp_path, records, budget_s=6.0, frames_in=3, frames=frames)
    capture = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == 3


def test_stage_table_takes_medians_over_the_frames_each_stage_ran_in(tmp_path):
    stages = write_report(tmp_path, make_records(), budget_s=6.0, frames_in=3)["stages"]
    assert stages["edge detection"] == {"median_s": 0.4, "frames": 2}
    assert stages["scheduling"]["median_s"] == pytest.approx((0.05 + 0.02) / 2)
    assert stages["encode + uplink + cloud + downlink"] == {"median_s": pytest.approx(1.1),
                                                          "frames": 1}
    assert stages["encoding"]["median_s"] == pytest.approx(0.05)
    assert stages["uplink + cloud + downlink"]["median_s"] == pytest.approx(1.05)
    # Fusion starts when the later of the edge and cloud answers is in.
    assert stages["fusion and publishing"]["median_s"] == pytest.approx((0.1 + 0.1) / 2)


def test_cpu_table_divides_by_frames_and_separates_the_models():
    from hyperion.demo_report import cpu_table

    start = {"edge_detector": 10.0, "cloud_detector": 5.0, "encoder": 1.0}
    end = {"edge_detector": 14.0, "cloud_detector": 13.0, "encoder": 3.0, "scorer": 1.0}
    table = cpu_table(start, end, frames=4, wall_s=8.0, cores=2)
    # A node first seen at the end (started late) counts from zero.
    assert table["cpu_s_per_frame"] == {"cloud_detector": 2.0, "edge_detector": 1.0,
                                        "encoder": 0.5, "scorer": 0.25}
    assert table["total_cpu_s_per_frame"] == 3.75
    assert table["graph_overhead_share"] == 0.75 / 3.75
    assert table["cpu_utilisation"] == 15.0 / 16.0
