"""Mapping node parameters onto hyperion_core model specs (the core stays ROS-free)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from hyperion_core.models.base import Detector
from hyperion_core.models.coco import class_ids
from hyperion_core.models.onnx_detector import (
    CHANNEL_ORDERS,
    NORMALISATIONS,
    RESIZE_MODES,
    ModelMismatch,
    read_class_names,
)
from hyperion_core.models.onnx_layouts import ACTIVATIONS, LAYOUTS
from hyperion_core.models.ort_runtime import DEVICE_PROVIDERS, RuntimeConfig, missing_providers
from hyperion_core.models.registry import BACKENDS, ModelSpec, OnnxModel, build_detector, get_spec
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


#: The user's own model (``backend: onnx``), the same on the edge and the cloud detector.
ONNX_PARAMS = (
    ParamSpec(name="model_path", default="",
              description="backend onnx: the exported detector, an .onnx file [path]"),
    ParamSpec(name="class_names", default=[""],
              description="backend onnx: class names by class id, or one entry naming a "
                          "file of them (.txt one per line, .yaml/.json list or names map); "
                          "[''] reads the model's names metadata (Ultralytics exports) [-]"),
    ParamSpec(name="layout", default="auto", choices=("auto", *LAYOUTS),
              description="backend onnx: output layout; auto recognises it from the "
                          "graph's outputs [-]"),
    ParamSpec(name="input_width", default=640, low=16, high=8192,
              description="backend onnx: model input width [px]"),
    ParamSpec(name="input_height", default=640, low=16, high=8192,
              description="backend onnx: model input height [px]"),
    ParamSpec(name="resize", default="letterbox", choices=RESIZE_MODES,
              description="backend onnx: letterbox keeps the aspect ratio (YOLO), stretch "
                          "fills the input (RT-DETR) [-]"),
    ParamSpec(name="normalise", default="unit", choices=NORMALISATIONS,
              description="backend onnx: pixel scaling: unit = /255 (YOLO, RT-DETR), "
                          "imagenet = /255 then ImageNet mean/std (DETR), none = 0-255 [-]"),
    ParamSpec(name="channel_order", default="rgb", choices=CHANNEL_ORDERS,
              description="backend onnx: channel order the model takes [-]"),
    ParamSpec(name="score_activation", default="auto", choices=ACTIVATIONS,
              description="backend onnx, detr layout: class scores as given (none), sigmoid "
                          "(RT-DETR logits), softmax (DETR, last column no-object); auto = "
                          "sigmoid for an output named *logits* [-]"),
)


def onnx_model(p: dict[str, Any]) -> OnnxModel | None:
    """The ``backend: onnx`` model settings, ``None`` for an embedded backend.

    Raises:
        ParameterError: no ``model_path``, or an unreadable ``class_names`` file.
    """
    if p["backend"] != "onnx":
        return None
    if not p["model_path"]:
        raise ParameterError("parameter model_path is empty: backend onnx needs the path of "
                             "an .onnx file")
    names = tuple(n for n in p["class_names"] if n)
    if len(names) == 1 and Path(names[0]).expanduser().is_file():
        try:
            names = read_class_names(Path(names[0]).expanduser())
        except ValueError as err:
            raise ParameterError(f"parameter class_names: {err}") from err
    return OnnxModel(path=Path(p["model_path"]).expanduser(), class_names=names,
                     input_size=(p["input_width"], p["input_height"]), layout=p["layout"],
                     resize=p["resize"], normalise=p["normalise"],
                     channel_order=p["channel_order"], score_activation=p["score_activation"])


def load_detector(spec: ModelSpec) -> Detector:
    """:func:`~hyperion_core.models.registry.build_detector` for a node: a model file that
    does not fit its parameters is a :class:`ParameterError` (the node exits 2 naming the
    parameter, the file, what was expected and what was found).
    """
    try:
        return build_detector(spec)
    except ModelMismatch as err:
        raise ParameterError(str(err)) from err
    except FileNotFoundError as err:
        if spec.onnx is None:
            raise  # embedded weights missing: an installation fault, not a parameter
        raise ParameterError(f"parameter model_path={str(spec.onnx.path)!r}: {err}") from err


class DetectorForClasses:
    """A node's detector for the classes asked for now: the run-time ``classes`` parameter.

    The detector is rebuilt with the new classes when they change, so the first frame after
    a change is filtered exactly as a node started with them would filter it (the embedded
    models pick the best *allowed* class per box, which filtering afterwards could not
    reproduce). Rebuilding reloads the model, a fraction of a second for the embedded
    ones, once per change, on the calling (worker) thread.

    Args:
        spec: the detector spec the node started with (its ``classes`` included).

    Raises:
        ParameterError: the model does not fit its parameters (see :func:`load_detector`).
    """

    def __init__(self, spec: ModelSpec) -> None:
        self._spec = spec
        self._detector = load_detector(spec)
        #: Every class a ``classes`` value may name: the model's own, as the detector says.
        self.known: tuple[str, ...] = self._detector.class_names

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes the current detector keeps."""
        return self._spec.classes

    def check(self, classes: tuple[str, ...] | list[str]) -> None:
        """Raise :class:`ParameterError` unless each of ``classes`` is one of :attr:`known`."""
        unknown = [c for c in classes if c not in self.known]
        if unknown or not classes:
            raise ParameterError(
                f"parameter classes={list(classes)} not allowed: unknown {unknown}; the "
                f"model knows {', '.join(self.known)}")

    def detector(self, classes: tuple[str, ...] | list[str]) -> Detector:
        """The detector keeping ``classes`` (checked), rebuilt if they changed."""
        classes = tuple(classes)
        if classes != self._spec.classes:
            self.check(classes)
            spec = replace(self._spec, classes=classes)
            self._detector, self._spec = load_detector(spec), spec
        return self._detector


def guard_classes(node: Node, models: Callable[[], DetectorForClasses | None]) -> None:
    """Make ``node`` refuse a ``classes`` value (``ros2 param set``) that its loaded model
    does not know, with the reason; before the model is loaded, only the type is checked.

    Args:
        node: the detector node (its ``classes`` parameter).
        models: the node's current :class:`DetectorForClasses`, ``None`` before configure.
    """
    def check(params: list[Parameter]) -> SetParametersResult:
        current = models()
        for param in params:
            if param.name == "classes" and current is not None:
                try:
                    current.check(list(param.value))
                except ParameterError as err:
                    return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(check)


def frame_classes(frame: Any, own: list[str], known: tuple[str, ...]
                  ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The classes a cloud detector detects in ``frame`` (an ``EncodedFrame``), and those
    of them its model does not know.

    The frame carries the edge detector's classes, which win; a frame that names none
    takes the cloud's own ``classes`` parameter. With different models on the two sides
    the cloud detects the classes both know.

    Args:
        frame: the ``EncodedFrame``.
        own: the cloud detector's ``classes`` parameter.
        known: the classes the cloud's model knows.
    """
    asked = tuple(frame.object_classes) or tuple(own)
    return (tuple(c for c in asked if c in known), tuple(c for c in asked if c not in known))


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
    if p["backend"] == "onnx":
        return names  # the model's own names, checked when it loads (load_detector)
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
        "onnx": onnx_model(p),
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
