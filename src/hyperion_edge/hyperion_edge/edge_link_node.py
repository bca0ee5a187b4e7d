"""edge_link: the edge end of the zenoh link to the cloud graph.

``/hyperion/encoded`` → (worker, queue ``queue_depth``, oldest dropped and counted)
→ ``serialize_message`` → :class:`hyperion_core.link.zenoh_link.EdgeLink` uplink.
Downlink replies (serialized CloudDetections) → ``/hyperion/cloud/detections``.
Every ``stats_period_s`` and after each throughput sample: ``/hyperion/link/stats``
(link up, recent samples, harmonic-mean estimate over ``bandwidth_window`` samples).

The link is up while a cloud subscribes to the uplink (zenoh matching status); zenoh keeps
reconnecting to ``connect`` endpoints, so a restarted cloud is picked up without restarting
the edge.
"""

from __future__ import annotations

import threading
import time

from rclpy.serialization import deserialize_message, serialize_message

from hyperion_core.link.zenoh_link import EdgeLink, ThroughputSample
from hyperion_core.schedule.bandwidth import BandwidthConfig, BandwidthEstimator
from hyperion_edge import qos
from hyperion_edge.link_params import link_config, link_params
from hyperion_edge.params import ParameterError, ParamSpec
from hyperion_edge.runtime import HyperionNode, ns_to_stamp, run_node, stamp_ns
from hyperion_edge.worker import BoundedWorker
from hyperion_msgs.msg import CloudDetections, EncodedFrame, LinkStats

PARAMS = (*link_params(connect="tcp/127.0.0.1:7447", listen=""),
    ParamSpec(name="queue_depth", default=4, low=1, high=64,
              description="encoded frames waiting to be sent [frames]"),
    ParamSpec(name="bandwidth_window", default=5, low=1, high=1000,
              description="throughput samples in the harmonic mean (FESTIVE k) [samples]"),
    ParamSpec(name="stats_period_s", default=0.5, low=0.01, high=60.0,
              description="period of /hyperion/link/stats [s]"),
)


class EdgeLinkNode(HyperionNode):
    """Bridges the edge graph to the zenoh link."""

    def __init__(self) -> None:
        super().__init__("edge_link", params=PARAMS, warn_on=("send_dropped", "answers_missed"))
        p = self.p
        try:
            config = link_config(p)
        except ValueError as err:
            raise ParameterError(f"link parameters connect/listen/tls_*: {err}") from err
        self._lock = threading.Lock()
        self._estimator = BandwidthEstimator(config=BandwidthConfig(window=p["bandwidth_window"]))
        self._samples: list[ThroughputSample] = []
        self._in_flight: dict[int, int] = {}  # frame sequence -> deadline, ns
        self._bytes_sent = self._bytes_received = self._missed = 0
        self._answers = self.create_publisher(CloudDetections, qos.CLOUD_DETECTIONS,
                                              qos.result_qos())
        self._stats_pub = self.create_publisher(LinkStats, qos.LINK_STATS, qos.latest_state_qos())
        self._link = EdgeLink(config=config, on_reply=self._on_reply, on_sample=self._on_sample)
        self._worker: BoundedWorker[EncodedFrame] = BoundedWorker(
            name="send", handler=self._send, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"send failed: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_subscription(EncodedFrame, qos.ENCODED, self._worker.submit, qos.result_qos())
        self.create_timer(p["stats_period_s"], self._publish_stats)

    def _link_up(self) -> bool:
        return self._link.wait_connected(0.0)

    def _send(self, msg: EncodedFrame) -> None:
        if not self._link_up():
            self.skip("sent_while_down", f"frame {msg.sequence} not sent: link down")
            return
        payload = serialize_message(msg)
        with self._lock:
            self._in_flight[msg.sequence] = stamp_ns(msg.deadline)
            self._bytes_sent += len(payload)
        self._link.send(payload)
        self.counters.add("frames_sent")

    def _on_reply(self, _link_seq: int, payload: bytes) -> None:
        # zenoh's thread: deserialize (small message) and publish, nothing slower.
        try:
            answer = deserialize_message(payload, CloudDetections)
        except Exception as err:  # any undecodable reply is skipped
            self.skip("malformed_replies", f"cloud reply not a CloudDetections: {err}")
            return
        with self._lock:
            self._bytes_received += len(payload)
            self._in_flight.pop(answer.sequence, None)
        self._answers.publish(answer)
        self.counters.add("answers_received")

    def _on_sample(self, sample: ThroughputSample) -> None:
        with self._lock:
            self._estimator.add_sample(sample.throughput_bps / 8.0)
            self._samples = [*self._samples, sample][-self.p["bandwidth_window"]:]
        self._publish_stats()

    def _publish_stats(self) -> None:
        now_ns = self.now_ns()
        mono = time.monotonic()
        with self._lock:
            late = [seq for seq, deadline in self._in_flight.items() if deadline < now_ns]
            for seq in late:
                del self._in_flight[seq]
            self._missed += len(late)
            estimate = self._estimator.estimate()
            samples = list(self._samples)
            msg = LinkStats(link_up=self._link_up(), bytes_sent=self._bytes_sent,
                            bytes_received=self._bytes_received, answers_missed=self._missed)
        self.counters.add("answers_missed", len(late))
        msg.header.stamp = ns_to_stamp(now_ns)
        msg.throughput_bps = [s.throughput_bps for s in samples]
        msg.transfer_bytes = [s.nbytes for s in samples]
        # Samples carry monotonic times; shift them onto the node clock.
        msg.transfer_stamps = [ns_to_stamp(now_ns - int((mono - s.t_ack_s) * 1e9))
                               for s in samples]
        msg.bandwidth_estimate_bps = 8.0 * estimate if estimate else 0.0
        self._stats_pub.publish(msg)

    def close(self) -> None:
        self._worker.close()
        self._link.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``edge_link --ros-args ...``."""
    return run_node(EdgeLinkNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
