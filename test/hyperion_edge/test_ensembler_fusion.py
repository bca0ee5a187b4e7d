"""The ensembler node's fusion: the fitted fusion loaded from the parameter, applied with
what the cloud saw where; Eq. 6 on request."""

import numpy as np
import pytest

from hyperion_core.fuse.calibrated import CalibratedFusion, CloudView
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.schedule.profile_file import SHIPPED_PROFILES, read_profiles
from hyperion_edge.ensembler_node import fuse, load_fusion, rescore_edge
from hyperion_runtime.detection_bridge import BoxList
from hyperion_runtime.params import ParameterError


def boxes(rows, scores, name="person"):
    return BoxList(boxes=np.asarray(rows, np.float64).reshape(-1, 4),
                   scores=np.asarray(scores, np.float64), class_names=(name,) * len(scores))


def test_the_default_is_the_shipped_profiles_fusion_and_eq6_is_one_value_away():
    assert load_fusion("") == read_profiles(SHIPPED_PROFILES).fusion
    assert load_fusion("") is not None
    assert load_fusion("eq6") is None


def test_a_missing_fusion_file_is_a_parameter_error_naming_it(tmp_path):
    with pytest.raises(ParameterError, match="fusion_file"):
        load_fusion(str(tmp_path / "nope.yaml"))


def test_cloud_first_in_the_node_keeps_the_cloud_answer_first():
    fusion = CalibratedFusion(mode="cloud_first", edge_keep_quality=10, tail_scale=0.1,
                              match_iou=0.5, cloud_weight=1.0, nms_iou=0.5)
    class_map = np.zeros((20, 20), np.uint8)
    view = CloudView(class_map=class_map, qualities=(10, 50, 90), downsample=1, patch=16)
    edge = boxes([[10, 10, 30, 50], [100, 100, 120, 140]], [0.9, 0.8])
    cloud = boxes([[101, 101, 121, 141]], [0.4])
    out = fuse(edge, cloud, fusion, view)
    np.testing.assert_allclose(out.scores, [0.4, 0.09])
    assert out.class_names == ("person", "person")
    with pytest.raises(ValueError):
        fuse(edge, cloud, fusion, None)
    eq6 = fuse(edge, cloud, EnsembleConfig())
    assert len(eq6) == 2 and eq6.scores[1] == pytest.approx(0.6 * 0.4 + 0.4 * 0.8)
    assert rescore_edge(edge, fusion).scores.tolist() == [0.9, 0.8]
