"""Size and accuracy profilers (paper Eqs. 3, 4), fitted offline by least squares.

- size: ``Ŝ(q) = S0 · (Σ_d α_d · Σ_{c: d_c = d} p_c q_c + β)``
- accuracy: ``Â(q) = Σ_c w_{c, d_c} · q_c + b``

With no downsampling (``d_c = 1`` for all classes) these are exactly the paper's Eqs. 3
and 4. Class-0 downsampling is modelled as its own option: patches sent downsampled by
``d`` get their own size slope ``α_d`` and their class its own accuracy weight
``w_{c,d}``, fitted from records that used that option. Predicting an option that no
record used raises ``KeyError``, instead of extrapolating.

The size fit also records how far the real bytes of its own fitting records lie above the
prediction, as quantiles of ``(real − predicted)/predicted`` (:class:`RelativeErrors`):
the scheduler packs payloads up to the byte budget, so it must know how much a linear fit
under-predicts (JPEG bytes grow faster than linearly in quality) to plan with a margin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml


@dataclass(frozen=True, kw_only=True)
class ProfileRecord:
    """One measured configuration of one frame.

    Args:
        shares: ``(K,)`` share of patches per class (sums to 1).
        qualities: ``(K,)`` JPEG quality per class (1..100).
        downsample: ``(K,)`` downsampling factor per class (1 = none).
        bytes: encoded payload size in bytes.
        raw_bytes: raw frame size ``S0`` in bytes (H·W·channels).
        accuracy: accuracy of the cloud detector on the decoded frame (e.g. AP50, 0..1).
    """

    shares: tuple[float, ...]
    qualities: tuple[int, ...]
    downsample: tuple[int, ...] = ()
    bytes: int
    raw_bytes: int
    accuracy: float

    def factors(self) -> tuple[int, ...]:
        return self.downsample or (1,) * len(self.qualities)


@dataclass(frozen=True, kw_only=True)
class FitStats:
    """Fit quality: Pearson ``r`` of predicted vs measured, ``r2``, ``n`` records, ``rmse``."""

    r: float
    r2: float
    n: int
    rmse: float


@dataclass(frozen=True, kw_only=True)
class RelativeErrors:
    """Quantiles of ``(real − predicted)/predicted`` over a fit's own records.

    Positive values are under-predictions (the payload came out larger than planned).

    Args:
        p50: median.
        p90: 90th percentile.
        p95: 95th percentile (the scheduler's default size margin).
        p99: 99th percentile.
        max: largest under-prediction (most positive value).
        n: records with a positive prediction (the only ones with a relative error).
    """

    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    n: int

    @staticmethod
    def of(*, real: np.ndarray, predicted: np.ndarray) -> RelativeErrors | None:
        """Quantiles for paired ``real``/``predicted`` values; ``None`` if no prediction > 0.

        Args:
            real: measured values.
            predicted: the fit's predictions for them, same shape.
        """
        keep = predicted > 0
        if not keep.any():
            return None
        rel = (real[keep] - predicted[keep]) / predicted[keep]
        p50, p90, p95, p99 = (float(v) for v in np.quantile(rel, [0.5, 0.9, 0.95, 0.99]))
        return RelativeErrors(p50=p50, p90=p90, p95=p95, p99=p99, max=float(rel.max()),
                              n=int(keep.sum()))


@dataclass(frozen=True, kw_only=True)
class SizeProfile:
    """Fitted Eq. 3. ``alpha[d]`` per downsampling factor, ``beta`` intercept (ratio units).

    ``relative_error``: the fit's under-prediction on its own records (``None`` for a
    profile that has none recorded, e.g. a hand-made prior or a file from before it was
    recorded).
    """

    alpha: dict[int, float]
    beta: float
    stats: FitStats
    relative_error: RelativeErrors | None = None

    def supports(self, cls: int, quality: int, downsample: int) -> bool:
        """Whether this profile can predict class ``cls`` at ``(quality, downsample)``."""
        return int(downsample) in self.alpha

    def option_bytes(
        self, *, raw_bytes: float, shares: np.ndarray, quality: np.ndarray, downsample: np.ndarray
    ) -> np.ndarray:
        """``(K, O)`` bytes ``S0·α_d·p_c·q`` of class ``c`` sent at option ``o``.

        Args:
            raw_bytes: ``S0``.
            shares: ``(K,)`` class shares.
            quality: ``(K, O)`` JPEG quality of each option.
            downsample: ``(K, O)`` downsampling factor of each option.
        """
        slopes = np.vectorize(lambda d: self.alpha[int(d)], otypes=[np.float64])(downsample)
        return raw_bytes * np.asarray(shares, np.float64)[:, None] * slopes * quality

    def fixed_bytes(self, raw_bytes: float) -> float:
        """Bytes of every payload whatever its qualities: ``S0·β``."""
        return raw_bytes * self.beta

    def ratio(self, shares: np.ndarray, qualities: np.ndarray, downsample: np.ndarray) -> float:
        """Predicted compressed/raw ratio for one configuration (arrays of length K)."""
        slopes = np.array([self.alpha[int(d)] for d in downsample])
        return float(np.dot(slopes * np.asarray(shares), np.asarray(qualities)) + self.beta)

    def predict_bytes(
        self,
        *,
        raw_bytes: int,
        shares: np.ndarray,
        qualities: np.ndarray,
        downsample: np.ndarray | None = None,
    ) -> float:
        """``Ŝ(q)`` in bytes; ``downsample`` defaults to all ones."""
        factors = np.ones(len(qualities), int) if downsample is None else downsample
        return raw_bytes * self.ratio(shares, qualities, factors)


@dataclass(frozen=True, kw_only=True)
class AccuracyProfile:
    """Fitted Eq. 4. ``weights[(c, d)]`` per class and downsampling factor, ``bias``."""

    weights: dict[tuple[int, int], float]
    bias: float
    stats: FitStats = field(compare=False)

    def supports(self, cls: int, quality: int, downsample: int) -> bool:
        """Whether this profile can predict class ``cls`` at ``(quality, downsample)``."""
        return (int(cls), int(downsample)) in self.weights

    def option_gain(
        self, *, shares: np.ndarray, quality: np.ndarray, downsample: np.ndarray
    ) -> np.ndarray:
        """``(K, O)`` accuracy term ``w_{c,d}·q`` of class ``c`` at option ``o`` (no shares:
        the paper's Eq. 4 ignores how much of the frame a class covers)."""
        rows = np.arange(quality.shape[0])[:, None].repeat(quality.shape[1], axis=1)
        weight = np.vectorize(lambda c, d: self.weights[(int(c), int(d))],
                              otypes=[np.float64])(rows, downsample)
        return weight * quality

    def predict(self, qualities: np.ndarray, downsample: np.ndarray | None = None) -> float:
        """``Â(q)`` for one configuration; ``downsample`` defaults to all ones."""
        factors = np.ones(len(qualities), int) if downsample is None else downsample
        return float(
            sum(
                self.weights[(c, int(d))] * q
                for c, (q, d) in enumerate(zip(qualities, factors, strict=False))
            )
            + self.bias
        )


def _least_squares(
    design: np.ndarray, target: np.ndarray, what: str
) -> tuple[np.ndarray, FitStats]:
    n, params = design.shape
    if n < params + 2:
        raise ValueError(
            f"{what}: {n} records cannot fit {params} coefficients (need {params + 2})"
        )
    if np.linalg.matrix_rank(design) < params:
        raise ValueError(f"{what}: records do not vary enough to fit {params} coefficients")
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    predicted = design @ coef
    residual = float(((target - predicted) ** 2).sum())
    spread = float(((target - target.mean()) ** 2).sum())
    r2 = 1.0 - residual / spread if spread > 0 else 1.0
    r = float(np.corrcoef(predicted, target)[0, 1]) if spread > 0 else 1.0
    return coef, FitStats(r=r, r2=r2, n=n, rmse=float(np.sqrt(residual / n)))


def fit_size_profile(records: list[ProfileRecord]) -> SizeProfile:
    """Least-squares Eq. 3 on ``bytes/raw_bytes``; raises ``ValueError`` on too few records."""
    factors = sorted({d for rec in records for d in rec.factors()})
    design = np.zeros((len(records), len(factors) + 1))
    for i, rec in enumerate(records):
        for p, q, d in zip(rec.shares, rec.qualities, rec.factors(), strict=False):
            design[i, factors.index(d)] += p * q
    design[:, -1] = 1.0
    target = np.array([rec.bytes / rec.raw_bytes for rec in records], np.float64)
    coef, stats = _least_squares(design, target, "size profile")
    return SizeProfile(
        alpha={d: float(a) for d, a in zip(factors, coef, strict=False)},
        beta=float(coef[-1]),
        stats=stats,
        relative_error=RelativeErrors.of(real=target, predicted=design @ coef),
    )


def fit_accuracy_profile(records: list[ProfileRecord]) -> AccuracyProfile:
    """Least-squares Eq. 4; raises ``ValueError`` on too few or too uniform records."""
    keys = sorted({(c, d) for rec in records for c, d in enumerate(rec.factors())})
    design = np.zeros((len(records), len(keys) + 1))
    for i, rec in enumerate(records):
        for c, (q, d) in enumerate(zip(rec.qualities, rec.factors(), strict=False)):
            design[i, keys.index((c, d))] = q
    design[:, -1] = 1.0
    target = np.array([rec.accuracy for rec in records], np.float64)
    coef, stats = _least_squares(design, target, "accuracy profile")
    return AccuracyProfile(
        weights={k: float(w) for k, w in zip(keys, coef, strict=False)},
        bias=float(coef[-1]),
        stats=stats,
    )


def _stats_dict(stats: FitStats) -> dict[str, float]:
    return {"r": stats.r, "r2": stats.r2, "n": stats.n, "rmse": stats.rmse}


def save_profiles(path: Path, size: SizeProfile, accuracy: AccuracyProfile) -> None:
    """Write both profiles with their fit statistics to a YAML file."""
    size_doc: dict[str, object] = {
        "alpha": {int(d): a for d, a in size.alpha.items()},
        "beta": size.beta,
        "fit": _stats_dict(size.stats),
    }
    if size.relative_error is not None:
        # Beside ``fit``, not in it: loaders that predate it build FitStats(**fit) and
        # would reject an unknown key, so files written now still load there.
        size_doc["relative_error"] = {
            "definition": "(real - predicted) / predicted bytes on the fitting records",
            **asdict(size.relative_error),
        }
    document = {
        "size": size_doc,
        "accuracy": {
            "weights": [
                {"class": c, "downsample": d, "w": w} for (c, d), w in accuracy.weights.items()
            ],
            "bias": accuracy.bias,
            "fit": _stats_dict(accuracy.stats),
        },
    }
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))


def load_profiles(path: Path) -> tuple[SizeProfile, AccuracyProfile]:
    """Read profiles written by :func:`save_profiles`."""
    document = yaml.safe_load(Path(path).read_text())
    size, acc = document["size"], document["accuracy"]
    size_fit = FitStats(**{**size["fit"], "n": int(size["fit"]["n"])})
    acc_fit = FitStats(**{**acc["fit"], "n": int(acc["fit"]["n"])})
    errors = size.get("relative_error")  # absent in files written before it was recorded
    return (
        SizeProfile(
            alpha={int(d): float(a) for d, a in size["alpha"].items()},
            beta=float(size["beta"]),
            stats=size_fit,
            relative_error=None if errors is None else RelativeErrors(
                **{k: float(errors[k]) for k in ("p50", "p90", "p95", "p99", "max")},
                n=int(errors["n"]),
            ),
        ),
        AccuracyProfile(
            weights={
                (int(e["class"]), int(e["downsample"])): float(e["w"]) for e in acc["weights"]
            },
            bias=float(acc["bias"]),
            stats=acc_fit,
        ),
    )
