"""The detector pool on zenoh: many edges' frames, N workers, one answer per frame.

Runs on any zenoh session that reaches the edges and the workers; ``hyperion run router``
runs it on the router's own session (:mod:`hyperion_core.link.pool_router`). Keys, under
``root`` (default ``hyperion/pool``):

- ``<root>/edge/<edge>/{up,probe,ack,down,delay}``: each edge is an ordinary
  :class:`hyperion_core.link.zenoh_link.EdgeLink` with ``key_prefix`` ``<root>/edge/<edge>``:
  the pool acknowledges each payload on receipt (so the edge's throughput samples stay
  uplink-only), answers on ``down``, and every ``delay_period_s`` publishes on ``delay`` the
  queue delay the edge's frames meet here (big-endian float64 seconds), which the edge's
  scheduler adds to its cloud time;
- ``<root>/worker/<id>``: a worker's liveliness token: it is alive while the token is;
  zenoh deletes it when the worker's session closes or its connection drops (a killed
  process at once; a frozen one after its lease, the worker's ``--lease-s``);
- ``<root>/worker/<id>/job`` (pool → worker, attachment: job id, uint64),
  ``<root>/worker/<id>/done`` (worker → pool, the answer; attachment: the job id) and
  ``<root>/worker/<id>/failed`` (worker → pool: it could not answer that job; empty
  payload, attachment the job id), so a refused frame frees its worker at once;
- ``<root>/stats``: the pool's counters as JSON, every ``delay_period_s``.

Which frame goes to which worker, and that each is answered at most once, is
:class:`hyperion_core.link.pool_dispatch.Dispatcher`; fairness among edges is
:class:`hyperion_core.link.pool_fair.FairQueue`.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import zenoh

from hyperion_core.link.pool_dispatch import Dispatcher, Job
from hyperion_core.link.pool_fair import FairQueue, QueuedFrame
from hyperion_core.link.zenoh_link import (
    DELAY,
    LinkConfig,
    link_attachment,
    reliable_publisher,
    unpack_uplink,
)

JOB = struct.Struct(">Q")
DEFAULT_ROOT = "hyperion/pool"


@dataclass(frozen=True, kw_only=True)
class PoolConfig:
    """Settings of the pool.

    Args:
        root: key prefix of every pool key.
        capacity: frames waiting per edge before its oldest is dropped [frames, >= 1].
        weights: share weight per edge name (others 1.0) [> 0].
        slots_per_worker: frames one worker holds at once [>= 1].
        min_service_s: a lost worker's frame is re-dispatched only with this much time
            left before its deadline [s, >= 0].
        default_deadline_s: deadline of a frame whose edge sent none [s, > 0].
        delay_period_s: period of the queue-delay and stats publications [s, > 0].
        edges: serve only these edges, each with its own subscriptions (what a router
            with per-edge access control needs: an edge is shown only the pool's
            subscription to its own keys); empty: any edge, by wildcard.
    """

    root: str = DEFAULT_ROOT
    capacity: int = 16
    weights: dict[str, float] = field(default_factory=dict)
    slots_per_worker: int = 1
    min_service_s: float = 0.05
    default_deadline_s: float = 1.0
    delay_period_s: float = 0.2
    edges: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.root or self.root.endswith("/") or "*" in self.root:
            raise ValueError(f"root must be a plain key prefix, got {self.root!r}")
        if self.capacity < 1:
            raise ValueError(f"capacity must be >= 1 frame, got {self.capacity}")
        if self.slots_per_worker < 1:
            raise ValueError(f"slots_per_worker must be >= 1, got {self.slots_per_worker}")
        if not self.min_service_s >= 0:
            raise ValueError(f"min_service_s must be >= 0 s, got {self.min_service_s}")
        for edge, weight in self.weights.items():
            if not weight > 0:
                raise ValueError(f"weights[{edge!r}] must be > 0, got {weight}")
        if not self.default_deadline_s > 0:
            raise ValueError(f"default_deadline_s must be > 0 s, got {self.default_deadline_s}")
        if not self.delay_period_s > 0:
            raise ValueError(f"delay_period_s must be > 0 s, got {self.delay_period_s}")


class PoolService:
    """Serves edges from a pool of workers over one zenoh session (see module doc)."""

    def __init__(self, *, session: zenoh.Session, config: PoolConfig) -> None:
        """Args:
            session: an open zenoh session (the pool does not close it).
            config: pool settings; raises ``ValueError`` for bad ones.
        """
        self._session = session
        self._cfg = config
        self._lock = threading.Lock()
        self._dispatcher = Dispatcher(
            queue=FairQueue(capacity=config.capacity, weights=config.weights),
            slots_per_worker=config.slots_per_worker, min_service_s=config.min_service_s,
            now_s=time.monotonic())
        self._publishers: dict[str, zenoh.Publisher] = {}
        self._closed = threading.Event()
        root = config.root
        edge_keys = [f"{root}/edge/{edge}" for edge in config.edges] or [f"{root}/edge/*"]
        self._subs = [
            *(session.declare_subscriber(f"{key}/up", self._on_up) for key in edge_keys),
            *(session.declare_subscriber(f"{key}/probe", self._on_probe) for key in edge_keys),
            session.declare_subscriber(f"{root}/worker/*/done", self._on_done),
            session.declare_subscriber(f"{root}/worker/*/failed", self._on_failed),
            # history: workers that were alive before the pool started are counted too.
            session.liveliness().declare_subscriber(f"{root}/worker/*", self._on_liveliness,
                                                    history=True),
        ]
        self._ticker = threading.Thread(target=self._tick, name="pool-tick", daemon=True)
        self._ticker.start()

    # -- zenoh callbacks (zenoh's threads: bookkeeping under the lock, sending outside) -----

    def _publisher(self, key: str) -> zenoh.Publisher:
        with self._lock:
            pub = self._publishers.get(key)
            if pub is None:
                pub = reliable_publisher(self._session, key)
                self._publishers[key] = pub
            return pub

    def _edge_of(self, key: str) -> str:
        # <root>/edge/<edge>/<leaf>
        return key[len(self._cfg.root) + len("/edge/"):].rsplit("/", 1)[0]

    def _worker_of(self, key: str) -> str:
        return key[len(self._cfg.root) + len("/worker/"):].split("/", 1)[0]

    def _ack(self, edge: str, seq: int, nbytes: int) -> None:
        self._publisher(f"{self._cfg.root}/edge/{edge}/ack").put(
            b"", attachment=link_attachment(seq, nbytes))

    def _on_probe(self, sample: zenoh.Sample) -> None:
        try:
            seq, payload, _ = unpack_uplink(sample)
        except ValueError:
            return
        self._ack(self._edge_of(str(sample.key_expr)), seq, len(payload))

    def _on_up(self, sample: zenoh.Sample) -> None:
        now = time.monotonic()
        try:
            seq, payload, deadline_in_s = unpack_uplink(sample)
        except ValueError:
            return  # not a link payload; nothing to answer
        edge = self._edge_of(str(sample.key_expr))
        # Ack first: the edge's throughput sample must not include the pool's queueing.
        self._ack(edge, seq, len(payload))
        budget_s = self._cfg.default_deadline_s if deadline_in_s is None else deadline_in_s
        frame = QueuedFrame(edge=edge, seq=seq, payload=payload, arrived_s=now,
                            deadline_s=now + budget_s)
        with self._lock:
            self._dispatcher.submit(frame)
        self._dispatch()

    @staticmethod
    def _job_id(sample: zenoh.Sample) -> int | None:
        attachment = sample.attachment
        if attachment is None or len(attachment.to_bytes()) != JOB.size:
            return None
        return JOB.unpack(attachment.to_bytes())[0]

    def _on_failed(self, sample: zenoh.Sample) -> None:
        job_id = self._job_id(sample)
        if job_id is None:
            return
        with self._lock:
            self._dispatcher.fail(self._worker_of(str(sample.key_expr)), job_id)
        self._dispatch()

    def _on_done(self, sample: zenoh.Sample) -> None:
        now = time.monotonic()
        job_id = self._job_id(sample)
        if job_id is None:
            return
        worker = self._worker_of(str(sample.key_expr))
        with self._lock:
            job = self._dispatcher.complete(worker, job_id, now)
        if job is not None:
            answer = sample.payload.to_bytes()
            self._publisher(f"{self._cfg.root}/edge/{job.frame.edge}/down").put(
                answer, attachment=link_attachment(job.frame.seq, len(answer)))
        self._dispatch()

    def _on_liveliness(self, sample: zenoh.Sample) -> None:
        worker = self._worker_of(str(sample.key_expr))
        with self._lock:
            if sample.kind == zenoh.SampleKind.PUT:
                self._dispatcher.worker_joined(worker)
            else:
                self._dispatcher.worker_left(worker, time.monotonic())
        self._dispatch()

    def _dispatch(self) -> None:
        with self._lock:
            jobs = self._dispatcher.assign(time.monotonic())
        for job in jobs:
            self._send(job)

    def _send(self, job: Job) -> None:
        # A worker that died since the assignment loses nothing: its liveliness deletion
        # hands the job back to the queue (or gives it up when too late).
        self._publisher(f"{self._cfg.root}/worker/{job.worker}/job").put(
            job.frame.payload, attachment=JOB.pack(job.job_id))

    def _tick(self) -> None:
        while not self._closed.wait(self._cfg.delay_period_s):
            now = time.monotonic()
            with self._lock:
                self._dispatcher.expire(now)
                delays = {edge: self._dispatcher.queue_delay_s(edge, now)
                          for edge in self._dispatcher.queue.edges()}
                stats = self.stats_locked()
            try:
                for edge, delay_s in delays.items():
                    self._publisher(f"{self._cfg.root}/edge/{edge}/delay").put(
                        DELAY.pack(delay_s))
                self._publisher(f"{self._cfg.root}/stats").put(json.dumps(stats).encode())
            except zenoh.ZError:
                return  # the session closed under us: the pool is stopping
            self._dispatch()

    def stats_locked(self) -> dict[str, object]:
        """Counters, workers and backlog (call with the lock held, or via :meth:`stats`)."""
        return {**asdict(self._dispatcher.counters), "workers": self._dispatcher.workers(),
                "stuck": self._dispatcher.stuck(), "waiting": self._dispatcher.queue.waiting(),
                "running": self._dispatcher.running()}

    def stats(self) -> dict[str, object]:
        """The pool's counters, live workers and backlog now."""
        with self._lock:
            return self.stats_locked()

    def close(self) -> None:
        """Stop publishing and undeclare the pool's subscribers (the session stays open)."""
        self._closed.set()
        self._ticker.join(timeout=5.0)
        for sub in self._subs:
            sub.undeclare()


def wait_for_stats(endpoint: str, until: Callable[[dict], bool] = lambda _: True, *,
                   root: str = DEFAULT_ROOT, timeout_s: float = 60.0) -> dict:
    """The first ``<root>/stats`` sample (every ``delay_period_s``) that satisfies ``until``.

    For tests and benchmarks: a client session of its own, opened for this call (so a
    router restarted since the last call is found again), without TLS.

    Args:
        endpoint: the pool's router, e.g. ``tcp/127.0.0.1:7447``.
        until: the condition on the decoded stats (see :meth:`PoolService.stats`).
        root: the pool's key prefix.
        timeout_s: give up after this long [s].

    Raises:
        TimeoutError: no sample matched in time (the message holds the last one).
    """
    conf = LinkConfig(mode="client", connect=(endpoint,)).to_zenoh()
    last: dict | None = None
    deadline = time.monotonic() + timeout_s
    with zenoh.open(conf) as session:
        sub = session.declare_subscriber(f"{root}/stats")
        while time.monotonic() < deadline:
            sample = sub.try_recv()
            if sample is None:
                time.sleep(0.05)  # polling a channel; the wait itself is bounded
                continue
            last = json.loads(sample.payload.to_bytes())
            if until(last):
                return last
    raise TimeoutError(f"pool stats never matched in {timeout_s} s; last: {last}")
