"""Mapping node parameters onto hyperion_core model specs (the core stays ROS-free)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hyperion_core.models.ort_runtime import RuntimeConfig
from hyperion_core.models.registry import ModelSpec, get_spec
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig


def edge_detector_spec(p: dict[str, Any]) -> ModelSpec:
    """The registry's "edge" detector with the node's tiling, thresholds and threads."""
    spec = get_spec("edge")
    return replace(
        spec,
        detector=replace(spec.detector, score_threshold=p["score_threshold"], nms_iou=p["nms_iou"]),
        runtime=RuntimeConfig(intra_op_threads=p["threads"]),
        tiling=TiledConfig(scale=p["tile_scale"], columns=p["tile_columns"], rows=p["tile_rows"],
                           overlap=p["tile_overlap"]),
    )


def cloud_detector_spec(p: dict[str, Any]) -> ModelSpec:
    """The registry's "cloud" detector (SAHI) with the node's slicing and thresholds."""
    spec = get_spec("cloud")
    return replace(
        spec,
        detector=replace(spec.detector, score_threshold=p["score_threshold"], nms_iou=p["nms_iou"]),
        runtime=RuntimeConfig(intra_op_threads=p["threads"]),
        sahi=SahiConfig(slice_size=p["slice_size"], overlap=p["slice_overlap"],
                        postprocess=p["merge"], match_threshold=p["merge_threshold"]),
    )


def scorer_spec(p: dict[str, Any]) -> ModelSpec:
    """The registry's attention scorer with the node's token grid and threads."""
    spec = get_spec("scorer")
    rows, cols = p["token_rows"], p["token_cols"]
    return replace(spec, token_grid=(rows, cols), input_size=(cols * 14, rows * 14),
                   runtime=RuntimeConfig(intra_op_threads=p["threads"]))
