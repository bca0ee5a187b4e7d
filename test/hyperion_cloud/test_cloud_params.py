"""Cloud node parameters map onto the core's SAHI and runtime settings unchanged."""

from hyperion_cloud.cloud_detector_node import PARAMS
from hyperion_runtime.model_params import cloud_detector_spec


def test_defaults_are_the_registry_cloud_model():
    """The node's defaults run exactly the registry's (measured, documented) cloud model."""
    from dataclasses import replace

    from hyperion_core.models.registry import get_spec

    spec = cloud_detector_spec({p.name: p.default for p in PARAMS})
    assert spec.runtime.intra_op_threads == 2
    assert replace(spec, runtime=get_spec("cloud").runtime) == get_spec("cloud")


def test_link_parameters_default_to_loopback_listen():
    from hyperion_cloud.cloud_link_node import PARAMS as LINK
    from hyperion_runtime.link_params import link_config

    config = link_config({p.name: p.default for p in LINK})
    assert config.listen == ("tcp/127.0.0.1:7447",) and config.connect == ()
