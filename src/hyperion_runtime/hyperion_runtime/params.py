"""Declaring node parameters from one table per node, with descriptors and validation.

Each node module lists its parameters as a tuple of :class:`ParamSpec`. The defaults there
must equal those in ``config/edge.yaml`` / ``config/cloud.yaml`` (a test compares them), so
a node started without the params file behaves like one started with it.

rclpy enforces numeric ranges itself (declaring a parameter whose override lies outside
its range raises ``InvalidParameterValueException``); string choices are checked here.
Either way the node stops at start-up with a :class:`ParameterError` naming the parameter
and what it allows, and ``main`` turns that into a non-zero exit.

Types: an integer given for a floating-point parameter (``-p latency_budget_s:=5``, or
``latency_budget_s: 5`` in a params file) is taken as that number (5.0), as a user means it,
and so is a list of integers for a list of floats; rclpy itself refuses them, so the given
value is read back and the parameter declared with the converted one. Any other wrong type
(``rate_hz:=fast``, ``grid_columns:=2.5``) stops the node with a message saying which type
was expected and which value of which type was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

Value = bool | int | float | str | list


class ParameterError(ValueError):
    """A parameter value the node cannot run with; the message names it and the range."""


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One parameter of a node.

    Args:
        name: parameter name.
        default: default value; its Python type fixes the ROS type (int, float, bool, str,
            or a list of one of those).
        description: what it does, including the unit in brackets, e.g. ``"[s]"``.
        low: inclusive lower bound for int/float parameters.
        high: inclusive upper bound for int/float parameters.
        choices: allowed values for string parameters.
        read_only: True where the node reads the value only at start-up; False for a
            value the node reads each time it uses it, so ``ros2 param set`` changes it
            while the node runs (the checks below still apply).
    """

    name: str
    default: Value
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = True

    def allowed(self) -> str:
        """The allowed values in words, for error messages."""
        if self.choices:
            return f"one of {list(self.choices)}"
        if self.low is not None or self.high is not None:
            return f"in [{self.low}, {self.high}]"
        return f"of type {type(self.default).__name__}"

    def descriptor(self) -> ParameterDescriptor:
        """The ROS descriptor: description, range, read-only flag."""
        text = self.description
        if self.choices:
            text += f" (one of: {', '.join(self.choices)})"
        elif isinstance(self.default, list) and self.low is not None:
            text += f" (each {self.allowed()})"
        desc = ParameterDescriptor(description=text, read_only=self.read_only)
        # rclpy checks ranges of scalars only; list elements are checked in :meth:`check`.
        bounded = self.low is not None and self.high is not None
        if bounded and isinstance(self.default, bool):
            raise TypeError(f"{self.name}: a bool has no range")
        if bounded and isinstance(self.default, int):
            desc.integer_range = [
                IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)
            ]
        elif bounded and isinstance(self.default, float):
            desc.floating_point_range = [
                FloatingPointRange(from_value=float(self.low), to_value=float(self.high), step=0.0)
            ]
        return desc

    def check(self, value: Value) -> None:
        """Raise :class:`ParameterError` unless ``value`` is allowed."""
        if self.choices and value not in self.choices:
            raise ParameterError(f"parameter {self.name}={value!r} not allowed: {self.allowed()}")
        items = list(value) if isinstance(value, list | tuple) else [value]
        if isinstance(self.default, list) and not items:
            raise ParameterError(f"parameter {self.name} must not be empty")
        for item in items:
            if not isinstance(item, int | float) or isinstance(item, bool):
                continue
            low_bad = self.low is not None and item < self.low
            if low_bad or (self.high is not None and item > self.high):
                raise ParameterError(
                    f"parameter {self.name}={value!r} out of range: {self.allowed()}")


def _kind(value: Value) -> str:
    """The type of ``value`` in words, e.g. ``"floating-point number"``."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "floating-point number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return f"list of {_kind(value[0])}s" if value else "list"
    return type(value).__name__


def _given(node: Node, name: str) -> Value:
    """The value given for ``name`` (``-p`` or a params file), whatever its type: read
    through a dynamically typed declaration, which is then taken back."""
    probe = node.declare_parameter(name, None, ParameterDescriptor(dynamic_typing=True))
    node.undeclare_parameter(name)
    return probe.value


def _integers_as_floats(default: Value, given: Value) -> float | list[float] | None:
    """``given`` converted to floats when it is integer where ``default`` is a float (or a
    list of integers where ``default`` is a list of floats); None otherwise."""
    if isinstance(default, float) and type(given) is int:
        return float(given)
    floats = isinstance(default, list) and default and isinstance(default[0], float)
    if floats and isinstance(given, list) and given and all(type(g) is int for g in given):
        return [float(g) for g in given]
    return None


def _declare(node: Node, spec: ParamSpec) -> Value:
    """Declare one parameter and return its value (integers given for a float parameter
    converted); raise :class:`ParameterError` for any other rejected value."""
    try:
        try:
            return node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
        except InvalidParameterTypeException:
            given = _given(node, spec.name)
            converted = _integers_as_floats(spec.default, given)
            if converted is None:
                wanted = _kind(spec.default)
                if spec.low is not None or spec.choices:
                    wanted += f" ({spec.allowed()})"
                raise ParameterError(
                    f"parameter {spec.name} has the wrong type: expected {wanted}, got "
                    f"{_kind(given)} {given!r}") from None
            value = node.declare_parameter(spec.name, converted, spec.descriptor(),
                                           ignore_override=True).value
            node.get_logger().info(f"parameter {spec.name}: {given!r} taken as {value!r}")
            return value
    except ParameterException as err:
        raise ParameterError(
            f"parameter {spec.name} rejected: must be {spec.allowed()} ({err})") from err


def declare_params(node: Node, specs: tuple[ParamSpec, ...]) -> dict[str, Any]:
    """Declare every spec on ``node`` and return the values in force, by name.

    Also installs a set-parameters callback that applies the same checks to later changes
    (rclpy itself refuses read-only parameters, out-of-range numbers and wrong types, with
    the reason); an accepted change of a run-time parameter (``read_only=False``) is
    written into the returned dictionary, where the node reads it.

    An integer given for a floating-point parameter is converted (see the module docstring).

    Raises:
        ParameterError: a value (from a params file or ``-p``) is out of range or of a
            wrong type.
    """
    values: dict[str, Any] = {}
    by_name = {spec.name: spec for spec in specs}
    for spec in specs:
        value = _declare(node, spec)
        spec.check(value)
        values[spec.name] = value

    def on_set(params: list[Parameter]) -> SetParametersResult:
        for param in params:
            spec = by_name.get(param.name)
            if spec is None:
                continue
            try:
                spec.check(param.value)
            except ParameterError as err:
                return SetParametersResult(successful=False, reason=str(err))
        if not hasattr(node, "add_post_set_parameters_callback"):  # Humble: no post-set hook
            apply(params)
        return SetParametersResult(successful=True)

    def apply(params: list[Parameter]) -> None:
        for param in params:
            spec = by_name.get(param.name)
            if spec is not None and not spec.read_only:
                values[param.name] = param.value

    node.add_on_set_parameters_callback(on_set)
    if hasattr(node, "add_post_set_parameters_callback"):  # called only once a set succeeded
        node.add_post_set_parameters_callback(apply)
    return values


def common_params() -> tuple[ParamSpec, ...]:
    """Parameters every Hyperion node declares (set under ``/**`` in the params files)."""
    return (
        ParamSpec(name="diagnostics_period_s", default=2.0, low=0.1, high=60.0,
                  description="period of the /diagnostics status [s]"),
        ParamSpec(name="autostart", default=True,
                  description="configure and activate at start-up; false: stay unconfigured "
                              "until a lifecycle manager (ros2 lifecycle set) moves it [bool]"),
    )
