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
WEIGHTS = ParamSpec(name="weights", default=[1.0, 0.5], low=0.0, high=10.0,
                    description="w [-]")


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


def declared(*args: str) -> tuple[dict, dict]:
    """declare_params(SPECS) on a fresh node started with ``args`` (after --ros-args); the
    values and the node's parameter types, read back."""
    context = rclpy.Context()
    rclpy.init(context=context, args=["x", "--ros-args", *args])
    try:
        node = Node("params_probe", context=context)
        try:
            values = declare_params(node, (*SPECS, WEIGHTS))
            types = {name: node.get_parameter(name).type_ for name in values}
            return values, types
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_an_integer_for_a_float_parameter_is_taken_as_that_number(tmp_path):
    Type = rclpy.parameter.Parameter.Type
    values, types = declared("-p", "rate:=5")
    assert values["rate"] == 5.0 and isinstance(values["rate"], float)
    assert types["rate"] == Type.DOUBLE  # declared as a double: later sets need doubles
    params = tmp_path / "params.yaml"
    params.write_text("params_probe:\n  ros__parameters:\n    rate: 2\n")
    values, _ = declared("--params-file", str(params))
    assert values["rate"] == 2.0 and isinstance(values["rate"], float)
    values, types = declared("-p", "weights:=[2, 3]")
    assert values["weights"] == [2.0, 3.0] and types["weights"] == Type.DOUBLE_ARRAY
    assert all(isinstance(w, float) for w in values["weights"])


def test_an_integer_for_a_float_parameter_is_still_range_checked():
    with pytest.raises(ParameterError, match=r"rate rejected: must be in \[0.1, 10.0\]"):
        declared("-p", "rate:=20")


@pytest.mark.parametrize(("override", "message"), [
    ("rate:=fast",
     "parameter rate has the wrong type: expected floating-point number (in [0.1, 10.0]), "
     "got string 'fast'"),
    ("depth:=2.5",
     "parameter depth has the wrong type: expected integer (in [1, 8]), "
     "got floating-point number 2.5"),
    ("mode:=3", "parameter mode has the wrong type: expected string (one of ['a', 'b']), "
     "got integer 3"),
    ("qualities:=[1.5, 2.5]", "parameter qualities has the wrong type: expected list of "
     "integers (in [1, 100]), got list of floating-point numbers [1.5, 2.5]"),
])
def test_other_wrong_types_name_the_expected_and_the_given_type(override, message):
    with pytest.raises(ParameterError) as err:
        declared("-p", override)
    assert str(err.value) == message
