"""The scheduler's profile file: size and accuracy models, the edge's accuracy, the byte
price, and where they came from.

Two layouts are read:

- ``format: hyperion-profiles/2``: measured per-class size tables
  (:class:`~.size_table.SizeTable`), an accuracy model per unit of class share
  (:class:`~.accuracy_table.ShareAccuracy`) or the paper's Eq. 4, the edge-only accuracy,
  the byte price chosen on the profiling data, and ``provenance`` (models, frames, fits);
- the first layout (no ``format`` key): the paper's Eqs. 3 and 4 only
  (:func:`~.profiles.load_profiles`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

import hyperion_core
from hyperion_core.fuse.calibrated import CalibratedFusion, fusion_from_dict, fusion_to_dict
from hyperion_core.schedule.accuracy_table import ShareAccuracy
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    FitStats,
    RelativeErrors,
    SizeProfile,
    load_profiles,
)
from hyperion_core.schedule.size_table import SizeTable

FORMAT = "hyperion-profiles/2"


#: The profiles shipped with hyperion_core (3 classes) that the scheduler and the ensembler
#: use when no file is given: fitted on real 4K drone frames with human labels (a real
#: Ultra-HD camera). ``default_profiles.yaml`` beside it is the composite evaluation's.
SHIPPED_PROFILES = Path(hyperion_core.__file__).parent / "eval" / "data" / "real4k_profiles.yaml"


@dataclass(frozen=True, kw_only=True)
class Profiles:
    """Everything the scheduler plans with.

    Args:
        size: bytes per class option.
        accuracy: accuracy per class option.
        edge_accuracy: measured accuracy of the edge's answer alone on the profiling
            frames, on the accuracy model's scale; ``None`` if not measured.
        byte_price: accuracy per MB the scheduler asks of every byte, chosen on the
            profiling data (:func:`~.price.choose_byte_price`); 0 = none.
        provenance: how the file was made (free-form, kept as read).
        fusion: the fusion fitted on the same frames (``fusion:`` section; the ensembler
            loads it), or ``None`` (Eq. 6 with the ensembler's parameters).
    """

    size: SizeProfile | SizeTable
    accuracy: AccuracyProfile | ShareAccuracy
    edge_accuracy: float | None = None
    byte_price: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    fusion: CalibratedFusion | None = None


def _fit(stats: FitStats) -> dict[str, float]:
    return {"r": stats.r, "r2": stats.r2, "n": stats.n, "rmse": stats.rmse}


def _stats(doc: dict[str, Any]) -> FitStats:
    return FitStats(r=float(doc["r"]), r2=float(doc["r2"]), n=int(doc["n"]),
                    rmse=float(doc["rmse"]))


def _size_doc(size: SizeProfile | SizeTable) -> dict[str, Any]:
    if isinstance(size, SizeTable):
        doc: dict[str, Any] = {
            "model": "table", "qualities": list(size.qualities), "beta": size.beta,
            "tables": [{"class": c, "downsample": d, "ratio": list(v)}
                       for (c, d), v in sorted(size.ratios.items())],
        }
    else:
        doc = {"model": "paper", "alpha": {int(d): a for d, a in size.alpha.items()},
               "beta": size.beta, "fit": _fit(size.stats)}
    if size.relative_error is not None:
        doc["relative_error"] = {
            "definition": "(real - predicted) / predicted bytes on the fitting frames",
            **asdict(size.relative_error)}
    return doc


def _accuracy_doc(acc: AccuracyProfile | ShareAccuracy) -> dict[str, Any]:
    if isinstance(acc, ShareAccuracy):
        return {"model": "share", "shape": acc.shape, "knots": list(acc.knots),
                "bias": acc.bias, "fit": _fit(acc.stats),
                "tables": [{"class": c, "downsample": d, "gain": list(v)}
                           for (c, d), v in sorted(acc.tables.items())]}
    return {"model": "paper", "bias": acc.bias, "fit": _fit(acc.stats),
            "weights": [{"class": c, "downsample": d, "w": w}
                        for (c, d), w in sorted(acc.weights.items())]}


def write_profiles(path: Path, profiles: Profiles) -> None:
    """Write ``profiles`` as YAML (the ``hyperion-profiles/2`` layout)."""
    document = {
        "format": FORMAT,
        "size": _size_doc(profiles.size),
        "accuracy": _accuracy_doc(profiles.accuracy),
        "edge_accuracy": profiles.edge_accuracy,
        "byte_price": profiles.byte_price,
        "provenance": profiles.provenance,
    }
    if profiles.fusion is not None:
        document["fusion"] = fusion_to_dict(profiles.fusion)
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))


def _errors(doc: dict[str, Any] | None) -> RelativeErrors | None:
    if doc is None:
        return None
    return RelativeErrors(**{k: float(doc[k]) for k in ("p50", "p90", "p95", "p99", "max")},
                          n=int(doc["n"]))


def _read_size(doc: dict[str, Any]) -> SizeProfile | SizeTable:
    if doc["model"] == "table":
        return SizeTable(qualities=tuple(int(q) for q in doc["qualities"]),
                         ratios={(int(t["class"]), int(t["downsample"])):
                                 tuple(float(v) for v in t["ratio"]) for t in doc["tables"]},
                         beta=float(doc["beta"]), relative_error=_errors(doc.get("relative_error")))
    return SizeProfile(alpha={int(d): float(a) for d, a in doc["alpha"].items()},
                       beta=float(doc["beta"]), stats=_stats(doc["fit"]),
                       relative_error=_errors(doc.get("relative_error")))


def _read_accuracy(doc: dict[str, Any]) -> AccuracyProfile | ShareAccuracy:
    if doc["model"] == "share":
        return ShareAccuracy(knots=tuple(int(k) for k in doc["knots"]),
                             tables={(int(t["class"]), int(t["downsample"])):
                                     tuple(float(v) for v in t["gain"]) for t in doc["tables"]},
                             bias=float(doc["bias"]), stats=_stats(doc["fit"]),
                             shape=doc.get("shape", "table"))
    return AccuracyProfile(weights={(int(e["class"]), int(e["downsample"])): float(e["w"])
                                    for e in doc["weights"]},
                           bias=float(doc["bias"]), stats=_stats(doc["fit"]))


def read_profiles(path: Path) -> Profiles:
    """Read a profile file of either layout.

    Raises:
        ValueError: naming the file, for an unknown ``format`` or a malformed document.
    """
    document = yaml.safe_load(Path(path).read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a profile file (expected a YAML mapping)")
    layout = document.get("format")
    if layout is None:
        size, accuracy = load_profiles(Path(path))
        return Profiles(size=size, accuracy=accuracy,
                        provenance=document.get("provenance") or {})
    if layout != FORMAT:
        raise ValueError(f"{path}: unknown profile format {layout!r} (this reader: {FORMAT})")
    try:
        edge = document.get("edge_accuracy")
        return Profiles(size=_read_size(document["size"]),
                        accuracy=_read_accuracy(document["accuracy"]),
                        edge_accuracy=None if edge is None else float(edge),
                        byte_price=float(document.get("byte_price") or 0.0),
                        provenance=document.get("provenance") or {},
                        fusion=None if document.get("fusion") is None else
                        fusion_from_dict(document["fusion"], source=f"{path}: fusion"))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: malformed profile file: {err!r}") from err
