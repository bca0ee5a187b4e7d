"""Patch importance from attention (paper Eq. 2), accumulated without keeping attention.

``I_j = 1/(L·H·N) · Σ_l Σ_h Σ_i A[l, h, i, j]``: the attention that key token ``j``
receives, averaged over the ``L`` layers added, the ``H`` heads and the ``N`` query tokens
(all queries, prefix tokens included, as the equation sums over every query). Only a
``(keys,)`` float64 vector per layer is kept.
"""

from __future__ import annotations

import numpy as np


class ImportanceAccumulator:
    """Accumulates per-layer column means of attention into token importance.

    Args:
        token_grid: ``(rows, cols)`` of spatial tokens, row-major on the key axis after
            the prefix tokens.
        prefix_tokens: CLS/register tokens at the start of the key axis; they take part
            in the means but are excluded from :meth:`token_importance`.
    """

    def __init__(self, *, token_grid: tuple[int, int], prefix_tokens: int = 0) -> None:
        rows, cols = (int(v) for v in token_grid)
        if rows <= 0 or cols <= 0:
            raise ValueError(f"token_grid must be positive, got {token_grid}")
        if prefix_tokens < 0:
            raise ValueError(f"prefix_tokens must be >= 0, got {prefix_tokens}")
        self._grid = (rows, cols)
        self._prefix = int(prefix_tokens)
        self._keys = self._prefix + rows * cols
        self._sum = np.zeros(self._keys, np.float64)
        self._layers = 0

    @property
    def layers(self) -> int:
        """Number of layers accumulated so far."""
        return self._layers

    def add_attention(self, attention: np.ndarray) -> None:
        """Add one layer's post-softmax attention; the array is read, not kept or mutated.

        Args:
            attention: ``(heads, queries, keys)`` or ``(1, heads, queries, keys)``, any float
                dtype; ``keys == prefix_tokens + rows * cols``.
        """
        att = np.asarray(attention)
        if att.ndim == 4:
            if att.shape[0] != 1:
                raise ValueError(f"batch must be 1, got shape {att.shape}")
            att = att[0]
        if att.ndim != 3:
            raise ValueError(f"attention must be (heads, queries, keys), got {att.shape}")
        heads, queries, _ = att.shape
        # float64 accumulation: ~10^7 float32 terms would lose digits otherwise.
        column_sums = att.sum(axis=(0, 1), dtype=np.float64)
        self.add_column_sums(column_sums, heads=heads, queries=queries)

    def add_column_sums(self, column_sums: np.ndarray, *, heads: int, queries: int) -> None:
        """Add one layer given as attention already summed over heads and queries.

        Args:
            column_sums: ``(keys,)``, ``Σ_h Σ_i A[h, i, j]`` for each key ``j``.
            heads: number of heads summed (``H``).
            queries: number of query tokens summed (``N``).
        """
        sums = np.asarray(column_sums, dtype=np.float64).reshape(-1)
        if sums.shape[0] != self._keys:
            raise ValueError(
                f"expected {self._keys} keys ({self._prefix} prefix + grid {self._grid}), "
                f"got {sums.shape[0]}"
            )
        if heads <= 0 or queries <= 0:
            raise ValueError(f"heads and queries must be positive, got {heads}, {queries}")
        if not np.isfinite(sums).all():
            raise ValueError("attention column sums contain NaN or inf")
        self._sum += sums / (heads * queries)
        self._layers += 1

    def token_importance(self) -> np.ndarray:
        """Return Eq. 2 over the layers added so far, as a new ``(rows, cols)`` float64 array.

        Raises:
            RuntimeError: when no layer was added.
        """
        if self._layers == 0:
            raise RuntimeError("no attention layer added yet")
        return (self._sum[self._prefix :] / self._layers).reshape(self._grid)


def _overlap_matrix(src: int, dst: int) -> np.ndarray:
    """``(dst, src)`` weights: overlap of destination cell ``i`` with source cell ``a``.

    Both grids span the same extent; each row sums to 1 (an area-weighted mean).
    """
    edges_dst = np.arange(dst + 1) * (src / dst)  # destination edges in source-cell units
    lo = np.maximum(edges_dst[:-1, None], np.arange(src)[None, :])
    hi = np.minimum(edges_dst[1:, None], np.arange(1, src + 1)[None, :])
    weights = np.clip(hi - lo, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def importance_on_patch_grid(
    token_importance: np.ndarray, patch_grid: tuple[int, int]
) -> np.ndarray:
    """Resample token importance onto the frame's patch grid, area-weighted.

    Each patch gets the mean of the token values weighted by the area of the frame that
    the patch and each token share (both grids are taken to span the whole frame, so crop
    padding tokens first). This is exact for any ratio, up- or down-sampling, and keeps the
    grid mean. Cost: two small matrix products.

    Args:
        token_importance: ``(token_rows, token_cols)`` from
            :meth:`ImportanceAccumulator.token_importance`.
        patch_grid: ``(rows, cols)`` of frame patches.

    Returns:
        New ``(rows, cols)`` float64 array.
    """
    tokens = np.asarray(token_importance, dtype=np.float64)
    if tokens.ndim != 2 or tokens.size == 0:
        raise ValueError(f"token_importance must be a non-empty 2-D array, got {tokens.shape}")
    rows, cols = (int(v) for v in patch_grid)
    if rows <= 0 or cols <= 0:
        raise ValueError(f"patch_grid must be positive, got {patch_grid}")
    if tokens.shape == (rows, cols):
        return tokens.copy()
    return (
        _overlap_matrix(tokens.shape[0], rows) @ tokens @ _overlap_matrix(tokens.shape[1], cols).T
    )
