"""The encoder node (a real process) never sends a payload that cannot arrive.

A probe plays camera, scorer and scheduler: it publishes a small frame, its class map and
plans whose byte budgets are set from the real payload sizes (the codec is deterministic,
so the test encodes the same frame itself first). A payload over budget must not go out;
the encoder falls to the plan's fallbacks in order and reports what it did, and sends
nothing when no fallback fits. A payload that fits its budget but cannot be answered in
the time left (the plan's cloud time alone exceeds it) is not sent either, and the report
says so apart ("no time").
"""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_core.codec.patch_codec import ClassEncoding, class_segment_bytes, encode_frame
from hyperion_msgs.msg import EncodedFrame, EncodeReport, PatchScores, QualityPlan
from hyperion_runtime import qos
from hyperion_runtime.node import ns_to_stamp

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros

ROWS, COLS, PATCH = 6, 8, 16
PLANS = ((95, 95, 95), (60, 60, 60), (30, 30, 30), (10, 10, 10))  # plan, then 3 fallbacks


def _frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    # Noise compresses badly, so the qualities give clearly different sizes.
    return rng.integers(0, 256, (ROWS * PATCH, COLS * PATCH, 3), dtype=np.uint8)


def _classes() -> np.ndarray:
    return (np.arange(ROWS * COLS) % 3).astype(np.uint8).reshape(ROWS, COLS)


def _size(qualities: tuple[int, ...]) -> int:
    encodings = tuple(ClassEncoding(quality=q) for q in qualities)
    return len(encode_frame(_frame(), _classes(), encodings, patch_size=PATCH))


class FakeUpstream(SpinningNode):
    """Publishes image, scores and plan of a frame; records encoded frames and reports."""

    def __init__(self, domain: int) -> None:
        super().__init__("fake_upstream", domain=domain)
        self.image = self.node.create_publisher(Image, qos.IMAGE, qos.image_qos())
        self.scores = self.node.create_publisher(PatchScores, qos.PATCH_SCORES, qos.result_qos())
        self.plan = self.node.create_publisher(QualityPlan, qos.PLAN, qos.result_qos())
        self.encoded: dict[int, EncodedFrame] = {}
        self.reports: dict[int, EncodeReport] = {}
        self.node.create_subscription(EncodedFrame, qos.ENCODED, self._keep(self.encoded),
                                      qos.result_qos())
        self.node.create_subscription(EncodeReport, qos.ENCODE_REPORT, self._keep(self.reports),
                                      qos.result_qos())
        self.start()

    def _keep(self, into: dict) -> object:
        def store(msg: object) -> None:
            with self.lock:
                into[msg.sequence] = msg
        return store

    def offload(self, budget: int, *, bandwidth_bps: float = 0.0, cloud_s: float = 0.0) -> int:
        """One frame with the 4-step plan ladder and ``budget`` (the uplink estimate and the
        cloud time the plan assumed: 0 = none); returns its sequence."""
        seq = time.time_ns()
        frame = _frame()
        image = Image(height=frame.shape[0], width=frame.shape[1], encoding="bgr8",
                      step=frame.shape[1] * 3)
        image.header.stamp = ns_to_stamp(seq)
        image.data = frame.tobytes()
        scores = PatchScores(sequence=seq, frame_width=frame.shape[1],
                             frame_height=frame.shape[0], patch_size=PATCH, grid_rows=ROWS,
                             grid_cols=COLS, num_classes=3)
        scores.header = image.header
        scores.importance = [0.0] * (ROWS * COLS)
        scores.classes = _classes().tobytes()
        plan = QualityPlan(header=image.header, sequence=seq, latency_budget_s=30.0,
                           class0_downsample=1, byte_budget=budget,
                           bandwidth_estimate_bps=bandwidth_bps, cloud_latency_s=cloud_s)
        plan.class_quality = bytes(PLANS[0])
        plan.class_model_bytes = [1000.0, 2000.0, 3000.0]
        plan.fallback_quality = bytes(q for p in PLANS[1:] for q in p)
        plan.fallback_class0_downsample = bytes([1] * (len(PLANS) - 1))
        plan.fallback_model_bytes = [float(10 * k) for k in range(3 * (len(PLANS) - 1))]
        plan.fallback_predicted_bytes = [_size(p) for p in PLANS[1:]]
        self.image.publish(image)
        self.scores.publish(scores)
        self.plan.publish(plan)
        return seq


def test_payload_over_budget_falls_back_or_is_not_sent(tmp_path):
    sizes = [_size(p) for p in PLANS]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]
    domain, _ = domain_pair()
    env = {**graph_env(), "ROS_DOMAIN_ID": str(domain)}
    encoder = executable("hyperion_edge", "encoder")
    log_path = tmp_path / "encoder.log"
    log = log_path.open("w")
    proc = subprocess.Popen([str(encoder)], env=env, stdout=log, stderr=subprocess.STDOUT)
    up = FakeUpstream(domain)
    try:
        wait_until(lambda: up.plan.get_subscription_count() >= 1
                   and up.image.get_subscription_count() >= 1, 60,
                   f"the encoder\n{log_path.read_text()}")
        time.sleep(1.0)  # discovery settle: a keep-last-1 image sent before matching is lost
        cases = {}
        for name, budget, link in (
                ("fits", sizes[0], {}), ("second_fallback", sizes[2], {}),
                ("nothing", sizes[-1] - 1, {}),
                # 100 Mbit/s and a 1 s cloud leave ~29 s: plenty of room.
                ("in_time", sizes[0], {"bandwidth_bps": 1e8, "cloud_s": 1.0}),
                # The cloud's 40 s exceed the 30 s budget: no payload can be answered in time.
                ("no_time", sizes[0], {"bandwidth_bps": 1e8, "cloud_s": 40.0})):
            seq = up.offload(budget, **link)
            wait_until(lambda s=seq: s in up.reports, 30, f"a report\n{log_path.read_text()}")
            if up.reports[seq].sent:
                wait_until(lambda s=seq: s in up.encoded, 10, "the encoded frame")
            cases[name] = seq
        time.sleep(0.5)  # the negative case: an unsent frame must stay unsent
    finally:
        up.close()
        proc.terminate()
        proc.wait(10)
        log.close()
    fits = up.reports[cases["fits"]]
    assert fits.sent and fits.plan_index == 0 and fits.encodes == 1
    assert fits.payload_bytes == sizes[0] == len(up.encoded[cases["fits"]].payload)
    assert list(fits.class_model_bytes) == [1000.0, 2000.0, 3000.0]
    assert tuple(fits.class_bytes) == class_segment_bytes(
        bytes(up.encoded[cases["fits"]].payload))
    second = up.reports[cases["second_fallback"]]
    assert second.sent and second.plan_index == 2 and second.encodes == 3
    assert bytes(second.class_quality) == bytes(PLANS[2])
    assert list(second.class_model_bytes) == [30.0, 40.0, 50.0]
    sent = up.encoded[cases["second_fallback"]]
    assert bytes(sent.class_quality) == bytes(PLANS[2]) and len(sent.payload) == sizes[2]
    nothing = up.reports[cases["nothing"]]
    assert not nothing.sent and nothing.encodes == len(PLANS)
    assert nothing.reason == f"payload {sizes[-1]} B over budget {sizes[-1] - 1} B"
    assert cases["nothing"] not in up.encoded
    in_time = up.reports[cases["in_time"]]
    assert in_time.sent and in_time.plan_index == 0 and cases["in_time"] in up.encoded
    no_time = up.reports[cases["no_time"]]
    assert not no_time.sent and no_time.encodes == len(PLANS)  # every fallback tried
    assert no_time.reason.startswith(f"no time: payload {sizes[-1]} B, 0 B can still be "
                                     "answered in time"), no_time.reason
    assert cases["no_time"] not in up.encoded
