"""From profiling measurements to the scheduler's profile file, with the evidence for it.

- size: per-class tables (:func:`~hyperion_core.schedule.size_table.fit_size_table`); their
  error on the profiling payloads is recorded twice: open loop (the table alone) and closed
  loop (each frame predicted with the correction learnt from the frames before it, as the
  scheduler does); the closed-loop 95th percentile is the default size margin;
- accuracy: the per-unit-share table (the scheduler's model); a line per unit share and the
  paper's plain Eq. 4 are fitted too and all three are judged on held-out frames (fit on the
  even frames, predict the odd ones, and back);
- per-class effects (accuracy gained by a class going from the lowest to the highest
  knot, at its mean share) with bootstrap intervals over frames;
- the byte price by :func:`~hyperion_core.schedule.price.choose_byte_price`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hyperion_core.eval.profile_builder import Measurements, ProfileConfig
from hyperion_core.eval.stats import bootstrap
from hyperion_core.fuse.fit import fit_fusion
from hyperion_core.schedule.accuracy_table import ShareAccuracy, fit_share_accuracy
from hyperion_core.schedule.price import choose_byte_price
from hyperion_core.schedule.profile_file import Profiles
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    ProfileRecord,
    RelativeErrors,
    fit_accuracy_profile,
)
from hyperion_core.schedule.size_table import SizeCorrection, SizeTable, fit_size_table


def size_errors(table: SizeTable, m: Measurements) -> dict[str, RelativeErrors | None]:
    """Open- and closed-loop relative errors of whole payloads on the profiling frames."""
    classes = m.shares.shape[1]
    correction = SizeCorrection(classes=classes, window=5)
    open_loop, closed_loop, real = [], [], []
    for i, payloads in enumerate(m.payloads):
        factors = correction.factors()
        for q, d, total in payloads:
            down = (d,) + (1,) * (classes - 1)
            model = table.class_bytes(raw_bytes=m.raw_bytes[i], shares=m.shares[i],
                                      qualities=q, downsample=down)
            fixed = table.fixed_bytes(m.raw_bytes[i])
            open_loop.append(fixed + model.sum())
            closed_loop.append(fixed + (model * factors).sum())
            real.append(total)
        # What the encoder reports of this frame teaches the next ones (a mid quality).
        q_mid = table.qualities[len(table.qualities) // 2]
        model = table.class_bytes(raw_bytes=m.raw_bytes[i], shares=m.shares[i],
                                  qualities=(q_mid,) * classes, downsample=(1,) * classes)
        measured = _class_bytes_of(m, i, q_mid, classes)
        if measured is not None:
            correction.add(predicted=model, real=measured)
    real_a = np.asarray(real, np.float64)
    return {"open_loop": RelativeErrors.of(real=real_a, predicted=np.asarray(open_loop)),
            "closed_loop": RelativeErrors.of(real=real_a, predicted=np.asarray(closed_loop))}


def _class_bytes_of(m: Measurements, frame: int, quality: int, classes: int
                    ) -> np.ndarray | None:
    """Real bytes per class of ``frame`` encoded at ``quality`` (full resolution)."""
    picked = {c.cls: c.nbytes for c in m.class_bytes[frame]
              if c.quality == quality and c.downsample == 1}
    return np.array([picked[c] for c in range(classes)], float) if len(picked) == classes \
        else None


def _held_out(fit: Any, m: Measurements, predict: Any) -> dict[str, float]:
    """Fit on even frames and predict odd ones' pooled records, and back: r and rmse."""
    n = len(m.raw_bytes)
    halves = (np.arange(0, n, 2), np.arange(1, n, 2))
    truth, guess = [], []
    for train, test in (halves, halves[::-1]):
        model = fit(m.records(train))
        for rec in m.records(test):
            truth.append(rec.accuracy)
            guess.append(predict(model, rec))
    truth_a, guess_a = np.array(truth), np.array(guess)
    varies = np.ptp(truth_a) > 0 and np.ptp(guess_a) > 0
    return {"r": float(np.corrcoef(truth_a, guess_a)[0, 1]) if varies else 0.0,
            "rmse": float(np.sqrt(((truth_a - guess_a) ** 2).mean())), "n": len(truth_a)}


def _predict_share(model: ShareAccuracy, rec: ProfileRecord) -> float:
    return model.predict(np.array(rec.qualities), np.array(rec.factors()),
                         shares=np.array(rec.shares))


def _predict_paper(model: AccuracyProfile, rec: ProfileRecord) -> float:
    return model.predict(np.array(rec.qualities), np.array(rec.factors()))


def effects(m: Measurements, *, reps: int = 200, seed: int = 0) -> list[dict[str, float]]:
    """Per class: accuracy gained from the lowest to the highest knot at its mean share."""
    classes = m.shares.shape[1]
    out = []
    for c in range(classes):
        def effect(frames: np.ndarray, cls: int = c) -> float:
            model = fit_share_accuracy(m.records(frames))
            return model.effect(cls, float(m.shares[frames, cls].mean()))

        interval = bootstrap(effect, len(m.raw_bytes), reps=reps, seed=seed)
        out.append({"class": c, "share": float(m.shares[:, c].mean()), **interval.as_dict()})
    return out


def fit_profiles(m: Measurements, cfg: ProfileConfig, *, qualities: tuple[int, ...],
                 reps: int = 200, fuse: bool = True) -> tuple[Profiles, dict[str, Any]]:
    """The scheduler's profiles and the evidence (held-out fits, effects, size errors).

    Args:
        m: the measurements.
        cfg: how they were made (recorded in the provenance).
        qualities: the qualities the scheduler will offer (for the byte price).
        reps: bootstrap resamples for the effects.
        fuse: fit the calibrated fusion on the same frames first
            (:func:`~hyperion_core.fuse.fit.fit_fusion`), and model the accuracy of the
            answers it fuses; else Eq. 6 with ``cfg.fusion``.
    """
    fusion = None
    if fuse:
        fusion = fit_fusion(m.fusion_samples(), list(zip(m.edge_found, m.truth, strict=True)),
                            nms_iou=cfg.fusion.nms_iou,
                            provenance={"frames": [spec.describe() for spec in cfg.frames],
                                        "payloads": "the profiling design"})
        m = m.with_fusion(fusion)
    table = fit_size_table([c for frame in m.class_bytes for c in frame],
                           overhead_ratio=m.overhead_ratio, classes=m.shares.shape[1])
    errors = size_errors(table, m)
    table = replace(table, relative_error=errors["closed_loop"])
    records = m.records()
    accuracy = fit_share_accuracy(records)
    frames = [(m.shares[i], m.raw_bytes[i]) for i in range(len(m.raw_bytes))]
    price = choose_byte_price(size=table, accuracy=accuracy, frames=frames, qualities=qualities)
    evidence = {
        "held_out": {
            "share_table": _held_out(fit_share_accuracy, m, _predict_share),
            "share_linear": _held_out(lambda r: fit_share_accuracy(r, shape="linear"), m,
                                      _predict_share),
            "paper_eq4": _held_out(fit_accuracy_profile, m, _predict_paper),
        },
        "effects": effects(m, reps=reps),
        "size_errors": {k: None if v is None else v.__dict__ for k, v in errors.items()},
        "accuracy_range": [min(r.accuracy for r in records), max(r.accuracy for r in records)],
        "edge_accuracy": m.edge_accuracy(),
    }
    provenance = {
        "frames": [spec.describe() for spec in cfg.frames],
        "classes": cfg.classes, "knots": list(cfg.knots),
        "low_knots": list(cfg.low_knots),
        "size_qualities": list(cfg.size_qualities),
        "class0_downsample": list(cfg.class0_downsample),
        "importance": {"source": cfg.importance.source,
                       "weights": list(cfg.importance.weights)},
        "reclass": cfg.reclass.__dict__,
        "fusion": "calibrated (the fusion section)" if fusion is not None else
        {**cfg.fusion.__dict__, "unmatched": cfg.fusion.unmatched.value},
        "accuracy": "AP50 of the fused answer (edge + cloud on the decoded frame, "
                    + ("calibrated fusion" if fusion is not None else "Eq. 6")
                    + ") against the ground truth of the original frame (" + cfg.truth
                    + "), pooled over the frames per combination",
        "design_combinations": len(m.combos),
        "byte_price_rule": "keep 95 % of the predicted gain on the median profiling frame",
    }
    profiles = Profiles(size=table, accuracy=accuracy, edge_accuracy=m.edge_accuracy(),
                        byte_price=price, provenance={**provenance, "evidence": evidence},
                        fusion=fusion)
    return profiles, evidence
