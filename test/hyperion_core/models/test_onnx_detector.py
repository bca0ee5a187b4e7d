"""The ONNX backend on small graphs of each exported layout: boxes, scores and classes
decoded exactly, pre-processing as configured, mismatched files refused at load naming the
setting, the file, what was expected and what was found."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hyperion_core.models.base import DetectorConfig
from hyperion_core.models.onnx_detector import (
    ModelMismatch,
    OnnxDetector,
    OnnxDetectorConfig,
    read_class_names,
)
from hyperion_core.models.onnx_layouts import LayoutError, OutputInfo, detect_layout

_SPEC = importlib.util.spec_from_file_location("onnx_graphs",
                                               Path(__file__).with_name("onnx_graphs.py"))
graphs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(graphs)

NAMES = ("person", "car", "dog")
#: A 128x64 frame letterboxed into 64x64: scale 0.5, 16 px of padding above and below.
FRAME = np.full((64, 128, 3), 90, np.uint8)


def to_frame(boxes: np.ndarray) -> np.ndarray:
    """Input-pixel boxes of the 64x64 letterbox mapped back to the 128x64 frame."""
    out = np.asarray(boxes, np.float32).copy()
    out[:, 1::2] -= 16
    return np.clip(out * 2, 0, [128, 64, 128, 64])


def detector(path: Path, **overrides) -> OnnxDetector:
    fields = {"model_path": path, "class_names": NAMES,
              "detector": DetectorConfig(input_size=(64, 64), score_threshold=0.25,
                                         nms_iou=0.5)}
    return OnnxDetector(config=OnnxDetectorConfig(**{**fields, **overrides}))


#: What every layout must decode the test graphs to: boxes 0 and 2 (box 1 is a duplicate
#: that NMS, or the graph's own NMS, removes; the rest are below threshold or NaN).
EXPECTED = (to_frame(graphs.BOXES[[0, 2]]), graphs.SCORES[[0, 2]], ["person", "dog"])


@pytest.mark.parametrize(("make", "layout"), [
    (graphs.yolo_outputs, "yolo"),
    (graphs.yolo_objectness_outputs, "yolo-objectness"),
    (graphs.yolo_nms_outputs, "yolo-nms"),
    (lambda: graphs.detr_outputs(logits=False), "detr"),
    (graphs.detr_outputs, "detr"),
])
def test_each_layout_is_recognised_and_decoded_exactly(tmp_path, make, layout):
    found = detector(graphs.save_graph(tmp_path / "m.onnx", make()))
    assert found.layout == layout
    result = found.predict(FRAME)
    boxes, scores, labels = EXPECTED
    if layout == "detr":  # set predictions: no NMS, the duplicate stays
        boxes, scores = to_frame(graphs.BOXES), graphs.SCORES
        labels = ["person", "person", "dog"]
    np.testing.assert_allclose(result.boxes, boxes, atol=1e-4)
    np.testing.assert_allclose(result.scores, scores, rtol=1e-5)
    assert result.labels() == labels


def test_detr_single_output_and_softmax_with_no_object_column(tmp_path):
    detr = graphs.detr_outputs(logits=False)
    combined = {"output0": np.concatenate([detr["pred_boxes"], detr["scores"]], 2)}
    result = detector(graphs.save_graph(tmp_path / "rtdetr.onnx", combined)).predict(FRAME)
    np.testing.assert_allclose(result.boxes, to_frame(graphs.BOXES), atol=1e-4)
    # DETR's head: softmax over C classes + "no object"; logs of probabilities give them back.
    probabilities = np.concatenate([graphs.class_matrix(3), np.full((3, 1), 0.1)], 1)
    probabilities /= probabilities.sum(1, keepdims=True)
    softmax = {"pred_boxes": detr["pred_boxes"], "pred_logits": np.log(probabilities)[None]}
    found = detector(graphs.save_graph(tmp_path / "detr.onnx", softmax),
                     score_activation="softmax")
    result = found.predict(FRAME)
    np.testing.assert_allclose(result.scores, probabilities[:, :3].max(1), rtol=1e-5)
    assert result.labels() == ["person", "person", "dog"]


def test_stretch_resize_maps_boxes_back_per_axis(tmp_path):
    found = detector(graphs.save_graph(tmp_path / "m.onnx", graphs.yolo_nms_outputs()),
                     resize="stretch")
    result = found.predict(FRAME)  # 128x64 stretched to 64x64: x halves, y unchanged
    np.testing.assert_allclose(result.boxes, graphs.BOXES[[0, 2]] * [2, 1, 2, 1], atol=1e-4)


def test_classes_filter_by_name_and_names_from_metadata(tmp_path):
    path = graphs.save_graph(tmp_path / "m.onnx", graphs.yolo_outputs(),
                             names="{0: 'person', 1: 'car', 2: 'dog'}")
    found = detector(path, class_names=(), classes=("dog",))
    assert found.class_names == NAMES
    assert found.predict(FRAME).labels() == ["dog"]


def test_empty_and_nan_outputs_give_no_detections(tmp_path):
    empty = {"output0": np.zeros((1, 7, 0), np.float32)}
    assert len(detector(graphs.save_graph(tmp_path / "e.onnx", empty), layout="yolo")
               .predict(FRAME)) == 0
    nan = {"output0": np.full((1, 7, 5), np.nan, np.float32)}
    assert len(detector(graphs.save_graph(tmp_path / "n.onnx", nan)).predict(FRAME)) == 0


def test_preprocessing_channel_order_and_normalisation(tmp_path):
    path = graphs.save_graph(tmp_path / "m.onnx", graphs.yolo_outputs())
    pixel = np.zeros((64, 64, 3), np.uint8)
    pixel[..., 0], pixel[..., 2] = 255, 51  # B = 255, R = 51
    tensor, _ = detector(path).preprocess(pixel)
    assert tensor.shape == (1, 3, 64, 64) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor[0, :, 0, 0], [0.2, 0.0, 1.0])  # RGB, /255
    tensor, _ = detector(path, channel_order="bgr", normalise="none").preprocess(pixel)
    np.testing.assert_allclose(tensor[0, :, 0, 0], [255, 0, 51])
    tensor, _ = detector(path, normalise="imagenet").preprocess(pixel)
    np.testing.assert_allclose(tensor[0, :, 0, 0],
                               [(0.2 - 0.485) / 0.229, -0.456 / 0.224, (1 - 0.406) / 0.225],
                               rtol=1e-5)


def test_wrong_class_count_names_class_names_file_expected_and_found(tmp_path):
    path = graphs.save_graph(tmp_path / "m.onnx", graphs.yolo_outputs(num_classes=80))
    with pytest.raises(ModelMismatch) as err:
        detector(path)
    message = str(err.value)
    assert err.value.parameter == "class_names"
    assert str(path) in message and "expected 3 classes" in message and "80 classes" in message


def test_wrong_layout_and_input_size_and_unknown_class_are_refused(tmp_path):
    path = graphs.save_graph(tmp_path / "m.onnx", graphs.yolo_outputs())
    with pytest.raises(ModelMismatch, match=r"parameter layout: model .*m\.onnx.*expected"):
        detector(path, layout="detr")
    with pytest.raises(ModelMismatch, match=r"input_width/input_height.*expected input "
                                            r"640x640.*found input 64x64"):
        detector(path, detector=DetectorConfig(input_size=(640, 640)))
    with pytest.raises(ModelMismatch, match=r"parameter classes.*\['bus'\]"):
        detector(path, classes=("bus",))
    with pytest.raises(ModelMismatch, match=r"parameter class_names.*metadata"):
        detector(path, class_names=())
    garbled = graphs.save_graph(tmp_path / "g.onnx", graphs.yolo_outputs(), names="[person")
    with pytest.raises(ModelMismatch, match=r"parameter class_names.*'names' metadata"):
        detector(garbled, class_names=())
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_text("not a model")
    with pytest.raises(ModelMismatch, match=r"parameter model_path.*unreadable"):
        detector(not_onnx)
    with pytest.raises(FileNotFoundError, match="model_path"):
        detector(tmp_path / "absent.onnx")


def test_ambiguous_and_unknown_outputs_ask_for_the_layout():
    one_class = [OutputInfo("output0", (1, 100, 6))]
    with pytest.raises(LayoutError, match="yolo-nms and yolo-objectness"):
        detect_layout(one_class, 1)
    assert detect_layout(one_class, 3) == "yolo-nms"
    assert detect_layout([OutputInfo("output0", (1, 84, 8400))], 80) == "yolo"
    assert detect_layout([OutputInfo("output0", (1, 300, 84))], 80) == "detr"
    assert detect_layout([OutputInfo("output0", (1, 25200, 85))], 80) == "yolo-objectness"
    assert detect_layout([OutputInfo("logits", (1, 300, 80)),
                          OutputInfo("boxes", (1, 300, 4))], 80) == "detr"
    with pytest.raises(LayoutError, match="set the layout"):
        detect_layout([OutputInfo("output0", (1, "n", "k"))], 80)
    with pytest.raises(LayoutError, match="no known layout"):
        detect_layout([OutputInfo("output0", (1, 100, 9))], 80)


def test_class_names_files(tmp_path):
    (tmp_path / "a.txt").write_text("person\n\ncar\n")
    (tmp_path / "b.yaml").write_text("names:\n  0: person\n  1: car\n")
    (tmp_path / "c.json").write_text('["person", "car"]')
    for name in ("a.txt", "b.yaml", "c.json"):
        assert read_class_names(tmp_path / name) == ("person", "car")
    (tmp_path / "d.txt").write_text("\n")
    with pytest.raises(ValueError, match="holds no names"):
        read_class_names(tmp_path / "d.txt")
