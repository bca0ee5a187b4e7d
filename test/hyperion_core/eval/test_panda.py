"""PANDA-format fixture → COCO JSON with boxes scaled to 3840x2160."""

import json

import numpy as np
import pytest

from hyperion_core.eval.panda import PandaToCoco, convert_files, read_ground_truth


def rect(x1, y1, x2, y2):
    return {"tl": {"x": x1, "y": y1}, "br": {"x": x2, "y": y2}}


def fixture():
    persons = {
        "01_University_Canteen/IMG_01_01.jpg": {
            "image id": 7,
            "image size": {"height": 15052, "width": 26753},
            "objects list": [
                {"category": "person", "pose": "walking", "riding type": "null", "age": "adult",
                 "rects": {"head": rect(0.1, 0.2, 0.11, 0.21),
                           "visible body": rect(0.1, 0.2, 0.15, 0.4),
                           "full body": rect(0.1, 0.2, 0.15, 0.45)}},
                {"category": "crowd", "rect": rect(0.5, 0.5, 0.9, 0.9)},
                {"category": "person", "rects": {"visible body": rect(0.9, 0.9, 1.2, 1.1),
                                                 "full body": rect(0.9, 0.9, 1.0, 1.0),
                                                 "head": rect(0.9, 0.9, 0.92, 0.92)}},
            ],
        },
        "01_University_Canteen/IMG_01_02.jpg": {
            "image id": 8, "image size": {"height": 15052, "width": 26753}, "objects list": [],
        },
    }
    vehicles = {"01_University_Canteen/IMG_01_01.jpg": {
        "image id": 7, "image size": {"height": 15052, "width": 26753},
        "objects list": [{"category": "small car", "rect": rect(0.0, 0.5, 0.25, 0.75)}]}}
    return persons, vehicles


def test_panda_fixture_to_coco_scaled(tmp_path):
    persons, vehicles = fixture()
    (tmp_path / "p.json").write_text(json.dumps(persons))
    (tmp_path / "v.json").write_text(json.dumps(vehicles))
    frames = convert_files(tmp_path / "p.json", tmp_path / "coco.json",
                           vehicle_json=tmp_path / "v.json",
                           config=PandaToCoco(vehicles=True))
    assert frames == list(persons)
    coco = json.loads((tmp_path / "coco.json").read_text())
    assert [img["id"] for img in coco["images"]] == [7, 8]
    boxes = {(a["category_id"], tuple(round(v, 3) for v in a["bbox"])) for a in coco["annotations"]}
    # Visible body 0.1..0.15 x 0.2..0.4 → x 384..576, y 432..864; crowd skipped; the box
    # leaving the image is clipped to 3456..3840 x 1944..2160; car 0..960 x 1080..1620.
    assert boxes == {(1, (384.0, 432.0, 192.0, 432.0)), (1, (3456.0, 1944.0, 384.0, 216.0)),
                     (2, (0.0, 1080.0, 960.0, 540.0))}
    truth = read_ground_truth(tmp_path / "coco.json")
    assert len(truth) == 2 and len(truth[1]) == 0
    np.testing.assert_allclose(truth[0].boxes[0], [384, 432, 576, 864])


def test_head_boxes_and_other_size(tmp_path):
    persons, _ = fixture()
    (tmp_path / "p.json").write_text(json.dumps(persons))
    convert_files(tmp_path / "p.json", tmp_path / "coco.json",
                  config=PandaToCoco(size=(1920, 1080), person_box="head"))
    coco = json.loads((tmp_path / "coco.json").read_text())
    first = coco["annotations"][0]["bbox"]
    assert first == pytest.approx([192.0, 216.0, 19.2, 10.8])
    assert {c["name"] for c in coco["categories"]} == {"person"}
