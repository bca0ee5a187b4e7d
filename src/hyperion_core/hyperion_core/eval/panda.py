"""PANDA annotations → COCO JSON at 3840x2160, and COCO JSON → per-frame ground truth.

PANDA image annotations are one JSON object keyed by image path. Each entry holds
``"image id"``, ``"image size": {"height", "width"}`` (gigapixel) and ``"objects list"``.
Person objects (``"category": "person"``) carry ``"rects"`` with ``"visible body"``,
``"full body"`` and ``"head"``; vehicle files and non-person categories (``"crowd"``,
``"ignore"``, ``"fake person"``, ``"people"``) carry a single ``"rect"``. Every rectangle is
``{"tl": {"x", "y"}, "br": {"x", "y"}}`` in coordinates *normalised* to [0, 1] of the image.

The paper downsamples PANDA to Ultra-HD; boxes are therefore mapped straight onto the
target size (x by width, y by height, as the frame resize does), clipped to the frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperion_core.fuse.boxes import Detections


@dataclass(frozen=True, kw_only=True)
class PandaToCoco:
    """Conversion settings.

    Args:
        size: target ``(width, height)`` in pixels (paper: 3840x2160).
        person_box: which person rectangle becomes the box: ``"visible body"`` (matches
            what a detector sees), ``"full body"`` or ``"head"``.
        vehicles: also write vehicle objects (category ``"vehicle"``), from vehicle files.
        min_side: boxes smaller than this on either side, in target pixels, are dropped.
    """

    size: tuple[int, int] = (3840, 2160)
    person_box: str = "visible body"
    vehicles: bool = False
    min_side: float = 1.0


def _rect_xyxy(rect: dict, width: int, height: int) -> list[float]:
    x1 = float(np.clip(rect["tl"]["x"], 0.0, 1.0)) * width
    y1 = float(np.clip(rect["tl"]["y"], 0.0, 1.0)) * height
    x2 = float(np.clip(rect["br"]["x"], 0.0, 1.0)) * width
    y2 = float(np.clip(rect["br"]["y"], 0.0, 1.0)) * height
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]


def panda_to_coco(
    persons: dict, *, vehicles: dict | None = None, config: PandaToCoco | None = None
) -> dict:
    """Build a COCO detection dataset from PANDA annotation objects.

    Args:
        persons: the parsed person annotation JSON (image path → entry).
        vehicles: the parsed vehicle annotation JSON, same keys (optional).
        config: conversion settings.

    Returns:
        ``{"images", "annotations", "categories"}``; images in the order of ``persons``,
        ids from PANDA's ``"image id"``, ``bbox`` as ``[x, y, w, h]`` target pixels.
    """
    config = config or PandaToCoco()
    width, height = config.size
    categories = [{"id": 1, "name": "person"}]
    if config.vehicles:
        categories.append({"id": 2, "name": "vehicle"})
    images, annotations = [], []

    def add(image_id: int, box: list[float], category: int) -> None:
        w, h = box[2] - box[0], box[3] - box[1]
        if w < config.min_side or h < config.min_side:
            return
        annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                            "category_id": category, "bbox": [box[0], box[1], w, h],
                            "area": w * h, "iscrowd": 0})

    for name, entry in persons.items():
        image_id = int(entry["image id"])
        size = entry.get("image size", {})
        images.append({"id": image_id, "file_name": name, "width": width, "height": height,
                       "source_width": size.get("width"), "source_height": size.get("height")})
        for obj in entry.get("objects list", []):
            rect = obj.get("rects", {}).get(config.person_box)
            if obj.get("category") == "person" and rect is not None:
                add(image_id, _rect_xyxy(rect, width, height), 1)
        if config.vehicles and vehicles and name in vehicles:
            for obj in vehicles[name].get("objects list", []):
                if "rect" in obj and obj.get("category") not in ("ignore", "crowd"):
                    add(image_id, _rect_xyxy(obj["rect"], width, height), 2)
    return {"images": images, "annotations": annotations, "categories": categories}


def convert_files(person_json: Path, out_json: Path, *, vehicle_json: Path | None = None,
                  config: PandaToCoco | None = None) -> list[str]:
    """Read PANDA JSON file(s), write COCO JSON; returns the frames list (image paths)."""
    persons = json.loads(Path(person_json).read_text())
    vehicles = json.loads(Path(vehicle_json).read_text()) if vehicle_json else None
    coco = panda_to_coco(persons, vehicles=vehicles, config=config)
    Path(out_json).write_text(json.dumps(coco))
    return [img["file_name"] for img in coco["images"]]


def downsample_images(names: Iterable[str], src_root: Path, out_dir: Path,
                      size: tuple[int, int] = (3840, 2160)) -> list[Path]:
    """Resize each PANDA image to ``size`` (area interpolation) as JPEG q95 in ``out_dir``.

    Output names keep the order: ``00000.jpg``, ``00001.jpg`` … (the evaluator's folder
    source reads images sorted by name, matching the COCO image order).
    """
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in enumerate(names):
        image = cv2.imread(str(Path(src_root) / name))
        if image is None:
            raise FileNotFoundError(Path(src_root) / name)
        path = out_dir / f"{i:05d}.jpg"
        cv2.imwrite(str(path), cv2.resize(image, size, interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        written.append(path)
    return written


def read_ground_truth(coco_json: Path, categories: tuple[int, ...] = (1,)) -> list[Detections]:
    """Per image (sorted by id), boxes xyxy of the given categories, all labelled 0.

    Label 0 because the evaluated detectors emit one merged "person" class.
    """
    coco = json.loads(Path(coco_json).read_text())
    ids = sorted(int(img["id"]) for img in coco["images"])
    boxes: dict[int, list[list[float]]] = {i: [] for i in ids}
    for ann in coco["annotations"]:
        if int(ann["category_id"]) in categories and int(ann["image_id"]) in boxes:
            x, y, w, h = ann["bbox"]
            boxes[int(ann["image_id"])].append([x, y, x + w, y + h])
    return [Detections(boxes=np.asarray(boxes[i], np.float64).reshape(-1, 4),
                       scores=np.ones(len(boxes[i])), labels=np.zeros(len(boxes[i]), np.int64))
            for i in ids]
