"""Hyperion's edge refinement: objects from the frame's own edge answer, passes where the
edge stage missed them, within the time left."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import PAPER
from hyperion_core.eval.edge_refine import EdgeRefiner, calibrate, refined_accuracy
from hyperion_core.eval.hyperion_method import HyperionMethod
from hyperion_core.eval.models import Job
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.remix import (
    DEFAULT_OPTIONS,
    DENSITY_PRIOR,
    SIZE_EDGES,
    QuadGrid,
    RemixProfile,
    option_passes,
)
from hyperion_core.eval.scoring import resolve
from hyperion_core.eval.timeline import FrameInputs, Settings, run_method
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.accuracy_table import ShareAccuracy
from hyperion_core.schedule.profile_file import Profiles
from hyperion_core.schedule.profiles import FitStats
from hyperion_core.schedule.size_table import SizeTable

UHD = (3840, 2160)
S = len(SIZE_EDGES) + 1
N025, N05, N1, C05 = DEFAULT_OPTIONS
#: The edge stage finds what nanodet at half scale finds; full scale finds small people.
RECALL = {N025: [0.05, 0.1, 0.3, 0.6, 0.8], N05: [0.2, 0.4, 0.7, 0.8, 0.9],
          N1: [0.6, 0.8, 0.9, 0.9, 0.9], C05: [0.1, 0.3, 0.6, 0.8, 0.9]}
EDGE = np.array(RECALL[N05])


KNOTS = (10, 50, 90)


def profiles():
    """Payloads of ~2-5 % of the raw frame; the cloud worth having."""
    size = SizeTable(qualities=KNOTS, ratios={(c, 1): (0.02, 0.04, 0.1) for c in range(3)},
                     beta=0.002)
    gain = {(c, 1): (0.0, 0.1, 0.2) for c in range(3)}
    return Profiles(size=size, accuracy=ShareAccuracy(
        knots=KNOTS, tables=gain, bias=0.8, stats=FitStats(r=1.0, r2=1.0, n=1, rmse=0.0)))


def concat(*parts):
    return Detections(boxes=np.concatenate([p.boxes for p in parts]),
                      scores=np.concatenate([p.scores for p in parts]),
                      labels=np.concatenate([p.labels for p in parts]))


def boxes(*centres, side=24.0):
    b = np.array([(x - side / 2, y - side / 2, x + side / 2, y + side / 2) for x, y in centres])
    return Detections(boxes=b.reshape(-1, 4), scores=np.full(len(b), 0.8),
                      labels=np.zeros(len(b), np.int64))


def refiner(objects=None):
    objects = np.full((S, 8, 12), 0.01) if objects is None else objects
    profile = RemixProfile(frame_size=UHD, grid=QuadGrid(), size_edges=SIZE_EDGES,
                           objects={"": objects},
                           recall={o: np.array(r) for o, r in RECALL.items()}, frames=1)
    gain = {o: np.clip(np.array(r) - EDGE, 0.0, None) for o, r in RECALL.items()}
    return EdgeRefiner(profile=profile, edge_recall=EDGE, edge_precision=np.full(S, 0.5),
                       gain=gain, pass_s=PAPER.remix_pass_s)


def test_objects_are_what_the_edge_saw_times_precision_over_recall_plus_the_prior():
    r = refiner()
    seen = boxes(*[(100 + 30 * i, 100) for i in range(4)])  # 24 px: size bin 1, cell (0, 0)
    objects = r.objects(seen, source="", frame_size=UHD)
    spread = 0.01 * 96 * DENSITY_PRIOR / (1 + DENSITY_PRIOR) / 96
    assert objects[1, 0, 0] == pytest.approx(4 * 0.5 / EDGE[1] + spread)
    assert objects[1, 5, 7] == pytest.approx(spread)
    # The edge finds size bin 0 with recall 0.2 >= MIN_RECALL: estimated as well (none).
    assert objects[0, 0, 0] == pytest.approx(spread)


def test_passes_go_where_small_objects_were_seen_within_the_time():
    r = refiner()
    crowd = boxes(*[(3000 + 25 * i, 1800 + 20 * (i % 3)) for i in range(12)])
    blocks = r.plan(crowd, source="", frame_size=UHD, time_s=0.24)
    assert blocks, "small people seen: worth a finer pass"
    passes = sum(option_passes(o, x1 - x0, y1 - y0) for (x0, y0, x1, y1), o in blocks)
    assert 0 < passes * PAPER.remix_pass_s <= 0.24 + 1e-9
    # N1 is the only option that beats the edge stage on small objects.
    assert {option for _, option in blocks} == {N1}
    covered = [(x0 <= 3100 < x1 and y0 <= 1820 < y1) for (x0, y0, x1, y1), _ in blocks]
    assert any(covered)
    assert r.plan(crowd, source="", frame_size=UHD, time_s=0.01) == []


def test_nothing_to_gain_plans_nothing():
    r = refiner()
    weaker = replace(r, gain={N025: r.gain[N025], C05: r.gain[C05]})
    assert not weaker.gain[N025].any() and not weaker.gain[C05].any()
    crowd = boxes(*[(500 + 25 * i, 500) for i in range(12)])
    assert weaker.plan(crowd, source="", frame_size=UHD, time_s=0.4) == []


def test_calibration_measures_recall_precision_and_the_gain_of_merging():
    profile = refiner().profile
    reference = concat(boxes((100, 100), (300, 100)), boxes((900, 900), side=100))
    found = concat(boxes((100, 100), (2000, 2000)), boxes((900, 900), side=100))
    other = boxes((300, 100))  # the option finds the small one the edge missed
    r = calibrate(profile, [reference, reference], [found, Detections.empty()],
                  {N1: [other, Detections.empty()]}, pass_s=0.03)
    assert r.edge_recall[1] == pytest.approx(1 / 4) and r.edge_recall[3] == pytest.approx(1 / 2)
    assert r.edge_precision[1] == pytest.approx(1 / 2)  # the box at (2000, 2000) is no one
    assert r.edge_precision[3] == pytest.approx(1.0)
    assert r.gain[N1][1] == pytest.approx(1 / 4) and r.gain[N1][3] == 0.0
    assert r.edge_recall[0] == 0.0 and r.pass_s == 0.03


def test_edge_only_frames_spend_the_time_left_and_merge(tmp_path):
    frame_path = tmp_path / "f.npy"
    np.save(frame_path, np.zeros((UHD[1], UHD[0], 3), np.uint8))
    classes = np.zeros((UHD[1] // 16, UHD[0] // 16), np.uint8)
    frame = FrameInputs(index=0, path=Path(frame_path), digest="d0", shape=(UHD[1], UHD[0]),
                        raw_classes=classes, classes=classes)
    cache = DetectionCache(root=tmp_path)
    seen = boxes(*[(3000 + 25 * i, 1800) for i in range(12)])
    edge_job = Job(model="edge", frame_path=frame.path, digest="d0",
                   payload=Payload(kind="original"))
    cache.put(edge_job.key, seen)
    settings = Settings(qualities=KNOTS, class0_downsample=(1,), warmup_frames=0)
    slow = Link(throughput=Trace.from_steps([(1e3, 100.0)], loop=True))  # nothing fits

    def run(r):
        method = HyperionMethod(variant="hyperion", settings=settings, device=PAPER,
                                profiles=profiles(), cache=cache, refiner=r)
        return run_method(method, [frame], slow, 5.0, 0.4)[0]

    plain, refined = run(None), run(refiner())
    local = PAPER.edge_s + PAPER.overhead_s
    assert plain.answer == refined.answer == "edge" and plain.bytes_sent == 0
    assert plain.latency_s == pytest.approx(local) and [j.key for j in plain.jobs] == [edge_job.key]
    assert refined.jobs[0].key == edge_job.key and len(refined.jobs) > 1
    assert local < refined.latency_s <= 0.4 and refined.on_time
    for job in refined.jobs[1:]:
        cache.put(job.key, concat(boxes((3000, 1800)), boxes((100, 2000), side=20)))
    answer = resolve(refined, cache, EnsembleConfig())
    # NMS merge: the edge's 12 people, the duplicate removed, the new small one added.
    assert len(answer) == 13


def test_refined_accuracy_is_the_edge_alone_without_time_and_rises_with_the_passes():
    r = refiner()
    size = (UHD[0], UHD[1])
    people = [(2900 + 25 * i, 1800) for i in range(12)]  # all in one density cell
    reference = boxes(*people)
    edge = boxes(*people[:6])  # the edge stage finds half of them
    frame = FrameInputs(index=0, path=Path("f.npy"), digest="d", shape=(size[1], size[0]),
                        raw_classes=np.zeros((1, 1), np.uint8),
                        classes=np.zeros((1, 1), np.uint8))
    seen = []

    def outputs(jobs):  # a finer pass finds everyone centred in its block
        seen.extend(jobs)
        return [concat(Detections.empty(), *(boxes(p) for p in people
                                             if x0 <= p[0] < x1 and y0 <= p[1] < y1))
                for x0, y0, x1, y1 in (j.payload.region for j in jobs)]

    alone = refined_accuracy(r, [frame], [reference], [edge], outputs, time_s=0.0)
    assert seen == []
    # 6 of 12 found at precision 1: COCO interpolates at 101 recalls, 51 of them <= 0.5.
    assert alone == pytest.approx(51 / 101)
    refined = refined_accuracy(r, [frame], [reference], [edge], outputs, time_s=0.24)
    assert refined == pytest.approx(1.0)
    assert seen and all(j.payload.kind == "block" and j.digest == "d" for j in seen)
