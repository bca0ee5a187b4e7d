"""Unit tests of box geometry, the detections container and YOLO output decoding."""

import itertools

import numpy as np
import pytest

from hyperion_core.models.base import Detections, DetectorConfig
from hyperion_core.models.boxes import (
    FrameTransform,
    cxcywh_to_xyxy,
    letterbox,
    nms,
    pairwise_iou,
    to_frame_pixels,
)
from hyperion_core.models.onnx_detector import decode_detections
from hyperion_core.models.onnx_layouts import decode
from hyperion_core.models.tiled import tile_windows


def _frame_box_to_input(box, t: FrameTransform):
    """Forward map of the documented FrameTransform formula (independent of the code)."""
    x1, y1, x2, y2 = box
    return [
        (x1 - t.crop_x) * t.scale_x + t.pad_x,
        (y1 - t.crop_y) * t.scale_y + t.pad_y,
        (x2 - t.crop_x) * t.scale_x + t.pad_x,
        (y2 - t.crop_y) * t.scale_y + t.pad_y,
    ]


@pytest.mark.parametrize(
    ("shape", "size"),
    [
        ((2160, 3840), (640, 640)),
        ((576, 768), (640, 640)),
        ((300, 200), (640, 384)),
        ((1, 1), (64, 64)),
    ],
)
def test_letterbox_round_trip(shape, size):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (*shape, 3), dtype=np.uint8)
    boxed, t = letterbox(image, size)
    assert boxed.shape == (size[1], size[0], 3)
    # Aspect kept, content centred, padding symmetric to within a pixel.
    assert t.scale_x == pytest.approx(t.scale_y, rel=0.02)
    assert abs((size[0] - shape[1] * t.scale_x) / 2 - t.pad_x) <= 1
    frame_boxes = np.array(
        [[0, 0, shape[1], shape[0]], [0.25 * shape[1], 0.5 * shape[0], 0.5 * shape[1], shape[0]]]
    )
    model_boxes = np.array([_frame_box_to_input(b, t) for b in frame_boxes])
    # The full frame maps onto the non-padded area of the model input.
    assert model_boxes[0, 2] <= size[0] + 1e-3 and model_boxes[0, 3] <= size[1] + 1e-3
    back = to_frame_pixels(model_boxes, t, (shape[1], shape[0]))
    np.testing.assert_allclose(back, frame_boxes, atol=1e-3 * max(shape))


def test_letterbox_does_not_mutate_and_pads_grey():
    image = np.zeros((100, 400, 3), np.uint8)
    before = image.copy()
    boxed, t = letterbox(image, (640, 640))
    np.testing.assert_array_equal(image, before)
    assert t.pad_y == (640 - 160) // 2
    assert (boxed[0] == 114).all() and (boxed[320] == 0).all()


def test_letterbox_rejects_empty():
    with pytest.raises(ValueError, match="empty"):
        letterbox(np.zeros((0, 5, 3), np.uint8), (64, 64))


def test_to_frame_pixels_tile_offset_and_clip():
    t = FrameTransform(scale_x=0.5, scale_y=0.5, crop_x=1000, crop_y=200)
    out = to_frame_pixels(np.array([[10, 20, 30, 40], [-10, -10, 5000, 5000]]), t, (3840, 2160))
    np.testing.assert_allclose(out[0], [1020, 240, 1060, 280])
    np.testing.assert_allclose(out[1], [980, 180, 3840, 2160])
    assert to_frame_pixels(np.zeros((0, 4)), t).shape == (0, 4)


def test_cxcywh_and_iou():
    boxes = cxcywh_to_xyxy(np.array([[10, 10, 4, 2]]))
    np.testing.assert_allclose(boxes, [[8, 9, 12, 11]])
    iou = pairwise_iou(
        np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6], [0, 0, 0, 0]])
    )
    np.testing.assert_allclose(iou, [[1 / 3, 0, 0]])
    assert pairwise_iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)


def test_nms_suppresses_overlaps_per_class_and_drops_nan():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 1, 1]]
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6, np.nan])
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]
    kept = nms(boxes, scores, 0.5, class_ids=np.array([0, 0, 1, 0, 0]))
    assert kept.tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.5, max_keep=1).tolist() == [0]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_detections_validation_and_select():
    d = Detections(np.ones((2, 4)), [0.5, 0.9], [0, 1], ("a", "b"))
    assert d.boxes.dtype == np.float32 and d.class_ids.dtype == np.int64
    assert d.select(d.scores > 0.6).labels() == ["b"]
    assert len(Detections.empty(("a",))) == 0
    with pytest.raises(ValueError, match="length"):
        Detections(np.ones((2, 4)), [0.5], [0, 1])
    with pytest.raises(ValueError, match="class id"):
        Detections(np.ones((1, 4)), [0.5], [3], ("a",))


def test_detector_config_validation():
    assert DetectorConfig().input_size == (640, 640)
    with pytest.raises(ValueError):
        DetectorConfig(score_threshold=1.5)
    with pytest.raises(ValueError):
        DetectorConfig(device="tpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DetectorConfig(input_size=(0, 640))


def _raw_output(rows):
    """Build a (1, 4 + C, A) YOLO output from (cx, cy, w, h, *scores) rows."""
    return np.array(rows, np.float32).T[None]


def decode_yolo_output(raw: np.ndarray, *, class_filter: tuple[int, ...] = (),
                       merge_classes: bool = False) -> tuple[np.ndarray, ...]:
    """The ``yolo`` layout decoded, thresholded at 0.25 and NMS-ed at IoU 0.5."""
    candidates = decode("yolo", [raw], ["output0"], num_classes=raw.shape[1] - 4,
                        input_size=(640, 640), class_filter=class_filter)
    return decode_detections(*candidates, score_threshold=0.25, nms_iou=0.5,
                             merge_classes=merge_classes)


def test_decode_yolo_output_threshold_nms_filter_merge():
    raw = _raw_output(
        [
            [50, 50, 20, 40, 0.9, 0.1],  # class 0
            [51, 50, 20, 40, 0.8, 0.1],  # duplicate of the first
            [200, 50, 20, 40, 0.1, 0.7],  # class 1
            [300, 50, 20, 40, 0.1, 0.2],  # below threshold
            [400, 50, 20, 40, np.nan, np.nan],  # NaN: dropped
        ]
    )
    boxes, scores, ids = decode_yolo_output(raw)
    np.testing.assert_allclose(boxes, [[40, 30, 60, 70], [190, 30, 210, 70]])
    assert ids.tolist() == [0, 1] and scores[0] == pytest.approx(0.9)
    _, _, ids = decode_yolo_output(raw, class_filter=(1,))
    assert ids.tolist() == [1]
    _, _, ids = decode_yolo_output(raw, merge_classes=True)
    assert ids.tolist() == [0, 0]
    empty = decode_yolo_output(np.zeros((1, 6, 0), np.float32))
    assert all(len(a) == 0 for a in empty)


@pytest.mark.parametrize(
    ("size", "count", "overlap"), [(1920, 4, 0.1), (1080, 2, 0.1), (100, 1, 0.5), (7, 3, 0.0)]
)
def test_tile_windows_cover_and_overlap(size, count, overlap):
    windows = tile_windows(size, count, overlap)
    assert len(windows) == count and windows[0][0] == 0 and windows[-1][1] == size
    for (a0, a1), (b0, _) in itertools.pairwise(windows):
        assert b0 <= a1  # no gap
        assert a1 - b0 == pytest.approx(overlap * (a1 - a0), abs=1.5)
