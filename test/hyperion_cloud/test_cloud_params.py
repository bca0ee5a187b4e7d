"""Cloud node parameters map onto the core's SAHI and runtime settings unchanged."""

from hyperion_cloud.cloud_detector_node import PARAMS
from hyperion_edge.model_params import cloud_detector_spec


def test_defaults_map_to_paper_sahi_settings():
    spec = cloud_detector_spec({p.name: p.default for p in PARAMS})
    assert spec.sahi.overlap == 0.25 and spec.sahi.match_threshold == 0.25
    assert spec.sahi.postprocess == "NMS" and spec.sahi.slice_size == 640
    assert spec.runtime.intra_op_threads == 2
    assert spec.detector.score_threshold == 0.25


def test_link_parameters_default_to_loopback_listen():
    from hyperion_cloud.cloud_link_node import PARAMS as LINK
    from hyperion_edge.link_params import link_config

    config = link_config({p.name: p.default for p in LINK})
    assert config.listen == ("tcp/127.0.0.1:7447",) and config.connect == ()
