"""Output layouts of exported ONNX detectors: recognising them and decoding them.

Pure numpy, no ONNX Runtime: every function takes the raw output arrays of one pass and
returns candidate boxes as ``(K, 4)`` float32 xyxy in **model-input pixels**, ``(K,)``
float32 scores and ``(K,)`` int64 class ids, best class per box. Thresholds, class
filtering and NMS are the caller's (:mod:`hyperion_core.models.onnx_detector`).

Layouts (``C`` classes, ``N`` boxes, batch 1):

- ``yolo``: one output ``[1, 4 + C, N]`` (Ultralytics YOLOv8/v11): rows cx, cy, w, h in
  input pixels, then ``C`` class scores already in [0, 1]; no objectness.
- ``yolo-objectness``: one output ``[1, N, 5 + C]`` (YOLOv5/v7 style): cx, cy, w, h in
  input pixels, objectness, ``C`` class scores; score = objectness x class score.
- ``yolo-nms``: one output ``[1, N, 6]`` (NMS in the graph, e.g. Ultralytics ``nms=True``
  or YOLOv10 end-to-end): x1, y1, x2, y2 in input pixels, score, class id; padding rows
  carry score 0.
- ``detr``: set predictions (DETR, RT-DETR), boxes cx, cy, w, h normalised to [0, 1] of
  the input, either two outputs ``boxes [1, N, 4]`` and ``logits``/``scores``
  ``[1, N, C]`` (or ``[1, N, C + 1]`` with a last "no object" column, DETR's softmax
  head), or one output ``[1, N, 4 + C]`` (Ultralytics RT-DETR export).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hyperion_core.models.boxes import cxcywh_to_xyxy

LAYOUTS = ("yolo", "yolo-objectness", "yolo-nms", "detr")
#: How ``detr`` class columns become probabilities; ``auto`` = sigmoid for an output whose
#: name says ``logits``, none otherwise.
ACTIVATIONS = ("auto", "none", "sigmoid", "softmax")


@dataclass(frozen=True)
class OutputInfo:
    """Name and shape of one graph output, as ONNX Runtime reports it.

    Args:
        name: output name.
        shape: dimensions; a symbolic or unknown dimension is a string or ``None``.
    """

    name: str
    shape: tuple[int | str | None, ...]

    def fixed(self, axis: int) -> int | None:
        """The size of ``axis`` when the graph fixes it, else ``None``."""
        dim = self.shape[axis]
        return dim if isinstance(dim, int) and dim > 0 else None


class LayoutError(ValueError):
    """The graph's outputs do not fit the layout asked for (or none fits).

    Args:
        message: the whole story, for logs.
        expected: what the layout expects, in words ("" where no layout was chosen).
        found: what the graph holds, in words.
    """

    def __init__(self, message: str, *, expected: str = "", found: str = "") -> None:
        super().__init__(message)
        self.expected, self.found = expected, found or message


def _show(outputs: Sequence[OutputInfo]) -> str:
    return ", ".join(f"{o.name} {list(o.shape)}" for o in outputs)


def _box_output(outputs: Sequence[OutputInfo]) -> int | None:
    """Index of the ``detr`` box output: a 3-D output named like boxes, or ending in 4."""
    named = [k for k, o in enumerate(outputs) if "box" in o.name.lower() and len(o.shape) == 3]
    if named:
        return named[0]
    four = [k for k, o in enumerate(outputs) if len(o.shape) == 3 and o.fixed(2) == 4]
    return four[0] if len(four) == 1 else None


def detect_layout(outputs: Sequence[OutputInfo], num_classes: int) -> str:
    """The layout of a graph, from its outputs' shapes and names.

    Args:
        outputs: the graph's outputs in order.
        num_classes: ``C``, the number of class names (0 when not known yet).

    Raises:
        LayoutError: no layout fits, or two do (e.g. ``[1, N, 6]`` with one class is
            ``yolo-objectness`` or ``yolo-nms``); the message lists the outputs.
    """
    if len(outputs) >= 2:
        if _box_output(outputs) is not None:
            return "detr"
        raise LayoutError(f"{len(outputs)} outputs but none holds [1, N, 4] boxes: "
                          f"{_show(outputs)}")
    (out,) = outputs
    if len(out.shape) != 3:
        raise LayoutError(f"one output of rank {len(out.shape)}, expected [1, rows, cols]: "
                          f"{_show(outputs)}")
    rows, cols = out.fixed(1), out.fixed(2)
    if rows is None or cols is None:
        raise LayoutError(f"output dimensions not fixed in the graph: {_show(outputs)}; "
                          "set the layout parameter")
    c = num_classes
    fits = [name for name, fit in (("yolo", c and rows == 4 + c), ("yolo-nms", cols == 6),
                                   ("yolo-objectness", c and cols == 5 + c),
                                   ("detr", c and cols == 4 + c)) if fit]
    if len(fits) == 1:
        return fits[0]
    if not fits and rows < cols:
        # Attributes along axis 1 and many anchors along axis 2 can only be YOLO; its
        # check then reports the class count that does not fit.
        return "yolo"
    what = f"both {' and '.join(fits)}" if fits else "no known layout"
    raise LayoutError(f"output {_show(outputs)} with {num_classes} classes fits {what}; "
                      "set the layout parameter")


def class_count(layout: str, outputs: Sequence[OutputInfo]) -> int | None:
    """``C`` as the graph fixes it for ``layout`` (``None`` where it does not say)."""
    if layout == "yolo":
        rows = outputs[0].fixed(1)
        return rows - 4 if rows else None
    if layout == "yolo-objectness":
        cols = outputs[0].fixed(2)
        return cols - 5 if cols else None
    if layout == "detr":
        if len(outputs) == 1:
            cols = outputs[0].fixed(2)
            return cols - 4 if cols else None
        scores = outputs[1 - _box_output(outputs)] if len(outputs) == 2 else None
        return scores.fixed(2) if scores is not None else None
    return None  # yolo-nms: class ids are values, not columns


def expected_shape(layout: str, num_classes: int) -> str:
    """What ``layout`` expects of the outputs, in words, for error messages."""
    c = num_classes
    return {
        "yolo": f"one output [1, {4 + c}, N] (4 + {c} classes)",
        "yolo-objectness": f"one output [1, N, {5 + c}] (5 + {c} classes)",
        "yolo-nms": "one output [1, N, 6] (x1, y1, x2, y2, score, class)",
        "detr": f"boxes [1, N, 4] and scores [1, N, {c}] (or {c + 1} with no-object), or one "
                f"output [1, N, {4 + c}]",
    }[layout]


def check_layout(layout: str, outputs: Sequence[OutputInfo], num_classes: int) -> None:
    """Raise :class:`LayoutError` unless the graph's outputs fit ``layout`` with ``C`` classes.

    Dimensions the graph leaves symbolic are not checked here; the decoders check them.
    """
    ranks_ok = all(len(o.shape) == 3 for o in outputs[:2])
    count = class_count(layout, outputs) if ranks_ok else None
    fits = ranks_ok and {
        "yolo": len(outputs) == 1 and count in (None, num_classes),
        "yolo-objectness": len(outputs) == 1 and count in (None, num_classes),
        "yolo-nms": len(outputs) == 1 and outputs[0].fixed(2) in (None, 6),
        "detr": (len(outputs) == 1 and count in (None, num_classes))
        or (len(outputs) >= 2 and _box_output(outputs) is not None
            and count in (None, num_classes, num_classes + 1)),
    }[layout]
    if not fits:
        expected, found = expected_shape(layout, num_classes), _show(outputs)
        raise LayoutError(f"expected {expected}, found {found}", expected=expected,
                          found=found)


def _best_class(class_scores: np.ndarray, class_filter: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Best allowed class and its score per row of an ``(N, C)`` score matrix."""
    if class_filter:
        allowed = np.zeros(class_scores.shape[1], bool)
        allowed[list(class_filter)] = True
        class_scores = np.where(allowed, class_scores, -np.inf)
    if class_scores.shape[1] == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    ids = class_scores.argmax(axis=1)
    return class_scores[np.arange(len(ids)), ids].astype(np.float32), ids.astype(np.int64)


def _matrix(output: np.ndarray, width: int | None = None) -> np.ndarray:
    """A ``[1, N, K]`` (or ``[N, K]``) output as an ``(N, K)`` float32 matrix."""
    array = np.asarray(output, np.float32)
    if array.ndim == 3:
        if array.shape[0] != 1:
            raise LayoutError(f"batch of {array.shape[0]} outputs, expected 1")
        array = array[0]
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        raise LayoutError(f"output of shape {list(np.shape(output))} does not fit the layout")
    return array


def _activate(scores: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)
    if activation == "softmax":
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return scores


def decode(
    layout: str,
    outputs: Sequence[np.ndarray],
    names: Sequence[str],
    *,
    num_classes: int,
    input_size: tuple[int, int],
    activation: str = "auto",
    class_filter: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate detections of one pass, before thresholding and NMS.

    Args:
        layout: one of :data:`LAYOUTS`.
        outputs: the pass's output arrays, in graph order.
        names: the outputs' names (``detr`` finds boxes and scores by them).
        num_classes: ``C``, the model's class count.
        input_size: model input ``(width, height)``; ``detr`` boxes are scaled by it.
        activation: ``detr`` only, one of :data:`ACTIVATIONS`.
        class_filter: class ids allowed; empty allows all. Applied before the best class
            is chosen, so a box whose best class is filtered keeps its best allowed one.

    Returns:
        boxes ``(K, 4)`` float32 xyxy in input pixels, scores ``(K,)`` float32 (NaN where
        the model gave NaN), class ids ``(K,)`` int64.

    Raises:
        LayoutError: an output whose shape does not fit ``layout``.
    """
    c = num_classes
    if layout == "yolo":
        array = np.asarray(outputs[0], np.float32)
        pred = _matrix(array.reshape(array.shape[-2], array.shape[-1]).T, 4 + c)
        scores, ids = _best_class(pred[:, 4:], class_filter)
        return cxcywh_to_xyxy(pred[:, :4]), scores, ids
    if layout == "yolo-objectness":
        pred = _matrix(outputs[0], 5 + c)
        scores, ids = _best_class(pred[:, 5:] * pred[:, 4:5], class_filter)
        return cxcywh_to_xyxy(pred[:, :4]), scores, ids
    if layout == "yolo-nms":
        pred = _matrix(outputs[0], 6)
        ids = np.rint(np.nan_to_num(pred[:, 5], nan=-1.0)).astype(np.int64)
        keep = (ids >= 0) & (ids < c)
        if class_filter:
            keep &= np.isin(ids, class_filter)
        return pred[keep, :4].copy(), pred[keep, 4].copy(), ids[keep]
    if layout != "detr":
        raise LayoutError(f"unknown layout {layout!r}; known: {list(LAYOUTS)}")
    if len(outputs) == 1:
        pred = _matrix(outputs[0], 4 + c)
        boxes, class_scores, scores_name = pred[:, :4], pred[:, 4:], names[0]
    else:
        infos = [OutputInfo(n, tuple(np.shape(o))) for n, o in zip(names, outputs, strict=True)]
        k = _box_output(infos)
        if k is None:
            raise LayoutError(f"no boxes output among {_show(infos)}")
        j = next(i for i in range(len(outputs)) if i != k)
        boxes, class_scores, scores_name = _matrix(outputs[k], 4), _matrix(outputs[j]), names[j]
        if len(class_scores) != len(boxes) or class_scores.shape[1] not in (c, c + 1):
            raise LayoutError(f"scores of shape {list(np.shape(outputs[j]))} for "
                              f"{len(boxes)} boxes and {c} classes")
    if activation == "auto":
        activation = "sigmoid" if "logit" in scores_name.lower() else "none"
    probabilities = _activate(class_scores, activation)[:, :c]  # drop a no-object column
    scores, ids = _best_class(probabilities, class_filter)
    scale = np.array([input_size[0], input_size[1]] * 2, np.float32)
    return cxcywh_to_xyxy(boxes) * scale, scores, ids
