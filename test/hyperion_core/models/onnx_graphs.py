"""Small ONNX detectors of each exported layout, built with ``onnx.helper`` for the tests.

Each graph takes ``images [1, 3, H, W]`` and answers constant outputs, so what a decoder
must make of them is known exactly. The outputs add ``0 * mean(images)``: the input is
really read (a graph that ignores it would not show a wrong tensor shape), without
changing a value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_graph(path: Path, outputs: dict[str, np.ndarray], *, input_hw: tuple = (64, 64),
               names: str | None = None) -> Path:
    """Write a model answering ``outputs`` (name -> float32 array) to ``path``.

    Args:
        path: the ``.onnx`` file to write.
        outputs: output name -> constant value, in graph order.
        input_hw: the input's ``(H, W)``; a string dimension makes it symbolic.
        names: an Ultralytics-style ``names`` metadata string, e.g. ``"{0: 'person'}"``.
    """
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"])]
    initialisers = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    graph_outputs = []
    for name, value in outputs.items():
        value = np.asarray(value, np.float32)
        initialisers.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, value.shape))
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])
    graph = helper.make_graph(nodes, "layout_test", [image], graph_outputs, initialisers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # read by every onnxruntime the project allows
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


#: Three known boxes in model-input pixels (64x64 input), xyxy, with class and score.
BOXES = np.array([[10, 20, 30, 40], [12, 20, 30, 42], [40, 8, 60, 24]], np.float32)
CLASSES = np.array([0, 0, 2])
SCORES = np.array([0.9, 0.8, 0.7], np.float32)


def cxcywh(boxes: np.ndarray) -> np.ndarray:
    """xyxy -> centre x, centre y, width, height."""
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], 1)


def class_matrix(num_classes: int, low: float = 0.05) -> np.ndarray:
    """``(3, C)`` class scores: :data:`SCORES` at :data:`CLASSES`, ``low`` elsewhere."""
    matrix = np.full((len(BOXES), num_classes), low, np.float32)
    matrix[np.arange(len(BOXES)), CLASSES] = SCORES
    return matrix


def yolo_outputs(num_classes: int = 3) -> dict[str, np.ndarray]:
    """``[1, 4 + C, 100]``: the three boxes, one below threshold, one NaN-scored anchor,
    then all-zero anchors (an export has thousands, more anchors than rows)."""
    rows = np.concatenate([cxcywh(BOXES), class_matrix(num_classes)], 1)
    weak = np.array([[30, 30, 10, 10] + [0.01] * num_classes], np.float32)
    nan = np.array([[30, 30, 10, 10] + [np.nan] * num_classes], np.float32)
    zeros = np.zeros((95, 4 + num_classes), np.float32)
    return {"output0": np.concatenate([rows, weak, nan, zeros])[None].transpose(0, 2, 1)}


def yolo_objectness_outputs(num_classes: int = 3) -> dict[str, np.ndarray]:
    """``[1, N, 5 + C]``: objectness 0.5 and class columns twice :data:`class_matrix` (the
    product is exactly the same scores; halving is exact in binary), plus a row with
    objectness 0 and high class columns, which must not come out."""
    rows = np.concatenate([cxcywh(BOXES), np.full((3, 1), 0.5, np.float32),
                           class_matrix(num_classes) / 0.5], 1)
    empty = np.array([[30, 30, 10, 10, 0.0] + [1.0] * num_classes], np.float32)
    return {"output0": np.concatenate([rows, empty])[None]}


def yolo_nms_outputs() -> dict[str, np.ndarray]:
    """``[1, N, 6]``: the boxes after in-graph NMS (no duplicate), then zero padding."""
    keep = [0, 2]
    rows = np.concatenate([BOXES[keep], SCORES[keep, None], CLASSES[keep, None]], 1)
    return {"output0": np.concatenate([rows, np.zeros((3, 6), np.float32)])[None]}


def detr_outputs(num_classes: int = 3, *, logits: bool = True) -> dict[str, np.ndarray]:
    """``pred_boxes [1, N, 4]`` normalised cxcywh and ``pred_logits``/``scores``
    ``[1, N, C]`` (logits: the inverse sigmoid of the scores)."""
    boxes = cxcywh(BOXES) / 64.0
    probabilities = class_matrix(num_classes)
    if logits:
        return {"pred_boxes": boxes[None],
                "pred_logits": np.log(probabilities / (1 - probabilities))[None]}
    return {"pred_boxes": boxes[None], "scores": probabilities[None]}
