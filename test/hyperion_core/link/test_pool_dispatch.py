"""The pool's bookkeeping: exactly one answer per frame under random worker deaths."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion_core.link.pool_dispatch import Dispatcher
from hyperion_core.link.pool_fair import FairQueue, QueuedFrame


def frame(edge: str, seq: int, now_s: float, budget_s: float) -> QueuedFrame:
    return QueuedFrame(edge=edge, seq=seq, payload=b"", arrived_s=now_s,
                       deadline_s=now_s + budget_s)


def test_lost_worker_frames_go_to_the_other_worker_first_in_line():
    pool = Dispatcher(queue=FairQueue(), min_service_s=0.1)
    pool.worker_joined("w1")
    for seq in range(3):
        pool.submit(frame("a", seq, 0.0, 10.0))
    [job] = pool.assign(0.0)
    assert job.frame.seq == 0 and job.worker == "w1"
    assert pool.worker_left("w1", 1.0) == []
    pool.worker_joined("w2")
    [again] = pool.assign(1.0)
    assert (again.frame.seq, again.worker) == (0, "w2")
    assert pool.complete("w1", job.job_id, 1.1) is None  # the dead worker's late answer
    assert pool.complete("w2", again.job_id, 1.2) is again
    assert pool.complete("w2", again.job_id, 1.3) is None  # a duplicate
    assert pool.counters.answered == 1 and pool.counters.redispatched == 1


def test_lost_worker_frame_without_time_left_is_given_up():
    pool = Dispatcher(queue=FairQueue(), min_service_s=0.5)
    pool.worker_joined("w1")
    pool.submit(frame("a", 7, 0.0, 1.0))
    assert len(pool.assign(0.0)) == 1
    assert [f.seq for f in pool.worker_left("w1", 0.8)] == [7]
    pool.worker_joined("w2")
    assert pool.assign(0.8) == []
    assert pool.counters.abandoned_worker_lost == 1


def test_a_refused_frame_frees_its_worker_at_once():
    pool = Dispatcher(queue=FairQueue())
    pool.worker_joined("w")
    pool.submit(frame("a", 1, 0.0, 100.0))
    pool.submit(frame("a", 2, 0.0, 100.0))
    [bad] = pool.assign(0.0)
    assert pool.assign(0.1) == []  # the worker's one slot is taken
    assert pool.fail("w", bad.job_id).seq == 1
    assert pool.fail("w", bad.job_id) is None  # reported twice: nothing more happens
    [good] = pool.assign(0.2)
    assert good.frame.seq == 2
    assert pool.complete("w", bad.job_id, 0.3) is None  # never answered after all
    assert pool.counters.failed == 1


def test_answer_after_the_deadline_is_not_forwarded():
    pool = Dispatcher(queue=FairQueue())
    pool.worker_joined("w")
    pool.submit(frame("a", 1, 0.0, 1.0))
    [job] = pool.assign(0.0)
    assert pool.complete("w", job.job_id, 1.5) is None
    assert pool.counters.expired_running == 1


def test_a_worker_stuck_past_a_deadline_gets_no_frame_until_it_answers():
    pool = Dispatcher(queue=FairQueue())
    pool.worker_joined("w")
    pool.submit(frame("a", 1, 0.0, 1.0))
    pool.submit(frame("a", 2, 0.0, 10.0))
    [held] = pool.assign(0.0)
    assert [f.seq for f in pool.expire(1.5)] == [1]
    # Frozen (SIGSTOP) until its lease ends: frame 2 must not be lost to it as well.
    assert pool.assign(1.5) == [] and pool.stuck() == ["w"]
    assert pool.complete("w", held.job_id, 4.0) is None  # resumed: its late answer dropped
    [served] = pool.assign(4.0)
    assert served.frame.seq == 2 and pool.stuck() == []
    assert pool.counters.expired_running == 1 and pool.counters.stale_answers == 1


def test_a_stuck_worker_that_leaves_gives_back_nothing_twice():
    pool = Dispatcher(queue=FairQueue())
    pool.worker_joined("w")
    pool.submit(frame("a", 1, 0.0, 1.0))
    pool.assign(0.0)
    assert len(pool.expire(2.0)) == 1
    assert pool.worker_left("w", 3.0) == []  # its lease ended; the frame was given up
    assert pool.counters.abandoned_worker_lost == pool.counters.redispatched == 0


def test_job_ids_of_two_pools_differ():
    """A worker answering a restarted router's pool a job of the old one hits nothing."""
    ids = []
    for _ in range(2):
        pool = Dispatcher(queue=FairQueue())
        pool.worker_joined("w")
        pool.submit(frame("a", 1, 0.0, 10.0))
        ids.append(pool.assign(0.0)[0].job_id)
    assert ids[0] != ids[1] and all(0 <= i < 2**63 for i in ids)


def test_queue_delay_shows_a_waiting_backlog_before_any_frame_starts():
    pool = Dispatcher(queue=FairQueue())
    pool.worker_joined("w")
    pool.submit(frame("a", 1, 0.0, 10.0))
    pool.submit(frame("a", 2, 0.0, 10.0))
    assert len(pool.assign(0.0)) == 1
    assert pool.queue_delay_s("a", 2.0) == pytest.approx(2.0)  # frame 2 waits since 0
    assert pool.queue_delay_s("b", 2.0) == 0.0
    assert pool.assign(2.0) == []  # the worker still holds frame 1


def test_queue_delay_is_the_median_of_recent_waits_once_the_queue_is_empty():
    pool = Dispatcher(queue=FairQueue(), delay_window=3)
    pool.worker_joined("w")
    for seq, (arrived, started) in enumerate([(0.0, 1.0), (1.0, 1.5), (2.0, 4.0)]):
        pool.submit(frame("a", seq, arrived, 10.0))
        [job] = pool.assign(started)
        assert pool.complete("w", job.job_id, started) is job
    assert pool.queue_delay_s("a", 9.0) == pytest.approx(1.0)  # median of 1.0, 0.5, 2.0


def test_queue_delay_grows_while_the_pool_has_no_worker():
    pool = Dispatcher(queue=FairQueue(), now_s=0.0)
    assert pool.queue_delay_s("a", 3.0) == pytest.approx(3.0)  # none since the start
    pool.worker_joined("w")
    assert pool.queue_delay_s("a", 4.0) == 0.0
    pool.worker_left("w", 5.0)
    assert pool.queue_delay_s("a", 12.0) == pytest.approx(7.0)


@pytest.mark.parametrize("bad", [{"slots_per_worker": 0}, {"min_service_s": -1.0},
                                 {"delay_window": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Dispatcher(queue=FairQueue(), **bad)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), generous=st.booleans())
def test_random_worker_deaths_never_answer_a_frame_twice(seed, generous):
    """Random arrivals, answers (also late and duplicated), worker joins and deaths.

    Reference: a ledger of every frame's outcome, kept outside the dispatcher. Every frame
    ends with exactly one outcome; with deadlines that always leave time, none is given up.
    """
    rng = random.Random(seed)
    pool = Dispatcher(queue=FairQueue(capacity=10_000), slots_per_worker=rng.randint(1, 2),
                      min_service_s=0.2)
    budget_s = 1e6 if generous else 2.0
    now = 0.0
    forwarded: dict[tuple[str, int], int] = {}
    given_up: set[tuple[str, int]] = set()
    sent: list[tuple[str, int, str]] = []  # (job id, worker) of every job ever sent
    workers = [f"w{i}" for i in range(4)]
    next_seq = 0
    frames: set[tuple[str, int]] = set()

    def give_up(lost: list[QueuedFrame]) -> None:
        for f in lost:
            assert (f.edge, f.seq) not in given_up
            given_up.add((f.edge, f.seq))

    def answer(key: tuple[str, int], job_id: int, worker: str) -> None:
        late_before = pool.counters.expired_running
        job = pool.complete(worker, job_id, now)
        if pool.counters.expired_running > late_before:
            give_up([QueuedFrame(edge=key[0], seq=key[1], payload=b"", arrived_s=0.0,
                                 deadline_s=0.0)])
        if job is not None:
            assert (job.frame.edge, job.frame.seq) == key
            assert now <= job.frame.deadline_s
            forwarded[key] = forwarded.get(key, 0) + 1

    for _ in range(rng.randint(1, 200)):
        now += rng.uniform(0.0, 0.3)
        action = rng.random()
        if action < 0.35:
            edge = rng.choice("abc")
            frames.add((edge, next_seq))
            pool.submit(frame(edge, next_seq, now, budget_s))
            next_seq += 1
        elif action < 0.45:
            pool.worker_joined(rng.choice(workers))
        elif action < 0.55:
            give_up(pool.worker_left(rng.choice(workers), now))
        elif sent:
            # Any worker may answer any job it was ever sent, again and again.
            answer(*rng.choice(sent))
        give_up(pool.expire(now))
        sent += [((j.frame.edge, j.frame.seq), j.job_id, j.worker) for j in pool.assign(now)]
    # Drain: every job ever sent is answered (again), then a new worker serves the rest.
    for item in sent:
        answer(*item)
    pool.worker_joined("last")
    while jobs := pool.assign(now):
        for j in jobs:
            answer((j.frame.edge, j.frame.seq), j.job_id, j.worker)
    assert pool.running() == 0 and pool.queue.waiting() == 0
    assert all(count == 1 for count in forwarded.values()), forwarded
    assert not set(forwarded) & given_up
    assert set(forwarded) | given_up == frames
    if generous:
        assert not given_up
    c = pool.counters
    assert c.answered == len(forwarded) and c.received == len(frames)
