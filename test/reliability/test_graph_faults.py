"""Fault matrix on the real graphs: a stalled link, an edge restart, a slow cloud.

Small frames (960x540 array camera of 2x2 tiles, one detector tile) at 1 frame/s; budgets
are generous (6 s) so the tests hold on a loaded 2-core machine.
"""

import collections
import signal
import time

import pytest

from hyperion_msgs.msg import FrameTiming

from .graphs import SMALL_EDGE, Graph, Watch, domain_pair, free_port, stop_all, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
BUDGET_S = 6.0
#: Reasons that come from the bandwidth estimate (not from a disconnected link).
ESTIMATE_REASONS = ("link stalled", "bandwidth estimate 0", "nothing fits")


def edge_params(port: int, *extra: str) -> list[str]:
    return [*SMALL_EDGE, f"edge_link.connect:=tcp/127.0.0.1:{port}", "camera.rate_hz:=1.0",
            "camera.wait_for_subscribers:=4", f"latency_budget_s:={BUDGET_S}",
            "scheduler.cloud_latency_s:=1.5", "scheduler.bandwidth_stale_s:=1.0", *extra]


def plan_log(watch: Watch, after_ns: int) -> list[tuple[int, bool, str, float]]:
    """(ms after ``after_ns``, edge_only, reason, estimate Mbit/s) of each later plan."""
    return [((p.sequence - after_ns) // 10**6, p.edge_only, p.reason,
             round(p.bandwidth_estimate_bps / 1e6, 2)) for p in watch.plans_after(after_ns)]


def fused_after(watch: Watch, after_ns: int) -> bool:
    return any(t.source == FrameTiming.SOURCE_FUSED and t.sequence > after_ns
               for t in watch.snapshot()[2])


def restart_log(watch: Watch, after_ns: int) -> str:
    """What the probe saw after ``after_ns``: frames, answers, edge detector drop counters."""
    seen, answers, _ = watch.snapshot()
    answered = {a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers}
    new = [s for s in seen if s > after_ns]
    published = sum(watch.counter("ensembler", f"answers_{s}") for s in ("edge", "cloud", "fused"))
    return (f"{len(new)} frames, {len(answered & set(new))} answered, detect_dropped "
            f"{watch.counter('edge_detector', 'detect_dropped')}, images_lost "
            f"{watch.counter('edge_detector', 'images_lost')}; the restarted ensembler says "
            f"it published {published}; new frames {[s - after_ns for s in new]}, "
            f"unanswered {[s - after_ns for s in new if s not in answered]} (ns after restart)")


def assert_one_answer_per_frame(watch: Watch) -> None:
    frames, answers, timings = watch.settled_snapshot()
    counts = collections.Counter(a.header.stamp.sec * 10**9 + a.header.stamp.nanosec
                                 for a in answers)
    assert not [s for s, c in counts.items() if c > 1], "a frame was answered twice"
    assert set(counts) <= set(frames), "an answer for a frame nobody captured"
    assert sorted(counts) == sorted(t.sequence for t in timings)


def test_stalled_link_goes_edge_only_from_the_estimate_and_recovers():
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Graph("cloud", domain=cloud_domain,
                  params=[f"cloud_link.listen:=tcp/127.0.0.1:{port}"])
    watch, edge = Watch(edge_domain), None
    try:
        edge = Graph("edge", domain=edge_domain, params=edge_params(port))
        wait_until(lambda: fused_after(watch, 0), 150,
                   f"a first fused answer\n{edge.output()[-3000:]}\n{cloud.output()[-2000:]}")
        # The link carries nothing, but the cloud graph stays up and connected (a frozen
        # process keeps its TCP connection until zenoh's 10 s lease expires).
        cloud.signal_node("cloud_link", signal.SIGSTOP)
        stalled_ns = time.time_ns()
        # Judge by capture stamps, not by when the probe hears of a plan: during the stall
        # this test process' own DDS delivery was seen to lag by seconds (see the report).
        window_ns = stalled_ns + 6 * 10**9
        try:
            wait_until(lambda: any(p.sequence > window_ns for p in watch.plans_after(0)), 90,
                       f"plans of frames captured 6 s into the stall\n{edge.output()[-3000:]}")
        finally:
            cloud.signal_node("cloud_link", signal.SIGCONT)
        resumed_ns = time.time_ns()
        edge_only = [p for p in watch.plans_after(stalled_ns)
                     if p.sequence < window_ns and p.edge_only]
        log = plan_log(watch, stalled_ns)
        assert len([p for p in edge_only if p.reason.startswith(ESTIMATE_REASONS)]) >= 2, log
        # Zenoh's 10 s lease never expired: the link never went down, the estimate decided.
        assert edge_only[0].reason.startswith(ESTIMATE_REASONS), log
        wait_until(lambda: fused_after(watch, resumed_ns), 90,
                   f"fused answers after the stall\n{edge.output()[-3000:]}")
        _, _, timings = watch.snapshot()
        by_frame = {t.sequence: t for t in timings}
        # Frames planned edge-only are answered by the edge, well in time. Frames sent
        # into the frozen link before the estimate noticed wait for their deadline; whether
        # that answer is published in time is a matter of load (a cloud answer arriving on
        # SIGCONT while the ensembler was starved turned one into a fused answer 35 ms
        # late), so it is not asserted here.
        not_answered = [p.sequence for p in edge_only if p.sequence not in by_frame]
        assert not not_answered, (not_answered, log)
        late = [(p.sequence, by_frame[p.sequence].latency_s) for p in edge_only
                if by_frame[p.sequence].source != FrameTiming.SOURCE_EDGE
                or not by_frame[p.sequence].deadline_met]
        assert not late, (late, log)
        assert_one_answer_per_frame(watch)
    finally:
        watch.close()
        stop_all(edge, cloud)


def test_edge_restart_resumes_fused_answers_and_accounts_for_every_frame():
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Graph("cloud", domain=cloud_domain,
                  params=[f"cloud_link.listen:=tcp/127.0.0.1:{port}"])
    watch, edge = Watch(edge_domain), None
    try:
        edge = Graph("edge", domain=edge_domain, params=edge_params(port))
        wait_until(lambda: fused_after(watch, 0), 150,
                   f"a first fused answer\n{edge.output()[-3000:]}")
        edge.kill()  # SIGKILL every edge process at once: a crash, not a shutdown
        restarted_ns = time.time_ns()
        frames = 6
        edge = Graph("edge", domain=edge_domain,
                     params=edge_params(port, f"camera.max_frames:={frames}"))

        def settled() -> bool:
            seen, answers, _ = watch.snapshot()
            new = [s for s in seen if s > restarted_ns]
            answered = {a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers}
            lost = watch.counter("edge_detector", "detect_dropped") + watch.counter(
                "edge_detector", "images_lost")
            return len(new) == frames and len(answered & set(new)) + lost >= frames

        wait_until(settled, 150, lambda: (
            f"{frames} frames answered or reported dropped after the restart; probe: "
            f"{restart_log(watch, restarted_ns)}\n{edge.output()[-3000:]}\n"
            f"{cloud.output()[-2000:]}"))
        assert fused_after(watch, restarted_ns), [(t.source, t.edge_reason)
                                                  for t in watch.snapshot()[2]]
        assert cloud.proc.poll() is None, "the cloud died with the edge"
        assert_one_answer_per_frame(watch)
    finally:
        watch.close()
        stop_all(edge, cloud)


def test_slow_cloud_answers_are_discarded_never_published_twice():
    delay_s = BUDGET_S + 2.0
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Graph("cloud", domain=cloud_domain, params=[
        f"cloud_link.listen:=tcp/127.0.0.1:{port}", f"cloud_detector.inject_delay_s:={delay_s}"])
    watch, edge = Watch(edge_domain), None
    try:
        edge = Graph("edge", domain=edge_domain, params=edge_params(port))
        wait_until(lambda: watch.counter("ensembler", "cloud_late_discarded") >= 1, 150,
                   f"a late cloud answer\n{edge.output()[-3000:]}\n{cloud.output()[-2000:]}")
        _, _, timings = watch.settled_snapshot()
        log = [(t.sequence, t.source, t.edge_reason, round(t.latency_s, 3)) for t in timings]
        assert timings and all(t.source == FrameTiming.SOURCE_EDGE for t in timings), log
        # The edge answered without waiting for the cloud: before any cloud answer could
        # come. (Not "deadline met": a starved ensembler was seen to publish one 0.38 s
        # after its intended time, 0.08 s past the deadline, in a full run.)
        assert all(t.latency_s < delay_s for t in timings), log
        assert any(t.edge_reason == "cloud answer late" for t in timings), [
            t.edge_reason for t in timings]
        assert_one_answer_per_frame(watch)
    finally:
        watch.close()
        stop_all(edge, cloud)
