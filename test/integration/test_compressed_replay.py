"""A PANDA-style sequence (a folder of JPEG frames) imported with ``hyperion bag
import-images`` and replayed by ``hyperion bag play`` into ``hyperion run edge --no-camera
--compressed-input``: the decompressor turns every CompressedImage into one raw image, and
every frame gets exactly one answer, keyed by the stamp the bag gave it.

The frames are real (the embedded array camera, at 960x540, JPEG q90, as PANDA ships its
frames); the graph is edge-only so no cloud graph is needed.
"""

from __future__ import annotations

import collections
import os
import subprocess
import time

import cv2
import pytest

from hyperion_runtime import qos
from hyperion_runtime.node import stamp_ns

from .harness import HYPERION, SMALL_EDGE, Graph, Probe, domain_pair, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.models]

FRAMES = 3
FPS = 1.0
PARAMS = [*SMALL_EDGE, "scheduler.force_edge_only:=true", f"edge_detector.queue_depth:={FRAMES}",
          f"scorer.queue_depth:={FRAMES}", "edge_detector.score_threshold:=0.05",
          "latency_budget_s:=60.0"]


@pytest.fixture
def panda_like_sequence(tmp_path):
    from hyperion_core.data.array_camera import array_camera_frames

    try:
        frames = list(array_camera_frames(FRAMES))
    except FileNotFoundError as exc:
        pytest.skip(f"vtest clip missing: {exc}")
    folder = tmp_path / "SEQ_01"
    folder.mkdir()
    for k, frame in enumerate(frames):
        small = cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        (folder / f"SEQ_01_{k + 1:03d}.jpg").write_bytes(data.tobytes())
    return folder


def test_compressed_sequence_replay_answers_every_frame(tmp_path, panda_like_sequence):
    bag = tmp_path / "bag"
    start_s = int(time.time())  # whole seconds: the stamps below are exact
    imported = subprocess.run(
        [HYPERION, "bag", "import-images", str(panda_like_sequence), str(bag), "--fps",
         str(FPS), "--start-stamp", str(start_s)], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    stamps = [int((start_s + k / FPS) * 1e9) for k in range(FRAMES)]

    domain, _ = domain_pair()
    probe = Probe(domain)
    graph = None
    log = tmp_path / "play.log"
    try:
        graph = Graph("edge", domain=domain, params=PARAMS,
                      extra=("--no-camera", "--compressed-input"))
        # The raw image's consumers (detector, scorer, encoder, probe), the decompressor,
        # and the plan's path (scores -> scheduler, ensembler; plan -> encoder, ensembler)
        # are up before the first frame.
        wait_until(lambda: probe.node.count_subscribers(qos.IMAGE) >= 4
                   and probe.node.count_publishers(qos.IMAGE) >= 1
                   and probe.node.count_subscribers(qos.PATCH_SCORES) >= 2
                   and probe.node.count_subscribers(qos.PLAN) >= 2, 90,
                   f"the edge graph\n{graph.output()[-3000:]}")
        with log.open("w") as out:
            played = subprocess.run(
                [HYPERION, "bag", "play", str(bag), "--wait-for-subscribers", "30"],
                env={**os.environ, "ROS_DOMAIN_ID": str(domain)}, stdout=out,
                stderr=subprocess.STDOUT, timeout=120)
        assert played.returncode == 0, log.read_text()
        wait_until(lambda: len(probe.snapshot()[1]) >= FRAMES, 120,
                   f"{FRAMES} answers\n{log.read_text()}\n{graph.output()[-3000:]}")
        decoded, answers, _ = probe.snapshot()
    finally:
        probe.close()
        if graph is not None:
            assert graph.stop() == 0, graph.output()[-3000:]
    assert sorted(decoded) == stamps  # one raw image per compressed frame, stamps kept
    counts = collections.Counter(stamp_ns(a.header.stamp) for a in answers)
    assert sorted(counts) == stamps and max(counts.values()) == 1
    assert sum(len(a.detections) for a in answers) >= FRAMES  # people were found
