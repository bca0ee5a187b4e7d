"""The hand labels load as COCO, and composites carry them to the right pixels."""

import json

import numpy as np
import pytest

from hyperion_core.data.array_camera import ArrayCameraLayout
from hyperion_core.eval.labels import VTEST_LABELS, labelled_composite, load_labels, tile_of


def test_labels_file_is_valid_coco_and_complete():
    from pycocotools.coco import COCO

    coco = COCO(str(VTEST_LABELS))
    assert len(coco.getImgIds()) == 20 and len(coco.getAnnIds()) >= 100
    labels = load_labels()
    assert sorted(labels) == list(range(20, 800, 40))
    for truth in labels.values():
        assert len(truth.boxes) >= 3
        assert (truth.boxes[:, 2] > truth.boxes[:, 0]).all()
        assert (truth.boxes[:, [0, 2]] >= 0).all() and (truth.boxes[:, [0, 2]] <= 768).all()
        assert (truth.boxes[:, [1, 3]] >= 0).all() and (truth.boxes[:, [1, 3]] <= 576).all()


def test_bad_label_file_names_itself(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    with pytest.raises(ValueError, match=r"x\.json"):
        load_labels(tmp_path / "x.json")


def test_composite_boxes_follow_their_tiles():
    pytest.importorskip("cv2")
    try:
        from hyperion_core.data.array_camera import find_vtest_clip

        find_vtest_clip()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    labels = load_labels()
    # Native size, two tiles side by side: tile 1's boxes move right by one tile width.
    layout = ArrayCameraLayout(columns=2, rows=1, width=2 * 768, height=576)
    image, truth = labelled_composite([100, 300], labels, layout=layout)
    assert image.shape == (576, 1536, 3)
    first, second = truth.boxes[truth.tiles == 0], truth.boxes[truth.tiles == 1]
    np.testing.assert_allclose(first, labels[100].boxes)
    np.testing.assert_allclose(second, labels[300].boxes + np.array([768, 0, 768, 0]))
    assert (tile_of(truth.boxes, layout) == truth.tiles).all()
    # Half size: every coordinate halves.
    small = ArrayCameraLayout(columns=1, rows=1, width=384, height=288)
    _, half = labelled_composite([100], labels, layout=small)
    np.testing.assert_allclose(half.boxes, labels[100].boxes / 2)
    with pytest.raises(KeyError):
        labelled_composite([101], labels, layout=small)
