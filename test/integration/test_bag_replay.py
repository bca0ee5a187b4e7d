"""Issue #5: a bag recorded by ``hyperion bag record`` from a live edge graph, played back by
``hyperion bag play`` into the same graph without its camera, gives the same detections.

Live run: ``hyperion run edge`` (edge-only, small frames) with ``hyperion bag record``
recording the camera images, the answers and their FrameTimings. Replay run: the same
graph and parameters with ``--no-camera``, in a fresh domain, fed by ``hyperion bag play``
of the recorded images only. The player publishes the stored CDR bytes, so every image
keeps its header and its capture stamp is the frame key in both runs. The edge detector
(ONNX Runtime on CPU, same weights, same thread count) is deterministic for an identical
input, so answers must agree per frame: same boxes, classes and scores up to float
round-off (``BOX_TOL_PX``, ``SCORE_TOL``), which would never hide a changed box.

The player waits for all four image consumers (detector, scorer, encoder, the probe) before
its first frame and for every reliable subscriber's acknowledgement after its last, so a
single pass delivers every frame; the test also checks that no frame is answered twice.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import rclpy
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion_msgs.msg import FrameTiming
from hyperion_runtime import qos
from hyperion_runtime.node import stamp_ns

from .harness import HYPERION, SMALL_EDGE, Graph, Probe, domain_pair, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models, pytest.mark.slow]

FRAMES = 4
#: Identical in both runs. Edge-only keeps the cloud graph out. The budget bounds the wait
#: for an unplanned live frame, and keeps the replayed frames (captured up to a minute
#: earlier) inside the ensembler's stale limit (10 budgets past the deadline).
#: Queues hold every frame: latest-wins dropping depends on the machine's load, and a
#: frame dropped in one run only would leave nothing to compare (dropping is tested
#: elsewhere). A low score threshold gives many boxes, weak ones included (the most
#: sensitive to any numerical difference), so the comparison has something to compare.
PARAMS = [*SMALL_EDGE, "scheduler.force_edge_only:=true", "latency_budget_s:=20.0",
          f"edge_detector.queue_depth:={FRAMES}", f"scorer.queue_depth:={FRAMES}",
          "edge_detector.score_threshold:=0.05"]
RECORDED = (qos.IMAGE, qos.DETECTIONS, qos.TIMING)
RECORDER_NODE = "hyperion_bag_recorder"
BOX_TOL_PX = 1e-3
SCORE_TOL = 1e-5

Box = tuple[str, float, float, float, float, float]  # class, score, cx, cy, w, h (pixels)


class CameralessGraph(Graph):
    """``hyperion run edge --no-camera``: the edge graph waiting for images from elsewhere."""

    def __init__(self, *, domain: int, params: list[str]) -> None:
        super().__init__("edge", domain=domain, params=params, extra=("--no-camera",))


class Gate:
    """Holds the live camera back until the recorder records every topic.

    The camera waits for ``wait_for_subscribers`` image subscriptions; this node adds the
    last one only once the recorder has subscribed to the images *and* to the answers, so
    no frame and no answer of the live run goes unrecorded.
    """

    def __init__(self, domain: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node("bag_replay_gate", context=self.context)

    def recorder_ready(self) -> bool:
        return all(any(info.node_name == RECORDER_NODE
                       for info in self.node.get_subscriptions_info_by_topic(topic))
                   for topic in RECORDED)

    def open(self) -> None:
        # Never spun: the subscription only has to exist (matched) for the camera to count it.
        self.node.create_subscription(Image, qos.IMAGE, lambda _msg: None, qos.image_qos())

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def read_bag(path: Path) -> dict[str, list]:
    """Messages of a bag by topic, deserialized with the installed classes, in bag order."""
    classes = {qos.IMAGE: Image, qos.DETECTIONS: Detection2DArray, qos.TIMING: FrameTiming}
    out: dict[str, list] = {topic: [] for topic in classes}
    with Reader(path) as reader:
        for connection, _stamp, data in reader.messages():
            out[connection.topic].append(deserialize_message(bytes(data),
                                                             classes[connection.topic]))
    return out


def boxes_of(msg: Detection2DArray) -> list[Box]:
    """Boxes of one answer, sorted so that list order does not matter."""
    return sorted(
        (d.results[0].hypothesis.class_id, d.results[0].hypothesis.score,
         d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y)
        for d in msg.detections)


def by_stamp(answers: list[Detection2DArray]) -> dict[int, list[Box]]:
    table = {stamp_ns(a.header.stamp): boxes_of(a) for a in answers}
    assert len(table) == len(answers), "a frame was answered twice"
    return table


def assert_same_boxes(live: list[Box], replay: list[Box], stamp: int) -> None:
    assert len(live) == len(replay), f"frame {stamp}: {len(live)} live vs {len(replay)} boxes"
    for want, got in zip(live, replay, strict=True):
        assert want[0] == got[0], f"frame {stamp}: class {want[0]} vs {got[0]}"
        assert abs(want[1] - got[1]) <= SCORE_TOL, f"frame {stamp}: score {want} vs {got}"
        assert max(abs(w - g) for w, g in zip(want[2:], got[2:], strict=True)) <= BOX_TOL_PX, \
            f"frame {stamp}: box {want} vs {got}"


def ns(stamp) -> int:
    return stamp_ns(stamp)


def check_live_timing(timing: FrameTiming) -> None:
    """What the ensembler fills for an edge-only frame (none sent, no cloud answer).

    A frame the scheduler never planned (at start-up a node may miss the first frame) is
    answered at its deadline, "no plan", without scored/scheduled stamps only if those
    stages never reported it.
    """
    assert timing.source == FrameTiming.SOURCE_EDGE and timing.edge_reason, timing
    edge, scored, scheduled, published = (
        ns(timing.edge_detected_stamp), ns(timing.scored_stamp), ns(timing.scheduled_stamp),
        ns(timing.published_stamp))
    assert timing.sequence <= edge <= published, timing
    if timing.edge_reason == "no plan":
        assert scheduled == 0, timing
    else:
        assert edge <= scored <= scheduled <= published, f"a stage stamp is missing: {timing}"
    assert ns(timing.encoded_stamp) == ns(timing.cloud_answer_stamp) == 0, timing
    assert timing.bytes_sent == 0, timing


def record_live(domain: int, bag: Path, env: dict[str, str]) -> dict[str, list]:
    """The live run: camera -> graph, recorded; returns the bag's messages."""
    recorder_log = bag.parent / "record.log"
    with recorder_log.open("w") as log:
        recorder = subprocess.Popen(
            [HYPERION, "bag", "record", *RECORDED, "-o", str(bag),
             "--max-messages", str(len(RECORDED) * FRAMES), "--discovery-timeout", "90"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    gate = Gate(domain)
    graph = None
    try:
        graph = Graph("edge", domain=domain, params=[
            *PARAMS, f"camera.max_frames:={FRAMES}", "camera.rate_hz:=1.0",
            # edge_detector, scorer, encoder, the recorder and the gate.
            "camera.wait_for_subscribers:=5"])
        wait_until(gate.recorder_ready, 90,
                   f"the recorder on {RECORDED}\n{recorder_log.read_text()}\n"
                   f"{graph.output()[-3000:]}")
        gate.open()
        # The recorder stops by itself after the FRAMES images, answers and timings.
        wait_until(lambda: recorder.poll() is not None, 90,
                   f"{len(RECORDED) * FRAMES} recorded messages\n{recorder_log.read_text()}\n"
                   f"{graph.output()[-3000:]}")
        assert recorder.returncode == 0, recorder_log.read_text()
    finally:
        if recorder.poll() is None:
            recorder.terminate()  # closes the bag properly (SIGTERM handler)
            recorder.wait(20)
        gate.close()
        if graph is not None:
            assert graph.stop() == 0, graph.output()[-3000:]
    return read_bag(bag)


def test_replayed_bag_gives_the_live_detections(tmp_path):
    live_domain, replay_domain = domain_pair()
    bag = tmp_path / "live"
    live = record_live(live_domain, bag, {**os.environ, "ROS_DOMAIN_ID": str(live_domain)})

    frames = [stamp_ns(m.header.stamp) for m in live[qos.IMAGE]]
    assert len(frames) == len(set(frames)) == FRAMES
    live_answers = by_stamp(live[qos.DETECTIONS])
    assert sorted(live_answers) == sorted(frames), "live: not one answer per frame"
    assert sorted(t.sequence for t in live[qos.TIMING]) == sorted(frames)
    for timing in live[qos.TIMING]:
        check_live_timing(timing)
    # Not a vacuous comparison: people are found, and the frames differ.
    assert sum(map(len, live_answers.values())) >= FRAMES, live_answers
    assert len({tuple(b) for b in live_answers.values()}) > 1, live_answers

    probe = Probe(replay_domain)
    graph = player = None
    player_log = tmp_path / "play.log"
    try:
        graph = CameralessGraph(domain=replay_domain, params=PARAMS)
        # Every image consumer and the answer publisher are up before the first frame.
        wait_until(lambda: probe.node.count_subscribers(qos.IMAGE) >= 4
                   and probe.node.count_publishers(qos.DETECTIONS) >= 1, 90,
                   f"the replay graph\n{graph.output()[-3000:]}")
        with player_log.open("w") as log:
            player = subprocess.Popen(
                [HYPERION, "bag", "play", str(bag), "--topics", qos.IMAGE,
                 "--wait-for-subscribers", "30", "--subscribers", "4"],
                env={**os.environ, "ROS_DOMAIN_ID": str(replay_domain)},
                stdout=log, stderr=subprocess.STDOUT)
        assert player.wait(120) == 0, player_log.read_text()
        wait_until(lambda: len(probe.snapshot()[2]) >= FRAMES, 90,
                   f"{FRAMES} replayed answers; frames {frames}, answered "
                   f"{sorted(t.sequence for t in probe.snapshot()[2])}\n"
                   f"{player_log.read_text()}\n{graph.output()[-3000:]}")
        replay_frames, answers, timings = probe.settled_snapshot()
    finally:
        if player is not None and player.poll() is None:
            player.kill()
            player.wait(10)
        probe.close()
        if graph is not None:
            assert graph.stop() == 0, graph.output()[-3000:]

    published = re.search(rf"{qos.IMAGE}: (\d+)", player_log.read_text())
    assert published and int(published[1]) == FRAMES, player_log.read_text()
    assert set(replay_frames) <= set(frames)  # the recorded capture stamps, unchanged
    replay_answers = by_stamp(answers)  # also: no frame answered twice
    assert sorted(replay_answers) == sorted(frames)
    assert sorted(t.sequence for t in timings) == sorted(frames)
    for stamp in frames:
        assert_same_boxes(live_answers[stamp], replay_answers[stamp], stamp)
