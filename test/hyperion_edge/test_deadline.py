"""DeadlineTracker: one answer per frame, by its deadline; late cloud answers discarded."""

import pytest

from hyperion_edge.deadline import CLOUD, EDGE, FUSED, DeadlineTracker

S = 1_000_000_000
BUDGET = 2 * S
T0 = 100 * S  # capture stamp (= sequence) of the first frame


def tracker(**kwargs) -> DeadlineTracker:
    return DeadlineTracker(budget_ns=BUDGET, **kwargs)


def test_fused_as_soon_as_both_answered():
    t = tracker()
    assert t.on_plan(T0, edge_only=False, reason="", now_ns=T0 + S // 10) == []
    assert t.on_edge(T0, "edge", T0 + S // 5) == []
    (answer,) = t.on_cloud(T0, "cloud", T0 + S)
    assert answer.source == FUSED and answer.deadline_met
    assert answer.frame.edge == "edge" and answer.frame.cloud == "cloud"


def test_edge_only_plan_answers_at_once():
    t = tracker()
    t.on_edge(T0, "edge", T0 + S // 5)
    (answer,) = t.on_plan(T0, edge_only=True, reason="link down", now_ns=T0 + S // 4)
    assert (answer.source, answer.reason) == (EDGE, "link down")
    assert answer.decided_ns == T0 + S // 4


@pytest.mark.parametrize("report_first", [False, True])
def test_frame_not_sent_is_answered_by_the_edge_at_once(report_first):
    # The encoder's report may overtake the plan (different topics): either order works.
    t = tracker()
    t.on_edge(T0, "edge", T0 + S // 5)
    events = [lambda: t.on_plan(T0, edge_only=False, reason="", now_ns=T0 + S // 4),
              lambda: t.on_not_sent(T0, reason="payload 9 B over budget 5 B",
                                    now_ns=T0 + S // 3)]
    if report_first:
        events.reverse()
    first, second = (event() for event in events)
    (answer,) = first + second
    assert (answer.source, answer.reason) == (EDGE, "payload 9 B over budget 5 B")
    assert answer.decided_ns < T0 + BUDGET
    # A cloud answer can no longer come; if one did, it would be discarded, never published.
    assert t.on_cloud(T0, "cloud", T0 + S) == []
    assert t.counts["cloud_late_discarded"] == 1


def test_edge_at_deadline_then_late_cloud_discarded():
    t = tracker(margin_ns=S // 100)
    t.on_edge(T0, "edge", T0 + S // 5)
    t.on_plan(T0, edge_only=False, reason="", now_ns=T0 + S // 4)
    assert t.on_tick(T0 + BUDGET - S // 50) == []
    (answer,) = t.on_tick(T0 + BUDGET - S // 100)  # the margin before the deadline
    assert (answer.source, answer.reason, answer.deadline_met) == (EDGE, "cloud answer late", True)
    assert t.on_cloud(T0, "cloud", T0 + BUDGET + S) == []
    assert t.counts["cloud_late_discarded"] == 1
    assert t.pending() == 0


def test_no_plan_by_deadline():
    t = tracker()
    t.on_edge(T0, "edge", T0)
    (answer,) = t.on_tick(T0 + BUDGET)
    assert answer.reason == "no plan"


def test_edge_arriving_after_the_deadline_is_answered_at_once_and_marked_late():
    t = tracker()
    t.on_plan(T0, edge_only=False, reason="", now_ns=T0 + S)
    (answer,) = t.on_edge(T0, "edge", T0 + BUDGET + S)
    assert answer.source == EDGE and not answer.deadline_met


def test_cloud_alone_at_deadline_when_edge_missing():
    t = tracker()
    t.on_cloud(T0, "cloud", T0 + S)
    assert t.on_tick(T0 + S) == []
    (answer,) = t.on_tick(T0 + BUDGET)
    assert answer.source == CLOUD


def test_frame_without_any_answer_waits():
    t = tracker()
    t.on_plan(T0, edge_only=False, reason="", now_ns=T0)
    assert t.on_tick(T0 + 5 * BUDGET) == []
    assert t.next_decision_ns() is None


def test_exactly_one_answer_per_frame_in_capture_order():
    t = tracker()
    answers = []
    for k in range(5):
        seq = T0 + k * S // 10
        answers += t.on_edge(seq, k, seq)
        answers += t.on_plan(seq, edge_only=k % 2 == 0, reason="", now_ns=seq)
    answers += t.on_tick(T0 + 10 * S)
    answers += t.on_edge(T0, "again", T0 + 10 * S)  # duplicate of an answered frame
    sequences = [a.frame.sequence for a in answers]
    assert sorted(sequences) == [T0 + k * S // 10 for k in range(5)]
    assert len(set(sequences)) == 5
    assert t.counts["duplicates"] == 1


def test_stale_inputs_do_not_create_frames():
    t = tracker(stale_after_ns=S)
    assert t.on_cloud(T0, "cloud", T0 + BUDGET + 2 * S) == []
    assert t.on_plan(T0, edge_only=True, reason="", now_ns=T0 + BUDGET + 2 * S) == []
    assert t.pending() == 0 and t.counts["stale_inputs"] == 2


def test_very_late_edge_detections_are_still_answered():
    t = tracker(stale_after_ns=S)
    (answer,) = t.on_edge(T0, "edge", T0 + BUDGET + 5 * S)
    assert answer.source == EDGE and not answer.deadline_met
    assert t.counts["stale_inputs"] == 0


def test_a_restarted_tracker_leaves_its_predecessors_frames_alone():
    # Resent history after a restart (written before the start): frames past their
    # deadline at start-up are not answered again; a frame still within its budget is.
    started = T0 + 3 * S
    t = tracker(started_ns=started)
    assert t.on_edge(T0, "old", started + S // 10, written_ns=T0 + S // 2) == []
    assert t.counts["before_start"] == 1
    (answer,) = t.on_edge(T0 + 2 * S, "in time", started + S // 10,
                          written_ns=T0 + 2 * S + S // 2) + t.on_tick(T0 + 4 * S)
    assert answer.frame.sequence == T0 + 2 * S and answer.source == EDGE


def test_old_frames_detected_after_the_start_are_answered():
    # A replayed bag: capture stamps long past, detections written now.
    started = T0 + 100 * S
    t = tracker(started_ns=started)
    (answer,) = t.on_edge(T0, "replayed", started + S, written_ns=started + S // 2)
    assert answer.source == EDGE and not answer.deadline_met
    assert t.counts["before_start"] == 0


def test_answered_frames_are_remembered_until_stale_not_by_count():
    t = tracker(stale_after_ns=10 * S)
    t.on_edge(T0, "edge", T0)
    t.on_plan(T0, edge_only=True, reason="", now_ns=T0)
    for k in range(1, 3000):  # far more frames than the old fixed-size memory held
        seq = T0 + k * S // 1000
        t.on_edge(seq, k, seq)
        t.on_plan(seq, edge_only=True, reason="", now_ns=seq)
    assert t.on_cloud(T0, "late", T0 + BUDGET + 9 * S) == []
    assert t.counts["cloud_late_discarded"] == 1
    t.on_tick(T0 + BUDGET + 11 * S)  # past the stale horizon: forgotten, and stale
    assert t.on_cloud(T0, "later", T0 + BUDGET + 11 * S) == []
    assert t.counts["stale_inputs"] == 1 and t.pending() == 0


def test_over_capacity_answers_the_oldest_with_what_it_has():
    t = tracker(capacity=2)
    t.on_plan(T0, edge_only=False, reason="", now_ns=T0)  # no detections yet
    t.on_edge(T0 + 1, "edge", T0)
    t.on_cloud(T0 + 2, "cloud", T0)
    answers = t.on_edge(T0 + 3, "edge", T0)  # evicts T0 (empty), then T0 + 1
    assert [(a.frame.sequence, a.source, a.reason) for a in answers] == [
        (T0 + 1, EDGE, "over capacity")]
    assert t.counts["evicted"] == 1 and t.counts["evicted_empty"] == 1
    assert t.pending() == 2
    later = t.on_edge(T0, "edge", T0 + BUDGET)  # the forgotten frame's detections
    again = next(a for a in later if a.frame.sequence == T0)
    assert again.source == EDGE and again.frame.plan is None


def test_next_decision_is_the_earliest_answerable_deadline_less_the_margin():
    t = tracker(margin_ns=S // 10)
    t.on_plan(T0 - 5, edge_only=False, reason="", now_ns=T0)  # nothing to answer with
    t.on_edge(T0 + 5, "e", T0)
    t.on_cloud(T0, "c", T0)
    assert t.next_decision_ns() == T0 + BUDGET - S // 10
    # Brute force: ticking just before that decides nothing, ticking at it decides T0.
    assert t.on_tick(T0 + BUDGET - S // 10 - 1) == []
    (answer,) = t.on_tick(T0 + BUDGET - S // 10)
    assert (answer.frame.sequence, answer.source) == (T0, CLOUD)
    assert t.next_decision_ns() == T0 + 5 + BUDGET - S // 10


@pytest.mark.parametrize("kwargs", [{"budget_ns": 0}, {"budget_ns": S, "capacity": 0},
                                    {"budget_ns": S, "margin_ns": S}])
def test_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        DeadlineTracker(**kwargs)
