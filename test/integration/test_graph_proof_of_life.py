"""Proof of life: the edge and cloud graphs as separate processes and ROS domains, linked
only by zenoh; 10 frames in, 10 answers out, each with its frame's capture stamp."""

import pytest

from hyperion_msgs.msg import FrameTiming

from .harness import SMALL_EDGE, Graph, Probe, domain_pair, free_port, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]
FRAMES = 10


def test_ten_frames_in_ten_answers_out():
    edge_domain, cloud_domain = domain_pair()
    port = free_port()
    cloud = Graph("cloud", domain=cloud_domain, params=[
        f"cloud_link.listen:=tcp/127.0.0.1:{port}", "cloud_detector.queue_depth:=10"])
    probe = Probe(edge_domain)
    edge = None
    try:
        edge = Graph("edge", domain=edge_domain, params=[
            *SMALL_EDGE, f"edge_link.connect:=tcp/127.0.0.1:{port}",
            f"camera.max_frames:={FRAMES}", "camera.rate_hz:=1.0",
            # edge_detector, scorer, encoder and this probe: the graph is up.
            "camera.wait_for_subscribers:=4",
            "latency_budget_s:=25.0", "scheduler.cloud_latency_s:=2.0"])
        wait_until(lambda: len(probe.snapshot()[2]) >= FRAMES, 150,
                   f"{FRAMES} FrameTimings\n{edge.output()[-3000:]}\n{cloud.output()[-2000:]}")
        frames, answers, timings = probe.settled_snapshot()
        assert len(frames) == FRAMES
        assert len(answers) == len(timings) == FRAMES
        answered = [a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers]
        assert sorted(answered) == sorted(frames)  # one answer per frame, capture stamp kept
        assert sorted(t.sequence for t in timings) == sorted(frames)
        for timing in timings:
            cloud_answered = timing.cloud_answer_stamp.sec or timing.cloud_answer_stamp.nanosec
            assert (timing.source == FrameTiming.SOURCE_FUSED) == bool(cloud_answered)
            assert timing.deadline_met, timing
            if cloud_answered:
                # The encoder's own stamp, echoed by the cloud. (The scheduled stamp is when
                # the *ensembler* got the plan, so a fast encoder may finish before it.)
                encoded = timing.encoded_stamp.sec * 10**9 + timing.encoded_stamp.nanosec
                answer = timing.cloud_answer_stamp.sec * 10**9 + timing.cloud_answer_stamp.nanosec
                assert timing.sequence < encoded <= answer, timing
        fused = sum(t.source == FrameTiming.SOURCE_FUSED for t in timings)
        assert fused >= 1, [(t.source, t.edge_reason) for t in timings]
        print(f"fused {fused}/{FRAMES}; latency s:",
              sorted(round(t.latency_s, 2) for t in timings))
    finally:
        probe.close()
        if edge is not None:
            assert edge.stop() == 0, edge.output()[-3000:]
        assert cloud.stop() == 0, cloud.output()[-3000:]
