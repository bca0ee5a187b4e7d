"""scorer: per-patch importance, Jenks classes, re-classing.

``/hyperion/image`` → (worker, queue ``queue_depth``; 1 = latest wins) → ViT maps on the
frame's ``patch_size`` grid (skipped when ``importance_source`` needs none); joined by
sequence with ``/hyperion/edge/detections`` (bounded join of ``join_capacity`` frames,
evictions counted) → importance from ``importance_source``
(:mod:`hyperion_core.score.sources`: ViT attention as in paper Eq. 2, CLS attention, the
ViT's saliency head, the edge detections' objectness, or a weighted hybrid) → Jenks
natural breaks into ``num_classes`` → collaboration-aware re-classing →
``/hyperion/patch_scores`` (PatchScores) and ``/hyperion/poi_map`` (rgb8, one
``poi_map_cell``-px square per patch, colour = class; for viewing).
"""

from __future__ import annotations

import array

import numpy as np
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion_core.models.registry import build_scorer
from hyperion_core.score.importance import importance_on_patch_grid
from hyperion_core.score.jenks import JenksConfig, jenks_classes
from hyperion_core.score.reclass import ReclassConfig, reclass_patches
from hyperion_core.score.sources import SOURCES, ImportanceConfig, importance_map
from hyperion_edge.join import FrameJoin
from hyperion_msgs.msg import PatchScores
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import from_detection_array
from hyperion_runtime.image_bridge import array_to_image, image_to_bgr
from hyperion_runtime.model_params import EXECUTION_PROVIDER, scorer_spec
from hyperion_runtime.node import HyperionNode, run_node, stamp_ns
from hyperion_runtime.params import ParameterError, ParamSpec
from hyperion_runtime.worker import BoundedWorker

#: Class colours of the POI map (RGB): class 0 dark blue ... highest class red.
PALETTE = np.array([[20, 30, 90], [240, 200, 40], [220, 40, 40], [40, 200, 80],
                    [200, 40, 200], [40, 200, 200], [255, 255, 255], [120, 120, 120]], np.uint8)

PARAMS = (
    ParamSpec(name="queue_depth", default=1, low=1, high=64,
              description="frames waiting for the scorer; 1 = latest wins [frames]"),
    ParamSpec(name="importance_source", default="edge_objectness", choices=SOURCES,
              description="what makes a patch important: ViT attention (paper Eq. 2), CLS "
                          "attention, the ViT saliency head, edge-detection objectness, or a "
                          "weighted hybrid of them [-]"),
    ParamSpec(name="hybrid_weights", default=[1.0, 0.0, 0.0, 3.0], low=0.0, high=1000.0,
              description="hybrid: weights of attention, cls_attention, saliency, "
                          "edge_objectness (ViT maps as rank percentiles) [-]"),
    ParamSpec(name="objectness_floor", default=0.0, low=0.0, high=1.0,
              description="edge detections below this confidence give no objectness [0-1]"),
    ParamSpec(name="objectness_max_height", default=1.0, low=0.0, high=1.0,
              description="edge detections below objectness_cap_below taller than this "
                          "share of the frame height give no objectness; 1 = no cap "
                          "[frame heights]"),
    ParamSpec(name="objectness_cap_below", default=0.1, low=0.0, high=1.0,
              description="confidence below which objectness_max_height applies [0-1]"),
    ParamSpec(name="token_rows", default=24, low=1, high=74,
              description="ViT token grid rows the frame is resized to [tokens]"),
    ParamSpec(name="token_cols", default=42, low=1, high=132,
              description="ViT token grid columns [tokens]"),
    ParamSpec(name="threads", default=1, low=0, high=64,
              description="ONNX Runtime intra-op threads, 0 = all cores [threads]"),
    EXECUTION_PROVIDER,
    ParamSpec(name="patch_size", default=16, low=16, high=256,
              description="frame patch side, a multiple of 16 (JPEG MCU) [px]"),
    ParamSpec(name="num_classes", default=3, low=1, high=8,
              description="importance classes K (paper: 3) [classes]"),
    ParamSpec(name="confidence_threshold", default=0.5, low=0.0, high=1.0,
              description="re-classing: edge detections above this confidence count [0-1]"),
    ParamSpec(name="importance_threshold", default=-1.0, low=-1.0, high=1.0e6,
              description="re-classing: patches above this importance move; negative = "
                          "the class-0/1 Jenks break (paper) [importance]"),
    ParamSpec(name="join_capacity", default=8, low=1, high=1024,
              description="frames waiting for their edge detections [frames]"),
    ParamSpec(name="poi_map_cell", default=4, low=1, high=64,
              description="POI map pixels per patch side [px]"),
    ParamSpec(name="image_reliability", default="reliable", choices=qos.RELIABILITY_CHOICES,
              description="image QoS reliability; must match the camera [-]"),
)


class ScorerNode(HyperionNode):
    """Scores patches on a worker thread and classes them once edge detections arrive."""

    def __init__(self) -> None:
        super().__init__("scorer", params=PARAMS, warn_on=("score_dropped", "join_evicted"))

    def configure(self) -> None:
        p = self.p
        if p["patch_size"] % 16:
            raise ParameterError(f"parameter patch_size={p['patch_size']} must be a multiple of 16")
        try:
            self._importance = ImportanceConfig(
                source=p["importance_source"], weights=tuple(p["hybrid_weights"]),
                objectness_floor=p["objectness_floor"],
                objectness_max_height=p["objectness_max_height"],
                objectness_cap_below=p["objectness_cap_below"])
        except ValueError as err:
            raise ParameterError(f"parameter hybrid_weights={p['hybrid_weights']} not "
                                 f"allowed: {err}") from err
        needed = self._importance.vit_maps()
        extras = tuple(n for n in needed if n != "attention")
        self._scorer = build_scorer(scorer_spec(p, extras)) if needed else None
        self._jenks = JenksConfig(classes=p["num_classes"])
        threshold = p["importance_threshold"]
        self._reclass = ReclassConfig(confidence_threshold=p["confidence_threshold"],
                                      importance_threshold=None if threshold < 0 else threshold)
        self._join = FrameJoin(parts=("importance", "edge"), capacity=p["join_capacity"],
                               counters=self.counters)
        self._scores_pub = self.create_publisher(PatchScores, qos.PATCH_SCORES, qos.result_qos())
        self._poi_pub = self.create_publisher(Image, qos.POI_MAP, qos.viewer_qos())
        self._worker: BoundedWorker[Image] = BoundedWorker(
            name="score", handler=self._score, depth=p["queue_depth"], counters=self.counters,
            on_error=lambda e: self.get_logger().error(f"scorer failed: {e}",
                                                       throttle_duration_sec=5.0))
        self.create_subscription(Detection2DArray, qos.EDGE_DETECTIONS, self._on_edge,
                                 qos.result_qos())
        self.create_subscription(Image, qos.IMAGE, self._worker.submit,
                                 qos.image_qos(p["image_reliability"]))

    def _score(self, msg: Image) -> None:
        try:
            frame = image_to_bgr(msg)
        except ValueError as err:
            self.refuse(err, f"image {stamp_ns(msg.header.stamp)}")
            return
        maps = {}
        if self._scorer is not None:
            size = self.p["patch_size"]
            grid = (-(-frame.shape[0] // size), -(-frame.shape[1] // size))
            result = self._scorer.score(frame)
            # The scorer maps onto 16-px patches; other patch sizes are resampled by area.
            maps = {name: importance_on_patch_grid(values, grid) for name, values in
                    {"attention": result.patch_map, **result.extra_maps}.items()}
        done = self._join.add("importance", stamp_ns(msg.header.stamp),
                              (msg.header, frame.shape[1], frame.shape[0], maps))
        if done is not None:
            self._classify(**done)

    def _on_edge(self, msg: Detection2DArray) -> None:
        done = self._join.add("edge", stamp_ns(msg.header.stamp), msg)
        if done is not None:
            self._classify(**done)

    def _classify(self, *, importance: tuple, edge: Detection2DArray) -> None:
        header, width, height, maps = importance
        size = self.p["patch_size"]
        grid = (-(-height // size), -(-width // size))
        boxes = from_detection_array(edge)
        values = importance_map(self._importance, vit=maps, boxes_xyxy=boxes.boxes,
                                scores=boxes.scores, grid=grid, patch_size=size)
        jenks = jenks_classes(values, self._jenks)
        classes = reclass_patches(jenks.classes, values, breaks=jenks.breaks,
                                  boxes_xyxy=boxes.boxes, scores=boxes.scores,
                                  patch_size=size, config=self._reclass)
        threshold = self._reclass.importance_threshold
        if threshold is None:
            threshold = float(jenks.breaks[0]) if len(jenks.breaks) else 0.0
        msg = PatchScores(header=header, sequence=stamp_ns(header.stamp), frame_width=width,
                          frame_height=height, patch_size=size, grid_rows=values.shape[0],
                          grid_cols=values.shape[1], num_classes=self._jenks.classes)
        msg.importance = array.array("f", values.astype(np.float32).tobytes())
        msg.classes = classes.astype(np.uint8).tobytes()
        msg.class_breaks = [float(b) for b in jenks.breaks]
        msg.goodness_of_fit = float(jenks.gvf)
        msg.importance_threshold = float(threshold)
        msg.confidence_threshold = float(self._reclass.confidence_threshold)
        msg.reclassed_patches = int((classes != jenks.classes).sum())
        self._scores_pub.publish(msg)
        self.counters.add("frames_scored")
        if self._poi_pub.get_subscription_count():
            cell = self.p["poi_map_cell"]
            colours = PALETTE[np.minimum(classes, len(PALETTE) - 1)]
            big = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
            self._poi_pub.publish(array_to_image(big, header=header, encoding="rgb8"))

    def close(self) -> None:
        self._worker.close()


def main(args: list[str] | None = None) -> int:
    """Console-script entry: ``scorer --ros-args ...``."""
    return run_node(ScorerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
