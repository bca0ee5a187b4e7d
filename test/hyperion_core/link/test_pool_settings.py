"""The router's settings file and the code agree on every default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("zenoh")

from hyperion_core.link.pool_service import DEFAULT_ROOT, PoolConfig
from hyperion_core.link.zenoh_link import DEFAULT_LEASE_S, LinkConfig

ROUTER_YAML = Path(__file__).resolve().parents[3] / "config" / "router.yaml"


def test_router_yaml_defaults_are_the_code_defaults():
    settings = yaml.safe_load(ROUTER_YAML.read_text())
    defaults = PoolConfig()
    for key, value in settings["pool"].items():
        assert getattr(defaults, key) == value, key
    assert settings["root"] == DEFAULT_ROOT
    assert settings["lease_s"] == DEFAULT_LEASE_S == LinkConfig(connect=("tcp/x:1",)).lease_s


@pytest.mark.parametrize("lease_s", [0.0, 0.49, 3600.1, float("nan")])
def test_lease_out_of_range_is_refused_naming_it(lease_s):
    with pytest.raises(ValueError, match=r"lease_s must be in \[0.5, 3600.0\] s"):
        LinkConfig(connect=("tcp/127.0.0.1:1",), lease_s=lease_s)


def test_lease_and_reconnect_period_reach_the_zenoh_config_in_milliseconds():
    conf = LinkConfig(connect=("tcp/127.0.0.1:1",), lease_s=2.5,
                      reconnect_period_s=0.5).to_zenoh()
    assert conf.get_json("transport/link/tx/lease") == "2500"
    retry = json.loads(conf.get_json("connect/retry"))
    assert retry["period_init_ms"] == retry["period_max_ms"] == 500


@pytest.mark.parametrize("period_s", [0.0, 61.0, float("nan")])
def test_reconnect_period_out_of_range_is_refused_naming_it(period_s):
    with pytest.raises(ValueError, match=r"reconnect_period_s must be in \[0.1, 60.0\] s"):
        LinkConfig(connect=("tcp/127.0.0.1:1",), reconnect_period_s=period_s)
