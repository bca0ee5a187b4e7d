"""edge_link: the edge end of the zenoh link to the cloud graph.

``/hyperion/encoded`` → (worker, queue ``queue_depth``, oldest dropped and counted)
→ ``serialize_message`` → :class:`hyperion_core.link.zenoh_link.EdgeLink` uplink.
Downlink replies (serialized CloudDetections) → ``/hyperion/cloud/detections``. Each frame
carries the time left to its deadline; behind a shared detector pool (``mode`` client,
``connect`` the pool's router, ``key_prefix`` ``hyperion/pool/edge/<name>``) the pool's
queue delay for this edge is passed on in ``LinkStats.cloud_queue_delay_s``.
Every ``stats_period_s`` and after each throughput sample: ``/hyperion/link/stats``
(link up, recent samples, harmonic-mean estimate over ``bandwidth_window`` samples, and
the bytes still queued or in transit, which the scheduler counts as waiting time).

The link is up while a cloud subscribes to the uplink (zenoh matching status); zenoh tries
the ``connect`` endpoints again every second while none answers, so a restarted cloud (or
pool router) is picked up without restarting the edge, and with several endpoints listed
(two pool routers) the next one is used when the current one goes. A pool's queue delay is
reset to 0 when the link goes down: it belonged to the pool that is gone.

Bandwidth estimate published for the scheduler (bit/s):

- 0 while the link is down;
- otherwise the harmonic mean of the last ``bandwidth_window`` samples, capped by what the
  oldest unacknowledged transfer shows (``bytes / seconds since sent``): during an outage
  that cap falls within a frame period, so the scheduler turns edge-only from the
  estimate instead of waiting for per-frame timeouts;
- a transfer the shaper cannot carry before its frame's deadline is not sent, and one
  unacknowledged for ``ack_timeout_s`` is presumed lost; each counts as a zero sample
  (outage). While the estimate is unknown (start-up) or 0, a ``probe_bytes`` filler goes
  out every ``probe_period_s``, so the scheduler has a measured estimate before the first
  frame and the first delivered probe after an outage restarts it.

Optional trace shaping (``trace`` non-empty): every transfer first waits in a token bucket
whose rate follows a real uplink trace (5G-MeMU spec such as ``driving/lte/8``), so the
link on one machine behaves like the measured cellular uplink.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from rclpy.serialization import deserialize_message, serialize_message

from hyperion_core.link.token_bucket import (
    ShaperClosed,
    ShaperConfig,
    ShaperTimeout,
    TokenBucket,
)
from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT, TraceSpecError, load_memu
from hyperion_core.link.zenoh_link import EdgeLink, ThroughputSample
from hyperion_core.schedule.bandwidth import BandwidthConfig, BandwidthEstimator
from hyperion_msgs.msg import CloudDetections, EncodedFrame, LinkStats
from hyperion_runtime import qos
from hyperion_runtime.link_params import link_config, link_params
from hyperion_runtime.node import HyperionNode, ns_to_stamp, run_node, stamp_ns
from hyperion_runtime.params import ParameterError, ParamSpec
from hyperion_runtime.worker import BoundedWorker

PARAMS = (*link_params(connect="tcp/127.0.0.1:7447", listen=""),
    ParamSpec(name="queue_depth", default=4, low=1, high=64,
              description="encoded frames waiting to be sent [frames]"),
    ParamSpec(name="bandwidth_window", default=5, low=1, high=1000,
              description="throughput samples in the harmonic mean (FESTIVE k) [samples]"),
    ParamSpec(name="stats_period_s", default=0.5, low=0.01, high=60.0,
              description="period of /hyperion/link/stats [s]"),
    ParamSpec(name="ack_timeout_s", default=10.0, low=0.1, high=600.0,
              description="an unacknowledged transfer is presumed lost after this [s]"),
    ParamSpec(name="probe_period_s", default=1.0, low=0.05, high=60.0,
              description="probe interval while the bandwidth estimate is 0 [s]"),
    ParamSpec(name="probe_bytes", default=65536, low=1024, high=16_777_216,
              description="size of one probe transfer [bytes]"),
    ParamSpec(name="trace", default="",
              description="shape the uplink by this 5G-MeMU trace, e.g. driving/lte/8; "
                          "empty = unshaped [spec]"),
    ParamSpec(name="trace_root", default="",
              description="5G-MeMU dataset root; empty = the two runs shipped with "
                          "hyperion_core [path]"),
    ParamSpec(name="trace_period_s", default=0.1, low=0.001, high=10.0,
              description="sample period of untimestamped trace lists [s]"),
    ParamSpec(name="trace_offset_s", default=0.0, low=0.0, high=1e6,
              description="start position in the trace [s]"),
    ParamSpec(name="trace_rate_scale", default=1.0, low=0.001, high=1000.0,
              description="multiply the trace's rates by this, e.g. to keep the paper's "
                          "compute-to-network balance on hardware slower than its [x]"),
)


def trace_shaper(p: dict) -> TokenBucket | None:
    """The token bucket for the ``trace*`` parameters, or None when unshaped."""
    if not p["trace"]:
        return None
    root = p["trace_root"] or EMBEDDED_TRACES_ROOT
    try:
        trace = load_memu(root, p["trace"], period_s=p["trace_period_s"])
    except (TraceSpecError, OSError) as err:
        raise ParameterError(f"trace {p['trace']!r} under {root}: {err}") from err
    if p["trace_rate_scale"] != 1.0:
        trace = trace.scaled(p["trace_rate_scale"])
    return TokenBucket(trace=trace, config=ShaperConfig(start_offset_s=p["trace_offset_s"]))


class EdgeLinkNode(HyperionNode):
    """Bridges the edge graph to the zenoh link."""

    def __init__(self) -> None:
        super().__init__("edge_link", params=PARAMS, warn_on=("send_dropped", "answers_missed"))

    def configure(self) -> None:
        p = self.p
        try:
            config = replace(link_config(p), ack_timeout_s=p["ack_timeout_s"])
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
        self._lost_seen = 0
        self._shaper = trace_shaper(p)
        self._queue_delay_s = 0.0  # a shared detector pool's, for this edge (0: none)
        self._link = EdgeLink(config=config, on_reply=self._on_reply, on_sample=self._on_sample,
                              shaper=self._shaper, on_queue_delay=self._on_queue_delay)
        if self._shaper is not None:
            self.get_logger().info(
                f"uplink shaped by trace {self._shaper.trace.name or p['trace']} (mean "
                f"{self._shaper.trace.mean_rate_bps() / 1e6:.2f} Mbit/s)")
        self._worker: BoundedWorker[EncodedFrame] = BoundedWorker(
            name="send", handler=self._send, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"send failed: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_subscription(EncodedFrame, qos.ENCODED, self._worker.submit, qos.result_qos())
        self.create_timer(p["stats_period_s"], self._publish_stats)
        self._prober: BoundedWorker[int] = BoundedWorker(
            name="probe", handler=self._probe, depth=1, counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"probe failed: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_timer(p["probe_period_s"], self._maybe_probe)

    def _link_up(self) -> bool:
        return self._link.wait_connected(0.0)

    def _send(self, msg: EncodedFrame) -> None:
        if not self._link_up():
            self.skip("sent_while_down", f"frame {msg.sequence} not sent: link down")
            return
        payload = serialize_message(msg)
        # Bytes count as sent when handed to the link, before its acknowledgement can
        # arrive: the scheduler reads "bytes sent, no newer sample" as a stalled link.
        with self._lock:
            self._bytes_sent += len(payload)
        # A frame the (shaped) link cannot deliver before its deadline is not worth sending.
        remaining_s = (stamp_ns(msg.deadline) - self.now_ns()) / 1e9
        try:
            # The deadline travels with the frame: a detector pool gives it up after it.
            self._link.send(payload, timeout_s=max(remaining_s, 0.0),
                            deadline_in_s=max(remaining_s, 0.0))
        except (ShaperTimeout, ShaperClosed) as err:
            with self._lock:
                self._bytes_sent -= len(payload)
            if isinstance(err, ShaperTimeout):
                self._record_outage()
                self.skip("sends_abandoned",
                          f"frame {msg.sequence}: link too slow for its deadline")
            return
        with self._lock:
            self._in_flight[msg.sequence] = stamp_ns(msg.deadline)
        self.counters.add("frames_sent")

    def _record_outage(self) -> None:
        with self._lock:
            self._estimator.add_sample(0.0)
        self._publish_stats()

    def _maybe_probe(self) -> None:
        # Unknown (start-up) or zero (outage): measure the link before frames depend on it.
        lost = self._link.lost_transfers
        if lost > self._lost_seen:
            self._lost_seen = lost
            self._record_outage()
        with self._lock:
            starved = not self._estimator.estimate()
        if starved and self._link_up() and self._link.oldest_in_flight() is None:
            self._prober.submit(self.p["probe_bytes"])

    def _probe(self, nbytes: int) -> None:
        try:
            self._link.send(bytes(nbytes), timeout_s=self.p["probe_period_s"], probe=True)
            self.counters.add("probes_sent")
        except ShaperTimeout:
            self._record_outage()
        except ShaperClosed:
            pass

    def _estimate_bytes_per_s(self) -> float:
        """The estimate described in the module docstring, bytes/s (0 = down/unknown)."""
        if not self._link_up():
            return 0.0
        estimate = self._estimator.estimate() or 0.0
        pending = self._link.oldest_in_flight()
        if pending is not None and pending[1] > 0.0:
            estimate = min(estimate, pending[0] / pending[1])
        return estimate

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

    def _on_queue_delay(self, delay_s: float) -> None:
        with self._lock:
            self._queue_delay_s = delay_s

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
            samples = list(self._samples)
            msg = LinkStats(link_up=self._link_up(), bytes_sent=self._bytes_sent,
                            bytes_received=self._bytes_received, answers_missed=self._missed,
                            cloud_queue_delay_s=self._queue_delay_s)
        self.counters.add("answers_missed", len(late))
        msg.header.stamp = ns_to_stamp(now_ns)
        msg.bandwidth_estimate_bps = 8.0 * self._estimate_bytes_per_s()  # drops lost ones
        msg.bytes_queued = (self._worker.queued(lambda frame: len(frame.payload))
                            + self._link.unacknowledged_bytes())
        msg.throughput_bps = [s.throughput_bps for s in samples]
        msg.transfer_bytes = [s.nbytes for s in samples]
        # Samples carry monotonic times; shift them onto the node clock.
        msg.transfer_stamps = [ns_to_stamp(now_ns - int((mono - s.t_ack_s) * 1e9))
                               for s in samples]
        self._stats_pub.publish(msg)

    def close(self) -> None:
        self._worker.close()
        self._prober.close()
        self._link.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``edge_link --ros-args ...``."""
    return run_node(EdgeLinkNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
