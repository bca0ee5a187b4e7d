"""NanoDet and CenterNet backends: the decoder against a plain loop, and the real models
on hand-labelled frames of vtest.avi (skipped without the installed models or the clip)."""

import numpy as np
import pytest

from hyperion_core.models.base import DetectorConfig
from hyperion_core.models.boxes import pairwise_iou
from hyperion_core.models.coco import COCO_CLASSES, class_ids
from hyperion_core.models.nanodet import BINS, decode_nanodet


def _loop_decode(levels, threshold, classes):
    """Cell by cell, class by class, straight from the format's description."""
    out = []
    for scores, logits, stride in levels:
        side = round(float(np.sqrt(len(scores))))
        for cell in range(len(scores)):
            y, x = divmod(cell, side)
            cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
            dist = []
            for k in range(4):
                z = logits[cell, k * BINS : (k + 1) * BINS].astype(np.float64)
                p = np.exp(z - z.max())
                dist.append(float((p / p.sum()) @ np.arange(BINS)) * stride)
            for c in classes:
                if scores[cell, c] >= threshold:
                    out.append((cx - dist[0], cy - dist[1], cx + dist[2], cy + dist[3],
                                float(scores[cell, c]), c))
    return sorted(out, key=lambda r: (r[5], r[4], r[0]))


@pytest.mark.parametrize("classes", [(), (0, 2)])
def test_nanodet_decoding_matches_a_loop(classes):
    rng = np.random.default_rng(3)
    levels = [(rng.random((side * side, 5)).astype(np.float32) ** 4,
               rng.normal(0, 2, (side * side, 4 * BINS)).astype(np.float32), 32 // side * 4)
              for side in (8, 4, 2)]
    boxes, scores, ids = decode_nanodet(levels, score_threshold=0.6, class_filter=classes)
    got = sorted(((*b, float(s), int(c)) for b, s, c in zip(boxes.tolist(), scores, ids,
                                                            strict=True)),
                 key=lambda r: (r[5], r[4], r[0]))
    want = _loop_decode(levels, 0.6, classes or range(5))
    assert len(got) == len(want) > 0
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-5, atol=1e-3)


def test_class_names():
    assert len(COCO_CLASSES) == 80 and COCO_CLASSES[0] == "person"
    assert class_ids(["car", "person"]) == (2, 0)
    with pytest.raises(ValueError, match="pedestrian"):
        class_ids(["pedestrian"])


@pytest.fixture(scope="module")
def labelled():
    try:
        from hyperion_core.data.array_camera import find_vtest_clip, read_clip
        from hyperion_core.eval.labels import load_labels
        from hyperion_core.models.tfjs import locate_model

        paths = {n: locate_model(n) for n in ("nanodet", "centernet")}
        clip = find_vtest_clip()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    labels = load_labels()
    return paths, {f: (read_clip(clip, f, 1)[0], labels[f]) for f in (100, 300, 660)}


def _detectors(paths):
    from hyperion_core.models.centernet import CenterNetConfig, CenterNetDetector
    from hyperion_core.models.nanodet import NanoDetConfig, NanoDetDetector
    from hyperion_core.models.pair import DetectorPair, PairConfig

    person = dict(score_threshold=0.2, class_filter=(0,))
    nano = NanoDetDetector(config=NanoDetConfig(
        model_path=paths["nanodet"], detector=DetectorConfig(input_size=(416, 416), **person)))
    center = CenterNetDetector(config=CenterNetConfig(
        model_path=paths["centernet"], detector=DetectorConfig(input_size=(512, 512), **person)))
    return {"nanodet": nano, "centernet": center,
            "pair": DetectorPair(first=nano, second=center,
                                 config=PairConfig(score_threshold=0.3))}


@pytest.mark.models
@pytest.mark.parametrize("name", ["nanodet", "centernet", "pair"])
def test_real_models_find_the_labelled_people(labelled, name):
    paths, frames = labelled
    detector = _detectors(paths)[name]
    found = total = false = 0
    for image, truth in frames.values():
        people = truth.boxes[~truth.crowd]
        got = detector.predict(image)
        assert set(got.class_ids.tolist()) <= {0} and (got.scores >= 0.2).all()
        iou = pairwise_iou(people, got.boxes)
        found += int((iou >= 0.5).any(axis=1).sum())
        total += len(people)
        # A confident box on no person at all (the yellow object, the tripod): false.
        confident = got.scores >= 0.5
        false += int((pairwise_iou(truth.boxes, got.boxes)[:, confident].max(axis=0,
                                                                         initial=0) < 0.1).sum())
        again = detector.predict(image)
        np.testing.assert_array_equal(again.boxes, got.boxes)
    assert found >= 0.85 * total, f"{name}: {found}/{total} people found"
    assert false <= 1, f"{name}: {false} confident boxes on no person"
