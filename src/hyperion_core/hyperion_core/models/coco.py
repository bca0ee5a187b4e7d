"""The 80 COCO detection categories, in the contiguous order detectors trained on COCO emit
(index 0 = person), and name lookup for a ``classes`` setting."""

from __future__ import annotations

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)


def class_ids(names: tuple[str, ...] | list[str], known: tuple[str, ...] = COCO_CLASSES
              ) -> tuple[int, ...]:
    """Indices of ``names`` in ``known``; empty ``names`` means every class (empty tuple).

    Raises:
        ValueError: naming each unknown class and listing the known ones.
    """
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; known: {', '.join(known)}")
    return tuple(known.index(n) for n in names)
