"""Jenks natural breaks into importance classes, fast enough for every frame.

Exact Jenks (Fisher's optimal 1-D partition minimising within-class squared deviation)
is quadratic in the number of values. The "mini-batch" variant used here groups the sorted
values into a few hundred contiguous *bins* and runs the exact Fisher DP on the bins,
using each bin's count, sum and sum of squares, so the within-class cost of any run of
bins is exact. Breaks can only fall on bin edges; the edges are the union of equal-count
(quantile) edges, which resolve the dense bulk, and equal-width edges, which resolve the
heavy tail where few but important patches lie. Every value is then assigned with
``np.searchsorted``.

Class convention: ``breaks`` holds ``K-1`` inner upper bounds (data values);
class ``c`` holds values ``v`` with ``breaks[c-1] < v <= breaks[c]``. Classes are monotone
in the value: class 0 is the least important.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class JenksConfig:
    """Mini-batch Jenks settings.

    Args:
        classes: number of classes ``K`` (paper: 3).
        quantile_bins: equal-count bin edges.
        width_bins: equal-width bin edges between min and max.
    """

    classes: int = 3
    quantile_bins: int = 128
    width_bins: int = 96


@dataclass(frozen=True, kw_only=True)
class JenksResult:
    """Classes of a set of values.

    Args:
        breaks: ``(K-1,)`` inner upper class bounds (values, ascending, may repeat when
            there are fewer distinct values than classes; higher classes are then empty).
        classes: class per value, same shape as the input, uint8.
        gvf: goodness of variance fit ``1 - SDCM/SDAM`` (1.0 for constant input).
    """

    breaks: np.ndarray
    classes: np.ndarray
    gvf: float


def _validated(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError("cannot classify an empty set of values")
    if not np.isfinite(flat).all():
        raise ValueError("values contain NaN or inf")
    return flat


def assign_classes(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Class of each value given inner upper bounds; returns uint8 of ``values.shape``."""
    flat = np.asarray(values, dtype=np.float64)
    return np.searchsorted(np.asarray(breaks, np.float64), flat, side="left").astype(np.uint8)


def goodness_of_variance_fit(values: np.ndarray, classes: np.ndarray) -> float:
    """GVF = 1 - Σ_c Σ (v - mean_c)² / Σ (v - mean)²; 1.0 when all values are equal.

    Args:
        values: any shape, finite.
        classes: integer class per value, same shape.
    """
    flat = _validated(values)
    labels = np.asarray(classes).reshape(-1).astype(np.intp)
    total = float(((flat - flat.mean()) ** 2).sum())
    if total == 0.0:
        return 1.0
    counts = np.bincount(labels)
    sums = np.bincount(labels, weights=flat)
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    within = float(((flat - means[labels]) ** 2).sum())
    return 1.0 - within / total


def _fisher_breaks(counts: np.ndarray, sums: np.ndarray, squares: np.ndarray, k: int) -> list[int]:
    """Exact Fisher DP over weighted bins; returns the ``k-1`` bin indices where classes end.

    The cost of bins ``i..j-1`` is ``Q - S²/N`` from prefix sums, so one ``(B+1, B+1)``
    cost matrix serves all ``K`` steps; each step is a vectorised min over it.
    """
    n_cum = np.concatenate(([0.0], np.cumsum(counts)))
    s_cum = np.concatenate(([0.0], np.cumsum(sums)))
    q_cum = np.concatenate(([0.0], np.cumsum(squares)))
    # cost[j, i]: bins i..j-1 as one class (row-major in j so the min over i is contiguous).
    dn = n_cum[:, None] - n_cum[None, :]
    ds = s_cum[:, None] - s_cum[None, :]
    cost = q_cum[:, None] - q_cum[None, :]
    valid = dn > 0
    cost -= np.divide(ds * ds, dn, out=np.zeros_like(ds), where=valid)
    cost[~valid] = np.inf
    bins = counts.size
    best = cost[:, 0].copy()  # best[j]: one class covering bins 0..j-1
    argmins = []
    for _ in range(1, k):
        total = cost + best[None, :]
        arg = np.argmin(total, axis=1)
        best = np.take_along_axis(total, arg[:, None], axis=1)[:, 0]
        argmins.append(arg)
    ends = [bins]
    for arg in reversed(argmins):
        ends.append(int(arg[ends[-1]]))
    return sorted(ends[1:])  # the K-1 inner ends; the last class always ends at ``bins``


def jenks_classes(values: np.ndarray, config: JenksConfig | None = None) -> JenksResult:
    """Mini-batch Jenks natural breaks of ``values`` into ``config.classes`` classes.

    Args:
        values: importance scores, any shape (e.g. the ``(rows, cols)`` patch grid);
            not mutated.
        config: bin counts and ``K``; defaults to :class:`JenksConfig`.

    Raises:
        ValueError: empty input, NaN/inf values, or ``K < 1``.
    """
    config = config or JenksConfig()
    k = config.classes
    if k < 1:
        raise ValueError(f"classes must be >= 1, got {k}")
    flat = _validated(values)
    ordered = np.sort(flat)
    unique = np.unique(ordered)
    if unique.size <= k:
        # Each distinct value is its own class; pad with the maximum so upper classes are empty.
        breaks = np.concatenate((unique[:-1], np.full(k - unique.size, unique[-1])))
    else:
        lo, hi = ordered[0], ordered[-1]
        positions = np.linspace(0, ordered.size - 1, config.quantile_bins + 1).astype(np.intp)
        edges = np.concatenate((ordered[positions], np.linspace(lo, hi, config.width_bins + 1)))
        # Bin b holds ordered[cuts[b]:cuts[b+1]]; dropping duplicate cuts drops empty bins.
        cuts = np.unique(np.searchsorted(ordered, edges, side="right"))
        cuts = np.union1d(cuts, [0, ordered.size])
        centred = ordered - ordered.mean()  # centring keeps Q - S²/N well conditioned
        counts = np.diff(cuts).astype(np.float64)
        sums = np.add.reduceat(centred, cuts[:-1])
        squares = np.add.reduceat(centred * centred, cuts[:-1])
        ends = _fisher_breaks(counts, sums, squares, min(k, counts.size))
        breaks = ordered[cuts[np.asarray(ends, np.intp)] - 1]
        breaks = np.concatenate((breaks, np.full(k - 1 - breaks.size, hi)))
    classes = assign_classes(np.asarray(values, np.float64), breaks)
    return JenksResult(breaks=breaks, classes=classes, gvf=goodness_of_variance_fit(flat, classes))


def exact_jenks_classes(values: np.ndarray, classes: int = 3) -> JenksResult:
    """Exact breaks via ``jenkspy`` (quadratic; reference for tests and benchmarks only).

    Raises:
        ImportError: when ``jenkspy`` is not installed.
    """
    import jenkspy

    flat = _validated(values)
    if np.unique(flat).size <= classes:
        return jenks_classes(values, JenksConfig(classes=classes))
    inner = np.asarray(jenkspy.jenks_breaks(flat, n_classes=classes), np.float64)[1:-1]
    labels = assign_classes(np.asarray(values, np.float64), inner)
    return JenksResult(breaks=inner, classes=labels, gvf=goodness_of_variance_fit(flat, labels))
