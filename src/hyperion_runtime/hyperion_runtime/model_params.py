"""Mapping node parameters onto hyperion_core model specs (the core stays ROS-free)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hyperion_core.models.coco import class_ids
from hyperion_core.models.ort_runtime import DEVICE_PROVIDERS, RuntimeConfig, missing_providers
from hyperion_core.models.registry import BACKENDS, ModelSpec, get_spec
from hyperion_core.models.sahi_backend import SahiConfig
from hyperion_core.models.tiled import TiledConfig
from hyperion_runtime.params import ParameterError, ParamSpec

#: Detector backends a node may be given (parameter ``backend``).
DETECTOR_BACKENDS = tuple(BACKENDS)

#: Where a model node runs its ONNX model; every model node declares it.
EXECUTION_PROVIDER = ParamSpec(
    name="execution_provider", default="cpu", choices=tuple(DEVICE_PROVIDERS),
    description="ONNX Runtime execution provider: cpu, cuda or tensorrt (each falls back to "
                "the next for operators it lacks); cuda and tensorrt need onnxruntime-gpu [-]")


def runtime_config(p: dict[str, Any]) -> RuntimeConfig:
    """ONNX Runtime settings from the node's ``threads`` and ``execution_provider``.

    Raises:
        ParameterError: the provider is not in this onnxruntime build.
    """
    providers = DEVICE_PROVIDERS[p["execution_provider"]]
    missing = missing_providers(providers)
    if missing:
        raise ParameterError(
            f"parameter execution_provider={p['execution_provider']} not available: this "
            f"onnxruntime lacks {missing} (install onnxruntime-gpu on a CUDA machine, or "
            "use cpu)")
    return RuntimeConfig(providers=providers, intra_op_threads=p["threads"])


def detector_classes(p: dict[str, Any]) -> tuple[str, ...]:
    """The ``classes`` parameter, checked against the backend's class list.

    Raises:
        ParameterError: naming the parameter and the classes it allows.
    """
    names = tuple(p["classes"])
    try:
        if p["backend"] == "yolo-fall" and names != ("person",):
            raise ValueError("backend yolo-fall detects only ['person']")
        class_ids(names)
    except ValueError as err:
        raise ParameterError(f"parameter classes={list(names)} not allowed: {err}") from err
    return names


def _detector_fields(p: dict[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """What every detector node sets the same way: backend, classes, thresholds, runtime."""
    return {
        "backend": p["backend"],
        "classes": detector_classes(p),
        "detector": replace(spec.detector, score_threshold=p["score_threshold"],
                            nms_iou=p["nms_iou"]),
        "runtime": runtime_config(p),
    }


def edge_detector_spec(p: dict[str, Any]) -> ModelSpec:
    """The registry's "edge" detector with the node's backend, tiling, thresholds, threads."""
    spec = get_spec("edge")
    return replace(
        spec, **_detector_fields(p, spec),
        tiling=TiledConfig(scale=p["tile_scale"], columns=p["tile_columns"], rows=p["tile_rows"],
                           overlap=p["tile_overlap"]),
    )


def cloud_detector_spec(p: dict[str, Any]) -> ModelSpec:
    """The registry's "cloud" detector (SAHI) with the node's backend, slicing, thresholds."""
    spec = get_spec("cloud")
    return replace(
        spec, **_detector_fields(p, spec),
        sahi=SahiConfig(slice_size=p["slice_size"], overlap=p["slice_overlap"],
                        postprocess=p["merge"], match_threshold=p["merge_threshold"],
                        full_frame_pass=p["full_frame_pass"]),
    )


def scorer_spec(p: dict[str, Any], extras: tuple[str, ...] = ()) -> ModelSpec:
    """The registry's ViT scorer with the node's token grid and threads, computing the
    further maps ``extras`` in the same pass."""
    spec = get_spec("scorer")
    return replace(spec, token_grid=(p["token_rows"], p["token_cols"]), scorer_extras=extras,
                   runtime=runtime_config(p))
