"""Embedded real models on real frames: edge and cloud detectors, ViT scorer, the optional
fall-detection YOLO. Frames are 4K composites of hand-labelled vtest.avi frames (the report
label set, see hyperion_core.eval.labelled): human ground truth at 4K.
"""

import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.models.base import AttentionScorer
from hyperion_core.models.registry import (
    MODELS,
    build_detector,
    build_scorer,
    describe_models,
    get_spec,
)
from hyperion_core.models.weights import VIT_S14_FOCUS

pytestmark = pytest.mark.models

try:
    for spec in MODELS.values():
        for weights in spec.weights:
            weights.locate()
    from hyperion_core.data.array_camera import find_vtest_clip, read_clip

    find_vtest_clip()
except (FileNotFoundError, ImportError) as err:  # weights or clip not installed
    pytest.skip(str(err), allow_module_level=True)


@pytest.fixture(scope="module")
def labelled():
    from hyperion_core.eval.labelled import composites

    return composites("report")


@pytest.fixture(scope="module")
def frame_4k(labelled):
    return labelled[0].image


@pytest.fixture(scope="module")
def scored(labelled):
    """Edge and cloud scored per tile against the human labels."""
    from hyperion_core.eval.labelled import score_tiles
    from hyperion_core.eval.models import to_eval

    out = {}
    for name in ("edge", "cloud"):
        detector = build_detector(get_spec(name))
        out[name] = score_tiles(lambda image, d=detector: to_eval(d.predict(image)), labelled)
    return out


@pytest.fixture(scope="module")
def scorer():
    return build_scorer(get_spec("scorer"))


def test_boxes_are_upright_people_inside_the_frame(frame_4k):
    found = build_detector(get_spec("edge")).predict(frame_4k)
    h, w = frame_4k.shape[:2]
    assert set(found.labels()) == {"person"}
    assert (found.boxes[:, [0, 2]] >= 0).all() and (found.boxes[:, [0, 2]] <= w).all()
    assert (found.boxes[:, [1, 3]] >= 0).all() and (found.boxes[:, [1, 3]] <= h).all()
    confident = found.select(found.scores >= 0.5)
    heights = confident.boxes[:, 3] - confident.boxes[:, 1]
    widths = confident.boxes[:, 2] - confident.boxes[:, 0]
    assert len(confident) >= 60 and np.median(heights / widths) > 1.5


def test_cloud_beats_the_edge_against_human_labels(scored):
    """The premise of the system, on the composites' human labels: the cloud is accurate and
    not below the edge. Since the edge became CenterNet (chosen on real 4K frames) the gap
    here is small (+0.02, its interval reaching below 0): the significant premise is
    checked on real 4K frames below."""
    from hyperion_core.eval.labelled import ap50_difference, ap50_interval

    cloud = ap50_interval(scored["cloud"], reps=200)
    edge = ap50_interval(scored["edge"], reps=200)
    gap = ap50_difference(scored["cloud"], scored["edge"], reps=200)
    print(f"AP50 cloud {cloud}, edge {edge}, cloud - edge {gap}")
    assert cloud.value >= 0.70
    assert gap.value > 0


REAL4K = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "unicamp-uav-dev"


@pytest.mark.skipif(not (REAL4K / "gt.json").exists(), reason=f"no real 4K frames in {REAL4K}")
def test_cloud_beats_the_edge_on_real_4k_frames():
    """The premise on the content Hyperion is for: the 12 real 4K drone frames, pooled person
    AP50 against their human labels (docs/models/real4k.md: 0.524 vs 0.444)."""
    import cv2

    from hyperion_core.eval.models import to_eval
    from hyperion_core.eval.panda import read_ground_truth
    from hyperion_core.eval.stats import paired_difference
    from hyperion_core.metrics.ap_matches import ap50, match_image

    truth = read_ground_truth(REAL4K / "gt.json")
    files = sorted((REAL4K / "images").glob("*.jpg"))
    assert len(files) == len(truth)
    matches = {}
    for name in ("edge", "cloud"):
        detector = build_detector(get_spec(name))
        matches[name] = [match_image(t, to_eval(detector.predict(cv2.imread(str(f)))))
                         for f, t in zip(files, truth, strict=True)]
    gap = paired_difference(lambda idx: ap50([matches["cloud"][i] for i in idx]),
                            lambda idx: ap50([matches["edge"][i] for i in idx]),
                            len(files), reps=500)
    print(f"real 4K: cloud - edge {gap}")
    assert gap.low > 0


def test_classes_parameter_detects_other_coco_classes(frame_4k):
    """Asked for cars as well, the edge finds the parked cars and vans of the clip."""
    spec = get_spec("edge", classes=("person", "car"))
    found = build_detector(spec).predict(frame_4k)
    assert {"person", "car"} <= set(found.labels())
    with pytest.raises(ValueError, match="unknown classes"):
        build_detector(get_spec("edge", classes=("pedestrian",)))


def test_fall_yolo_stays_available_as_an_option():
    (clip_frame,) = read_clip(find_vtest_clip(), 300, 1)
    spec = get_spec("edge", backend="yolo-fall", tiling=None,
                    detector=replace(get_spec("edge").detector, score_threshold=0.25))
    found = build_detector(spec).predict(clip_frame)
    assert len(found) >= 3 and set(found.labels()) == {"person"}
    with pytest.raises(ValueError, match="only 'person'"):
        build_detector(get_spec("edge", backend="yolo-fall", classes=("car",)))


def test_scorer_attends_to_people(scorer, labelled):
    assert isinstance(scorer, AttentionScorer)
    frame = labelled[0]
    result = scorer.score(frame.image)
    assert result.patch_map.shape == (135, 240) and result.patch_size == 16
    assert result.token_map.shape == get_spec("scorer").token_grid
    assert result.layers == len(get_spec("scorer").scorer_layers) == 6
    assert np.isfinite(result.patch_map).all() and (result.patch_map >= 0).all()
    inside = np.zeros(result.patch_map.shape, bool)
    for x1, y1, x2, y2 in (frame.truth.boxes / 16).round().astype(int):
        inside[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)] = True
    assert 0.01 < inside.mean() < 0.8
    ratio = result.patch_map[inside].mean() / result.patch_map.mean()
    print(f"importance inside people / frame mean: {ratio:.2f}")
    assert ratio > 1.15


def test_in_graph_reduction_equals_full_attention(frame_4k):
    from hyperion_core.models.vit_scorer import OnnxVitScorer, VitScorerConfig

    small = {"model_path": VIT_S14_FOCUS.locate(), "token_grid": (6, 10), "layers": (0, 5, 11)}
    reduced = OnnxVitScorer(config=VitScorerConfig(**small)).score(frame_4k)
    full = OnnxVitScorer(config=VitScorerConfig(**small, reduce_in_graph=False)).score(frame_4k)
    assert reduced.layers == full.layers == 3
    np.testing.assert_allclose(reduced.token_map, full.token_map, rtol=1e-4)
    with pytest.raises(ValueError, match="heads"):
        OnnxVitScorer(config=VitScorerConfig(**small, heads=4)).score(frame_4k)
    with pytest.raises(ValueError, match="layers"):
        OnnxVitScorer(config=VitScorerConfig(model_path=small["model_path"], layers=(12,)))


def test_models_run_without_network(monkeypatch, frame_4k):
    """Loading and inference work with every outgoing connection refused."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by test")

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://192.0.2.1:9")  # TEST-NET-1: unroutable
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(OSError, match="disabled"):
        socket.create_connection(("192.0.2.1", 9))
    tile = np.ascontiguousarray(frame_4k[:540, :768])
    detector = build_detector(get_spec("cloud"))  # SAHI + ONNX, fresh load
    assert len(detector.predict(tile)) >= 1
    scorer = build_scorer(get_spec("scorer", token_grid=(4, 4), scorer_layers=()))
    assert scorer.score(tile).patch_map.shape == (34, 48)


def test_describe_models_lists_and_measures(frame_4k):
    rows = describe_models(measure=False)
    assert [r["name"] for r in rows] == list(MODELS)
    assert all(w["installed"] for r in rows for w in r["weights"])
    assert {w["licence"] for r in rows for w in r["weights"]} >= {"MIT"}
    crop = np.ascontiguousarray(frame_4k[:540, :960])  # small, to keep the test short
    measured = describe_models(measure=True, runs=1, frame=crop)
    for row in measured:
        assert "error" not in row, row
        assert row["latency_s"] > 0 and row["frame"] == "960x540"


def test_timing_on_a_provider_this_build_lacks_names_it(frame_4k):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    crop = np.ascontiguousarray(frame_4k[:64, :64])
    for row in describe_models(measure=True, runs=1, frame=crop, execution_provider="cuda"):
        assert row["execution_provider"] == "cuda" and "latency_s" not in row, row
        assert "CUDAExecutionProvider" in row["error"] and "onnxruntime-gpu" in row["error"], row
