"""Elf and Elf-V: partitions, payload bytes, latency model, own-answer ROIs, merging.

No model runs: ``detect`` is a fake that returns chosen boxes, frames are small noise.
"""

import itertools
import math

import numpy as np
import pytest

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import DeviceProfile
from hyperion_core.eval.elf import (
    ElfConfig,
    ElfMethod,
    extrapolate_rois,
    match_boxes,
    partition_regions,
)
from hyperion_core.eval.network import Link
from hyperion_core.eval.payloads import materialise
from hyperion_core.eval.runner import FrameStore
from hyperion_core.eval.scoring import merge
from hyperion_core.eval.timeline import FrameInputs, Settings, run_method
from hyperion_core.fuse.boxes import Detections
from hyperion_core.link.trace import DelayTrace, Trace

H, W = 160, 320
RTT = 0.05
RATE = 8e6
DEVICE = DeviceProfile(name="test", edge_s=0.1, edge_only_s=0.1, cloud_s=0.04,
                       overhead_s=0.007, elf_cloud_s=0.06, elf_overhead_s=0.005,
                       remix_pass_s=0.03)


def dets(*boxes, score=0.9, labels=None):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    lab = np.zeros(len(b), np.int64) if labels is None else np.asarray(labels, np.int64)
    return Detections(boxes=b, scores=np.full(len(b), score), labels=lab)


def link(steps=((RATE, 1000.0),), rtt=RTT):
    ping = DelayTrace(times_s=np.array([0.0]), rtt_s=np.array([rtt]), period_s=1000.0,
                      loop=False)
    return Link(throughput=Trace.from_steps(list(steps)), ping=ping)


def make_frames(tmp_path, n=3):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)]
    store = FrameStore(cache_root=tmp_path, frames=images)
    zero = np.zeros((H // 16, W // 16), np.uint8)
    return [FrameInputs(index=i, path=store.paths[i], digest=store.digests[i], shape=(H, W),
                        raw_classes=zero, classes=zero) for i in range(n)]


class FakeDetect:
    """Every pass on frame ``i`` 'finds' ``answers[i]`` (frame pixels); records the jobs."""

    def __init__(self, frames, answers):
        self.by_digest = {f.digest: a for f, a in zip(frames, answers, strict=False)}
        self.jobs = []

    def __call__(self, job):
        self.jobs.append(job)
        return self.by_digest.get(job.digest, Detections.empty())


def method(tmp_path, detect, variant="elf", settings=None, **config):
    return ElfMethod(variant=variant, settings=settings or Settings(), device=DEVICE,
                     cache=DetectionCache(root=tmp_path / "cache"), detect=detect,
                     config=ElfConfig(**config))


def real_bytes(frame, jobs):
    image = np.load(frame.path)
    return sum(materialise(image, j.payload)[0] for j in jobs)


def contains(region, box):
    x0, y0, x1, y1 = region
    return x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1


# --- partitions ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_partitions_cover_rois_aligned_inside_and_at_most_servers(seed):
    rng = np.random.default_rng(seed)
    h, w = 2160, 3840
    n = int(rng.integers(1, 60))
    xy = rng.uniform([-50, -50], [w, h], (n, 2))
    rois = np.column_stack([xy, xy + rng.uniform(2, 300, (n, 2))])  # some cross the edge
    servers = int(rng.integers(1, 6))
    regions = partition_regions(rois, (h, w), servers=servers, margin=0.06, min_pad=0.1)
    clipped = np.column_stack([rois[:, 0:3:2].clip(0, w), rois[:, 1:4:2].clip(0, h)])
    clipped = clipped[:, [0, 2, 1, 3]]
    inside = clipped[(clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])]
    assert len(inside) > 0 and 1 <= len(regions) <= servers
    for x0, y0, x1, y1 in regions:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert x0 % 16 == 0 and y0 % 16 == 0
        assert (x1 % 16 == 0 or x1 == w) and (y1 % 16 == 0 or y1 == h)
    for box in inside:
        assert any(contains(r, box) for r in regions), box


def test_partition_grows_by_margin_with_a_frame_floor():
    # Box 40x40 at (100, 60): pad max(0.06*40, 0.1*320)=32 in x, max(2.4, 16)=16 in y;
    # (68, 44, 172, 116) aligned outwards to 16 px.
    regions = partition_regions(np.array([[100, 60, 140, 100]]), (H, W), servers=4,
                                margin=0.06, min_pad=0.1)
    assert regions == [(64, 32, 176, 128)]
    # A big box: its own margin wins over the floor: 0.5*160 = 80 px in x.
    big = partition_regions(np.array([[80, 40, 240, 120]]), (H, W), servers=4, margin=0.5,
                            min_pad=0.0)
    assert big == [(0, 0, 320, 160)]


def test_partitions_cluster_by_column_left_to_right():
    rois = np.array([[250, 20, 310, 150], [10, 10, 30, 40], [20, 50, 40, 70]], float)
    regions = partition_regions(rois, (H, W), servers=2, margin=0.06, min_pad=0.1)
    # Column 0: the two left boxes, bbox (10, 10, 40, 70) -> pads 32 and 16.
    # Column 1: (250, 20, 310, 150) -> pads 32 and max(7.8, 16).
    assert regions == [(0, 0, 80, 96), (208, 0, 320, 160)]
    assert partition_regions(rois, (H, W), servers=1, margin=0.06, min_pad=0.1) == [
        (0, 0, 320, 160)]


def test_no_usable_roi_no_partition():
    assert partition_regions(np.zeros((0, 4)), (H, W), servers=4, margin=0.06,
                             min_pad=0.1) == []
    outside = np.array([[400, 10, 450, 50], [np.nan, 0, 10, 10], [5, 5, 5, 30]], float)
    assert partition_regions(outside, (H, W), servers=4, margin=0.06, min_pad=0.1) == []


# --- merging ------------------------------------------------------------------------------

def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def brute_nms(boxes, scores, labels, threshold):
    kept = []
    for i in sorted(range(len(scores)), key=lambda k: (-scores[k], k)):
        if all(labels[k] != labels[i] or iou(boxes[k], boxes[i]) <= threshold for k in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_merge_equals_brute_force_nms(seed):
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(0, 30))
        xy = rng.uniform(0, 200, (n, 2))
        parts.append(Detections(boxes=np.column_stack([xy, xy + rng.uniform(10, 60, (n, 2))]),
                                scores=rng.uniform(0, 1, n), labels=rng.integers(0, 2, n)))
    boxes = np.concatenate([p.boxes for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    expected = brute_nms(boxes.tolist(), scores.tolist(), labels.tolist(), 0.5)
    got = merge(parts)
    np.testing.assert_array_equal(got.boxes, boxes[expected].reshape(-1, 4))
    np.testing.assert_array_equal(got.scores, scores[expected])
    np.testing.assert_array_equal(got.labels, labels[expected])


def test_merge_of_nothing_is_empty():
    assert len(merge([])) == 0
    assert len(merge([Detections.empty(), Detections.empty()])) == 0


# --- the method on the timeline -----------------------------------------------------------

def test_first_frame_sends_only_the_lrc(tmp_path):
    frames = make_frames(tmp_path)
    m = method(tmp_path, FakeDetect(frames, [dets((100, 60, 140, 100))]))
    m.start(link(), 0.0)
    out = m.step(frames[0], link(), 0.0)
    assert [j.payload.kind for j in out.jobs] == ["lrc"]
    lrc = out.jobs[0].payload
    assert (lrc.downsample, lrc.quality, out.jobs[0].model) == (4, 30, "elf-cnn")
    assert out.answer == "merge"
    assert out.bytes_sent == pytest.approx(real_bytes(frames[0], out.jobs))


def test_bytes_are_the_real_sizes_of_all_partitions_and_the_lrc(tmp_path):
    frames = make_frames(tmp_path)
    answer = dets((10, 10, 30, 40), (250, 20, 310, 150))
    m = method(tmp_path, FakeDetect(frames, [answer, answer]), servers=2)
    m.start(link(), 0.0)
    m.step(frames[0], link(), 0.0)
    out = m.step(frames[1], link(), 1.0)
    kinds = [j.payload.kind for j in out.jobs]
    assert kinds == ["partition", "partition", "lrc"]
    assert [j.payload.quality for j in out.jobs[:2]] == [95, 95]
    assert out.bytes_sent == pytest.approx(real_bytes(frames[1], out.jobs))
    assert out.real_bytes == pytest.approx(out.bytes_sent)


@pytest.mark.parametrize(("variant", "server_s"), [
    ("elf", 0.06),  # elf_cloud_s per pass, in parallel
    # Elf-V: cloud_s x the largest pass's share of the frame: partition (208,0,320,160).
    ("elf-v", 0.04 * 112 * 160 / (H * W)),
])
def test_latency_is_overhead_transmission_rtt_and_longest_server(tmp_path, variant, server_s):
    frames = make_frames(tmp_path)
    answer = dets((10, 10, 30, 40), (250, 20, 310, 150))
    detect = FakeDetect(frames, [answer, answer])
    m = method(tmp_path, detect, variant=variant, servers=2)
    net = link()
    m.start(net, 0.0)
    m.step(frames[0], net, 0.0)
    out = m.step(frames[1], net, 2.0)
    assert [j.payload.region for j in out.jobs[:2]] == [(0, 0, 64, 64), (208, 0, 320, 160)]
    assert {j.model for j in out.jobs} == {"elf-cnn" if variant == "elf" else "cloud"}
    transmission = 8 * real_bytes(frames[1], out.jobs) / RATE
    assert out.latency_s == pytest.approx(0.005 + transmission + RTT + server_s)


def test_elf_v_lrc_only_costs_its_share_of_the_frame(tmp_path):
    frames = make_frames(tmp_path)
    m = method(tmp_path, FakeDetect(frames, []), variant="elf-v")
    m.start(link(), 0.0)
    out = m.step(frames[0], link(), 0.0)
    transmission = 8 * real_bytes(frames[0], out.jobs) / RATE
    lrc_share = (W // 4) * (H // 4) / (H * W)
    assert out.latency_s == pytest.approx(0.005 + transmission + RTT + 0.04 * lrc_share)


def test_outage_beyond_max_wait_gives_no_answer(tmp_path):
    frames = make_frames(tmp_path)
    outage = ((0.0, 100.0), (RATE, 100.0))
    detect = FakeDetect(frames, [dets((100, 60, 140, 100))])
    m = method(tmp_path, detect, settings=Settings(max_wait_s=2.0))
    m.start(link(outage), 0.0)
    out = m.step(frames[0], link(outage), 0.0)
    assert out.answer is None and out.jobs == [] and detect.jobs == []
    assert out.latency_s == pytest.approx(0.005 + 2.0)
    assert out.bytes_sent == 0.0 and out.real_bytes > 0
    # The same outage within max_wait: answered once the link is back.
    patient = method(tmp_path, FakeDetect(frames, []), settings=Settings(max_wait_s=200.0))
    patient.start(link(outage), 0.0)
    late = patient.step(frames[0], link(outage), 0.0)
    assert late.answer == "merge" and late.latency_s > 100.0


def test_a_lost_frame_keeps_the_previous_answer_as_roi_source(tmp_path):
    frames = make_frames(tmp_path)
    net = link(((RATE, 1.0), (0.0, 100.0), (RATE, 100.0)))
    m = method(tmp_path, FakeDetect(frames, [dets((100, 60, 140, 100))]),
               settings=Settings(max_wait_s=1.0))
    m.start(net, 0.0)
    assert m.step(frames[0], net, 0.0).answer == "merge"
    assert m.step(frames[1], net, 5.0).answer is None  # inside the outage
    out = m.step(frames[2], net, 120.0)
    assert [j.payload.region for j in out.jobs[:-1]] == [(64, 32, 176, 128)]


def test_rois_come_from_the_methods_own_previous_answer(tmp_path):
    frames = make_frames(tmp_path)
    regions = {}
    for name, box in (("left", (20, 20, 60, 60)), ("right", (250, 90, 300, 140))):
        m = method(tmp_path / name, FakeDetect(frames, [dets(box)]))
        m.start(link(), 0.0)
        m.step(frames[0], link(), 0.0)
        out = m.step(frames[1], link(), 1.0)
        regions[name] = [j.payload.region for j in out.jobs if j.payload.kind == "partition"]
        assert len(regions[name]) == 1 and contains(regions[name][0], box)
    assert regions["left"] != regions["right"]


def test_low_confidence_boxes_are_no_roi(tmp_path):
    frames = make_frames(tmp_path)
    weak = dets((100, 60, 140, 100), score=0.2)
    m = method(tmp_path, FakeDetect(frames, [weak]))
    m.start(link(), 0.0)
    m.step(frames[0], link(), 0.0)
    assert [j.payload.kind for j in m.step(frames[1], link(), 1.0).jobs] == ["lrc"]


def test_a_new_run_forgets_the_previous_runs_answers(tmp_path):
    frames = make_frames(tmp_path)
    m = method(tmp_path, FakeDetect(frames, [dets((100, 60, 140, 100))]))
    m.start(link(), 0.0)
    m.step(frames[0], link(), 0.0)
    m.start(link(), 50.0)
    assert [j.payload.kind for j in m.step(frames[1], link(), 50.0).jobs] == ["lrc"]


# --- ROI prediction -----------------------------------------------------------------------

def test_matched_boxes_move_on_at_constant_velocity():
    earlier = dets((100, 60, 140, 100), (10, 10, 20, 20))
    latest = dets((110, 62, 150, 102), (200, 100, 210, 110))  # second box: new, unmatched
    moved = extrapolate_rois(latest, earlier, steps=1.0, min_iou=0.3)
    np.testing.assert_allclose(moved, [[120, 64, 160, 104], [200, 100, 210, 110]])
    np.testing.assert_allclose(extrapolate_rois(latest, earlier, 0.5, 0.3)[0],
                               [115, 63, 155, 103])
    # Moved too far to overlap enough (IoU 0.29 < 0.3): not matched, not moved.
    far = dets((120, 64, 160, 104))
    np.testing.assert_allclose(extrapolate_rois(far, earlier, 1.0, 0.3), far.boxes)


def test_matching_is_one_to_one_and_label_aware():
    a = dets((0, 0, 10, 10), (1, 0, 11, 10), labels=[0, 0])
    b = dets((0, 0, 10, 10), labels=[0])
    assert match_boxes(a, b, 0.3) == [(0, 0)]
    assert match_boxes(a, dets((0, 0, 10, 10), labels=[1]), 0.3) == []


def test_method_extrapolates_from_its_last_two_answers(tmp_path):
    frames = make_frames(tmp_path)
    answers = [dets((100, 60, 140, 100)), dets((116, 60, 156, 100))]
    for extrapolate, x0 in ((True, 132), (False, 116)):
        m = method(tmp_path / str(extrapolate), FakeDetect(frames, answers),
                   extrapolate=extrapolate)
        m.start(link(), 0.0)
        m.step(frames[0], link(), 0.0)
        m.step(frames[1], link(), 1.0)
        np.testing.assert_allclose(m.predicted_rois(2), [[x0, 60, x0 + 40, 100]])


# --- the whole run ------------------------------------------------------------------------

def test_run_is_sequential_and_deterministic(tmp_path):
    frames = make_frames(tmp_path)
    answers = [dets((100, 60, 140, 100)), dets((10, 10, 30, 40), (250, 20, 310, 150)),
               dets((40, 40, 90, 90))]

    def run(folder):
        m = method(tmp_path / folder, FakeDetect(frames, answers), variant="elf-v")
        return run_method(m, frames, link(), 3.0, 0.4)

    first, second = run("a"), run("b")
    for a, b in itertools.zip_longest(first, second):
        assert (a.latency_s, a.bytes_sent, [j.key for j in a.jobs]) == (
            b.latency_s, b.bytes_sent, [j.key for j in b.jobs])
    starts = [o.start_s for o in first]
    assert starts[0] == 3.0
    ends = [s + o.latency_s for s, o in zip(starts, first, strict=True)]
    assert starts[1:] == pytest.approx(ends[:-1])
    assert all(math.isfinite(o.latency_s) and o.answer == "merge" for o in first)


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(KeyError):
        method(tmp_path, FakeDetect([], []), variant="elf-x")
    for bad in ({"servers": 0}, {"lrc_quality": 0}, {"margin": -0.1}, {"match_iou": 2.0}):
        with pytest.raises(ValueError):
            ElfConfig(**bad)
