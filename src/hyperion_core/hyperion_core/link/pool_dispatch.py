"""The pool's bookkeeping: which worker holds which frame, and that each is answered once.

A frame is always in exactly one place: waiting in the :class:`FairQueue`, running on one
worker, or finished (answered or given up). Its first answer is forwarded and finishes it;
any later one (a worker presumed dead that answers after all, a duplicate) finds it
finished and is dropped, so an edge never gets two answers for one frame. A worker that
leaves (its liveliness token is gone) gives its running frames back: each goes first in its
edge's queue again if its deadline still leaves ``min_service_s`` for a new worker, else it
is given up and the edge answers alone. Frames past their deadline are given up too, queued
or running: an answer after the deadline would be discarded by the edge anyway.

A worker that holds a frame past its deadline is *stuck* (frozen, its host stalled, its
connection silent): until it answers (late, dropped) or its liveliness token goes (after
its zenoh lease), its slot stays taken, so the pool loses one frame to it per slot, not
one per deadline. Job ids start at a random 63-bit number: a worker that reconnects to a
restarted router (a new pool) and answers a job of the old one must not hit a job of the
new one that happens to have the same id.

Queue delay per edge (what the pool publishes for the edge's scheduler): the larger of the
median wait (arrival → start on a worker) of the edge's last ``delay_window`` frames, how
long its oldest waiting frame has waited so far (a growing backlog shows before any frame
of it has started), and, while no worker is alive, how long the pool has had none: with
nothing queued (every edge gone edge-only, their frames expired) the delay would otherwise
fall back to the last waits measured, and edges would send into an empty pool again, once
per deadline, until a worker comes.

No clock is read here; callers pass ``now_s`` (monotonic seconds) and hold one lock around
every call (the zenoh service calls from several threads).
"""

from __future__ import annotations

import secrets
import statistics
from collections import deque
from dataclasses import dataclass, field

from hyperion_core.link.pool_fair import FairQueue, QueuedFrame


@dataclass(eq=False, kw_only=True)
class Job:
    """A frame taken from the queue to a worker.

    Args:
        job_id: unique per dispatch, so a re-dispatched frame's stale answer is told apart.
        frame: the frame.
        worker: the worker it was sent to.
        started_s: when it was sent, seconds (pool clock).
    """

    job_id: int
    frame: QueuedFrame
    worker: str
    started_s: float


@dataclass
class _Worker:
    slots: int
    running: set[int] = field(default_factory=set)


@dataclass
class PoolCounters:
    """What happened to the frames the pool received (each lands in exactly one outcome)."""

    received: int = 0
    answered: int = 0
    redispatched: int = 0
    dropped_full: int = 0
    expired_queued: int = 0
    expired_running: int = 0
    abandoned_worker_lost: int = 0
    stale_answers: int = 0
    failed: int = 0


class Dispatcher:
    """Frames in, assignments to workers out, exactly one answer per frame."""

    def __init__(self, *, queue: FairQueue, slots_per_worker: int = 1,
                 min_service_s: float = 0.05, delay_window: int = 8,
                 now_s: float = 0.0, first_job_id: int | None = None) -> None:
        """Args:
            queue: the per-edge fair queue.
            slots_per_worker: frames one worker may hold at once [>= 1]; 1 keeps every
                waiting frame at the pool, where the fair share applies.
            min_service_s: a frame given back by a lost worker is re-queued only if its
                deadline is at least this far away [s, >= 0].
            delay_window: waits in the per-edge queue-delay median [frames, >= 1].
            now_s: the time the pool starts (without a worker yet), seconds.
            first_job_id: id of the first job [0, 2**63); None: a random one (see the
                module doc), a number for tests that want to read ids.
        """
        if slots_per_worker < 1:
            raise ValueError(f"slots_per_worker must be >= 1, got {slots_per_worker}")
        if min_service_s < 0:
            raise ValueError(f"min_service_s must be >= 0 s, got {min_service_s}")
        if delay_window < 1:
            raise ValueError(f"delay_window must be >= 1 frame, got {delay_window}")
        self.queue = queue
        self.counters = PoolCounters()
        self._slots = slots_per_worker
        self._min_service_s = min_service_s
        self._workers: dict[str, _Worker] = {}
        self._running: dict[int, Job] = {}
        self._next_job_id = secrets.randbits(63) if first_job_id is None else first_job_id
        self._waits: dict[str, deque[float]] = {}
        self._delay_window = delay_window
        self._no_worker_since: float | None = now_s

    # -- workers ---------------------------------------------------------------------------

    def worker_joined(self, worker: str) -> None:
        """A worker announced itself (liveliness token put). Idempotent."""
        self._workers.setdefault(worker, _Worker(slots=self._slots))
        self._no_worker_since = None

    def worker_left(self, worker: str, now_s: float) -> list[QueuedFrame]:
        """A worker is gone (token deleted): re-queue or give up its running frames.

        Returns:
            the frames given up (their edges answer alone).
        """
        state = self._workers.pop(worker, None)
        if state is None:
            return []
        if not self._workers:
            self._no_worker_since = now_s
        lost: list[QueuedFrame] = []
        # Put back newest first, so each edge's frames end up in their original order.
        for job_id in sorted(state.running, reverse=True):
            job = self._running.pop(job_id, None)
            if job is None:
                continue  # a frame it held past its deadline: given up already
            if job.frame.deadline_s - now_s >= self._min_service_s:
                self.queue.push_front(job.frame)
                self.counters.redispatched += 1
            else:
                lost.append(job.frame)
                self.counters.abandoned_worker_lost += 1
        return lost

    def workers(self) -> list[str]:
        """Workers known to be alive."""
        return list(self._workers)

    def stuck(self) -> list[str]:
        """Workers holding a frame past its deadline (no new frame goes to them)."""
        return [name for name, state in self._workers.items()
                if any(job_id not in self._running for job_id in state.running)]

    # -- frames ----------------------------------------------------------------------------

    def submit(self, frame: QueuedFrame) -> QueuedFrame | None:
        """A frame arrived from an edge. Returns a frame dropped for room, or None."""
        self.counters.received += 1
        dropped = self.queue.push(frame)
        if dropped is not None:
            self.counters.dropped_full += 1
        return dropped

    def assign(self, now_s: float) -> list[Job]:
        """Fill every free worker slot from the queue; the jobs to send out now."""
        self.expire(now_s)
        jobs: list[Job] = []
        for name, state in self._workers.items():
            while len(state.running) < state.slots:
                frame = self.queue.pop()
                if frame is None:
                    return jobs
                job = Job(job_id=self._next_job_id, frame=frame, worker=name, started_s=now_s)
                self._next_job_id += 1
                state.running.add(job.job_id)
                self._running[job.job_id] = job
                waits = self._waits.setdefault(frame.edge, deque(maxlen=self._delay_window))
                waits.append(now_s - frame.arrived_s)
                jobs.append(job)
        return jobs

    def complete(self, worker: str, job_id: int, now_s: float) -> Job | None:
        """A worker answered ``job_id`` (freeing its slot, a stuck one's too). Returns the
        job if this answer is to be forwarded.

        None means drop it: the frame was already answered or given up (its worker was
        presumed dead, or its deadline passed), or the job is unknown.
        """
        state = self._workers.get(worker)
        if state is not None:
            state.running.discard(job_id)
        job = self._running.get(job_id)
        if job is None or job.worker != worker:
            self.counters.stale_answers += 1
            return None
        del self._running[job_id]
        if now_s > job.frame.deadline_s:
            self.counters.expired_running += 1
            return None
        self.counters.answered += 1
        return job

    def fail(self, worker: str, job_id: int) -> QueuedFrame | None:
        """A worker could not answer ``job_id`` (a frame its detector refused).

        Frees the worker's slot at once (waiting for the deadline would idle it) and gives
        the frame up: another worker would refuse it too. Returns the frame, or None when
        it was not running on that worker.
        """
        state = self._workers.get(worker)
        if state is not None:
            state.running.discard(job_id)
        job = self._running.get(job_id)
        if job is None or job.worker != worker:
            return None
        del self._running[job_id]
        self.counters.failed += 1
        return job.frame

    def expire(self, now_s: float) -> list[QueuedFrame]:
        """Give up every frame, queued or running, whose deadline has passed."""
        expired = self.queue.drop_expired(now_s)
        self.counters.expired_queued += len(expired)
        for job_id, job in list(self._running.items()):
            if job.frame.deadline_s < now_s:
                # The frame is given up, but its worker keeps the slot until it answers
                # or leaves: a frozen worker whose slot freed here would be sent the next
                # frame, and lose that one too, every deadline until its lease ends.
                del self._running[job_id]
                self.counters.expired_running += 1
                expired.append(job.frame)
        return expired

    def running(self) -> int:
        """Frames on workers now."""
        return len(self._running)

    def queue_delay_s(self, edge: str, now_s: float) -> float:
        """The wait a new frame of ``edge`` can expect before a worker starts it, seconds."""
        waits = self._waits.get(edge)
        recent = statistics.median(waits) if waits else 0.0
        oldest = self.queue.oldest_arrival_s(edge)
        waiting_s = now_s - oldest if oldest is not None else 0.0
        idle_s = now_s - self._no_worker_since if self._no_worker_since is not None else 0.0
        return max(recent, waiting_s, idle_s, 0.0)
