"""Accuracy model per unit of class share (Eq. 4 generalised), fitted by non-negative LS.

``Â(q) = b + Σ_c p_c · g[c, d_c](q_c)``

- ``p_c`` weights each class by how much of the frame it covers, so one profile transfers
  across frames whose class shares differ (the paper's Eq. 4, ``Σ_c w_c·q_c``, gives a
  class the same weight whether it holds 1 % or 60 % of the patches).
- ``g[c, d]`` is a table over the profiled qualities ("knots"), linear in between and
  non-decreasing (a higher quality never removes information; a fitted decrease is noise
  that would make the scheduler starve the class). A table can saturate, which a line
  cannot: bytes bought past the knee buy nothing, and the scheduler's byte price can stop
  there. ``shape="linear"`` forces ``g`` to a line through the lowest knot, the paper's
  form per unit share.
- ``g[c, 1]`` is 0 at the lowest knot (the bias holds the accuracy with every class at
  its lowest quality); a downsampled option ``g[c, d]`` has its own level there, of either
  sign (downsampling may cost accuracy).

Fitting is a non-negative least-squares problem (``scipy.optimize.nnls``) on increments
between knots; the bias and the downsampled levels are split into positive and negative
parts so that they stay free.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np

from hyperion_core.schedule.profiles import FitStats, ProfileRecord

Shape = Literal["table", "linear"]


@dataclass(frozen=True, kw_only=True)
class ShareAccuracy:
    """Fitted ``Â`` (see module docstring).

    Args:
        knots: profiled JPEG qualities, ascending.
        tables: ``(class, downsample)`` → ``g`` at each knot (non-decreasing).
        bias: ``b``, accuracy with every class at the lowest knot.
        stats: fit quality on the fitting records.
        shape: ``"table"`` or ``"linear"``.
    """

    knots: tuple[int, ...]
    tables: dict[tuple[int, int], tuple[float, ...]]
    bias: float
    stats: FitStats
    shape: Shape = "table"

    @property
    def classes(self) -> int:
        return 1 + max(c for c, _ in self.tables)

    def supports(self, cls: int, quality: int, downsample: int) -> bool:
        """Whether ``g[cls, downsample]`` is fitted and ``quality`` lies within the knots."""
        return (int(cls), int(downsample)) in self.tables and (
            self.knots[0] <= quality <= self.knots[-1]
        )

    def gain(self, cls: int, quality: float, downsample: int) -> float:
        """``g[cls, downsample](quality)``, interpolated; ``KeyError`` outside the knots."""
        if not self.supports(cls, round(quality), downsample):
            raise KeyError(f"no accuracy table for class {cls} at q{quality}, "
                           f"downsample {downsample}")
        return float(np.interp(quality, self.knots, self.tables[(int(cls), int(downsample))]))

    def option_gain(
        self, *, shares: np.ndarray, quality: np.ndarray, downsample: np.ndarray
    ) -> np.ndarray:
        """``(K, O)`` accuracy term ``p_c·g[c, d](q)`` of class ``c`` at option ``o``."""
        out = np.empty(quality.shape, np.float64)
        for c in range(quality.shape[0]):
            for o in range(quality.shape[1]):
                out[c, o] = self.gain(c, quality[c, o], int(downsample[c, o]))
        return np.asarray(shares, np.float64)[:, None] * out

    def predict(self, qualities: np.ndarray, downsample: np.ndarray | None = None, *,
                shares: np.ndarray) -> float:
        """``Â`` of one plan."""
        q = np.asarray(qualities, np.float64)[:, None]
        d = np.ones_like(q, np.int64) if downsample is None else np.asarray(downsample)[:, None]
        return self.bias + float(self.option_gain(shares=shares, quality=q, downsample=d).sum())

    def effect(self, cls: int, share: float, downsample: int = 1) -> float:
        """Accuracy gained by raising class ``cls`` from the lowest to the highest knot when
        it covers ``share`` of the frame."""
        table = self.tables[(cls, downsample)]
        return share * (table[-1] - table[0])


def _columns(records: list[ProfileRecord], knots: tuple[int, ...], cells: list[tuple[int, int]],
             shape: Shape) -> tuple[np.ndarray, list[tuple[str, int, int, int]]]:
    """Design matrix of the NNLS problem and what each column means.

    Column kinds: ``("step", c, d, l)`` increment of ``g[c, d]`` from knot ``l-1`` to ``l``
    (``"slope"`` for the linear shape: per quality point), ``("level", c, d, ±1)`` the
    level of a downsampled option at the lowest knot, ``("bias", 0, 0, ±1)``.
    """
    meaning: list[tuple[str, int, int, int]] = [("bias", 0, 0, 1), ("bias", 0, 0, -1)]
    for c, d in cells:
        if d != 1:
            meaning += [("level", c, d, 1), ("level", c, d, -1)]
        if shape == "linear":
            meaning.append(("slope", c, d, 0))
        else:
            meaning += [("step", c, d, lvl) for lvl in range(1, len(knots))]
    design = np.zeros((len(records), len(meaning)))
    for i, rec in enumerate(records):
        factors = rec.factors()
        for j, (kind, c, d, arg) in enumerate(meaning):
            if kind == "bias":
                design[i, j] = arg
                continue
            if factors[c] != d:
                continue
            p, q = rec.shares[c], rec.qualities[c]
            if kind == "level":
                design[i, j] = arg * p
            elif kind == "slope":
                design[i, j] = p * (q - knots[0])
            else:  # a ramp from knot arg-1 to knot arg: 0 below, 1 above
                lo, hi = knots[arg - 1], knots[arg]
                design[i, j] = p * float(np.clip((q - lo) / (hi - lo), 0.0, 1.0))
    return design, meaning


def fit_share_accuracy(records: list[ProfileRecord], *, shape: Shape = "table") -> ShareAccuracy:
    """Fit :class:`ShareAccuracy` to measured records by non-negative least squares.

    Args:
        records: measured configurations; their qualities are the knots (every quality
            used becomes one). Downsampled options need records that use them.
        shape: ``"table"`` (monotone piecewise-linear) or ``"linear"``.

    Raises:
        ValueError: too few records for the coefficients, or a quality outside 1..100.
    """
    from scipy.optimize import nnls

    knots = tuple(sorted({q for r in records for q in r.qualities}))
    cells = sorted({(c, d) for r in records for c, d in enumerate(r.factors())})
    for c in range(1 + max(c for c, _ in cells)):
        if (c, 1) not in cells:
            raise ValueError(f"accuracy profile: class {c} never sent at full resolution")
    design, meaning = _columns(records, knots, cells, shape)
    target = np.array([r.accuracy for r in records], np.float64)
    free = len(meaning) - sum(1 for m in meaning if m[3] == -1)
    if len(records) < free + 2:
        raise ValueError(f"accuracy profile: {len(records)} records cannot fit {free} "
                         "coefficients")
    coef, _ = nnls(design, target, maxiter=50 * design.shape[1])
    levels = {cell: 0.0 for cell in cells}
    steps: dict[tuple[int, int], list[float]] = {cell: [] for cell in cells}
    bias = 0.0
    for value, (kind, c, d, arg) in zip(coef, meaning, strict=True):
        if kind == "bias":
            bias += arg * value
        elif kind == "level":
            levels[(c, d)] += arg * value
        elif kind == "slope":
            steps[(c, d)] = [value * (hi - lo) for lo, hi in pairwise(knots)]
        else:
            steps[(c, d)].append(value)
    tables = {cell: tuple(levels[cell] + np.concatenate([[0.0], np.cumsum(steps[cell])]))
              for cell in cells}
    residual = design @ coef - target
    spread = float(((target - target.mean()) ** 2).sum())
    predicted = design @ coef
    varies = spread > 0 and float(np.ptp(predicted)) > 0
    stats = FitStats(r=float(np.corrcoef(predicted, target)[0, 1]) if varies else 0.0,
                     r2=1.0 - float((residual**2).sum()) / spread if spread > 0 else 1.0,
                     n=len(records), rmse=float(np.sqrt((residual**2).mean())))
    return ShareAccuracy(knots=knots, tables={k: tuple(float(v) for v in t)
                                              for k, t in tables.items()},
                         bias=float(bias), stats=stats, shape=shape)
