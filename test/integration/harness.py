"""Helpers for graph tests: private domains and ports, `hyperion run` processes, a probe.

Every wait is bounded; nothing sleeps a fixed time to let something "get ready".
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter

from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion.session import HYPERION, GraphProcess, SpinningNode, free_port, wait_until
from hyperion_msgs.msg import FrameTiming
from hyperion_runtime import qos
from hyperion_runtime.node import stamp_ns

__all__ = ["HYPERION", "SMALL_EDGE", "Graph", "Probe", "domain_pair", "free_port", "wait_until"]

_counter = itertools.count()

#: Small frames and one detector pass, so a graph runs a frame in about a second here.
SMALL_EDGE = [
    "camera.grid_columns:=2", "camera.grid_rows:=2", "camera.width:=960", "camera.height:=540",
    "edge_detector.tile_columns:=1", "edge_detector.tile_rows:=1",
    "edge_detector.tile_scale:=1.0", "scorer.token_rows:=8", "scorer.token_cols:=14",
    "diagnostics_period_s:=1.0",
    # Answer edge-only 0.3 s before the deadline instead of 0.05 s: on the 2-core machine
    # shared with other work, the ensembler was seen to wake ~100 ms late and miss a
    # deadline by 52 ms with the default margin (test_stalled_link, a full run).
    "ensembler.deadline_margin_s:=0.3",
]


def domain_pair() -> tuple[int, int]:
    """Two fresh ROS domain ids (edge, cloud) for one test, from the pid and a counter.

    Kept within 110..229 (Fast DDS ports stay valid), apart from conftest's 1..100.
    """
    base = 110 + (os.getpid() * 6 + 2 * next(_counter)) % 118
    return base, base + 1


#: ``hyperion run`` as a process group with its output in a log file.
Graph = GraphProcess


class Probe(SpinningNode):
    """A node in the edge domain recording frames, answers and timings by sequence."""

    def __init__(self, domain: int) -> None:
        super().__init__("hyperion_test_probe", domain=domain)
        self.frames: list[int] = []
        self.answers: list[Detection2DArray] = []
        self.timings: list[FrameTiming] = []
        self.node.create_subscription(Image, qos.IMAGE, self._on_image, qos.image_qos())
        self.node.create_subscription(Detection2DArray, qos.DETECTIONS, self._on_answer,
                                      qos.resent_result_qos())
        self.node.create_subscription(FrameTiming, qos.TIMING, self._on_timing,
                                      qos.resent_result_qos())
        self.start()

    def _on_image(self, msg: Image) -> None:
        with self.lock:
            self.frames.append(stamp_ns(msg.header.stamp))

    def _on_answer(self, msg: Detection2DArray) -> None:
        with self.lock:
            self.answers.append(msg)

    def _on_timing(self, msg: FrameTiming) -> None:
        with self.lock:
            self.timings.append(msg)

    def snapshot(self) -> tuple[list[int], list[Detection2DArray], list[FrameTiming]]:
        with self.lock:
            return list(self.frames), list(self.answers), list(self.timings)

    def settled_snapshot(self, timeout_s: float = 10.0
                         ) -> tuple[list[int], list[Detection2DArray], list[FrameTiming]]:
        """A snapshot in which the answers and the FrameTimings name the same frames.

        The ensembler publishes a frame's answer and its timing back to back, on two topics
        this probe reads separately, so a snapshot taken between the two deliveries holds
        one without the other (measured: about one such moment per answer on a running
        graph). Waiting, bounded, for them to agree removes that window; a frame that keeps
        an answer without a timing, or the reverse, is returned as is after ``timeout_s``,
        for the caller's assertions to show.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            frames, answers, timings = self.snapshot()
            agree = (Counter(stamp_ns(a.header.stamp) for a in answers)
                     == Counter(t.sequence for t in timings))
            if agree or time.monotonic() > deadline:
                return frames, answers, timings
            time.sleep(0.05)
