"""Fitted fusion: Eq. 6's job done with what labelled profiling frames show.

Eq. 6 averages an edge and a cloud confidence as if both were on one scale. They are not:
two models, two inputs (the edge's half-resolution frame, the cloud's re-encoded one at the
quality the scheduler chose there), different slicing. A weighted mean of them, and NMS over
the mix, rank boxes arbitrarily; and every unmatched edge box kept at its own confidence
lets the edge's false positives into an answer the cloud looked at more closely.

Two modes, fitted and chosen by :mod:`hyperion_core.fuse.fit` on frames the evaluation never
scores:

**cloud_first** keeps the cloud's answer as it is (boxes, confidences, ranking) and adds,
below every cloud box, the edge's boxes that no cloud box matched *where the cloud saw the
frame poorly*: regions it received at JPEG quality <= ``edge_keep_quality`` or downsampled
(re-classing sends what the edge is sure of at low quality on purpose). Their confidence is
scaled by ``tail_scale`` (<= the cloud detector's score threshold), so they rank after every
cloud box of every frame: appended after a ranking, boxes can only add recall, and a frame's
fused answer never scores below the cloud's alone.

**calibrated**: each box of an answer falls into a *group*, and a logistic model of that
group maps the box's features to the probability that it is a true positive:

- ``matched``: an edge box and a cloud box of one object (same class, IoU >= ``match_iou``,
  one-to-one as in :func:`~hyperion_core.fuse.ensemble.match_boxes`); features: both
  confidences (as logits);
- ``cloud``: a cloud box no edge box matched (its confidence, and the JPEG quality and
  class-0 downsampling the cloud saw at the box);
- ``edge``: an edge box no cloud box matched, in a frame the cloud answered (the same);
- ``edge_alone``: an edge box of a frame the edge answers alone (its confidence).

(Box height, and the quality in the matched group, were features of a first design; fitted
on six real 4K frames they ranked worse than the cloud's own confidences on held-out frames,
and went.)

Coordinates of a matched pair are Eq. 6's weighted mean (``cloud_weight``). After scoring,
class-aware NMS at ``nms_iou``. Where the cloud saw a region at high quality its boxes earn
more trust and the edge's unmatched ones less; at low quality or downsampled, the reverse —
whatever the profiling frames show. Measured on real 4K frames, six frames were too few for
these models to rank better than the cloud's own confidences: the fit then picks
cloud_first (docs/eval/real4k).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hyperion_core.fuse.boxes import Detections, nms
from hyperion_core.fuse.ensemble import match_boxes

#: Feature names of each group, in the order of a model's weights.
GROUP_FEATURES: dict[str, tuple[str, ...]] = {
    "matched": ("edge_logit", "cloud_logit"),
    "cloud": ("cloud_logit", "quality", "downsample_log2"),
    "edge": ("edge_logit", "quality", "downsample_log2"),
    "edge_alone": ("edge_logit",),
}
#: Confidences are clipped to [EPS, 1 - EPS] before the logit.
EPS = 1e-4
MODES = ("cloud_first", "calibrated")


@dataclass(frozen=True, kw_only=True)
class LogisticMap:
    """``P(true positive) = sigmoid(intercept + weights · features)``.

    Args:
        intercept: the bias term.
        weights: one per feature of the group (:data:`GROUP_FEATURES`).
    """

    intercept: float
    weights: tuple[float, ...]

    def probability(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` probabilities of ``(N, F)`` feature rows."""
        z = self.intercept + np.asarray(features, np.float64) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


@dataclass(frozen=True, kw_only=True)
class CalibratedFusion:
    """A fitted fusion.

    Args:
        mode: one of :data:`MODES` (see the module docstring).
        groups: ``calibrated``: a :class:`LogisticMap` per group of :data:`GROUP_FEATURES`.
        edge_keep_quality: ``cloud_first``: unmatched edge boxes are kept where the cloud saw
            JPEG quality <= this (0: only downsampled regions; 100: everywhere), in [0, 100].
        tail_scale: ``cloud_first``: kept edge boxes' confidences are multiplied by this,
            in [0, 1]; at most the cloud detector's score threshold.
        match_iou: IoU for an edge and a cloud box to be one object, in [0, 1].
        cloud_weight: ``w_c`` of a matched pair's coordinates (Eq. 6), in [0, 1].
        nms_iou: class-aware NMS over the scored answer, in [0, 1].
        provenance: how and on what it was fitted (frames, counts, the fit's own scores).
    """

    mode: str = "calibrated"
    groups: Mapping[str, LogisticMap] = field(default_factory=dict)
    edge_keep_quality: int = 0
    tail_scale: float = 0.1
    match_iou: float = 0.5
    cloud_weight: float = 0.6
    nms_iou: float = 0.5
    provenance: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CloudView:
    """What the cloud saw of each region of a frame: the payload's class map and plan.

    Args:
        class_map: ``(rows, cols)`` importance class per ``patch`` x ``patch`` block.
        qualities: JPEG quality per class.
        downsample: class-0 downsampling factor (the other classes are full resolution).
        patch: patch side, pixels of the frame.
    """

    class_map: np.ndarray
    qualities: tuple[int, ...]
    downsample: int = 1
    patch: int = 16

    def at(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(quality / 100, log2 downsampling)`` the cloud saw at each box's centre."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        rows, cols = self.class_map.shape
        cy = np.clip(((boxes[:, 1] + boxes[:, 3]) / 2 // self.patch).astype(np.int64), 0,
                     rows - 1)
        cx = np.clip(((boxes[:, 0] + boxes[:, 2]) / 2 // self.patch).astype(np.int64), 0,
                     cols - 1)
        cls = self.class_map[cy, cx].astype(np.int64)
        quality = np.asarray(self.qualities, np.float64)[np.minimum(cls, len(self.qualities) - 1)]
        down = np.where(cls == 0, float(self.downsample), 1.0)
        return quality / 100.0, np.log2(down)


def _logit(scores: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(scores, np.float64), EPS, 1.0 - EPS)
    return np.log(p / (1.0 - p))


@dataclass(frozen=True, kw_only=True, eq=False)
class Grouped:
    """An answer's candidate boxes before scoring: each group's boxes, labels, features.

    Args:
        boxes, labels, features: per group of :data:`GROUP_FEATURES`, ``(N, 4)`` xyxy frame
            pixels, ``(N,)`` class ids, ``(N, F)`` features in the group's order.
    """

    boxes: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    features: dict[str, np.ndarray]


def group_boxes(edge: Detections, cloud: Detections, view: CloudView, *, match_iou: float,
                cloud_weight: float) -> Grouped:
    """Split one frame's edge and cloud boxes into the groups (inputs are not mutated)."""
    e_idx, c_idx = match_boxes(edge, cloud, match_iou)
    edge_left = np.ones(len(edge), bool)
    edge_left[e_idx] = False
    cloud_left = np.ones(len(cloud), bool)
    cloud_left[c_idx] = False
    e_box, c_box = edge.boxes.take(e_idx, axis=0), cloud.boxes.take(c_idx, axis=0)
    matched = (1.0 - cloud_weight) * e_box + cloud_weight * c_box
    boxes = {"matched": matched, "cloud": cloud.boxes[cloud_left],
             "edge": edge.boxes[edge_left]}
    labels = {"matched": cloud.labels[c_idx], "cloud": cloud.labels[cloud_left],
              "edge": edge.labels[edge_left]}
    columns = {"matched": {"edge_logit": _logit(edge.scores[e_idx]),
                           "cloud_logit": _logit(cloud.scores[c_idx])},
               "cloud": {"cloud_logit": _logit(cloud.scores[cloud_left])},
               "edge": {"edge_logit": _logit(edge.scores[edge_left])}}
    features = {}
    for group, named in columns.items():
        q, d = view.at(boxes[group])
        named.update(quality=q, downsample_log2=d)
        features[group] = np.column_stack([named[f] for f in GROUP_FEATURES[group]]
                                          ).reshape(-1, len(GROUP_FEATURES[group]))
    return Grouped(boxes=boxes, labels=labels, features=features)


def edge_alone_features(edge: Detections) -> np.ndarray:
    """``(N, F)`` features of an edge-only answer's boxes."""
    return _logit(edge.scores).reshape(-1, len(GROUP_FEATURES["edge_alone"]))


def _scored(boxes: list[np.ndarray], scores: list[np.ndarray], labels: list[np.ndarray],
            nms_iou: float) -> Detections:
    merged = Detections(
        boxes=np.concatenate([b.reshape(-1, 4) for b in boxes]).astype(np.float64),
        scores=np.concatenate(scores).astype(np.float64),
        labels=np.concatenate(labels).astype(np.int64))
    return merged.select(nms(merged.boxes, merged.scores, merged.labels, nms_iou))


def fuse_calibrated(edge: Detections, cloud: Detections, fusion: CalibratedFusion,
                    view: CloudView) -> Detections:
    """One frame's answer from its edge and cloud boxes, each scored by its group's model.

    Args:
        edge: the edge's detections, xyxy full-frame pixels.
        cloud: the cloud's detections on the payload, same frame and units.
        fusion: the fitted fusion.
        view: what the cloud saw where (the payload's class map and plan).

    Returns:
        New detections, scores = probabilities, sorted by descending score after NMS.
    """
    if fusion.mode == "cloud_first":
        return cloud_first(edge, cloud, fusion, view)
    grouped = group_boxes(edge, cloud, view, match_iou=fusion.match_iou,
                          cloud_weight=fusion.cloud_weight)
    names = ("matched", "cloud", "edge")
    return _scored([grouped.boxes[g] for g in names],
                   [fusion.groups[g].probability(grouped.features[g]) for g in names],
                   [grouped.labels[g] for g in names], fusion.nms_iou)


def cloud_first(edge: Detections, cloud: Detections, fusion: CalibratedFusion,
                view: CloudView) -> Detections:
    """The cloud's answer, then the unmatched edge boxes where the cloud saw poorly, below
    it (see the module docstring)."""
    e_idx, _ = match_boxes(edge, cloud, fusion.match_iou)
    left = np.ones(len(edge), bool)
    left[e_idx] = False
    quality, down = view.at(edge.boxes)
    left &= (quality * 100 <= fusion.edge_keep_quality + 1e-9) | (down > 0)
    tail = edge.select(left)
    return _scored([cloud.boxes, tail.boxes], [cloud.scores, tail.scores * fusion.tail_scale],
                   [cloud.labels, tail.labels], fusion.nms_iou)


def calibrate_edge(edge: Detections, fusion: CalibratedFusion) -> Detections:
    """An edge-only answer on the same scale as fused ones (boxes unchanged, rescored;
    unchanged in ``cloud_first`` mode, whose scale is the detectors' own)."""
    if len(edge) == 0 or fusion.mode != "calibrated":
        return edge
    scores = fusion.groups["edge_alone"].probability(edge_alone_features(edge))
    order = np.argsort(-scores, kind="stable")
    return Detections(boxes=edge.boxes.reshape(-1, 4)[order].astype(np.float64),
                      scores=scores[order], labels=edge.labels[order].astype(np.int64))


# --- the fusion file -----------------------------------------------------------------------


def _unit(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{where}: must lie in [0, 1], got {value}")
    return float(value)


def fusion_from_dict(doc: Mapping[str, object], *, source: str = "fusion") -> CalibratedFusion:
    """Validate a parsed fusion document; every error names ``source`` and the key.

    Raises:
        ValueError: a missing or unknown key, a value out of range, a weight count that
            does not match its group's features.
    """
    if not isinstance(doc, Mapping):
        raise ValueError(f"{source}: expected a mapping, got {type(doc).__name__}")
    known = {"mode", "groups", "edge_keep_quality", "tail_scale", "match_iou", "cloud_weight",
             "nms_iou", "provenance"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown}; known: {sorted(known)}")
    mode = doc.get("mode")
    if mode not in MODES:
        raise ValueError(f"{source}: mode must be one of {MODES}, got {mode!r}")
    needed = ("match_iou", "cloud_weight", "nms_iou") + (
        ("groups",) if mode == "calibrated" else ("edge_keep_quality", "tail_scale"))
    for key in needed:
        if key not in doc:
            raise ValueError(f"{source}: missing key {key!r}")
    scalars = {key: _unit(doc[key], f"{source}: {key}")
               for key in ("match_iou", "cloud_weight", "nms_iou")}
    provenance = doc.get("provenance", {})
    provenance = provenance if isinstance(provenance, Mapping) else {}
    if mode == "cloud_first":
        keep = doc["edge_keep_quality"]
        if isinstance(keep, bool) or not isinstance(keep, int) or not 0 <= keep <= 100:
            raise ValueError(f"{source}: edge_keep_quality: must be an integer in [0, 100], "
                             f"got {keep!r}")
        return CalibratedFusion(mode=mode, edge_keep_quality=keep,
                                tail_scale=_unit(doc["tail_scale"], f"{source}: tail_scale"),
                                provenance=provenance, **scalars)
    groups_doc = doc["groups"]
    if not isinstance(groups_doc, Mapping):
        raise ValueError(f"{source}: 'groups' must map group names to models")
    extra = sorted(set(groups_doc) - set(GROUP_FEATURES))
    if extra:
        raise ValueError(f"{source}: unknown group(s) {extra} under 'groups'; known: "
                         f"{sorted(GROUP_FEATURES)}")
    groups = {}
    for name, features in GROUP_FEATURES.items():
        where = f"{source}: groups.{name}"
        model = groups_doc.get(name)
        if not isinstance(model, Mapping) or "intercept" not in model or "weights" not in model:
            raise ValueError(f"{where}: missing, or without 'intercept' and 'weights'")
        if "features" in model and list(model["features"]) != list(features):
            raise ValueError(f"{where}.features: expected {list(features)}, got "
                             f"{model['features']!r}")
        weights = model["weights"]
        if not isinstance(weights, list | tuple) or len(weights) != len(features):
            raise ValueError(f"{where}.weights: expected {len(features)} numbers "
                             f"({', '.join(features)}), got {weights!r}")
        values = [model["intercept"], *weights]
        if not all(isinstance(v, int | float) and not isinstance(v, bool)
                   and np.isfinite(v) for v in values):
            raise ValueError(f"{where}: intercept and weights must be finite numbers")
        groups[name] = LogisticMap(intercept=float(model["intercept"]),
                                   weights=tuple(float(w) for w in weights))
    return CalibratedFusion(mode=mode, groups=groups, provenance=provenance, **scalars)


def fusion_to_dict(fusion: CalibratedFusion) -> dict[str, object]:
    """The document :func:`fusion_from_dict` reads (plain floats: the YAML is exact)."""
    doc: dict[str, object] = {
        "mode": fusion.mode, "match_iou": float(fusion.match_iou),
        "cloud_weight": float(fusion.cloud_weight), "nms_iou": float(fusion.nms_iou),
        "provenance": dict(fusion.provenance)}
    if fusion.mode == "calibrated":
        doc["groups"] = {name: {"features": list(GROUP_FEATURES[name]),
                                "intercept": float(m.intercept),
                                "weights": [float(w) for w in m.weights]}
                         for name, m in fusion.groups.items()}
    else:
        doc.update(edge_keep_quality=int(fusion.edge_keep_quality),
                   tail_scale=float(fusion.tail_scale))
    return doc


def read_fusion(path: Path | str) -> CalibratedFusion:
    """Load a fusion file (the ``fusion:`` section of a profiles YAML, or a file of its own).

    Raises:
        ValueError: naming the file and the key at fault.
        FileNotFoundError: no such file.
    """
    import yaml

    path = Path(path)
    doc = yaml.safe_load(path.read_text())
    if isinstance(doc, Mapping) and "fusion" in doc and "groups" not in doc:
        doc = doc["fusion"]
        if doc is None:
            raise ValueError(f"{path}: the 'fusion' section is empty")
    return fusion_from_dict(doc, source=str(path))  # type: ignore[arg-type]


def write_fusion(path: Path | str, fusion: CalibratedFusion) -> None:
    """Write ``fusion`` as YAML (deterministic: the same fit gives the same bytes)."""
    import yaml

    Path(path).write_text(yaml.safe_dump(fusion_to_dict(fusion), sort_keys=True))


__all__ = ["GROUP_FEATURES", "MODES", "CalibratedFusion", "CloudView", "LogisticMap",
           "calibrate_edge", "cloud_first",
           "edge_alone_features", "fuse_calibrated", "fusion_from_dict", "fusion_to_dict",
           "group_boxes", "read_fusion", "write_fusion"]
