"""What every Hyperion node shares: parameters, counters, diagnostics, lifecycle, ``main``.

Every node is a ROS 2 lifecycle (managed) node. Its parameters are declared at
construction, so an invalid value stops it at once; everything else (models, publishers,
subscriptions, timers, worker threads) is created by its :meth:`HyperionNode.configure`,
run by the *configuring* transition. What is created there belongs to the lifecycle:
publishers publish only while the node is *active*, subscription and timer callbacks run
only while it is active (inputs arriving otherwise are counted as
``inputs_while_inactive`` and dropped), and *cleaning up* destroys them and releases the
node's threads and models. Diagnostics keep reporting in every state.

``run_node`` is the body of every console-script ``main``: with ``autostart`` (default)
it configures and activates the node, then spins it on a multi-threaded executor (so a
timer is never stuck behind a long callback); it turns a
:class:`~hyperion_runtime.params.ParameterError` into exit status 2 with the message on
stderr, and always shuts the context down.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.subscription import Subscription

from hyperion_runtime.diagnostics import ACTIVE, LIFECYCLE_KEY, Counters, DiagnosticsReporter
from hyperion_runtime.params import ParameterError, ParamSpec, common_params, declare_params
from hyperion_runtime.validation import InvalidMessage

#: Exit status of a node stopped by an invalid parameter.
EXIT_BAD_PARAMETER = 2
RCLError = rclpy_implementation.RCLError
#: Whether this rclpy hands subscription callbacks the message info (Iron and later; not
#: Humble), e.g. the DDS source timestamp.
MESSAGE_INFO_SUPPORTED = hasattr(Subscription, "CallbackType")


def stamp_ns(stamp: Time) -> int:
    """A ``builtin_interfaces/Time`` as integer nanoseconds (the frame ``sequence``)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    """Integer nanoseconds as a ``builtin_interfaces/Time``."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


class HyperionNode(LifecycleNode):
    """A lifecycle node with declared parameters, event counters and periodic diagnostics."""

    #: True while :meth:`configure` runs (a class default: ``Node.__init__`` already
    #: creates publishers, before any instance attribute exists).
    _configuring = False

    def __init__(
        self, name: str, *, params: tuple[ParamSpec, ...], warn_on: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        """Args:
        name: node name.
        params: the node's parameter table (the common parameters are added).
        warn_on: counters that turn the diagnostics status to WARN while they grow.
        **kwargs: passed to ``rclpy.lifecycle.LifecycleNode``.
        """
        super().__init__(name, **kwargs)
        self.p = declare_params(self, params + common_params())
        self.counters = Counters()
        self.diagnostics = DiagnosticsReporter(
            node=self, counters=self.counters, period_s=self.p["diagnostics_period_s"],
            warn_on=warn_on,
        )
        self.diagnostics.set_value(LIFECYCLE_KEY, "unconfigured")
        self.configure_error: Exception | None = None
        self._active = False
        self._owned: list[Any] = []  # entities created by configure()
        self._released = True

    def configure(self) -> None:
        """Create the node's models, publishers, subscriptions, timers and threads."""

    def close(self) -> None:
        """Release threads and models created by :meth:`configure`; subclasses extend it."""

    # -- lifecycle transitions ------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._configuring, self.configure_error = True, None
        try:
            self.configure()
        except Exception as err:  # kept for run_node: a bad parameter exits 2, others crash
            self.configure_error = err
            self.get_logger().error(f"configuring failed: {err}")
            self._released = True  # a half-built node has nothing close() could release
            self._teardown()
            return TransitionCallbackReturn.FAILURE
        finally:
            self._configuring = False
        self._released = False
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self._report_lifecycle(ACTIVE)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._report_lifecycle("inactive")
        return super().on_deactivate(state)

    def _report_lifecycle(self, state: str) -> None:
        """Say the new state on ``/diagnostics`` at once: a camera may be waiting for it."""
        self.diagnostics.set_value(LIFECYCLE_KEY, state)
        self.diagnostics.publish()

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._report_lifecycle("unconfigured")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self.release()
        return super().on_shutdown(state)

    def release(self) -> None:
        """:meth:`close`, once per configuration (cleanup, shutdown and exit all call it)."""
        if not self._released:
            self._released = True
            self.close()

    def _teardown(self) -> None:
        self._active = False
        self.release()
        destroy = {"Subscription": self.destroy_subscription, "Timer": self.destroy_timer,
                   "LifecyclePublisher": self.destroy_lifecycle_publisher}
        for entity in reversed(self._owned):
            destroy[type(entity).__name__](entity)
        self._owned.clear()

    # -- entities created while configuring belong to the lifecycle -----------------------

    def create_publisher(self, msg_type: Any, topic: str, qos_profile: Any,
                         **kwargs: Any) -> Any:
        if not self._configuring:
            return super().create_publisher(msg_type, topic, qos_profile, **kwargs)
        publisher = self.create_lifecycle_publisher(msg_type, topic, qos_profile, **kwargs)
        self._owned.append(publisher)
        return publisher

    def create_subscription(self, msg_type: Any, topic: str, callback: Callable[[Any], None],
                            qos_profile: Any, **kwargs: Any) -> Any:
        if not self._configuring:
            return super().create_subscription(msg_type, topic, callback, qos_profile, **kwargs)

        def while_active(msg: Any) -> None:
            if self._active:
                callback(msg)
            else:
                self.counters.add("inputs_while_inactive")

        def while_active_with_info(msg: Any, info: Any) -> None:
            if self._active:
                callback(msg, info)  # type: ignore[call-arg]
            else:
                self.counters.add("inputs_while_inactive")

        # rclpy passes the message info only to callbacks that take two arguments.
        wrapper = while_active_with_info if _takes_message_info(callback) else while_active

        subscription = super().create_subscription(msg_type, topic, wrapper, qos_profile,
                                                   **kwargs)
        self._owned.append(subscription)
        return subscription

    def create_timer(self, timer_period_sec: float, callback: Callable[[], Any],
                     **kwargs: Any) -> Any:
        if not self._configuring:
            return super().create_timer(timer_period_sec, callback, **kwargs)

        def while_active() -> None:
            if self._active:
                callback()

        timer = super().create_timer(timer_period_sec, while_active, **kwargs)
        self._owned.append(timer)
        return timer

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




def _takes_message_info(callback: Callable[..., None]) -> bool:
    """Whether a subscription callback takes ``(msg, message_info)``, as rclpy decides it."""
    try:
        inspect.signature(callback).bind(object())
    except TypeError:
        return True
    return False

def run_node(factory: Callable[[], HyperionNode], args: list[str] | None = None) -> int:
    """Create, start (with ``autostart``), spin and tear down one node; every ``main``.

    Returns:
        0 after a normal shutdown (Ctrl-C, SIGTERM via the ROS context),
        :data:`EXIT_BAD_PARAMETER` when a parameter is invalid.
    """
    rclpy.init(args=sys.argv if args is None else args)
    node: HyperionNode | None = None
    executor = MultiThreadedExecutor(num_threads=4)
    try:
        node = factory()
        if node.p["autostart"]:
            node.trigger_configure()
            if node.configure_error is not None:
                raise node.configure_error
            node.trigger_activate()
        executor.add_node(node)
        executor.spin()
    except ParameterError as err:
        print(f"[ERROR] {err}", file=sys.stderr, flush=True)
        return EXIT_BAD_PARAMETER
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        # A SIGTERM that shuts the context down while the executor builds its wait set
        # surfaces as "context is not valid" instead of ExternalShutdownException (seen
        # once in a full test run); it is the same clean shutdown.
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            node.release()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown()
    return 0
