"""What every Hyperion node shares: parameters, counters, diagnostics, stamps and ``main``.

``run_node`` is the body of every console-script ``main``: it spins the node on a
multi-threaded executor (so a timer is never stuck behind a long callback), turns a
:class:`~hyperion_edge.params.ParameterError` into exit status 2 with the message on
stderr, and always shuts the context down.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from hyperion_edge.diagnostics import Counters, DiagnosticsReporter
from hyperion_edge.params import ParameterError, ParamSpec, common_params, declare_params
from hyperion_edge.validation import InvalidMessage

#: Exit status of a node stopped by an invalid parameter.
EXIT_BAD_PARAMETER = 2


def stamp_ns(stamp: Time) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds (the frame ``sequence``)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Integer nanoseconds as a ``builtin_interfaces/Time``."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


class HyperionNode(Node):
    """A ``Node`` with declared parameters, event counters and periodic diagnostics."""

    def __init__(
        self, name: str, *, params: tuple[ParamSpec, ...], warn_on: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Args:
        name: node name.
        params: the node's parameter table (the common parameters are added).
        warn_on: counters that turn the diagnostics status to WARN while they grow.
        **kwargs: passed to ``rclpy.node.Node``.
        """
        super().__init__(name, **kwargs)
        self.p = declare_params(self, params + common_params())
        self.counters = Counters()
        self.diagnostics = DiagnosticsReporter(
            node=self, counters=self.counters, period_s=self.p["diagnostics_period_s"],
            warn_on=warn_on,
        )

    def now_ns(self) -> int:
        """The node clock now, integer nanoseconds."""
        return self.get_clock().now().nanoseconds

    def now_msg(self) -> Time:
        """The node clock now, as a message stamp."""
        return self.get_clock().now().to_msg()

    def skip(self, counter: str, message: str) -> None:
        """Count a skipped/malformed input and log it at most every 5 s."""
        self.counters.add(counter)
        self.get_logger().warning(
            f"{message} ({counter}: {self.counters.get(counter)})", throttle_duration_sec=5.0
        )

    def refuse(self, err: ValueError, what: str) -> None:
        """Count an input refused by a check and log it (rate-limited).

        Counts ``invalid_inputs`` (all refusals of this node) and the fault class
        (``invalid_<kind>`` of an :class:`InvalidMessage`, ``invalid_other`` otherwise).

        Args:
            err: why the input was refused.
            what: the input, in words (e.g. ``"frame 17"``).
        """
        self.counters.add("invalid_inputs")
        counter = err.counter if isinstance(err, InvalidMessage) else "invalid_other"
        self.skip(counter, f"{what} refused: {err}")

    def close(self) -> None:
        """Release threads and models; subclasses extend it. Called before destroy."""


def run_node(factory: Callable[[], HyperionNode], args: list[str] | None = None) -> int:
    """Create, spin and tear down one node; the body of every node's ``main``.

    Returns:
        0 after a normal shutdown (Ctrl-C, SIGTERM via the ROS context),
        :data:`EXIT_BAD_PARAMETER` when a parameter is invalid.
    """
    rclpy.init(args=sys.argv if args is None else args)
    node: HyperionNode | None = None
    executor = MultiThreadedExecutor(num_threads=4)
    try:
        node = factory()
        executor.add_node(node)
        executor.spin()
    except ParameterError as err:
        print(f"[ERROR] {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_PARAMETER
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0
