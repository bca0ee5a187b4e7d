"""Edge–cloud link over zenoh: opaque uplink payloads, acknowledgements, downlink replies.

Keys under ``<prefix>``: ``up`` (edge → cloud payloads), ``probe`` (edge → cloud filler
that is acknowledged and otherwise ignored, to measure a link nothing else is using),
``ack`` (cloud → edge receipt acknowledgements), ``down`` (cloud → edge replies), ``delay``
(a shared detector pool → edge: the pool's current queue delay for this edge, a big-endian
float64 in seconds; see :mod:`hyperion_core.link.pool_service`). Uplink and reply samples
carry a 16-byte attachment: sequence number (uint64) and payload size (uint64),
big-endian; an uplink payload sent with a deadline carries a third uint64, the time left
to its deadline in microseconds (relative, so the two ends need no common clock).

Throughput measurement: for each payload the edge records ``t_submit`` (when
:meth:`EdgeLink.send` was called, before any shaping wait) and ``t_ack`` (when the cloud's
acknowledgement arrives; the cloud acks on receipt, before its callback). A sample is
``8 × bytes / (t_ack − t_submit)`` bit/s. It includes the ack's one-way latency, which
biases it low by ``latency / transfer time`` (≈2.5 % for 4 MB at 40 Mbit/s with 20 ms),
a sound, conservative input for the harmonic-mean estimator; both stamps come from the
edge clock, so no clock synchronisation is needed.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import zenoh

from hyperion_core.link.token_bucket import TokenBucket

_ATT = struct.Struct(">QQ")
_ATT_DEADLINE = struct.Struct(">QQQ")
DELAY = struct.Struct(">d")
#: zenoh's own default lease, seconds.
DEFAULT_LEASE_S = 10.0
#: Shorter than half a second, keep-alives every 125 ms or less: a loaded host misses
#: them and loses healthy connections; longer than an hour, a dead end is never noticed.
LEASE_RANGE_S = (0.5, 3600.0)
PayloadCallback = Callable[[int, bytes], None]


@dataclass(frozen=True)
class LinkConfig:
    """zenoh session and link settings shared by both ends.

    Args:
        mode: "peer" or "client".
        connect: endpoints to connect to, e.g. ("tcp/127.0.0.1:7447",).
        listen: endpoints to listen on, e.g. ("tcp/127.0.0.1:7447",).
        key_prefix: key expression prefix of the link's three keys.
        connect_timeout_s: how long :meth:`EdgeLink.wait_connected` waits, seconds.
        ack_timeout_s: how long :meth:`EdgeLink.wait_ack` waits by default, seconds.
        multicast_scouting: leave False so sessions meet only the endpoints named here.
        tls_ca: CA certificate (PEM path) that peers' certificates must chain to.
        tls_cert: this end's certificate (PEM path), for listening or mutual auth.
        tls_key: this end's private key (PEM path).
        tls_mutual: require client certificates (mutual TLS).
        max_samples: throughput samples kept, newest last.
        lease_s: this end's zenoh lease, announced to the other end: with no message
            (keep-alives go out every quarter of it) for this long, the other end closes
            the connection, and a router deletes this end's liveliness tokens (how the
            pool notices a frozen worker) [s, LEASE_RANGE_S].
        reconnect_period_s: a client whose router is gone tries its ``connect`` endpoints
            again every this long, at a steady pace (zenoh's own backs off to 4 s, which
            alone could take a restarted router's edges 4 s to find it) [s, 0.1-60].
    """

    mode: str = "peer"
    connect: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    key_prefix: str = "hyperion/link"
    connect_timeout_s: float = 10.0
    ack_timeout_s: float = 30.0
    multicast_scouting: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_mutual: bool = False
    max_samples: int = 256
    lease_s: float = DEFAULT_LEASE_S
    reconnect_period_s: float = 1.0

    def __post_init__(self) -> None:
        low, high = LEASE_RANGE_S
        if not low <= self.lease_s <= high:
            raise ValueError(f"lease_s must be in [{low}, {high}] s, got {self.lease_s}")
        if not 0.1 <= self.reconnect_period_s <= 60.0:
            raise ValueError(f"reconnect_period_s must be in [0.1, 60.0] s, got "
                             f"{self.reconnect_period_s}")
        if self.mode not in ("peer", "client"):
            raise ValueError(f"mode must be 'peer' or 'client', got {self.mode!r}")
        if not self.connect and not self.listen:
            raise ValueError("name at least one connect or listen endpoint")
        if self.tls_mutual and not (self.tls_cert and self.tls_key and self.tls_ca):
            raise ValueError("mutual TLS needs tls_ca, tls_cert and tls_key")

    def to_zenoh(self) -> zenoh.Config:
        """The zenoh ``Config`` for this link."""
        conf = zenoh.Config()
        conf.insert_json5("mode", json.dumps(self.mode))
        conf.insert_json5("connect/endpoints", json.dumps(list(self.connect)))
        conf.insert_json5("listen/endpoints", json.dumps(list(self.listen)))
        conf.insert_json5("scouting/multicast/enabled", json.dumps(self.multicast_scouting))
        # Gossip would let a peer learn other peers from the ones it meets and connect to
        # them: an edge could end up talking to a cloud it was never configured for.
        conf.insert_json5("scouting/gossip/enabled", json.dumps(self.multicast_scouting))
        conf.insert_json5("transport/link/tx/lease", json.dumps(round(self.lease_s * 1000)))
        period_ms = round(self.reconnect_period_s * 1000)
        conf.insert_json5("connect/retry", json.dumps(
            {"period_init_ms": period_ms, "period_max_ms": period_ms,
             "period_increase_factor": 1}))
        tls: dict[str, object] = {}
        if self.tls_ca:
            tls["root_ca_certificate"] = self.tls_ca
        if self.tls_cert and self.tls_key:
            # The same identity serves when listening and, for mutual auth, connecting.
            tls.update(listen_certificate=self.tls_cert, listen_private_key=self.tls_key,
                       connect_certificate=self.tls_cert, connect_private_key=self.tls_key)
        if tls:
            tls["enable_mtls"] = self.tls_mutual
            conf.insert_json5("transport/link/tls", json.dumps(tls))
        return conf


@dataclass(frozen=True)
class ThroughputSample:
    """One measured uplink transfer.

    Args:
        seq: sequence number of the payload.
        nbytes: payload size, bytes.
        t_submit_s: edge monotonic time of :meth:`EdgeLink.send`, seconds.
        t_ack_s: edge monotonic time the cloud's ack arrived, seconds.
    """

    seq: int
    nbytes: int
    t_submit_s: float
    t_ack_s: float

    @property
    def duration_s(self) -> float:
        """Submit-to-ack time, seconds."""
        return self.t_ack_s - self.t_submit_s

    @property
    def throughput_bps(self) -> float:
        """Measured throughput, bit/s."""
        return 8.0 * self.nbytes / max(self.duration_s, 1e-9)


def reliable_publisher(session: zenoh.Session, key: str, *, express: bool = False
                       ) -> zenoh.Publisher:
    """A publisher that blocks under back-pressure instead of dropping: a frame or an
    answer must never vanish silently under load.

    Args:
        session: the zenoh session.
        key: the key expression to publish on.
        express: send at once rather than batched (small, latency-critical messages).
    """
    return session.declare_publisher(key, congestion_control=zenoh.CongestionControl.BLOCK,
                                     reliability=zenoh.Reliability.RELIABLE, express=express)


def link_attachment(seq: int, nbytes: int) -> bytes:
    """The 16-byte attachment of an ack or a reply: sequence number and payload size."""
    return _ATT.pack(seq, nbytes)


def _put(pub: zenoh.Publisher, seq: int, payload: bytes, deadline_in_s: float | None = None,
         ) -> None:
    if deadline_in_s is None:
        attachment = _ATT.pack(seq, len(payload))
    else:
        attachment = _ATT_DEADLINE.pack(seq, len(payload), int(max(deadline_in_s, 0.0) * 1e6))
    pub.put(payload, attachment=attachment)


def unpack_uplink(sample: zenoh.Sample) -> tuple[int, bytes, float | None]:
    """``(seq, payload, seconds to the deadline or None)`` of an uplink sample.

    Raises:
        ValueError: the sample has no link attachment or a malformed one.
    """
    att = sample.attachment
    if att is None:
        raise ValueError("sample without link attachment")
    raw = att.to_bytes()
    try:
        if len(raw) == _ATT_DEADLINE.size:
            seq, _, deadline_us = _ATT_DEADLINE.unpack(raw)
            return seq, sample.payload.to_bytes(), deadline_us / 1e6
        seq, _ = _ATT.unpack(raw)
    except struct.error as err:
        raise ValueError(f"malformed link attachment of {len(raw)} bytes") from err
    return seq, sample.payload.to_bytes(), None


def _unpack(sample: zenoh.Sample) -> tuple[int, bytes]:
    seq, payload, _ = unpack_uplink(sample)
    return seq, payload


class EdgeLink:
    """Edge end: publishes uplink payloads, receives acks and downlink replies."""

    def __init__(
        self, *, config: LinkConfig, on_reply: PayloadCallback | None = None,
        shaper: TokenBucket | None = None,
        on_sample: Callable[[ThroughputSample], None] | None = None,
        on_queue_delay: Callable[[float], None] | None = None,
    ) -> None:
        """Args:
            config: link settings.
            on_reply: called as ``on_reply(seq, payload)`` on zenoh's thread for each
                downlink reply; keep it short (hand work to a queue).
            shaper: if given, each payload waits in it before sending, so the link follows
                the shaper's trace (the wait counts in the measured transfer time).
            on_sample: called with each new :class:`ThroughputSample` (e.g. an estimator).
            on_queue_delay: called with each queue delay a shared detector pool publishes
                for this edge, seconds, and with 0 when the pool is lost (the link goes
                down); never called with a delay when the cloud is a single cloud_link.
        """
        self._cfg = config
        self._on_reply = on_reply
        self._on_sample = on_sample
        self._shaper = shaper
        self._cond = threading.Condition()
        self._pending: dict[int, tuple[int, float]] = {}
        self._acked: dict[int, ThroughputSample] = {}
        self._samples: deque[ThroughputSample] = deque(maxlen=config.max_samples)
        self._seq = 0
        self.lost_transfers = 0
        self._matched = threading.Event()
        self._session = zenoh.open(config.to_zenoh())
        p = config.key_prefix
        self._ack_sub = self._session.declare_subscriber(f"{p}/ack", self._handle_ack)
        self._down_sub = self._session.declare_subscriber(f"{p}/down", self._handle_reply)
        self._on_queue_delay = on_queue_delay
        self._delay_sub = (self._session.declare_subscriber(f"{p}/delay", self._handle_delay)
                           if on_queue_delay is not None else None)
        self._pub = reliable_publisher(self._session, f"{p}/up")
        self._probe_pub = reliable_publisher(self._session, f"{p}/probe")
        self._listener = self._pub.declare_matching_listener(self._handle_matching)
        if self._pub.matching_status.matching:
            self._matched.set()

    def _handle_matching(self, status: zenoh.MatchingStatus) -> None:
        if status.matching:
            self._matched.set()
            return
        self._matched.clear()
        if self._on_queue_delay is not None:
            # The delay was the lost pool's. The next one (a restarted router's, or the
            # second router's after a failover) publishes its own only once this edge has
            # sent it a frame, and a stale long delay would keep the edge from ever doing so.
            self._on_queue_delay(0.0)

    def wait_connected(self, timeout_s: float | None = None) -> bool:
        """Wait until a cloud subscribes to the uplink; True if it did in time."""
        limit = self._cfg.connect_timeout_s if timeout_s is None else timeout_s
        return self._matched.wait(limit)

    def send(self, payload: bytes, *, timeout_s: float | None = None, probe: bool = False,
             deadline_in_s: float | None = None) -> int:
        """Publish one uplink payload; returns its sequence number.

        Args:
            payload: bytes for the cloud's callback (or filler when ``probe``).
            timeout_s: give up, sending nothing, if the shaper would hold the payload
                longer than this, seconds (raises ``ShaperTimeout``); None waits.
            probe: send on the probe key: acknowledged (so it yields a throughput sample)
                but never handed to the cloud's callback.
            deadline_in_s: time left to the frame's deadline when the payload leaves,
                seconds; a detector pool gives up the frame after it (None: the pool's
                default). Measured after the shaper's wait.

        Blocks while the shaper (if any) holds the payload. Raises the shaper's
        ``ShaperTimeout`` / ``ShaperClosed`` unchanged.
        """
        with self._cond:
            self._seq += 1
            seq = self._seq
            submitted_s = time.monotonic()
            self._pending[seq] = (len(payload), submitted_s)
        if self._shaper is not None:
            try:
                self._shaper.send(len(payload), timeout_s=timeout_s)
            except BaseException:
                with self._cond:
                    self._pending.pop(seq, None)
                raise
        if deadline_in_s is not None:
            deadline_in_s -= time.monotonic() - submitted_s
        _put(self._probe_pub if probe else self._pub, seq, payload, deadline_in_s)
        return seq

    def oldest_in_flight(self) -> tuple[int, float] | None:
        """``(bytes, seconds since send)`` of the oldest unacknowledged payload, or None.

        While a payload is unacknowledged the link has carried at most ``bytes / seconds``:
        an upper bound on the current throughput that falls during an outage, long
        before any acknowledgement could report it. Payloads unacknowledged for longer
        than ``ack_timeout_s`` are presumed lost (a cloud that died mid-transfer), dropped
        from the bound and counted in :attr:`lost_transfers`.
        """
        now = time.monotonic()
        with self._cond:
            while self._pending:
                seq, (nbytes, t_submit) = next(iter(self._pending.items()))
                if now - t_submit <= self._cfg.ack_timeout_s:
                    return nbytes, now - t_submit
                del self._pending[seq]
                self.lost_transfers += 1
        return None

    def unacknowledged_bytes(self) -> int:
        """Bytes of the payloads sent (or being shaped) and not yet acknowledged."""
        with self._cond:
            return sum(nbytes for nbytes, _ in self._pending.values())

    def _handle_ack(self, sample: zenoh.Sample) -> None:
        t_ack = time.monotonic()
        seq, _ = _unpack(sample)
        with self._cond:
            pending = self._pending.pop(seq, None)
            if pending is None:
                return  # an ack for another edge on the same prefix, or a duplicate
            nbytes, t_submit = pending
            s = ThroughputSample(seq=seq, nbytes=nbytes, t_submit_s=t_submit, t_ack_s=t_ack)
            self._samples.append(s)
            self._acked[seq] = s
            while len(self._acked) > self._cfg.max_samples:
                self._acked.pop(next(iter(self._acked)))
            self._cond.notify_all()
        if self._on_sample is not None:
            self._on_sample(s)

    def _handle_delay(self, sample: zenoh.Sample) -> None:
        raw = sample.payload.to_bytes()
        if len(raw) != DELAY.size or self._on_queue_delay is None:
            return  # not a pool's delay sample; nothing to tell
        (delay_s,) = DELAY.unpack(raw)
        if delay_s >= 0.0:  # also refuses NaN
            self._on_queue_delay(delay_s)

    def _handle_reply(self, sample: zenoh.Sample) -> None:
        if self._on_reply is not None:
            seq, payload = _unpack(sample)
            self._on_reply(seq, payload)

    def wait_ack(self, seq: int, timeout_s: float | None = None) -> ThroughputSample | None:
        """Wait for the ack of ``seq``; its sample, or None on timeout."""
        limit = self._cfg.ack_timeout_s if timeout_s is None else timeout_s
        with self._cond:
            self._cond.wait_for(lambda: seq in self._acked, timeout=limit)
            return self._acked.get(seq)

    def samples(self) -> list[ThroughputSample]:
        """Throughput samples, oldest first (at most ``max_samples``)."""
        with self._cond:
            return list(self._samples)

    def throughputs_bps(self) -> list[float]:
        """Measured throughputs, bit/s, oldest first: the bandwidth estimator's input."""
        return [s.throughput_bps for s in self.samples()]

    def close(self) -> None:
        """Close the zenoh session and the shaper."""
        if self._shaper is not None:
            self._shaper.close()
        self._session.close()

    def __enter__(self) -> EdgeLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CloudLink:
    """Cloud end: receives uplink payloads (acking each on receipt), publishes replies."""

    def __init__(self, *, config: LinkConfig, on_payload: PayloadCallback) -> None:
        """Args:
            config: link settings.
            on_payload: called as ``on_payload(seq, payload)`` on zenoh's thread after the
                ack is sent; keep it short or hand work to a queue.
        """
        self._on_payload = on_payload
        self._session = zenoh.open(config.to_zenoh())
        p = config.key_prefix
        self._ack_pub = reliable_publisher(self._session, f"{p}/ack", express=True)
        self._down_pub = reliable_publisher(self._session, f"{p}/down")
        self._sub = self._session.declare_subscriber(f"{p}/up", self._handle_up)
        self._probe_sub = self._session.declare_subscriber(f"{p}/probe", self._handle_probe)

    def _ack(self, seq: int, nbytes: int) -> None:
        self._ack_pub.put(b"", attachment=_ATT.pack(seq, nbytes))

    def _handle_up(self, sample: zenoh.Sample) -> None:
        seq, payload = _unpack(sample)
        # Ack first: the edge's throughput sample must not include cloud processing time.
        self._ack(seq, len(payload))
        self._on_payload(seq, payload)

    def _handle_probe(self, sample: zenoh.Sample) -> None:
        seq, payload = _unpack(sample)
        self._ack(seq, len(payload))

    def reply(self, seq: int, payload: bytes) -> None:
        """Publish a downlink reply to uplink payload ``seq``."""
        _put(self._down_pub, seq, payload)

    def close(self) -> None:
        """Close the zenoh session."""
        self._session.close()

    def __enter__(self) -> CloudLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
