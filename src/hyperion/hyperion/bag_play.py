"""Replay a rosbag2 bag onto ROS 2 topics at its recorded timing.

Messages are published as the raw CDR bytes stored in the bag (rclpy publishes ``bytes``
directly), so replaying 4K frames costs no (de)serialization. Each topic gets a publisher
with the QoS its recorded publishers offered. Topics whose message type is not installed
here are skipped and counted rather than failing the whole replay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rclpy.node import Node
from rosbags.rosbag2 import Reader

from hyperion.bag_types import import_message_class, qos_from_bag


class MissingTopicError(LookupError):
    """A topic asked for is not in the bag."""


@dataclass
class PlayReport:
    """What one replay did: messages published per output topic, and what was skipped."""

    published: dict[str, int]
    skipped_types: dict[str, str]
    skipped_messages: int
    duration_s: float
    bytes: int


class BagPlayer(Node):
    """Publishes a bag's messages with the bag's relative timing.

    Args:
        bag: bag folder (with ``metadata.yaml``) or a single ``.mcap`` / ``.db3`` file.
        topics: bag topics to replay; None replays all of them.
        remap: bag topic -> topic to publish on.
        rate: playback speed factor (2.0 = twice as fast); must be > 0.
        start_offset_s: skip this many seconds from the start of the bag.
        loop: start again from the beginning after the last message.

    Raises:
        MissingTopicError: when ``topics`` names a topic the bag does not hold.
    """

    def __init__(
        self,
        *,
        bag: Path,
        topics: list[str] | None = None,
        remap: dict[str, str] | None = None,
        rate: float = 1.0,
        start_offset_s: float = 0.0,
        loop: bool = False,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        super().__init__("hyperion_bag_player")
        self._reader = Reader(bag)
        self._reader.open()
        present = {c.topic for c in self._reader.connections}
        missing = sorted(set(topics or ()) - present)
        if missing:
            self._reader.close()
            raise MissingTopicError(
                f"topic(s) {', '.join(missing)} not in bag {bag}; "
                f"it holds: {', '.join(sorted(present))}"
            )
        remap = remap or {}
        self._rate, self._loop = rate, loop
        self._start_ns = self._reader.start_time + int(start_offset_s * 1e9)
        self.skipped_types: dict[str, str] = {}
        self._connections = []
        self._outputs: dict[str, object] = {}
        for connection in self._reader.connections:
            if topics is not None and connection.topic not in topics:
                continue
            message_class = import_message_class(connection.msgtype)
            if message_class is None:
                self.skipped_types[connection.topic] = connection.msgtype
                continue
            out_topic = remap.get(connection.topic, connection.topic)
            if out_topic not in self._outputs:
                offered = list(getattr(connection.ext, "offered_qos_profiles", []) or [])
                self._outputs[out_topic] = self.create_publisher(
                    message_class, out_topic, qos_from_bag(offered)
                )
            self._connections.append((connection, out_topic))
        for topic, msgtype in self.skipped_types.items():
            self.get_logger().warning(f"skipping {topic}: type {msgtype} is not installed here")

    @property
    def output_topics(self) -> list[str]:
        return list(self._outputs)

    def wait_for_subscribers(self, timeout_s: float, *, count: int = 1,
                             settle_s: float = 1.0) -> bool:
        """Wait until every output topic has ``count`` subscribers; False on timeout.

        A graph usually has several consumers of one topic (detector, scorer, encoder all
        read the camera): waiting for only the first would feed the others a short stream.
        Once the count is reached it waits ``settle_s`` more: the player's side of a match
        can complete before the reader's, and a keep-last-1 topic's first message sent in
        between is dropped by that reader and replaced before it could be resent.
        """
        deadline = time.monotonic() + timeout_s
        while not all(p.get_subscription_count() >= count for p in self._outputs.values()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        time.sleep(settle_s)
        return True

    def play(self, stop: threading.Event | None = None,
             on_publish: Callable[[str, int], None] | None = None) -> PlayReport:
        """Publish the messages, sleeping between them to keep the recorded spacing.

        Args:
            stop: set it (e.g. from a signal handler) to end the replay early.
            on_publish: called with (output topic, bag timestamp ns) after each publish.
        """
        stop = stop or threading.Event()
        connections = [c for c, _ in self._connections]
        out_topic = {id(c): t for c, t in self._connections}
        skipped_messages = sum(
            c.msgcount for c in self._reader.connections if c.topic in self.skipped_types
        )
        published = dict.fromkeys(self._outputs, 0)
        total_bytes = 0
        begun = time.monotonic()
        while not stop.is_set():
            wall_start = time.monotonic()
            for connection, stamp_ns, data in self._reader.messages(
                connections=connections, start=self._start_ns
            ):
                due = wall_start + (stamp_ns - self._start_ns) / 1e9 / self._rate
                # Wait in short slices so a stop request ends even a long gap promptly.
                while (delay := due - time.monotonic()) > 0 and not stop.is_set():
                    stop.wait(min(delay, 0.1))
                if stop.is_set():
                    break
                topic = out_topic[id(connection)]
                self._outputs[topic].publish(bytes(data))
                published[topic] += 1
                total_bytes += len(data)
                if on_publish is not None:
                    on_publish(topic, stamp_ns)
            if not self._loop or not connections:
                break
        return PlayReport(
            published=published,
            skipped_types=dict(self.skipped_types),
            skipped_messages=skipped_messages,
            duration_s=time.monotonic() - begun,
            bytes=total_bytes,
        )

    def flush(self, timeout_s: float) -> bool:
        """Wait until reliable subscribers acknowledged everything published; False on timeout.

        Exiting right after the last publish would drop messages still in flight to a
        subscriber that is busy (a detector in the middle of a frame).
        """
        from rclpy.duration import Duration

        deadline = time.monotonic() + timeout_s
        return all(
            publisher.wait_for_all_acked(
                Duration(seconds=max(deadline - time.monotonic(), 0.0)))
            for publisher in self._outputs.values()
        )

    def close(self) -> None:
        self._reader.close()
