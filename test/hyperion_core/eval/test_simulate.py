"""Simulator and scoring: stale-answer rule, method dispatch, determinism."""

from pathlib import Path

import numpy as np
import pytest

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.devices import PAPER
from hyperion_core.eval.evaluate import window_offsets
from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import Payload, roi_class_map
from hyperion_core.eval.remix import RemixProfile, block_grid
from hyperion_core.eval.runner import FrameStore
from hyperion_core.eval.scoring import summarise
from hyperion_core.eval.simulate import METHODS, FrameInputs, Outcome, Settings, Simulator
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.profiles import AccuracyProfile, FitStats, SizeProfile

KEYS = {"ap50", "fps", "mean_latency_ms", "p95_latency_ms", "violation_ratio",
        "offload_mb_per_frame"}


def dets(*boxes):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return Detections(boxes=b, scores=np.full(len(b), 0.9), labels=np.zeros(len(b), np.int64))


def job(i):
    return Job(model="cloud", frame_path=Path("unused.npy"), digest=f"toy{i}",
               payload=Payload(kind="original"))


def toy(tmp_path, ref1):
    cache = DetectionCache(root=tmp_path)
    a, b = (10, 10, 50, 90), (200, 10, 240, 90)
    answers = [dets(a), dets((400, 400, 420, 420)), dets(b)]
    for i, d in enumerate(answers):
        cache.put(job(i).key, d)
    outcomes = [Outcome(frame=i, start_s=0.5 * i, latency_s=lat, bytes_sent=1e5,
                        on_time=lat <= 0.4, answer="cloud", jobs=[job(i)])
                for i, lat in enumerate((0.3, 0.9, 0.35))]
    refs = [dets(a), dets(ref1), dets(b)]
    return summarise([outcomes], [refs], budget_s=0.4, cache=cache, config=EnsembleConfig())


def test_stale_answer_rule_end_to_end(tmp_path):
    # Frame 1 is late: it is scored with frame 0's answer, which matches its reference.
    good = toy(tmp_path / "a", (10, 10, 50, 90))
    assert good["ap50"] == pytest.approx(1.0)
    assert good["violation_ratio"] == pytest.approx(1 / 3)
    assert good["mean_latency_ms"] == pytest.approx(1000 * (0.3 + 0.9 + 0.35) / 3)
    # The object moved: the stale answer is wrong, while the late answer was never used.
    moved = toy(tmp_path / "b", (300, 10, 340, 90))
    assert moved["ap50"] < 0.9


def make_simulator(tmp_path, budget_s=0.4, detect=None, settings=None):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 160, 3), dtype=np.uint8) for _ in range(3)]
    store = FrameStore(cache_root=tmp_path, frames=frames)
    inputs = []
    for i in range(3):
        raw = rng.integers(0, 3, (6, 10)).astype(np.uint8)
        inputs.append(FrameInputs(index=i, path=store.paths[i], digest=store.digests[i],
                                  shape=(96, 160), raw_classes=raw,
                                  classes=np.minimum(raw, 1)))
    stats = FitStats(r=1.0, r2=1.0, n=10, rmse=0.0)
    profiles = (SizeProfile(alpha={1: 0.002}, beta=0.01, stats=stats),
                AccuracyProfile(weights={(0, 1): 0.001, (1, 1): 0.002, (2, 1): 0.003},
                                bias=0.3, stats=stats))
    remix = RemixProfile(blocks=tuple(block_grid(160, 96, 1, 1)), objects=(3.0,),
                         recall={"skip": 0.0, "remix-half": 0.5, "remix-full": 0.8})
    if detect is None:  # Elf's server answers: one fixed box
        detect = lambda job: dets((5, 5, 30, 60))  # noqa: E731
    return Simulator(settings=settings or Settings(budget_s=budget_s), device=PAPER,
                     frames=inputs, profiles=profiles, remix=remix, scale=2000.0,
                     cache=DetectionCache(root=tmp_path), detect=detect), inputs


def test_every_method_yields_every_metric(tmp_path):
    sim, _ = make_simulator(tmp_path)
    trace = Trace.from_steps([(40e6, 1.0), (0.0, 0.5), (80e6, 2.0)], loop=True)
    cache = DetectionCache(root=tmp_path)
    refs = [dets((5, 5, 30, 60)), dets((50, 5, 80, 60)), dets((90, 5, 120, 60))]
    for method in METHODS:
        runs = [sim.run(method, trace, offset) for offset in (0.0, 1.2)]
        for run in runs:
            assert len(run) == 3
            for o in run:
                for j in o.jobs:  # a perfect detector, so every answer is the reference
                    cache.put(j.key, refs[o.frame])
        row = summarise(runs, [refs, refs], budget_s=0.4, cache=cache, config=EnsembleConfig())
        assert set(row) >= KEYS, method
        assert row["frames"] == 6 and row["fps"] > 0
    assert sum(o.bytes_sent for o in sim.run("edge-only", trace, 0.0)) == 0.0
    assert all(o.bytes_sent > 0 for o in sim.run("cloud-only", trace, 0.0))


def test_simulation_is_deterministic(tmp_path):
    sim, _ = make_simulator(tmp_path)
    trace = Trace.from_steps([(30e6, 0.7), (5e6, 0.7), (60e6, 0.7)], loop=True)
    for method in ("hyperion", "v1", "elf-v", "remix"):
        first = [(o.latency_s, o.qualities, o.answer) for o in sim.run(method, trace, 0.3)]
        again = [(o.latency_s, o.qualities, o.answer) for o in sim.run(method, trace, 0.3)]
        assert first == again
    rng = lambda seed: np.random.default_rng(seed)  # noqa: E731
    assert window_offsets(trace, 3, 0.5, rng(4)) == window_offsets(trace, 3, 0.5, rng(4))
    assert window_offsets(trace, 3, 0.5, rng(4)) != window_offsets(trace, 3, 0.5, rng(5))


def test_hyperion_never_late_when_the_edge_fits(tmp_path):
    sim, _ = make_simulator(tmp_path)
    outage = Trace.from_steps([(0.0, 10.0)], loop=True)
    run = sim.run("hyperion", outage, 0.0)
    assert all(o.on_time and o.answer == "edge" for o in run)
    late = sim.run("cloud-only", Trace.from_steps([(1e5, 100.0)], loop=True), 0.0)
    assert not any(o.on_time for o in late)


def test_elf_rois_follow_its_own_previous_answer_not_the_reference(tmp_path):
    # Elf's server answers differ from the reference boxes (the cloud model on the
    # original); the ROI map of frame i must be built from Elf's answer for frame i-1.
    own = [dets((0, 0, 40, 40)), dets((100, 50, 150, 90)), dets((60, 0, 90, 30))]
    reference = [dets((120, 0, 160, 30)), dets((0, 60, 30, 96)), dets((40, 40, 80, 80))]
    seen: list[str] = []

    def detect(job):
        seen.append(job.digest)
        return own[[fr.digest for fr in inputs].index(job.digest)]

    sim, inputs = make_simulator(tmp_path, detect=detect)
    fast = Trace.from_steps([(1e11, 100.0)], loop=True)
    margin = Settings().elf_margin
    assert "elf_map" not in FrameInputs.__dataclass_fields__  # no precomputed (oracle) ROIs
    for method in ("elf", "elf-v"):
        run = sim.run(method, fast, 0.0)
        maps = [o.jobs[0].payload.class_map for o in run]
        assert maps[0].shape == inputs[0].classes.shape and (maps[0] == 1).all()
        for i in (1, 2):
            expected = roi_class_map((96, 160), own[i - 1].boxes, margin)
            oracle = roi_class_map((96, 160), reference[i - 1].boxes, margin)
            assert not np.array_equal(expected, oracle)
            assert np.array_equal(maps[i], expected), (method, i)
    assert seen[:2] == [inputs[0].digest, inputs[1].digest]  # sequential, frame by frame


def test_elf_keeps_its_last_answer_when_a_frame_is_given_up(tmp_path):
    own = [dets((0, 0, 40, 40)), dets((100, 50, 150, 90)), dets((60, 0, 90, 30))]

    def detect(job):
        return own[[fr.digest for fr in inputs].index(job.digest)]

    settings = Settings(max_wait_s=0.5)
    sim, inputs = make_simulator(tmp_path, detect=detect, settings=settings)
    first = sim.run("elf-v", Trace.from_steps([(1e11, 100.0)], loop=True), 0.0)[0].latency_s
    # The link dies right after frame 0's answer: frame 1 is given up, frame 2 (sent
    # once the link is back) must use frame 0's answer.
    trace = Trace.from_steps([(1e11, first + 1e-4), (0.0, 1.0), (1e11, 100.0)])
    run = sim.run("elf-v", trace, 0.0)
    assert run[0].answer == "cloud" and run[1].answer is None
    expected = roi_class_map((96, 160), own[0].boxes, settings.elf_margin)
    assert np.array_equal(run[2].jobs[0].payload.class_map, expected)
