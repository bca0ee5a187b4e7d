"""Message types and QoS for Hyperion bags, without a ROS install.

rosbag2 files carry each topic's full message definition so that any reader (``ros2 bag``,
Foxglove, ``mcap-ros2-support``) can decode them. The ``rosbags`` type store knows the
standard ROS 2 interfaces; ``vision_msgs``, ``hyperion_msgs`` and any other package are
registered here from the ``.msg`` files installed in ``<prefix>/share/<pkg>/msg/``, so the
definitions written are exactly those the running nodes were built from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

#: Packages whose types Hyperion topics use beyond the standard ROS 2 interfaces.
PROJECT_PACKAGES = ("vision_msgs", "hyperion_msgs")
#: rosbag2 writes an infinite QoS duration as this pair (the rmw "infinite" constant).
INFINITE_TIME = QosTime(sec=2147483647, nsec=4294967295)
#: rosbags node kinds in parsed field definitions (rosbags.typesys.base.Nodetype values).
_NAME, _ARRAY, _SEQUENCE = 2, 3, 4


def share_dirs() -> list[Path]:
    """Install prefixes' ``share/`` folders: AMENT_PREFIX_PATH first, then this Python's."""
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    return [Path(prefix) / "share" for prefix in prefixes]


def find_msg_file(msgtype: str) -> Path | None:
    """Path of the ``.msg`` file of ``pkg/msg/Name`` in the install prefixes, or None."""
    parts = msgtype.split("/")
    if len(parts) != 3:
        return None
    package, _, name = parts
    for share in share_dirs():
        candidate = share / package / "msg" / f"{name}.msg"
        if candidate.is_file():
            return candidate
    return None


def _referenced_types(fields: list) -> set[str]:
    """Message type names a parsed field list refers to (nested, arrays and sequences)."""
    names: set[str] = set()
    for _, (kind, detail) in fields:
        if kind in (_ARRAY, _SEQUENCE):
            kind, detail = detail[0]
        if kind == _NAME:
            names.add(detail)
    return names


def register_type(store: Typestore, msgtype: str, *, override: bool = False) -> bool:
    """Register ``msgtype`` and every type it depends on from installed ``.msg`` files.

    Args:
        store: type store to extend (mutated).
        msgtype: ``pkg/msg/Name``.
        override: re-read the type even if the store already knows one of that name,
            so the local build's definition wins over the store's built-in one.

    Returns:
        True when ``msgtype`` is known to ``store`` afterwards.
    """
    pending, seen = [msgtype], set()
    while pending:
        name = pending.pop()
        if name in seen or (name in store.types and not (override and name == msgtype)):
            continue
        seen.add(name)
        path = find_msg_file(name)
        if path is None:
            continue
        parsed = get_types_from_msg(path.read_text(), name)
        store.register(parsed)
        for _, fields in parsed.values():
            pending.extend(_referenced_types(fields))
    return msgtype in store.types


def register_package(store: Typestore, package: str) -> list[str]:
    """Register every message of an installed interface package; returns the type names."""
    registered = []
    for share in share_dirs():
        folder = share / package / "msg"
        if folder.is_dir():
            for path in sorted(folder.glob("*.msg")):
                name = f"{package}/msg/{path.stem}"
                if register_type(store, name, override=True):
                    registered.append(name)
            break
    return registered


def hyperion_typestore() -> Typestore:
    """A Kilted type store extended with the project's interface packages."""
    store = get_typestore(Stores.ROS2_KILTED)
    for package in PROJECT_PACKAGES:
        register_package(store, package)
    return store


def header(store: Typestore, *, stamp_ns: int, frame_id: str) -> object:
    """A ``std_msgs/Header`` of ``store`` stamped ``stamp_ns`` (ns since the epoch)."""
    types = store.types
    stamp = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000,
                                                  nanosec=stamp_ns % 1_000_000_000)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def _time_to_ns(value: QosTime) -> int | None:
    """Nanoseconds of a bag QoS duration; None for rosbag2's infinite or zero (= default)."""
    if value.sec >= INFINITE_TIME.sec or (value.sec == 0 and value.nsec == 0):
        return None
    return value.sec * 1_000_000_000 + value.nsec


def qos_to_bag(profile: object) -> Qos:
    """Convert an rclpy ``QoSProfile`` (e.g. a publisher's offered QoS) for the bag metadata."""
    def duration(value: object) -> QosTime:
        ns = getattr(value, "nanoseconds", 0)
        if ns <= 0 or ns >= 0x7FFFFFFFFFFFFFFF:
            return INFINITE_TIME
        return QosTime(sec=ns // 1_000_000_000, nsec=ns % 1_000_000_000)

    return Qos(
        history=QosHistory(int(profile.history)),
        depth=int(profile.depth),
        reliability=QosReliability(int(profile.reliability)),
        durability=QosDurability(int(profile.durability)),
        deadline=duration(profile.deadline),
        lifespan=duration(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=duration(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def qos_from_bag(profiles: list[Qos], *, default_depth: int = 10) -> object:
    """An rclpy ``QoSProfile`` for replaying a topic recorded with ``profiles``.

    Reliability and durability follow the recorded publishers, as ``ros2 bag play`` does:
    reliable unless a publisher was best-effort, transient-local only if every publisher was, so
    that replay matches the subscribers the original publishers matched. Deadline, lifespan
    and liveliness are left at their defaults, since replay timing cannot honour them.
    """
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    # No recorded profile (e.g. a bag from another tool): the ROS default, reliable.
    reliable = all(p.reliability != QosReliability.BEST_EFFORT for p in profiles)
    latched = bool(profiles) and all(
        p.durability == QosDurability.TRANSIENT_LOCAL for p in profiles
    )
    depths = [p.depth for p in profiles if p.history == QosHistory.KEEP_LAST and p.depth > 0]
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(depths, default=default_depth),
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def import_message_class(msgtype: str) -> type | None:
    """The rclpy message class of ``pkg/msg/Name``, or None when it is not installed here."""
    import importlib

    parts = msgtype.split("/")
    if len(parts) != 3:
        return None
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError):
        return None
