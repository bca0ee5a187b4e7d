"""Record ROS 2 topics into a rosbag2 bag (``.mcap`` or ``.db3`` + ``metadata.yaml``).

Subscriptions are raw: the CDR bytes Fast DDS delivered go to the file untouched, so a 4K
frame costs one copy instead of a deserialize/serialize round trip (~20 ms each). Disk
writes run on a writer thread fed by a bounded queue, so a slow disk never blocks the
executor; when the queue is full the newest message is dropped and counted.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from hyperion.bag_types import import_message_class, qos_to_bag, register_type

#: What a plain ``hyperion bag record`` captures: the camera and every result topic.
DEFAULT_TOPICS = (
    "/hyperion/image",
    "/hyperion/edge/detections",
    "/hyperion/cloud/detections",
    "/hyperion/detections",
    "/hyperion/timing",
)
#: How often the recorder looks for topics that were not there yet, seconds.
DISCOVERY_PERIOD_S = 0.25


@dataclass
class TopicTally:
    """Per-topic counters of one recording."""

    msgtype: str
    messages: int = 0
    bytes: int = 0
    dropped: int = 0


@dataclass
class _Sink:
    """The writer thread's side: owns the rosbags ``Writer`` (not thread-safe)."""

    writer: Writer
    store: Typestore
    items: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=32))
    error: BaseException | None = None

    def run(self) -> None:
        connections = {}
        try:
            while (item := self.items.get()) is not None:
                if item[0] == "topic":
                    _, topic, msgtype, offered = item
                    connections[topic] = self.writer.add_connection(
                        topic, msgtype, typestore=self.store, offered_qos_profiles=offered
                    )
                else:
                    _, topic, stamp_ns, data = item
                    self.writer.write(connections[topic], stamp_ns, data)
        except BaseException as exc:  # surfaced by BagRecorder.close()
            self.error = exc
            while self.items.get() is not None:  # let producers finish
                pass


class BagRecorder(Node):
    """Subscribes (raw) to topics as they appear and streams their messages into a bag.

    Args:
        output: bag folder to create; must not exist.
        topics: topic names to record; None records every topic seen.
        store: type store that knows (or can register) each recorded type.
        storage: ``"mcap"`` or ``"sqlite3"``.
        max_messages: stop after this many messages in total (0: no limit).
        queue_size: messages buffered between the executor and the disk writer.
        depth: subscription history depth (keep-last).
    """

    def __init__(
        self,
        *,
        output: Path,
        topics: list[str] | None,
        store: Typestore,
        storage: str = "mcap",
        max_messages: int = 0,
        queue_size: int = 32,
        depth: int = 10,
    ) -> None:
        super().__init__("hyperion_bag_recorder")
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(output, version=9, storage_plugin=plugin)
        self._writer.open()
        self._sink = _Sink(writer=self._writer, store=store, items=queue.Queue(maxsize=queue_size))
        self._thread = threading.Thread(target=self._sink.run, name="bag-writer", daemon=True)
        self._thread.start()
        self._store = store
        self._wanted = None if topics is None else list(dict.fromkeys(topics))
        self._depth = depth
        self._max_messages = max_messages
        self.tally: dict[str, TopicTally] = {}
        self._skipped: set[str] = set()
        self._raw_subscriptions = []
        self.received = 0
        self.done = threading.Event()
        self.started = time.monotonic()
        self._discover()
        self._timer = self.create_timer(DISCOVERY_PERIOD_S, self._discover)

    def missing_topics(self) -> list[str]:
        """Requested topics not subscribed yet (not seen, or of an unusable type)."""
        return [t for t in (self._wanted or []) if t not in self.tally]

    def _subscription_qos(self, topic: str) -> tuple[QoSProfile, list]:
        """QoS that matches every current publisher, and their offered profiles."""
        infos = self.get_publishers_info_by_topic(topic)
        offered = [qos_to_bag(info.qos_profile) for info in infos]
        # A reliable subscription would not match a best-effort publisher, and a
        # transient-local one would not match a volatile publisher: take the weakest.
        best_effort = any(
            i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos
        )
        latched = bool(infos) and all(
            i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
        )
        reliability = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
        profile = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self._depth,
            reliability=reliability,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        return profile, offered

    def _discover(self) -> None:
        for topic, types in self.get_topic_names_and_types():
            if topic in self.tally or topic in self._skipped:
                continue
            if self._wanted is not None and topic not in self._wanted:
                continue
            if self._wanted is None and topic in ("/rosout", "/parameter_events"):
                continue
            if not self.get_publishers_info_by_topic(topic):
                continue  # only subscribers so far: no QoS to match, try again later
            msgtype = types[0]
            message_class = import_message_class(msgtype)
            if message_class is None or not register_type(self._store, msgtype):
                self.get_logger().warning(
                    f"not recording {topic}: type {msgtype} is not installed here"
                )
                self._skipped.add(topic)
                continue
            profile, offered = self._subscription_qos(topic)
            self.tally[topic] = TopicTally(msgtype=msgtype)
            self._sink.items.put(("topic", topic, msgtype, offered))
            self._raw_subscriptions.append(
                self.create_subscription(
                    message_class, topic, lambda data, t=topic: self._on_message(t, data),
                    profile, raw=True,
                )
            )
            self.get_logger().info(
                f"recording {topic} [{msgtype}] {profile.reliability.name.lower()}"
            )

    def _on_message(self, topic: str, data: bytes) -> None:
        if self.done.is_set():
            return
        tally = self.tally[topic]
        stamp_ns = self.get_clock().now().nanoseconds
        try:
            self._sink.items.put_nowait(("msg", topic, stamp_ns, data))
        except queue.Full:
            tally.dropped += 1
            return
        tally.messages += 1
        tally.bytes += len(data)
        self.received += 1
        if self._max_messages and self.received >= self._max_messages:
            self.done.set()

    def close(self) -> None:
        """Stop subscribing, flush the queue to disk and finish the bag files.

        Raises:
            RuntimeError: when the writer thread failed (e.g. disk full).
        """
        self.done.set()
        for subscription in self._raw_subscriptions:
            self.destroy_subscription(subscription)
        self._raw_subscriptions.clear()
        self._sink.items.put(None)
        self._thread.join()
        self._writer.close()
        if self._sink.error is not None:
            raise RuntimeError(f"writing the bag failed: {self._sink.error}") from self._sink.error
