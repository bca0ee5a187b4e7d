"""detection_bridge: xyxy ⇄ centre/size, headers, hypotheses, degenerate inputs."""

import numpy as np
import pytest
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray

from hyperion_runtime.detection_bridge import from_detection_array, to_detection_array


def header() -> Header:
    h = Header(frame_id="array_camera")
    h.stamp.sec, h.stamp.nanosec = 12, 345
    return h


def test_xyxy_becomes_centre_and_size():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 3840.0, 2160.0]])
    array = to_detection_array(header=header(), boxes=boxes, scores=np.array([0.9, 0.4]),
                               class_names=["person", "car"])
    first = array.detections[0]
    assert (first.bbox.center.position.x, first.bbox.center.position.y) == (20.0, 40.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (20.0, 40.0)
    assert first.bbox.center.theta == 0.0
    assert first.results[0].hypothesis.class_id == "person"
    assert first.results[0].hypothesis.score == pytest.approx(0.9)
    assert array.header == header() and first.header == header()


def test_round_trip():
    rng = np.random.default_rng(5)
    corners = rng.uniform(0, 3000, (20, 2))
    boxes = np.hstack([corners, corners + rng.uniform(1, 200, (20, 2))])
    scores = rng.uniform(0, 1, 20)
    names = [f"c{k % 3}" for k in range(20)]
    back = from_detection_array(to_detection_array(header=header(), boxes=boxes, scores=scores,
                                                   class_names=names))
    np.testing.assert_allclose(back.boxes, boxes, atol=1e-9)
    np.testing.assert_allclose(back.scores, scores)
    assert back.class_names == tuple(names)


def test_empty():
    array = to_detection_array(header=header(), boxes=np.zeros((0, 4)), scores=np.zeros(0),
                               class_names=[])
    assert array.detections == []
    back = from_detection_array(array)
    assert back.boxes.shape == (0, 4) and len(back) == 0


def test_best_hypothesis_wins_and_empty_results_are_skipped():
    array = to_detection_array(header=header(), boxes=np.array([[0.0, 0.0, 2.0, 2.0]]),
                               scores=np.array([0.2]), class_names=["a"])
    extra = to_detection_array(header=header(), boxes=np.array([[0.0, 0.0, 2.0, 2.0]]),
                               scores=np.array([0.7]), class_names=["b"])
    array.detections[0].results.append(extra.detections[0].results[0])
    empty = Detection2DArray(detections=[Detection2D()])
    assert from_detection_array(array).class_names == ("b",)
    assert len(from_detection_array(empty)) == 0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="boxes"):
        to_detection_array(header=header(), boxes=np.zeros((2, 4)), scores=np.zeros(1),
                           class_names=["a", "b"])
    with pytest.raises(ValueError, match="finite"):
        to_detection_array(header=header(), boxes=np.array([[0, 0, np.nan, 1.0]]),
                           scores=np.ones(1), class_names=["a"])
