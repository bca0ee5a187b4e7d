"""ONNX Runtime session creation shared by the ONNX backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Providers tried, in order, for each device; CPU always closes the list as the fallback
#: for nodes the accelerator provider does not implement.
DEVICE_PROVIDERS = {
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


def missing_providers(providers: tuple[str, ...]) -> list[str]:
    """Those of ``providers`` this onnxruntime build lacks (e.g. CUDA in the CPU wheel)."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return [p for p in providers if p not in available]

ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """How ONNX Runtime executes a model.

    Args:
        providers: execution providers in priority order; empty derives them from the
            detector's ``device`` (see ``DEVICE_PROVIDERS``).
        intra_op_threads: threads inside one operator; 0 lets ONNX Runtime use all cores.
        inter_op_threads: threads across independent operators; 0 = ONNX Runtime default.
        spin: let idle worker threads busy-wait for the next operator (ONNX Runtime's
            default). Off here: after each run the two workers of a NanoDet session burnt
            33 ms of CPU per 100 ms idle (median of 20, this 2-core machine) for a 0.4 ms
            faster run, CPU the other nodes of the graph need.
    """

    providers: tuple[str, ...] = ()
    intra_op_threads: int = 2
    inter_op_threads: int = 1
    spin: bool = False


def make_session(model: Path | bytes, *, device: str, runtime: RuntimeConfig) -> object:
    """Create an ``onnxruntime.InferenceSession``.

    Args:
        model: path of an ``.onnx`` file or a serialised model (e.g. an edited graph).
        device: ``"cpu"`` or ``"cuda"``; used only when ``runtime.providers`` is empty.
        runtime: providers and thread counts.

    Raises:
        RuntimeError: a requested provider is not available in this onnxruntime build.
    """
    import onnxruntime as ort  # imported here so the package imports without it

    providers = runtime.providers or DEVICE_PROVIDERS[device]
    missing = missing_providers(providers)
    if missing:
        raise RuntimeError(
            f"execution providers {missing} not available (have "
            f"{sorted(ort.get_available_providers())}); install onnxruntime-gpu for CUDA "
            "or TensorRT, or choose device='cpu'"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = runtime.intra_op_threads
    options.inter_op_num_threads = runtime.inter_op_threads
    spin = "1" if runtime.spin else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=list(providers))


def input_dtype(session: object, precision: str) -> type[np.floating]:
    """The numpy dtype to feed ``session``'s first input, checked against ``precision``.

    Args:
        session: an ``onnxruntime.InferenceSession``.
        precision: ``"auto"``, ``"fp32"`` or ``"fp16"`` (see ``DetectorConfig``).
    """
    declared = session.get_inputs()[0].type  # type: ignore[attr-defined]
    dtype = ORT_TYPES.get(declared)
    if dtype is None:
        raise ValueError(f"unsupported model input type {declared}")
    wanted = {"fp32": np.float32, "fp16": np.float16}.get(precision)
    if wanted is not None and wanted is not dtype:
        raise ValueError(f"precision {precision!r} requested but the model takes {declared}")
    return dtype
