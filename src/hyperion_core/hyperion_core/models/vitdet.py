"""detectron2 ViTDet backend (the paper's edge/cloud models), behind a lazy import.

detectron2 has no PyPI build for CPython 3.11 (checked: ``detectron2`` has no
distribution, ``sal-detectron2`` 0.7.2 is a cp310-only wheel, ``detectron2-cdo`` and
``pb1-detectron2`` are sdists that fail to build without torch in the build environment
and predate ViTDet). This module therefore imports torch and detectron2 only when a model
is built; it is importable (and its pure-torch parts testable) without detectron2.

Attention capture: a forward pre-hook on each *global* attention block recomputes q and k
from the block's input and sums softmax attention over heads and query chunks, so at most
``chunk_rows`` grid rows of queries x all keys are alive at once, and only a ``(keys,)``
vector per layer reaches the :class:`ImportanceAccumulator`. This costs one extra q·kᵀ
per global block; it is unvalidated against real detectron2 in this environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hyperion_core.models.base import Detections, Detector, DetectorConfig
from hyperion_core.models.boxes import letterbox, to_frame_pixels
from hyperion_core.score.importance import ImportanceAccumulator

UNAVAILABLE = (
    "detectron2 is not installable for Python 3.11 from PyPI (only a cp310 wheel of "
    "sal-detectron2 exists); install a detectron2 build with ViTDet to use this backend"
)


def attention_column_sums(
    q: Any,
    k: Any,
    *,
    scale: float,
    chunk: int,
    bias: Callable[[int, int], Any] | None = None,
) -> Any:
    """Σ over heads and queries of ``softmax(scale · q kᵀ + bias)``, queries in chunks.

    Args:
        q: (heads, queries, dim) queries (batch folded into heads for batch 1).
        k: (heads, keys, dim) keys.
        scale: logit scale, usually ``dim ** -0.5``.
        chunk: queries per chunk; peak memory is heads x chunk x keys.
        bias: ``bias(start, stop)`` → additive logits (heads, stop - start, keys), e.g.
            relative-position terms; ``None`` for none.

    Returns:
        (keys,) float64 torch tensor on the inputs' device.
    """
    import torch

    total = torch.zeros(k.shape[1], dtype=torch.float64, device=k.device)
    with torch.no_grad():
        for start in range(0, q.shape[1], chunk):
            stop = min(start + chunk, q.shape[1])
            logits = (q[:, start:stop] * scale) @ k.transpose(-2, -1)
            if bias is not None:
                logits = logits + bias(start, stop)
            total += logits.softmax(dim=-1).sum(dim=(0, 1)).double()
    return total


class GlobalAttentionProbe:
    """Forward pre-hooks on a detectron2 ViT's global-attention blocks.

    Use :meth:`attach` before a forward pass; each global block adds one layer to the
    accumulator returned by :meth:`start`. Window-attention blocks are skipped, as in the
    paper (importance comes from the output-feature, i.e. global, layers).
    """

    def __init__(self, *, vit: Any, chunk_rows: int = 4) -> None:
        """Args:
        vit: ``detectron2.modeling.ViT`` (the backbone's ``net``) with ``blocks``.
        chunk_rows: token-grid rows of queries processed at once.
        """
        self.blocks = [b for b in vit.blocks if getattr(b, "window_size", 0) == 0]
        self.chunk_rows = chunk_rows
        self._accumulator: ImportanceAccumulator | None = None
        self._handles: list[Any] = []

    def start(self, token_grid: tuple[int, int]) -> ImportanceAccumulator:
        """A fresh accumulator that the next forward pass fills."""
        self._accumulator = ImportanceAccumulator(token_grid=token_grid, prefix_tokens=0)
        return self._accumulator

    def attach(self) -> None:
        for block in self.blocks:
            self._handles.append(block.attn.register_forward_pre_hook(self._hook))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, attn: Any, inputs: tuple[Any, ...]) -> None:
        import torch
        from detectron2.modeling.backbone.utils import get_rel_pos

        (x,) = inputs  # (1, H, W, C): ViTDet attention works on the 2-D token grid
        _, h, w, _ = x.shape
        heads = attn.num_heads
        qkv = attn.qkv(x).reshape(1, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4)
        q, k = qkv[0, 0], qkv[1, 0]  # (heads, h*w, head_dim)
        bias = None
        if attn.use_rel_pos:
            rh = get_rel_pos(h, h, attn.rel_pos_h)  # (h, h, head_dim)
            rw = get_rel_pos(w, w, attn.rel_pos_w)
            rq = q.reshape(heads, h, w, -1)

            def bias(start: int, stop: int) -> Any:
                r0, r1 = start // w, stop // w
                part = rq[:, r0:r1]
                rel_h = torch.einsum("bhwc,hkc->bhwk", part, rh[r0:r1])
                rel_w = torch.einsum("bhwc,wkc->bhwk", part, rw)
                full = rel_h[..., :, None] + rel_w[..., None, :]  # (b, rows, w, h, w)
                return full.reshape(heads, (r1 - r0) * w, h * w)

        sums = attention_column_sums(q, k, scale=attn.scale, chunk=self.chunk_rows * w, bias=bias)
        if self._accumulator is not None:
            self._accumulator.add_column_sums(sums.cpu().numpy(), heads=heads, queries=h * w)


@dataclass(frozen=True, kw_only=True)
class VitDetConfig:
    """A ViTDet built from detectron2's LazyConfig ``common/models/mask_rcnn_vitdet.py``.

    Args:
        detector: thresholds, input size (square, multiple of the patch size), device.
        embed_dim: ViT width (ViT-S 384, ViT-B 768); a tiny one for tests.
        depth: ViT blocks.
        num_heads: attention heads.
        global_blocks: indices of global-attention blocks (the rest use windows).
        checkpoint: weights file; ``None`` keeps random initialisation (tests).
    """

    detector: DetectorConfig = field(
        default_factory=lambda: DetectorConfig(input_size=(1024, 1024))
    )
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    checkpoint: str | None = None


class VitDetDetector(Detector):
    """detectron2 ViTDet Mask R-CNN as a Hyperion Detector with an attention path."""

    def __init__(self, *, config: VitDetConfig) -> None:
        try:
            import torch  # noqa: F401
            from detectron2.config import LazyConfig, instantiate
            from detectron2.model_zoo import get_config_file
        except ImportError as err:
            raise ImportError(UNAVAILABLE) from err
        cfg = LazyConfig.load(get_config_file("common/models/mask_rcnn_vitdet.py"))
        net = cfg.model.backbone.net
        net.embed_dim, net.depth, net.num_heads = config.embed_dim, config.depth, config.num_heads
        net.window_block_indexes = [i for i in range(config.depth) if i not in config.global_blocks]
        cfg.model.backbone.square_pad = config.detector.input_size[0]
        self.config = config
        self.model = instantiate(cfg.model).eval().to(config.detector.device)
        if config.checkpoint:
            from detectron2.checkpoint import DetectionCheckpointer

            DetectionCheckpointer(self.model).load(config.checkpoint)
        self.probe = GlobalAttentionProbe(vit=self.model.backbone.net)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(str(i) for i in range(self.model.roi_heads.num_classes))

    def predict_with_importance(self, image: np.ndarray) -> tuple[Detections, np.ndarray]:
        """Detections and (rows, cols) token importance of the global blocks, one pass."""
        import torch

        size = self.config.detector.input_size
        boxed, transform = letterbox(image, size)
        tensor = torch.as_tensor(boxed.transpose(2, 0, 1).copy()).float()
        patch = self.model.backbone.net.patch_embed.proj.kernel_size[0]
        accumulator = self.probe.start((size[1] // patch, size[0] // patch))
        self.probe.attach()
        try:
            with torch.no_grad():
                (out,) = self.model([{"image": tensor, "height": size[1], "width": size[0]}])
        finally:
            self.probe.detach()
        inst = out["instances"].to("cpu")
        keep = inst.scores.numpy() >= self.config.detector.score_threshold
        boxes = to_frame_pixels(
            inst.pred_boxes.tensor.numpy()[keep], transform, (image.shape[1], image.shape[0])
        )
        found = Detections(
            boxes, inst.scores.numpy()[keep], inst.pred_classes.numpy()[keep], self.class_names
        )
        return found, accumulator.token_importance()

    def predict(self, image: np.ndarray) -> Detections:
        """Args:
        image: (H, W, 3) uint8 BGR (detectron2's default input format); not modified.
        """
        return self.predict_with_importance(image)[0]
