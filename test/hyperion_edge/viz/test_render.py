"""Pure view helpers: encodings, scaling, box conversion (incl. empty/NaN), drawing."""

import numpy as np
import pytest
from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose

from hyperion_edge.viz import render


def detection(cx, cy, w, h, scores=()):
    d = Detection2D()
    d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y = cx, cy, w, h
    for name, score in scores:
        r = ObjectHypothesisWithPose()
        r.hypothesis.class_id, r.hypothesis.score = name, score
        d.results.append(r)
    return d


def test_encodings_and_padded_rows():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    padded = np.zeros((3, 16), np.uint8)
    padded[:, :12] = rgb.reshape(3, 12)
    out = render.image_to_bgr(data=padded.tobytes(), width=4, height=3, step=16, encoding="rgb8")
    np.testing.assert_array_equal(out, rgb[:, :, ::-1])
    mono = render.image_to_bgr(data=bytes(range(6)), width=3, height=2, step=3, encoding="mono8")
    assert mono.shape == (2, 3, 3) and mono[1, 2].tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="unsupported"):
        render.image_to_bgr(data=bytes(24), width=2, height=2, step=6, encoding="yuv422")
    with pytest.raises(ValueError, match="need"):
        render.image_to_bgr(data=bytes(5), width=2, height=2, step=6, encoding="bgr8")


def test_scale_and_downscale():
    assert render.fit_scale(3840, 1280) == pytest.approx(1 / 3)
    assert render.fit_scale(640, 1280) == 1.0 and render.fit_scale(0, 1280) == 1.0
    image = np.zeros((2160, 3840, 3), np.uint8)
    assert render.downscale(image, 1 / 3).shape == (720, 1280, 3)


def test_boxes_scaled_best_label_and_degenerate_inputs():
    assert render.detection_boxes([], 0.5) == []
    boxes = render.detection_boxes(
        [detection(100, 50, 40, 20, [("car", 0.3), ("person", 0.9)]),
         detection(float("nan"), 1, 1, 1), detection(10, 10, 0, 0)], 0.5)
    assert boxes[0] == render.Box(40.0, 20.0, 60.0, 30.0, "person 0.90")
    assert len(boxes) == 2 and boxes[1].label == ""


def test_draw_boxes_mutates_in_place_only_on_the_outline():
    image = np.zeros((50, 50, 3), np.uint8)
    render.draw_boxes(image, [render.Box(10, 10, 40, 40, "")], (0, 255, 0))
    assert image[10, 25, 1] > 0 and image[25, 25].sum() == 0
