"""ParamSpec checks and descriptors; declare_params on a real (model-free) node."""

import pytest
import rclpy
from rclpy.node import Node

from hyperion_runtime.params import ParameterError, ParamSpec, declare_params

SPECS = (
    ParamSpec(name="rate", default=1.0, low=0.1, high=10.0, description="rate [Hz]"),
    ParamSpec(name="depth", default=2, low=1, high=8, description="depth [frames]"),
    ParamSpec(name="mode", default="a", choices=("a", "b"), description="mode [-]"),
    ParamSpec(name="qualities", default=[10, 90], low=1, high=100, description="q [1-100]"),
)


def test_descriptors_carry_ranges_and_read_only():
    rate, depth, mode, qualities = (spec.descriptor() for spec in SPECS)
    assert rate.floating_point_range[0].to_value == 10.0 and rate.read_only
    assert depth.integer_range[0].from_value == 1
    assert "one of: a, b" in mode.description
    assert not qualities.integer_range and "each in [1, 100]" in qualities.description


@pytest.mark.parametrize(("index", "value"), [(0, 11.0), (1, 0), (2, "c"), (3, [0, 50]),
                                              (3, [])])
def test_check_refuses_values_outside(index, value):
    with pytest.raises(ParameterError, match=SPECS[index].name):
        SPECS[index].check(value)


@pytest.mark.parametrize(("override", "name"), [("rate:=20.0", "rate"), ("depth:=9", "depth"),
                                                ("mode:=c", "mode"), ("rate:=fast", "rate"),
                                                ("qualities:=[5, 101]", "qualities")])
def test_declare_refuses_bad_overrides(override, name):
    context = rclpy.Context()
    rclpy.init(context=context, args=["x", "--ros-args", "-p", override])
    try:
        node = Node("params_probe", context=context)
        with pytest.raises(ParameterError, match=name):
            declare_params(node, SPECS)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_declare_returns_defaults_and_guards_later_sets():
    context = rclpy.Context()
    rclpy.init(context=context, args=["x"])
    try:
        node = Node("params_probe", context=context)
        values = declare_params(node, (*SPECS, ParamSpec(name="live", default=0.5, low=0.0,
                                                         high=1.0, read_only=False,
                                                         description="x [-]")))
        assert values == {"rate": 1.0, "depth": 2, "mode": "a", "qualities": [10, 90],
                          "live": 0.5}
        result = node.set_parameters([rclpy.parameter.Parameter("live", value=2.0)])[0]
        assert not result.successful
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_run_time_parameters_take_effect_and_read_only_ones_do_not_change():
    context = rclpy.Context()
    rclpy.init(context=context, args=["x"])
    try:
        node = Node("params_probe", context=context)
        live = ParamSpec(name="live", default=0.5, low=0.0, high=1.0, read_only=False,
                         description="x [-]")
        values = declare_params(node, (*SPECS, live))
        Parameter = rclpy.parameter.Parameter
        assert node.set_parameters([Parameter("live", value=0.25)])[0].successful
        assert values["live"] == 0.25
        refused = node.set_parameters([Parameter("live", value=1.5)])[0]
        assert not refused.successful and "range" in refused.reason and values["live"] == 0.25
        assert not node.set_parameters([Parameter("rate", value=2.0)])[0].successful
        assert values["rate"] == 1.0
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
