"""Track ids from the real ensembler process, with the cloud answering every other frame.

A probe plays the edge detector (three people it sees, boxes jittered), the scheduler (an
edge-only plan for odd frames) and the cloud (answers for even frames: the same three a
little apart, plus a small fourth person only the cloud finds). Answers alternate between
fused and edge-only, and every person must keep one id through all of them; tracking off,
the ids are the boxes' indices as before.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from vision_msgs.msg import Detection2DArray

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_msgs.msg import CloudDetections, FrameTiming, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import to_detection_array
from hyperion_runtime.node import ns_to_stamp, stamp_ns

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros

FRAMES, PERIOD_NS = 12, 2_000_000_000


def people(frame: int) -> np.ndarray:
    """Four people on a 4K frame, xyxy: two walking past each other, one walking down, and
    a small far one (only the cloud sees it) walking right."""
    start = np.array([[400, 1000, 460, 1150], [900, 1050, 960, 1200],
                      [2600, 300, 2640, 400], [3000, 200, 3012, 230]], np.float64)
    velocity = np.array([[20, 0], [-20, 0], [0, 12], [3, 0]], np.float64)
    return start + np.tile(velocity * frame, 2)


class FakeInputs(SpinningNode):
    """The ensembler's inputs, and its answers by capture stamp."""

    def __init__(self, domain: int) -> None:
        super().__init__("fake_ensembler_inputs", domain=domain)
        self.edge = self.node.create_publisher(Detection2DArray, qos.EDGE_DETECTIONS,
                                               qos.resent_result_qos())
        self.plans = self.node.create_publisher(QualityPlan, qos.PLAN, qos.result_qos())
        self.cloud = self.node.create_publisher(CloudDetections, qos.CLOUD_DETECTIONS,
                                                qos.result_qos())
        self.answers: dict[int, Detection2DArray] = {}
        self.sources: dict[int, int] = {}
        self.node.create_subscription(Detection2DArray, qos.DETECTIONS, self._on_answer,
                                      qos.resent_result_qos())
        self.node.create_subscription(FrameTiming, qos.TIMING, self._on_timing,
                                      qos.resent_result_qos())
        self.start()

    def _on_answer(self, msg: Detection2DArray) -> None:
        with self.lock:
            self.answers[stamp_ns(msg.header.stamp)] = msg

    def _on_timing(self, msg: FrameTiming) -> None:
        with self.lock:
            self.sources[msg.sequence] = msg.source

    def play(self, frame: int, sequence: int, rng: np.random.Generator) -> None:
        truth = people(frame)
        header = Detection2DArray().header
        header.stamp, header.frame_id = ns_to_stamp(sequence), "camera"
        edge_boxes = truth[:3] + rng.normal(0, 3.0, (3, 4))
        self.edge.publish(to_detection_array(header=header, boxes=edge_boxes,
                                             scores=[0.7, 0.6, 0.8], class_names=["person"] * 3))
        if frame % 2:
            self.plans.publish(QualityPlan(header=header, sequence=sequence, edge_only=True,
                                           reason="test: edge-only frame"))
            return
        self.plans.publish(QualityPlan(header=header, sequence=sequence, edge_only=False))
        answer = CloudDetections(header=header, sequence=sequence)
        answer.detections = to_detection_array(
            header=header, boxes=truth + rng.normal(0, 2.0, (4, 4)),
            scores=[0.9, 0.85, 0.9, 0.6], class_names=["person"] * 4)
        self.cloud.publish(answer)


def run_ensembler(tmp_path: Path, *params: str) -> tuple[dict, dict]:
    """Play :data:`FRAMES` frames to a real ensembler; its answers and sources by stamp."""
    domain, _ = domain_pair()
    args = ["latency_budget_s:=120.0", *params]
    log = (tmp_path / "ensembler.log").open("w")
    proc = subprocess.Popen(
        [str(executable("hyperion_edge", "ensembler")), "--ros-args",
         *[a for p in args for a in ("-p", p)]],
        env={**graph_env(), "ROS_DOMAIN_ID": str(domain)}, stdout=log,
        stderr=subprocess.STDOUT)
    inputs = FakeInputs(domain)
    rng = np.random.default_rng(3)
    base = time.time_ns()
    try:
        wait_until(lambda: inputs.cloud.get_subscription_count() >= 1
                   and inputs.edge.get_subscription_count() >= 1, 60,
                   f"the ensembler\n{(tmp_path / 'ensembler.log').read_text()}")
        for frame in range(FRAMES):
            sequence = base + frame * PERIOD_NS
            inputs.play(frame, sequence, rng)
            # One frame at a time: each answer comes before the next frame is played.
            wait_until(lambda s=sequence: s in inputs.answers and s in inputs.sources, 30,
                       f"the answer of frame {frame}")
    finally:
        inputs.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    return ({k - base: v for k, v in inputs.answers.items()},
            {k - base: v for k, v in inputs.sources.items()})


def ids_by_person(answers: dict[int, Detection2DArray]) -> dict[int, list[str]]:
    """Each person's ids over the frames, in order (the answer box nearest its truth)."""
    found: dict[int, list[str]] = {k: [] for k in range(4)}
    for offset, answer in sorted(answers.items()):
        truth = people(offset // PERIOD_NS)
        for detection in answer.detections:
            centre = np.array([detection.bbox.center.position.x,
                               detection.bbox.center.position.y])
            distances = np.abs((truth[:, :2] + truth[:, 2:]) / 2 - centre).max(axis=1)
            if distances.min() < 15:
                found[int(distances.argmin())].append(detection.id)
    return found


def test_ids_stay_the_same_whether_the_cloud_answered_or_not(tmp_path):
    answers, sources = run_ensembler(tmp_path, "track:=true")
    assert [sources[k * PERIOD_NS] for k in range(FRAMES)] == \
        [FrameTiming.SOURCE_FUSED, FrameTiming.SOURCE_EDGE] * (FRAMES // 2)
    found = ids_by_person(answers)
    assert [len(found[k]) for k in range(4)] == [FRAMES] * 3 + [FRAMES // 2]
    for person, ids in found.items():
        assert len(set(ids)) == 1 and ids[0], f"person {person}: ids {ids}"
    assert len({ids[0] for ids in found.values()}) == 4


def test_without_tracking_the_id_is_the_index(tmp_path):
    answers, _ = run_ensembler(tmp_path)
    for answer in answers.values():
        assert [d.id for d in answer.detections] == [str(k) for k in
                                                     range(len(answer.detections))]
