"""Scoring: the stale-answer rule, the warm-up, fusion and merging, pooled AP50 and its
intervals (checked against pycocotools)."""

from pathlib import Path

import numpy as np
import pytest

from hyperion_core.eval.cache import DetectionCache
from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.scoring import ap50_gap, bytes_ratio, merge, score_run, summarise
from hyperion_core.eval.timeline import Outcome
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.ensemble import EnsembleConfig, ensemble
from hyperion_core.metrics.coco_ap import coco_ap

A, B, C = (10, 10, 50, 90), (200, 10, 240, 90), (400, 400, 420, 420)


def dets(*boxes, score=0.9):
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return Detections(boxes=b, scores=np.full(len(b), score), labels=np.zeros(len(b), np.int64))


def job(name):
    return Job(model="cloud", frame_path=Path("unused.npy"), digest=name,
               payload=Payload(kind="original"))


def outcome(i, latency, answer, jobs, sent=1e5):
    return Outcome(frame=i, start_s=float(i), latency_s=latency, bytes_sent=sent,
                   on_time=latency <= 0.4, answer=answer, jobs=jobs)


@pytest.fixture
def cache(tmp_path):
    store = DetectionCache(root=tmp_path)
    for name, found in {"a": dets(A), "b": dets(B), "c": dets(C), "e": dets(A, score=0.5),
                        "half": dets((*A[:2], 30, 90))}.items():
        store.put(job(name).key, found)
    return store


def test_stale_rule_and_warmup(cache):
    refs = [dets(A), dets(A), dets(B)]
    outcomes = [outcome(0, 0.3, "cloud", [job("a")]), outcome(1, 0.9, "cloud", [job("c")]),
                outcome(2, 0.35, "cloud", [job("b")])]
    run = score_run(outcomes, refs, cache=cache, fusion=EnsembleConfig(), warmup=0)
    # Frame 1 is late: scored with frame 0's answer, which matches its reference.
    assert [m.hits.tolist() for m in run.matches] == [[True], [True], [True]]
    warm = score_run(outcomes, refs, cache=cache, fusion=EnsembleConfig(), warmup=1)
    assert len(warm.matches) == 2 and warm.latency_s.tolist() == [0.9, 0.35]


def test_fusion_and_merge_are_resolved(cache):
    fused = outcome(0, 0.3, "fuse", [job("e"), job("half")])
    merged = outcome(1, 0.3, "merge", [job("a"), job("b"), job("a")])
    run = score_run([fused, merged], [dets(A), dets(A, B)], cache=cache,
                    fusion=EnsembleConfig(), warmup=0)
    expected = ensemble(dets(A, score=0.5), dets((*A[:2], 30, 90)), EnsembleConfig())
    assert run.matches[0].scores.tolist() == sorted(expected.scores.tolist(), reverse=True)
    assert len(merge([dets(A), dets(B), dets(A)])) == 2  # the duplicate A is suppressed
    assert run.matches[1].hits.sum() == 2


def test_pooled_ap50_equals_cocoeval_and_intervals_pair_runs(cache):
    rng = np.random.default_rng(0)
    runs, truth, found = [], [], []
    for _r in range(6):
        outs, refs = [], []
        for i in range(4):
            name = "abc"[int(rng.integers(0, 3))]
            outs.append(outcome(i, float(rng.uniform(0.2, 0.6)), "cloud", [job(name)]))
            refs.append(dets(A) if rng.random() < 0.5 else dets(B))
        scored = score_run(outs, refs, cache=cache, fusion=EnsembleConfig(), warmup=1)
        runs.append(scored)
        # The stale rule written out: a late answer is replaced by the last on-time one.
        last = Detections.empty()
        for i, o in enumerate(outs):
            if o.on_time:
                last = cache.get(o.jobs[0].key)
            if i >= 1:
                truth.append(refs[i])
                found.append(last)
    summary = summarise(runs, budget_s=0.4, reps=100)
    assert summary["frames"] == 18 and summary["runs"] == 6
    ap = summary["ap50"]
    assert ap["low"] <= ap["value"] <= ap["high"]
    # Pooled AP50 over the scored frames, as pycocotools computes it.
    assert ap["value"] == pytest.approx(coco_ap(truth, found)["AP50"], abs=1e-12)
    gap = ap50_gap(runs, runs, reps=50)
    assert gap.value == 0 and gap.low == 0 == gap.high
    doubled = [type(r)(**{**r.__dict__, "bytes_sent": 2 * r.bytes_sent}) for r in runs]
    assert bytes_ratio(doubled, runs, reps=50).value == pytest.approx(2.0)
    with pytest.raises(ValueError):
        ap50_gap(runs, runs[:2])
