"""The model passes an evaluation or a profile needs, as picklable jobs with cached outputs.

Models (all from :mod:`hyperion_core.models.registry`, so the evaluation runs what the
graph runs):

- ``scorer``: the ViT's three maps of one pass (Eq. 2 attention, CLS attention, saliency)
  on the 16-px patch grid, stored stacked ``(3, rows, cols)``;
- ``edge``: the registry's edge detector on the original frame;
- ``cloud``: the registry's cloud detector on what a payload decodes to;
- ``reference``: the evaluation reference on the original frame (never a method's model);
- ``elf-cnn``: Elf's server model stand-in, a CNN other than the cloud's: CenterNet-MBv3
  with SAHI 768-px slices at full resolution, on one partition crop;
- ``remix:<backend>@<scale>``: one of Remix's per-block detector choices on a block crop.

A job's output is stored in the :class:`~hyperion_core.eval.cache.DetectionCache` under a
key of (frame digest, model name, the model's configuration, payload), so re-runs and sweeps
cost nothing and a changed model setting is never served a stale output.

The reference's boxes become ground truth only above :data:`REFERENCE_SCORE`: the threshold
at which they agree best with the hand labels of the selection frames (F1 0.971: precision
0.975, recall 0.967 at IoU 0.5; ``benchmarks/choose_models.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.cache import DetectionCache, cache_key
from hyperion_core.eval.payloads import Payload, materialise
from hyperion_core.fuse.boxes import Detections
from hyperion_core.models.base import Detections as ModelDetections
from hyperion_core.models.base import Detector

#: The scorer's maps, in the order they are stacked.
SCORER_MAPS = ("attention", "cls_attention", "saliency")
DETECTORS = ("edge", "cloud", "reference", "elf-cnn")
#: Reference boxes at or above this confidence are the ground truth (see the docstring).
REFERENCE_SCORE = 0.35


def reference_truth(found: Detections) -> Detections:
    """The ground truth a reference output stands for: its confident boxes."""
    return found.select(found.scores >= REFERENCE_SCORE)


_FINGERPRINTS: dict[str, str] = {}


def _output_repr(spec: object) -> str:
    """The spec's repr without idle spinning, which changes speed, never outputs, and
    without an unset user ONNX model (both came after the cache's keys: leaving them out
    keeps the keys of the embedded models valid)."""
    text = repr(spec).replace(f", spin={spec.runtime.spin!r}", "")  # type: ignore[attr-defined]
    return text.replace(", onnx=None", "") if spec.onnx is None else text  # type: ignore[attr-defined]


def model_fingerprint(name: str) -> str:
    """Short hash of everything that configures model ``name`` (its registry spec(s))."""
    if name not in _FINGERPRINTS:
        from hyperion_core.models.registry import get_spec

        if name == "scorer":
            parts: list[object] = [_output_repr(get_spec("scorer")), SCORER_MAPS]
        elif name in ("edge", "cloud", "reference"):
            parts = [_output_repr(get_spec(name))]
        else:  # elf-cnn and remix options derive from the cloud and edge specs
            parts = [name, _output_repr(get_spec("cloud")), _output_repr(get_spec("edge"))]
        _FINGERPRINTS[name] = cache_key(*parts)[:12]
    return _FINGERPRINTS[name]


def to_eval(det: ModelDetections, placement: tuple[float, float, float] = (0.0, 0.0, 1.0)
            ) -> Detections:
    """Model detections → fuse/metrics detections (float64 xyxy frame pixels, class ids).

    Args:
        det: detections in pixels of the image the model saw.
        placement: ``(x0, y0, scale)`` of that image in the frame
            (:meth:`~hyperion_core.eval.payloads.Payload.placement`).
    """
    x0, y0, scale = placement
    boxes = det.boxes.astype(np.float64).reshape(-1, 4) * scale
    boxes[:, 0::2] += x0
    boxes[:, 1::2] += y0
    return Detections(boxes=boxes, scores=det.scores.astype(np.float64),
                      labels=det.class_ids.astype(np.int64))


def remix_option(backend: str, scale: float) -> str:
    """Model name of a Remix option: ``backend`` at ``scale`` of the block's pixels."""
    return f"remix:{backend}@{scale:g}"


def remix_tiling(backend: str, scale: float) -> object:
    """Tiling of a Remix option: the block at ``scale``, cut into tiles of about one model
    input each (so the pass count follows the block's size)."""
    from hyperion_core.models.registry import INPUT_SIZES
    from hyperion_core.models.tiled import TiledConfig

    return TiledConfig(scale=scale, overlap=0.1, tile_px=INPUT_SIZES[backend][0])


def build_eval_detector(name: str, *, threads: int) -> Detector:
    """Build one of :data:`DETECTORS` or a ``remix:`` option with ``threads`` ORT threads."""
    from hyperion_core.models.ort_runtime import RuntimeConfig
    from hyperion_core.models.registry import build_detector, get_spec
    from hyperion_core.models.sahi_backend import SahiConfig

    runtime = RuntimeConfig(intra_op_threads=threads, inter_op_threads=1)
    if name in ("edge", "cloud", "reference"):
        return build_detector(get_spec(name, runtime=runtime))
    cloud = get_spec("cloud", runtime=runtime)
    if name == "elf-cnn":
        return build_detector(replace(cloud, backend="centernet", sahi=SahiConfig(
            slice_size=768, overlap=0.2, full_frame_pass=True, match_threshold=0.5)))
    if name.startswith("remix:"):
        backend, scale = name[len("remix:"):].split("@")
        edge = get_spec("edge", runtime=runtime)
        return build_detector(replace(edge, backend=backend, tiling=remix_tiling(
            backend, float(scale))))
    raise KeyError(f"unknown evaluation model {name!r}; known: {DETECTORS} and remix:*")


@dataclass(frozen=True, kw_only=True, eq=False)
class Job:
    """One model pass to run (or find in the cache).

    Args:
        model: ``"scorer"``, one of :data:`DETECTORS`, or a ``remix:`` option.
        frame_path: ``.npy`` file of the original frame (read by the worker).
        digest: the frame's content hash.
        payload: what the model receives.
    """

    model: str
    frame_path: Path
    digest: str
    payload: Payload

    @property
    def key(self) -> str:
        return cache_key(self.digest, self.model, model_fingerprint(self.model),
                         *self.payload.descriptor())


_BANK: dict[str, object] = {}


def _model(name: str) -> object:
    threads = int(os.environ.get("HYPERION_EVAL_THREADS", "1"))
    if name not in _BANK:
        if name == "scorer":
            from hyperion_core.models.ort_runtime import RuntimeConfig
            from hyperion_core.models.registry import build_scorer, get_spec

            _BANK[name] = build_scorer(get_spec(
                "scorer", runtime=RuntimeConfig(intra_op_threads=threads, inter_op_threads=1),
                scorer_extras=SCORER_MAPS[1:]))
        else:
            _BANK[name] = build_eval_detector(name, threads=threads)
    return _BANK[name]


def run_job(job: Job, cache_root: Path) -> str:
    """Run one job in this process and store its output; returns the cache key.

    Scorer jobs store the stacked maps; detector jobs store detections in pixels of the
    full frame (crops of a partition or block are shifted back).
    """
    cache = DetectionCache(root=cache_root)
    key = job.key
    frame = np.load(job.frame_path, mmap_mode="r")
    _, image = materialise(np.ascontiguousarray(frame), job.payload)
    if job.model == "scorer":
        result = _model("scorer").score(image)  # type: ignore[attr-defined]
        maps = {"attention": result.patch_map, **result.extra_maps}
        cache.put_array(key, np.stack([maps[n] for n in SCORER_MAPS]))
        return key
    found = _model(job.model).predict(image)  # type: ignore[attr-defined]
    cache.put(key, to_eval(found, job.payload.placement()))
    return key


def worker_threads(jobs: int) -> int:
    """ONNX Runtime threads per worker so that ``jobs`` workers share the cores."""
    return max(1, (os.cpu_count() or 1) // max(jobs, 1))
