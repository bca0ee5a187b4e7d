"""Measured per-class size tables and their online correction (closed-loop Eq. 3).

The paper's Eq. 3 is one line through all classes and qualities, while JPEG bytes grow
faster than linearly in quality and differ between classes (the important class holds
the detailed, expensive patches). The patch codec encodes every class as its own JPEG,
so each class's bytes are observable separately, and a table per class is measured:

``ratio[c, d](q)`` = bytes of class ``c`` sent at quality ``q`` and downsampling ``d``,
per raw byte of the area the class covers; payload ``Ŝ = S0·(Σ_c p_c·ratio[c, d_c](q_c) + β)``.

Between measured qualities the ratio is interpolated linearly in ``log(ratio)`` (JPEG
bytes grow roughly geometrically with quality); outside them it is not extrapolated.

A table fitted on profiling frames still misses frames whose content compresses
differently. :class:`SizeCorrection` closes the loop: the encoder reports the real bytes
of each class, and the scheduler scales each class's table by the median ratio of real
to predicted bytes over the last few frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from hyperion_core.schedule.profiles import RelativeErrors


@dataclass(frozen=True, kw_only=True)
class ClassBytes:
    """One class of one measured frame.

    Args:
        cls: class index.
        quality: JPEG quality the class was sent at.
        downsample: downsampling factor of the class.
        share: share of the frame's patches in the class.
        nbytes: bytes of the class's JPEG segment.
        raw_bytes: raw frame size ``S0`` (H·W·channels).
    """

    cls: int
    quality: int
    downsample: int
    share: float
    nbytes: int
    raw_bytes: int


@dataclass(frozen=True, kw_only=True)
class SizeTable:
    """Per-class size tables (see module docstring).

    Args:
        qualities: measured JPEG qualities, ascending.
        ratios: ``(class, downsample)`` → ratio at each of ``qualities`` (all > 0).
        beta: header and class-map bytes per raw byte.
        relative_error: ``(real − predicted)/predicted`` of whole payloads on the fitting
            frames (``None`` if not recorded).
    """

    qualities: tuple[int, ...]
    ratios: dict[tuple[int, int], tuple[float, ...]]
    beta: float
    relative_error: RelativeErrors | None = None

    def __post_init__(self) -> None:
        if list(self.qualities) != sorted(set(self.qualities)) or not self.qualities:
            raise ValueError(f"qualities must be ascending and distinct, got {self.qualities}")
        for key, values in self.ratios.items():
            if len(values) != len(self.qualities) or not all(v > 0 for v in values):
                raise ValueError(f"ratios of {key} must be {len(self.qualities)} values > 0")

    @property
    def classes(self) -> int:
        return 1 + max(c for c, _ in self.ratios)

    def supports(self, cls: int, quality: int, downsample: int) -> bool:
        """Whether class ``cls`` at ``(quality, downsample)`` was measured (or lies between
        measured qualities)."""
        return (int(cls), int(downsample)) in self.ratios and (
            self.qualities[0] <= quality <= self.qualities[-1]
        )

    def ratio(self, cls: int, quality: float, downsample: int) -> float:
        """Bytes per raw byte of class ``cls`` at ``quality``; ``KeyError`` if not measured."""
        if not self.supports(cls, round(quality), downsample):
            raise KeyError(f"no size table for class {cls} at q{quality}, downsample {downsample}")
        logs = np.log(self.ratios[(int(cls), int(downsample))])
        return float(np.exp(np.interp(quality, self.qualities, logs)))

    def option_bytes(
        self, *, raw_bytes: float, shares: np.ndarray, quality: np.ndarray, downsample: np.ndarray
    ) -> np.ndarray:
        """``(K, O)`` bytes ``S0·p_c·ratio[c, d](q)`` of class ``c`` sent at option ``o``.

        Args:
            raw_bytes: ``S0``.
            shares: ``(K,)`` class shares.
            quality: ``(K, O)`` JPEG quality of each option.
            downsample: ``(K, O)`` downsampling factor of each option.
        """
        out = np.empty(quality.shape, np.float64)
        for c in range(quality.shape[0]):
            for o in range(quality.shape[1]):
                out[c, o] = self.ratio(c, quality[c, o], int(downsample[c, o]))
        return raw_bytes * np.asarray(shares, np.float64)[:, None] * out

    def fixed_bytes(self, raw_bytes: float) -> float:
        """Header and class-map bytes of a payload: ``S0·β``."""
        return raw_bytes * self.beta

    def class_bytes(
        self, *, raw_bytes: float, shares: np.ndarray, qualities: tuple[int, ...],
        downsample: tuple[int, ...],
    ) -> np.ndarray:
        """``(K,)`` predicted bytes of each class for one plan."""
        q = np.asarray(qualities, np.float64)[:, None]
        d = np.asarray(downsample, np.int64)[:, None]
        return self.option_bytes(raw_bytes=raw_bytes, shares=shares, quality=q, downsample=d)[:, 0]

    def predict_bytes(
        self, *, raw_bytes: float, shares: np.ndarray, qualities: tuple[int, ...],
        downsample: tuple[int, ...],
    ) -> float:
        """``Ŝ`` of one plan in bytes, header and class map included."""
        per_class = self.class_bytes(raw_bytes=raw_bytes, shares=shares, qualities=qualities,
                                     downsample=downsample)
        return float(per_class.sum()) + self.fixed_bytes(raw_bytes)


def fit_size_table(measured: list[ClassBytes], *, overhead_ratio: list[float],
                   classes: int | None = None) -> SizeTable:
    """Pool per-class measurements into ratios: ``Σ bytes / Σ (S0·p_c)`` per table cell.

    Pooling bytes over frames (instead of averaging per-frame ratios) weights each frame by
    the area the class covers in it, which is what the total bytes depend on.

    Args:
        measured: per-class segments; every ``(class, downsample)`` present must have been
            measured at the same qualities. Classes with share 0 are ignored.
        overhead_ratio: per payload, ``(payload bytes − Σ segment bytes) / S0``; ``β`` is
            their median.
        classes: ``K``; a class no profiled frame held (share 0 everywhere) gets the
            full-resolution table of the nearest class that was measured (its patches are
            like its neighbours' in importance), so the scheduler can still plan frames
            where it appears.

    Raises:
        ValueError: no measurement, or cells measured at different qualities.
    """
    sums: dict[tuple[int, int, int], list[float]] = {}
    for m in measured:
        if m.share <= 0:
            continue
        cell = sums.setdefault((m.cls, m.downsample, m.quality), [0.0, 0.0])
        cell[0] += m.nbytes
        cell[1] += m.raw_bytes * m.share
    if not sums:
        raise ValueError("size table: no measurement with a non-empty class")
    qualities = tuple(sorted({q for _, _, q in sums}))
    ratios = {}
    for c, d in sorted({(c, d) for c, d, _ in sums}):
        if any((c, d, q) not in sums for q in qualities):
            raise ValueError(f"size table: class {c} downsample {d} lacks some of {qualities}")
        ratios[(c, d)] = tuple(sums[(c, d, q)][0] / sums[(c, d, q)][1] for q in qualities)
    measured_classes = [k for k, d in ratios if d == 1]
    for c in range(classes or 0):
        if (c, 1) not in ratios and measured_classes:
            nearest = min(measured_classes, key=lambda k: (abs(k - c), k))
            ratios[(c, 1)] = ratios[(nearest, 1)]
    return SizeTable(qualities=qualities, ratios=ratios,
                     beta=float(np.median(overhead_ratio)) if overhead_ratio else 0.0)


class SizeCorrection:
    """Closes the size loop: per-class median of real/predicted bytes of recent frames.

    Args:
        classes: number of classes ``K``.
        window: frames remembered per class; 0 disables the correction (factors stay 1).
    """

    def __init__(self, *, classes: int, window: int = 5) -> None:
        if classes < 1 or window < 0:
            raise ValueError(f"need classes >= 1 and window >= 0, got {classes}, {window}")
        self._ratios = [deque(maxlen=max(window, 1)) for _ in range(classes)]
        self._enabled = window > 0

    def add(self, *, predicted: np.ndarray, real: np.ndarray) -> None:
        """Record one encoded frame.

        Args:
            predicted: ``(K,)`` bytes the plan predicted per class, *before* correction.
            real: ``(K,)`` bytes the encoder produced per class.

        Classes with a prediction or a result of 0 bytes (absent from the frame) teach
        nothing and are skipped; non-finite values are rejected.
        """
        predicted = np.asarray(predicted, np.float64).reshape(-1)
        real = np.asarray(real, np.float64).reshape(-1)
        if predicted.shape != real.shape or predicted.shape[0] != len(self._ratios):
            raise ValueError(f"expected {len(self._ratios)} classes, got {predicted.shape}, "
                             f"{real.shape}")
        if not (np.isfinite(predicted).all() and np.isfinite(real).all()):
            raise ValueError("bytes must be finite")
        for c in np.flatnonzero((predicted > 0) & (real > 0)):
            self._ratios[c].append(real[c] / predicted[c])

    def factors(self) -> np.ndarray:
        """``(K,)`` multipliers for each class's predicted bytes (1 where nothing is known)."""
        if not self._enabled:
            return np.ones(len(self._ratios))
        return np.array([float(np.median(r)) if r else 1.0 for r in self._ratios])
