"""When to answer a frame: the ensembler's deadline logic, free of ROS so it can be tested.

Each frame (key: ``sequence``, the capture stamp in ns) gets exactly one answer:

- as soon as the edge detections and the cloud answer are both in: **fused**;
- as soon as the edge detections are in and the plan says edge-only, or the encoder
  reports that nothing was sent (the payload did not fit its budget): **edge**, at once;
- at the cut-off with only the edge detections: **edge**
  ("cloud answer late", or "no plan" when the scheduler never planned the frame);
- at the cut-off with only a cloud answer (the edge dropped the frame, or its detections
  come only after the cut-off): **cloud**;
- a cloud answer arriving at or after the cut-off while the edge detections are in is not
  used (fusing and publishing it would end past the deadline): **edge**, at once, reason
  "cloud answer after cut-off", counted (``cloud_after_cutoff``);
- edge detections that arrive after the deadline are answered at once (deadline missed).

The **cut-off** is where the ensembler stops waiting for the cloud: the deadline (capture
stamp + latency budget) less the margin in force, ``max(margin_ns, p99 answer time)``, at
most the whole budget. The answer time is what the ensembler measures of itself, per answer
(:meth:`DeadlineTracker.observe_answer_time`): from when the answer was due (the wake-up
the timer was set for, so a late wake counts; or the arrival of the input that decided it)
to when it was published (fusion and publishing included). Its p99 is taken over the last
``answer_window`` answers (:class:`AnswerTimes`), so a loaded machine moves the cut-off
earlier, and an idle one lets it come back to ``margin_ns``.

A cloud answer for a frame already answered is discarded and counted
(``cloud_late_discarded``): publishing it would give the frame a second answer. Answered
frames are remembered until ``stale_after_ns`` past their deadline; after that, cloud
answers, plans and scores for them are dropped as stale (``stale_inputs``), since such a
frame may have been answered and forgotten. Edge detections are never stale: the edge
publishes each frame once, so a very late one is answered at once (deadline missed)
rather than lost, unless they were written before the tracker started and the frame's
deadline had passed by then (``before_start``): a restarted ensembler is resent the edge
detector's last results, and those frames were its predecessor's to answer. (A replayed
bag's frames are old too, but their detections are written after the start.)

At most ``capacity`` frames wait. Beyond that the oldest is answered at once with what it
has (``evicted``, reason "over capacity"); one without any detections yet is forgotten
(``evicted_empty``) and starts again when its detections come.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

EDGE, CLOUD, FUSED = "edge", "cloud", "fused"


@dataclass
class FrameState:
    """What is known about one frame. Stamps are edge-clock ns (0 = not yet).

    Args:
        sequence: capture stamp, ns.
        deadline_ns: capture stamp + budget, ns.

    ``cloud``/``cloud_ns``: the cloud's answer and when it came, if it came before the
    cut-off; one that came after it is kept in ``late_cloud`` (its stamps and byte count
    still describe the frame), never fused.
    """

    sequence: int
    deadline_ns: int
    edge: Any = None
    edge_ns: int = 0
    scores_ns: int = 0
    plan: Any = None
    plan_edge_only: bool | None = None
    plan_reason: str = ""
    plan_ns: int = 0
    cloud: Any = None
    cloud_ns: int = 0
    not_sent: str = ""
    late_cloud: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The decision for one frame.

    Args:
        frame: everything known about the frame.
        source: ``"edge"``, ``"cloud"`` or ``"fused"``.
        reason: why the cloud did not contribute (empty for cloud/fused answers).
        decided_ns: when the decision was taken, ns.
    """

    frame: FrameState
    source: str
    reason: str
    decided_ns: int

    @property
    def deadline_met(self) -> bool:
        """True when decided no later than the frame's deadline."""
        return self.decided_ns <= self.frame.deadline_ns


class AnswerTimes:
    """A bounded window of the most recent answer times, ns, and their p99.

    Args:
        window: answer times kept (the oldest is dropped beyond it), >= 1.
        quantile: the quantile reported, in (0, 1].
    """

    def __init__(self, *, window: int = 100, quantile: float = 0.99) -> None:
        if window < 1 or not 0.0 < quantile <= 1.0:
            raise ValueError(f"window must be >= 1 and quantile in (0, 1], got {window}, "
                             f"{quantile}")
        self._times: deque[int] = deque(maxlen=window)
        self._quantile = quantile

    def add(self, ns: int) -> None:
        """One answer took ``ns`` from due to published (negative values count as 0)."""
        self._times.append(max(int(ns), 0))

    def __len__(self) -> int:
        return len(self._times)

    def quantile_ns(self) -> int:
        """The nearest-rank quantile of the window (the largest while it holds fewer than
        1/(1 - quantile) times, so a few answers are judged by their slowest); 0 when
        empty."""
        if not self._times:
            return 0
        ordered = sorted(self._times)
        return ordered[max(math.ceil(self._quantile * len(ordered)), 1) - 1]


class DeadlineTracker:
    """Collects edge detections, plans and cloud answers; says when to answer which frame."""

    def __init__(
        self, *, budget_ns: int, margin_ns: int = 0, capacity: int = 64,
        answered_memory: int = 65536, stale_after_ns: int | None = None, started_ns: int = 0,
        answer_window: int = 100,
    ) -> None:
        """Args:
        budget_ns: latency budget per frame, ns (> 0).
        margin_ns: give up waiting for the cloud at least this long before the deadline,
            so the edge answer (decided by a timer that may wake late, then published) is
            in time; the measured p99 answer time widens it (see the module docstring).
        capacity: frames waiting for an answer at most.
        answered_memory: most answered sequences remembered (to discard late cloud
            answers) at once; they are forgotten earlier, once stale.
        stale_after_ns: inputs arriving this long after their frame's deadline are
            dropped; default 10 budgets.
        started_ns: when this tracker started (edge clock); edge detections written
            before then, of frames whose deadline had passed by then, are ignored.
        answer_window: answer times the p99 is taken over (the most recent ones).
        """
        if budget_ns <= 0 or capacity < 1 or answered_memory < 1:
            raise ValueError("budget_ns, capacity and answered_memory must be positive")
        if not 0 <= margin_ns < budget_ns:
            raise ValueError(f"margin_ns must lie in [0, budget_ns), got {margin_ns}")
        self.budget_ns = int(budget_ns)
        self._margin_ns = int(margin_ns)
        self._capacity = capacity
        self._memory = answered_memory
        self._stale_ns = 10 * self.budget_ns if stale_after_ns is None else int(stale_after_ns)
        self._started_ns = int(started_ns)
        self._pending: OrderedDict[int, FrameState] = OrderedDict()
        self._answered: OrderedDict[int, str] = OrderedDict()
        self._over_capacity: list[Answer] = []
        self.answer_times = AnswerTimes(window=answer_window)
        self.counts: dict[str, int] = {
            "cloud_late_discarded": 0, "cloud_after_cutoff": 0, "stale_inputs": 0,
            "evicted": 0, "evicted_empty": 0, "duplicates": 0, "before_start": 0,
        }

    def observe_answer_time(self, ns: int) -> None:
        """An answer was published ``ns`` after it was due (timer lateness, fusion and
        publishing included); it moves the cut-off of frames still waiting."""
        self.answer_times.add(ns)

    @property
    def margin_ns(self) -> int:
        """The margin in force: ``max(margin_ns, p99 answer time)``, at most the budget."""
        return min(max(self._margin_ns, self.answer_times.quantile_ns()), self.budget_ns)

    def cutoff_ns(self, frame: FrameState) -> int:
        """When the ensembler stops waiting for the cloud's answer of ``frame``, ns."""
        return frame.deadline_ns - self.margin_ns

    def _frame(self, sequence: int, now_ns: int, *, may_be_stale: bool = False
               ) -> FrameState | None:
        if sequence in self._answered:
            return None
        frame = self._pending.get(sequence)
        if frame is not None:
            return frame
        deadline = sequence + self.budget_ns
        if now_ns > deadline + self._stale_ns and not may_be_stale:
            self.counts["stale_inputs"] += 1
            return None
        frame = FrameState(sequence=sequence, deadline_ns=deadline)
        self._pending[sequence] = frame
        while len(self._pending) > self._capacity:
            self._evict_oldest(now_ns)
        return frame

    def _evict_oldest(self, now_ns: int) -> None:
        _, oldest = self._pending.popitem(last=False)
        if oldest.edge is None and oldest.cloud is None:
            self.counts["evicted_empty"] += 1
            return
        self.counts["evicted"] += 1
        if oldest.edge is None:
            source, reason = CLOUD, ""
        elif oldest.cloud is None:
            source, reason = EDGE, "over capacity"
        else:
            source, reason = FUSED, ""
        self._over_capacity.append(self._answer(oldest, source, reason, now_ns))

    def on_edge(self, sequence: int, detections: object, now_ns: int,
                written_ns: int | None = None) -> list[Answer]:
        """Edge detections of a frame arrived; ``written_ns``: when the edge published them
        (the DDS source timestamp), if known."""
        resent = written_ns is not None and written_ns < self._started_ns
        if resent and sequence + self.budget_ns < self._started_ns:
            self.counts["before_start"] += 1
            return self.on_tick(now_ns)
        frame = self._frame(sequence, now_ns, may_be_stale=True)
        if frame is None:
            self.counts["duplicates"] += 1
            return self.on_tick(now_ns)
        frame.edge, frame.edge_ns = detections, now_ns
        return self.on_tick(now_ns)

    def on_scores(self, sequence: int, now_ns: int, classes: object = None) -> list[Answer]:
        """The scorer's patch scores of a frame arrived (the time, and ``classes`` — the
        class map the fusion needs — in ``extra["classes"]`` when given).

        Scores of a frame already answered are ignored: they cannot change the answer.
        """
        frame = self._frame(sequence, now_ns)
        if frame is not None:
            frame.scores_ns = now_ns
            if classes is not None:
                frame.extra["classes"] = classes
        return self.on_tick(now_ns)

    def on_sent(self, sequence: int, report: object, now_ns: int) -> list[Answer]:
        """The encoder sent a frame; ``report`` (what it encoded) goes to
        ``extra["encoded"]``."""
        frame = self._frame(sequence, now_ns)
        if frame is not None:
            frame.extra["encoded"] = report
        return self.on_tick(now_ns)

    def on_plan(
        self, sequence: int, *, edge_only: bool, reason: str, now_ns: int, plan: object = None,
    ) -> list[Answer]:
        """The scheduler's plan of a frame arrived."""
        frame = self._frame(sequence, now_ns)
        if frame is not None:
            frame.plan, frame.plan_edge_only, frame.plan_reason = plan, edge_only, reason
            frame.plan_ns = now_ns
        return self.on_tick(now_ns)

    def on_not_sent(self, sequence: int, *, reason: str, now_ns: int) -> list[Answer]:
        """The encoder sent nothing for a frame planned for the cloud: no answer will come."""
        frame = self._frame(sequence, now_ns)
        if frame is not None:
            frame.not_sent = reason or "not sent"
        return self.on_tick(now_ns)

    def on_cloud(self, sequence: int, detections: object, now_ns: int) -> list[Answer]:
        """The cloud's answer of a frame arrived; discarded if the frame was answered, and
        not used (the edge answers at once) if it came at or after the frame's cut-off
        while the edge detections are in."""
        if sequence in self._answered:
            self.counts["cloud_late_discarded"] += 1
            return self.on_tick(now_ns)
        frame = self._frame(sequence, now_ns)
        if frame is None:
            return self.on_tick(now_ns)
        if frame.edge is not None and now_ns >= self.cutoff_ns(frame):
            self.counts["cloud_after_cutoff"] += 1
            frame.late_cloud, frame.cloud_ns = detections, now_ns
        else:
            frame.cloud, frame.cloud_ns = detections, now_ns
        return self.on_tick(now_ns)

    def _decide(self, frame: FrameState, now_ns: int) -> tuple[str, str] | None:
        cutoff = self.cutoff_ns(frame)
        late = now_ns >= cutoff
        if frame.edge is None:
            return (CLOUD, "") if late and frame.cloud is not None else None
        if late and frame.cloud is not None and frame.edge_ns >= cutoff:
            return CLOUD, ""  # due alone at the cut-off; edge came after it: no fusing now
        if frame.cloud is not None:
            return FUSED, ""
        if frame.plan_edge_only:
            return EDGE, frame.plan_reason or "edge-only plan"
        if frame.not_sent:
            return EDGE, frame.not_sent
        if frame.late_cloud is not None:
            return EDGE, "cloud answer after cut-off"
        if late:
            return EDGE, "no plan" if frame.plan_edge_only is None else "cloud answer late"
        return None

    def _answer(self, frame: FrameState, source: str, reason: str, now_ns: int) -> Answer:
        self._answered[frame.sequence] = source
        while len(self._answered) > self._memory:
            self._answered.popitem(last=False)
        return Answer(frame=frame, source=source, reason=reason, decided_ns=now_ns)

    def _forget_stale(self, now_ns: int) -> None:
        """Drop answered frames whose inputs would now be stale anyway (oldest first)."""
        horizon = now_ns - self.budget_ns - self._stale_ns
        while self._answered and next(iter(self._answered)) < horizon:
            self._answered.popitem(last=False)

    def on_tick(self, now_ns: int) -> list[Answer]:
        """Answers due now, in capture order.

        Call after every input and at :meth:`next_decision_ns`.
        """
        answers, self._over_capacity = self._over_capacity, []
        for sequence in sorted(self._pending):
            frame = self._pending[sequence]
            decision = self._decide(frame, now_ns)
            if decision is None:
                continue
            del self._pending[sequence]
            answers.append(self._answer(frame, *decision, now_ns))
        self._forget_stale(now_ns)
        return answers

    def pending(self) -> int:
        """Frames waiting for an answer."""
        return len(self._pending)

    def next_decision_ns(self) -> int | None:
        """When :meth:`on_tick` must next run: the earliest cut-off (deadline less the
        margin in force) of the waiting frames that have something to answer with (edge or
        cloud); None when none has. Inputs decide frames on their own; only cut-offs need
        a timer."""
        due = [f.deadline_ns for f in self._pending.values()
               if f.edge is not None or f.cloud is not None]
        return min(due) - self.margin_ns if due else None
