"""FrameJoin: parts of one frame joined by sequence in any order; at most ``capacity``
incomplete frames, the oldest (lowest sequence) evicted first and counted."""

import random
import threading

import pytest

from hyperion_edge.join import FrameJoin
from hyperion_runtime.diagnostics import Counters

S = 1_000_000_000
T0 = 1_700_000_000 * S  # a capture stamp, ns


def make_join(capacity: int = 4, counters: Counters | None = None) -> FrameJoin:
    return FrameJoin(parts=("image", "plan"), capacity=capacity,
                     counters=counters if counters is not None else Counters())


def test_frame_complete_when_all_parts_are_in_either_order():
    join = make_join()
    assert join.add("image", T0, "img0") is None
    assert join.add("plan", T0, "plan0") == {"image": "img0", "plan": "plan0"}
    assert join.add("plan", T0 + 1, "plan1") is None
    assert join.add("image", T0 + 1, "img1") == {"image": "img1", "plan": "plan1"}
    assert len(join) == 0  # complete frames are removed


def test_parts_of_different_frames_never_mix():
    join = make_join()
    join.add("image", T0, "img0")
    join.add("plan", T0 + S, "plan1")
    assert len(join) == 2
    assert join.add("image", T0 + S, "img1") == {"image": "img1", "plan": "plan1"}
    assert join.add("plan", T0, "plan0") == {"image": "img0", "plan": "plan0"}


def test_repeated_part_replaces_the_earlier_one():
    join = make_join()
    join.add("image", T0, "first")
    join.add("image", T0, "second")
    assert join.add("plan", T0, "plan") == {"image": "second", "plan": "plan"}


def test_single_part_join_completes_at_once():
    join = FrameJoin(parts=("image",), capacity=1, counters=Counters())
    assert join.add("image", T0, "img") == {"image": "img"}
    assert len(join) == 0


def test_capacity_evicts_lowest_sequence_first_and_counts():
    counters = Counters()
    join = make_join(capacity=3, counters=counters)
    # Arrival order differs from capture order: eviction follows the sequence.
    for seq in (T0 + 2, T0 + 0, T0 + 3, T0 + 1):
        join.add("image", seq, seq)
    assert len(join) == 3
    assert counters.get("join_evicted") == 1
    assert join.add("plan", T0 + 0, "p") is None  # T0 was evicted: a fresh frame again
    # ... which in turn evicts the now-oldest incomplete frame, T0 itself
    assert counters.get("join_evicted") == 2
    for seq in (T0 + 1, T0 + 2, T0 + 3):
        assert join.add("plan", seq, "p") == {"image": seq, "plan": "p"}
    assert len(join) == 0 and counters.get("join_evicted") == 2


def test_completing_a_frame_at_capacity_evicts_nothing():
    counters = Counters()
    join = make_join(capacity=2, counters=counters)
    join.add("image", T0, "a")
    join.add("image", T0 + 1, "b")
    assert join.add("plan", T0, "p") == {"image": "a", "plan": "p"}
    assert counters.snapshot() == {}


def test_eviction_counter_name_is_configurable():
    counters = Counters()
    join = FrameJoin(parts=("a", "b"), capacity=1, counters=counters, counter="enc_evicted")
    join.add("a", 1, None)
    join.add("a", 2, None)
    assert counters.snapshot() == {"enc_evicted": 1}


def test_discard_forgets_a_frame_and_tolerates_unknown_ones():
    join = make_join()
    join.add("image", T0, "img")
    join.discard(T0)
    join.discard(T0 + 123)  # never seen
    assert len(join) == 0
    assert join.add("plan", T0, "plan") is None  # the image is gone


def test_unknown_part_is_refused_and_stores_nothing():
    join = make_join()
    with pytest.raises(KeyError, match="detections"):
        join.add("detections", T0, None)
    assert len(join) == 0


@pytest.mark.parametrize(("parts", "capacity"), [((), 4), (("image",), 0), (("image",), -1)])
def test_bad_construction_is_refused(parts, capacity):
    with pytest.raises(ValueError):
        FrameJoin(parts=parts, capacity=capacity, counters=Counters())


def test_concurrent_producers_join_every_frame_exactly_once():
    frames = 500
    join = FrameJoin(parts=("image", "plan"), capacity=frames, counters=Counters())
    complete: list[dict] = []
    lock = threading.Lock()

    def produce(part: str, seed: int) -> None:
        order = list(range(frames))
        random.Random(seed).shuffle(order)
        for k in order:
            out = join.add(part, T0 + k, (part, k))
            if out is not None:
                with lock:
                    complete.append(out)

    threads = [threading.Thread(target=produce, args=(p, s))
               for p, s in (("image", 1), ("plan", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(complete) == frames
    assert all(c["image"][1] == c["plan"][1] for c in complete)
    assert sorted(c["image"][1] for c in complete) == list(range(frames))
    assert len(join) == 0
