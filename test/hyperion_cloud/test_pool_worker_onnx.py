"""A pool worker with a user's ONNX model: its job handler answers a real serialized
frame with the decoding's boxes, in the classes the frame asks for (the edge's), and the
worker refuses a mismatched model before joining the pool (exit 2, naming the parameter)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message

from hyperion.graph import executable, graph_env
from hyperion_cloud.pool_worker import detect_handler, detector_params
from hyperion_msgs.msg import CloudDetections

_ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> object:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


graphs = _load("onnx_graphs", _ROOT / "hyperion_core" / "models" / "onnx_graphs.py")
validation = _load("hyperion_test_validation", _ROOT / "reliability" / "test_validation.py")


def overrides(model: Path, *extra: str) -> list[str]:
    return ["backend:=onnx", f"model_path:={model}", "class_names:=[person, car, dog]",
            "input_width:=64", "input_height:=64", "full_frame_pass:=false", *extra]


def test_the_handler_answers_with_the_models_boxes_in_the_frames_classes(tmp_path):
    model = graphs.save_graph(tmp_path / "yolo.onnx", graphs.yolo_nms_outputs())
    handle = detect_handler(detector_params(None, overrides(model)))
    frame = validation.encoded(128, 64)
    answer = deserialize_message(handle(serialize_message(frame)), CloudDetections)
    labels = [d.results[0].hypothesis.class_id for d in answer.detections.detections]
    assert labels == ["person"]  # the worker's own classes: the frame names none
    frame.object_classes = ["person", "dog"]  # what the edge detects now
    answer = deserialize_message(handle(serialize_message(frame)), CloudDetections)
    found = answer.detections.detections
    assert [d.results[0].hypothesis.class_id for d in found] == ["person", "dog"]
    centres = [(d.bbox.center.position.x, d.bbox.center.position.y) for d in found]
    expected = np.clip((graphs.BOXES[[0, 2]] - [0, 16, 0, 16]) * 2, 0, [128, 64, 128, 64])
    np.testing.assert_allclose(centres, (expected[:, :2] + expected[:, 2:]) / 2, atol=1e-3)
    # Another model on the edge: the cloud detects the classes both know, and refuses a
    # frame that asks for none of its own.
    frame.object_classes = ["forklift", "dog"]
    answer = deserialize_message(handle(serialize_message(frame)), CloudDetections)
    assert [d.results[0].hypothesis.class_id for d in answer.detections.detections] == ["dog"]
    frame.object_classes = ["forklift"]
    with pytest.raises(ValueError, match="none of which this model knows"):
        handle(serialize_message(frame))


def test_a_mismatched_model_stops_the_worker_before_it_joins(tmp_path):
    model = graphs.save_graph(tmp_path / "yolo.onnx", graphs.yolo_outputs(num_classes=80))
    args = [a for p in overrides(model) for a in ("-p", p)]
    result = subprocess.run(
        [str(executable("hyperion_cloud", "pool_worker")), "--connect", "tcp/127.0.0.1:9",
         *args], env=graph_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "parameter class_names" in result.stderr and str(model) in result.stderr
    assert "expected 3 classes" in result.stderr and "found 80 classes" in result.stderr
