"""Weighted fair sharing of the pool, checked against the fair-queuing bound it promises."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperion_core.link.pool_fair import FairQueue, QueuedFrame


def frame(edge: str, seq: int, arrived_s: float = 0.0, deadline_s: float = 1e9) -> QueuedFrame:
    return QueuedFrame(edge=edge, seq=seq, payload=b"", arrived_s=arrived_s,
                       deadline_s=deadline_s)


def test_backlogged_edges_share_by_weight():
    weights = {"a": 1.0, "b": 2.0, "c": 3.0}
    queue = FairQueue(capacity=1000, weights=weights)
    for seq in range(300):
        for edge in weights:
            queue.push(frame(edge, seq))
    served = {edge: 0 for edge in weights}
    for _ in range(120):  # 20 rounds of 1 + 2 + 3
        served[queue.pop().edge] += 1
    assert served == {"a": 20, "b": 40, "c": 60}


def test_an_edge_arriving_late_gets_its_weighted_share_from_its_first_frame():
    """An edge failing over from another router to this pool after its own edges were
    served a long time: it neither waits behind their history nor is owed a burst."""
    queue = FairQueue(capacity=1000, weights={"moved": 2.0})
    for seq in range(200):
        queue.push(frame("here", seq))
    for _ in range(150):
        assert queue.pop().edge == "here"
    for seq in range(100):
        queue.push(frame("moved", seq))
    served = [queue.pop().edge for _ in range(30)]
    assert served.count("moved") == 20 and served[:3].count("moved") >= 1, served


def test_each_edge_keeps_its_order_and_an_empty_queue_pops_none():
    queue = FairQueue()
    assert queue.pop() is None
    for seq in range(3):
        queue.push(frame("a", seq))
        queue.push(frame("b", seq))
    popped = [(f.edge, f.seq) for f in iter(queue.pop, None)]
    assert [s for e, s in popped if e == "a"] == [0, 1, 2]
    assert [s for e, s in popped if e == "b"] == [0, 1, 2]
    assert queue.waiting() == 0


def test_full_queue_drops_its_oldest_and_expired_frames_leave():
    queue = FairQueue(capacity=2)
    assert queue.push(frame("a", 0)) is None
    assert queue.push(frame("a", 1)) is None
    assert queue.push(frame("a", 2)).seq == 0
    queue.push(frame("b", 0, deadline_s=5.0))
    assert [f.edge for f in queue.drop_expired(now_s=6.0)] == ["b"]
    assert queue.waiting("a") == 2 and queue.waiting("b") == 0


def test_a_quiet_edge_is_served_all_it_sends():
    queue = FairQueue(capacity=1000)
    for seq in range(100):
        queue.push(frame("busy", seq))
    quiet_served = 0
    for step in range(60):
        if step % 4 == 0:  # one frame every four services: less than its half share
            queue.push(frame("quiet", step))
        if queue.pop().edge == "quiet":
            quiet_served += 1
    assert quiet_served == 15 and queue.waiting("quiet") == 0


@pytest.mark.parametrize("capacity", [1, 4, 16])
def test_a_saturated_pool_with_full_queues_shares_equally(capacity):
    """Three times more frames than service, queues full and dropping: equal shares.

    (Tagged on arrival, dropped frames were charged to their edge, and the first edge took
    99 % of the service: benchmarks/pool_scale.py found it.)
    """
    queue = FairQueue(capacity=capacity)
    served = dict.fromkeys("abc", 0)
    dropped = 0
    for step in range(300):
        for edge in "cab" if step % 2 else "abc":
            dropped += queue.push(frame(edge, step)) is not None
        served[queue.pop().edge] += 1
    assert dropped > 0 and max(served.values()) - min(served.values()) <= 1, served


@pytest.mark.parametrize("bad", [{"capacity": 0}, {"default_weight": 0.0},
                                 {"weights": {"a": -1.0}}, {"default_weight": float("nan")}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        FairQueue(**bad)


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       steps=st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=300),
       capacity=st.sampled_from([1, 2, 3, 10_000]))
def test_golestani_bound_over_every_common_backlog(weights, steps, capacity):
    """While edges e and f both have frames waiting, their weighted services differ by at
    most 1/w_e + 1/w_f (self-clocked fair queuing), whatever the arrivals, also when full
    queues drop frames."""
    edges = [f"e{i}" for i in range(len(weights))]
    w = dict(zip(edges, map(float, weights), strict=True))
    queue = FairQueue(capacity=capacity, weights=w)
    served = dict.fromkeys(edges, 0)
    # For each pair: services of each at the start of their current common backlog.
    since: dict[tuple[str, str], tuple[int, int]] = {}
    seq = itertools.count()
    for arrive, index in steps:
        if arrive:
            queue.push(frame(edges[index % len(edges)], next(seq)))
        else:
            popped = queue.pop()
            if popped is not None:
                served[popped.edge] += 1
        for e, f in itertools.combinations(edges, 2):
            both = queue.waiting(e) > 0 and queue.waiting(f) > 0
            if not both:
                since.pop((e, f), None)
                continue
            start_e, start_f = since.setdefault((e, f), (served[e], served[f]))
            gap = abs((served[e] - start_e) / w[e] - (served[f] - start_f) / w[f])
            assert gap <= 1 / w[e] + 1 / w[f] + 1e-9, (e, f, served, since[(e, f)])
