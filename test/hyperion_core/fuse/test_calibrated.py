"""The calibrated fusion: grouping, scoring, what the cloud saw where, and its file."""

from dataclasses import replace

import numpy as np
import pytest
import yaml

from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.calibrated import (
    GROUP_FEATURES,
    CalibratedFusion,
    CloudView,
    LogisticMap,
    calibrate_edge,
    fuse_calibrated,
    fusion_to_dict,
    group_boxes,
    read_fusion,
    write_fusion,
)


def dets(boxes, scores, labels=None):
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return Detections(boxes=boxes, scores=np.asarray(scores, np.float64),
                      labels=np.zeros(len(boxes), np.int64) if labels is None
                      else np.asarray(labels, np.int64))


def fusion(**intercepts):
    groups = {g: LogisticMap(intercept=intercepts.get(g, 0.0),
                             weights=(0.0,) * len(f)) for g, f in GROUP_FEATURES.items()}
    return CalibratedFusion(mode="calibrated", groups=groups, match_iou=0.5, cloud_weight=0.6,
                            nms_iou=0.5)


def view(cls=1, quality=(10, 50, 90), downsample=1):
    return CloudView(class_map=np.full((10, 10), cls, np.uint8), qualities=quality,
                     downsample=downsample, patch=16)


def test_logistic_map_is_the_sigmoid_of_the_linear_score():
    m = LogisticMap(intercept=-1.0, weights=(2.0, 0.5))
    x = np.array([[0.0, 0.0], [1.0, 2.0], [-3.0, 1.0]])
    expected = 1 / (1 + np.exp(-(-1.0 + x @ np.array([2.0, 0.5]))))
    np.testing.assert_allclose(m.probability(x), expected)


def test_cloud_view_reads_the_class_at_each_box_centre():
    class_map = np.zeros((4, 4), np.uint8)
    class_map[0, 3] = 2
    class_map[3, 0] = 1
    v = CloudView(class_map=class_map, qualities=(10, 50, 90), downsample=4, patch=16)
    boxes = np.array([[50, 2, 60, 12], [2, 50, 12, 60], [20, 20, 30, 30], [900, 900, 910, 990]])
    quality, down = v.at(boxes)
    np.testing.assert_allclose(quality, [0.9, 0.5, 0.1, 0.1])  # off-grid: clipped to the edge
    np.testing.assert_allclose(down, [0.0, 0.0, 2.0, 2.0])     # class 0 at 4x


def test_groups_split_matched_and_unmatched_boxes_and_average_matched_coordinates():
    edge = dets([[0, 0, 10, 20], [100, 100, 110, 120]], [0.9, 0.3])
    cloud = dets([[1, 1, 11, 21], [50, 50, 60, 70]], [0.8, 0.7])
    g = group_boxes(edge, cloud, view(), match_iou=0.5, cloud_weight=0.6)
    np.testing.assert_allclose(g.boxes["matched"], [[0.6, 0.6, 10.6, 20.6]])
    np.testing.assert_allclose(g.boxes["cloud"], [[50, 50, 60, 70]])
    np.testing.assert_allclose(g.boxes["edge"], [[100, 100, 110, 120]])
    assert g.features["matched"].shape == (1, len(GROUP_FEATURES["matched"]))
    assert g.features["edge"][0, 0] == pytest.approx(np.log(0.3 / 0.7))


def test_each_group_is_scored_by_its_own_model():
    edge = dets([[0, 0, 10, 20], [100, 100, 110, 120]], [0.9, 0.3])
    cloud = dets([[1, 1, 11, 21], [50, 50, 60, 70]], [0.8, 0.7])
    out = fuse_calibrated(edge, cloud, fusion(matched=2.0, cloud=0.0, edge=-3.0), view())
    expected = sorted([1 / (1 + np.exp(-2.0)), 0.5, 1 / (1 + np.exp(3.0))], reverse=True)
    np.testing.assert_allclose(out.scores, expected)
    assert len(out) == 3


def test_an_edge_only_answer_keeps_its_boxes_and_takes_the_edge_alone_scale():
    edge = dets([[0, 0, 10, 20], [30, 30, 40, 50]], [0.9, 0.3])
    out = calibrate_edge(edge, fusion(edge_alone=1.0))
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [1 / (1 + np.exp(-1.0))] * 2)
    assert {tuple(b) for b in out.boxes} == {tuple(b) for b in edge.boxes}
    assert len(calibrate_edge(dets(np.zeros((0, 4)), []), fusion())) == 0


def test_empty_inputs_give_an_empty_answer():
    empty = dets(np.zeros((0, 4)), [])
    assert len(fuse_calibrated(empty, empty, fusion(), view())) == 0


def test_the_file_round_trips_and_is_written_byte_for_byte_the_same(tmp_path):
    f = CalibratedFusion(mode="calibrated", groups={g: LogisticMap(intercept=0.1 * k, weights=tuple(
        0.01 * (k + j) for j in range(len(feats))))
        for k, (g, feats) in enumerate(GROUP_FEATURES.items())},
        match_iou=0.4, cloud_weight=0.7, nms_iou=0.55, provenance={"frames": ["a"]})
    write_fusion(tmp_path / "a.yaml", f)
    write_fusion(tmp_path / "b.yaml", read_fusion(tmp_path / "a.yaml"))
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()
    back = read_fusion(tmp_path / "a.yaml")
    assert back.groups == f.groups and back.match_iou == 0.4 and back.cloud_weight == 0.7


def test_a_profiles_file_fusion_section_is_read(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"format": "x", "fusion": fusion_to_dict(fusion())}))
    assert read_fusion(path).match_iou == 0.5


@pytest.mark.parametrize(("edit", "named"), [
    (lambda d: d.pop("match_iou"), "match_iou"),
    (lambda d: d.update(cloud_weight=1.5), "cloud_weight"),
    (lambda d: d.update(nms_iou="high"), "nms_iou"),
    (lambda d: d["groups"].update(bikes={"intercept": 0, "weights": []}), "bikes"),
    (lambda d: d["groups"].pop("edge_alone"), "groups.edge_alone"),
    (lambda d: d["groups"]["cloud"].update(weights=[1.0]), "groups.cloud.weights"),
    (lambda d: d["groups"]["edge"].update(intercept=float("nan")), "groups.edge"),
    (lambda d: d.update(colour="red"), "colour"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_key(tmp_path, edit, named):
    doc = fusion_to_dict(fusion())
    edit(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError) as err:
        read_fusion(path)
    assert str(path) in str(err.value) and named in str(err.value)


def test_cloud_first_keeps_the_cloud_ranking_and_adds_edge_boxes_only_where_it_saw_poorly():
    class_map = np.ones((20, 20), np.uint8)
    class_map[:, :5] = 0  # x < 80 px: class 0
    v = CloudView(class_map=class_map, qualities=(10, 50, 90), downsample=2, patch=16)
    cloud = dets([[100, 100, 120, 140], [200, 200, 220, 240]], [0.3, 0.8])
    edge = dets([[10, 10, 30, 50], [150, 150, 170, 190], [101, 101, 121, 141]],
                [0.95, 0.9, 0.7])
    f = CalibratedFusion(mode="cloud_first", edge_keep_quality=10, tail_scale=0.1,
                         match_iou=0.5, cloud_weight=1.0, nms_iou=0.5)
    out = fuse_calibrated(edge, cloud, f, v)
    # The cloud's boxes first, as they were; the class-0 edge box (downsampled there) after
    # them at a tenth of its confidence; the edge box in a q50 region dropped; the matched
    # one is the cloud's.
    np.testing.assert_allclose(out.scores, [0.8, 0.3, 0.095])
    np.testing.assert_allclose(out.boxes[2], [10, 10, 30, 50])
    # Keep everywhere: the q50 box joins the tail too.
    out = fuse_calibrated(edge, cloud, replace(f, edge_keep_quality=100), v)
    np.testing.assert_allclose(out.scores, [0.8, 0.3, 0.095, 0.09])
    # Edge-only answers keep the detector's own scale in this mode.
    assert calibrate_edge(edge, f) is edge


def test_a_cloud_first_file_round_trips_and_needs_its_keys(tmp_path):
    f = CalibratedFusion(mode="cloud_first", edge_keep_quality=30, tail_scale=0.1,
                         match_iou=0.3, cloud_weight=1.0, nms_iou=0.5)
    write_fusion(tmp_path / "f.yaml", f)
    assert read_fusion(tmp_path / "f.yaml") == f
    doc = fusion_to_dict(f)
    doc["edge_keep_quality"] = 130
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError, match="edge_keep_quality"):
        read_fusion(tmp_path / "bad.yaml")
    doc["mode"] = "average"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError, match="mode"):
        read_fusion(tmp_path / "bad.yaml")
