"""DeadlineTracker: one answer per frame, by its deadline; late cloud answers discarded.

Time is a fake clock: every call is given its ``now_ns``; nothing here waits."""

import pytest

from hyperion_edge.deadline import CLOUD, EDGE, FUSED, AnswerTimes, DeadlineTracker

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


MS = 1_000_000


def offload(t: DeadlineTracker, seq: int = T0) -> None:
    """Frame ``seq``: edge detections in, planned for the cloud, no answer yet."""
    t.on_edge(seq, "edge", seq + S // 5)
    t.on_plan(seq, edge_only=False, reason="", now_ns=seq + S // 4)


def test_answer_times_p99_over_a_bounded_window():
    times = AnswerTimes(window=100)
    assert times.quantile_ns() == 0 and len(times) == 0
    times.add(30 * MS)
    times.add(-5)  # a clock step back counts as 0, never as a negative margin
    assert times.quantile_ns() == 30 * MS  # fewer than 100 times: the slowest
    for _ in range(99):
        times.add(2 * MS)
    assert len(times) == 100
    assert times.quantile_ns() == 2 * MS  # the one slow answer (30 ms) left the window
    for _ in range(2):
        times.add(40 * MS)
    assert times.quantile_ns() == 40 * MS  # 2 of 100 slow: p99 is slow


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"quantile": 0.0}, {"quantile": 1.5}])
def test_answer_times_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        AnswerTimes(**kwargs)


def test_the_margin_is_the_measured_p99_when_that_is_longer():
    t = tracker(margin_ns=50 * MS)
    assert t.margin_ns == 50 * MS
    t.observe_answer_time(10 * MS)
    assert t.margin_ns == 50 * MS  # measured below the configured floor
    t.observe_answer_time(120 * MS)
    assert t.margin_ns == 120 * MS
    t.observe_answer_time(10 * BUDGET)
    assert t.margin_ns == BUDGET  # never more than the whole budget


def test_a_slow_ensembler_stops_waiting_for_the_cloud_earlier():
    t = tracker(margin_ns=50 * MS)
    offload(t)
    assert t.next_decision_ns() == T0 + BUDGET - 50 * MS
    t.observe_answer_time(90 * MS)  # an answer (wake-up lateness + fusion) took 90 ms
    assert t.next_decision_ns() == T0 + BUDGET - 90 * MS
    assert t.on_tick(T0 + BUDGET - 90 * MS - 1) == []
    (answer,) = t.on_tick(T0 + BUDGET - 90 * MS)
    assert (answer.source, answer.reason) == (EDGE, "cloud answer late")


def test_a_cloud_answer_after_the_cutoff_is_counted_not_fused_and_the_edge_answers_at_once():
    # The case: the cloud's answer came at 4.974 s of a 5 s budget, after the
    # ensembler's cut-off (4.95 s), while the timer had not yet fired; it was fused and
    # published at 5.029 s. Now the edge answers at once and the cloud answer is unused.
    budget = 5 * S
    t = DeadlineTracker(budget_ns=budget, margin_ns=50 * MS)
    offload(t)
    (answer,) = t.on_cloud(T0, "cloud", T0 + 4974 * MS)
    assert (answer.source, answer.reason) == (EDGE, "cloud answer after cut-off")
    assert answer.decided_ns == T0 + 4974 * MS and answer.deadline_met
    assert answer.frame.cloud is None and answer.frame.late_cloud == "cloud"
    assert answer.frame.cloud_ns == T0 + 4974 * MS  # its arrival is still on record
    assert t.counts["cloud_after_cutoff"] == 1 and t.counts["cloud_late_discarded"] == 0
    assert t.pending() == 0


def test_the_cutoff_applies_exactly_at_its_nanosecond():
    t = tracker(margin_ns=50 * MS)
    offload(t)
    offload(t, T0 + 1)
    cutoff = T0 + BUDGET - 50 * MS
    (fused,) = t.on_cloud(T0, "cloud", cutoff - 1)
    assert fused.source == FUSED
    (edge,) = t.on_cloud(T0 + 1, "cloud", cutoff + 1)  # frame T0 + 1's cut-off is cutoff + 1
    assert (edge.source, edge.reason) == (EDGE, "cloud answer after cut-off")


def test_a_cloud_answer_before_the_measured_cutoff_is_fused():
    t = tracker(margin_ns=50 * MS)
    t.observe_answer_time(200 * MS)
    offload(t)
    (answer,) = t.on_cloud(T0, "cloud", T0 + BUDGET - 201 * MS)
    assert answer.source == FUSED
    assert t.counts["cloud_after_cutoff"] == 0


def test_a_cloud_answer_after_the_cutoff_without_edge_detections_answers_alone():
    # Nothing else to answer with: the cloud's boxes go out at once (no fusing to do).
    t = tracker(margin_ns=50 * MS)
    t.on_plan(T0, edge_only=False, reason="", now_ns=T0 + S // 4)
    (answer,) = t.on_cloud(T0, "cloud", T0 + BUDGET - 10 * MS)
    assert answer.source == CLOUD and answer.deadline_met
    assert t.counts["cloud_after_cutoff"] == 0


def test_edge_detections_after_the_cutoff_do_not_start_a_fusion():
    # The cloud's answer waited alone; the timer was late and the edge's detections came
    # after the cut-off: the frame is answered from the cloud, as it was due at the cut-off.
    t = tracker(margin_ns=50 * MS)
    t.on_cloud(T0, "cloud", T0 + S)
    (answer,) = t.on_edge(T0, "edge", T0 + BUDGET - 20 * MS)
    assert answer.source == CLOUD
    # Before the cut-off the same detections are fused.
    t.on_cloud(T0 + 1, "cloud", T0 + S)
    (answer,) = t.on_edge(T0 + 1, "edge", T0 + BUDGET - 60 * MS)
    assert answer.source == FUSED


def test_a_cloud_answer_after_an_edge_only_answer_is_still_a_late_discard():
    t = tracker(margin_ns=50 * MS)
    t.on_edge(T0, "edge", T0 + S // 5)
    t.on_plan(T0, edge_only=True, reason="link down", now_ns=T0 + S // 4)
    assert t.on_cloud(T0, "cloud", T0 + BUDGET - 10 * MS) == []
    assert (t.counts["cloud_late_discarded"], t.counts["cloud_after_cutoff"]) == (1, 0)


def test_under_load_nothing_is_fused_after_the_cutoff_whether_the_timer_fires_or_not():
    # Answers have taken up to 80 ms to go out: the cut-off is 80 ms before the deadline.
    # Cloud answers come 1.90, 1.93, 1.96, 1.99 s after capture; the timer fires for the
    # even frames and is starved (an executor busy elsewhere) for the odd ones.
    t = tracker(margin_ns=50 * MS)
    for k in range(20):
        t.observe_answer_time((80 if k % 10 == 0 else 5) * MS)
    assert t.margin_ns == 80 * MS
    answers = []
    for k in range(4):
        seq = T0 + k * S
        offload(t, seq)
        arrival = seq + (1900 + 30 * k) * MS
        if k % 2 == 0:
            answers += t.on_tick(min(arrival, t.next_decision_ns()))
        answers += t.on_cloud(seq, "cloud", arrival)
    assert [(a.source, a.reason) for a in answers] == [
        (FUSED, ""), (EDGE, "cloud answer after cut-off"), (EDGE, "cloud answer late"),
        (EDGE, "cloud answer after cut-off")]
    for answer in answers:
        room = answer.frame.deadline_ns - answer.decided_ns
        assert room > 80 * MS if answer.source == FUSED else room >= 0
    assert t.counts["cloud_after_cutoff"] == 2 and t.counts["cloud_late_discarded"] == 1
