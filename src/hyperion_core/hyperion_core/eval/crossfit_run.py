"""The cross-fitted evaluation (:mod:`.crossfit`): per fold, fit on the other half, simulate
this half; and the models on the original frames, the yardstick of the cloud's advantage.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.crossfit import Fold, fitted_specs, halves
from hyperion_core.eval.evaluate import EvalConfig, Prepared
from hyperion_core.eval.methods import build_methods, method_fusion
from hyperion_core.eval.models import Job
from hyperion_core.eval.payloads import Payload
from hyperion_core.eval.profile_builder import ProfileConfig, measure
from hyperion_core.eval.profile_cli import SCHEDULER_QUALITIES
from hyperion_core.eval.profile_fit import fit_profiles
from hyperion_core.eval.runner import run_jobs
from hyperion_core.eval.stats import bootstrap, paired_difference
from hyperion_core.metrics.ap_matches import ap50, match_image
from hyperion_core.schedule.profile_file import Profiles, write_profiles


def slug(name: str) -> str:
    """A file-name form of a fold's name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def fold_profiles(cfg: EvalConfig, prep: Prepared, fold: Fold) -> Profiles:
    """Profiles, byte price and fusion fitted on ``fold.fitted`` only, against their ground
    truth (``prep.references``: the human labels when the evaluation has them)."""
    specs = fitted_specs(cfg.frames, fold.fitted)
    truth = str(cfg.ground_truth) if cfg.ground_truth is not None else "evaluation reference"
    pcfg = ProfileConfig(frames=specs, jobs=cfg.jobs, cache_dir=cfg.cache_dir,
                         importance=cfg.importance, truth=truth)
    frames = [np.load(prep.inputs[i].path) for i in fold.fitted]  # type: ignore[call-overload]
    measured = measure(pcfg, frames=frames, truth=[prep.references[i] for i in fold.fitted])
    profiles, _ = fit_profiles(measured, pcfg, qualities=SCHEDULER_QUALITIES)
    provenance = {**profiles.provenance, "cross_fit": {
        "fold": fold.name, "fitted_frames": list(fold.fitted),
        "scored_frames": list(fold.scored),
        "fitted_digests": [prep.inputs[i].digest for i in fold.fitted],
        "scored_digests": [prep.inputs[i].digest for i in fold.scored]}}
    return replace(profiles, provenance=provenance)


def simulate_folds(cfg: EvalConfig, prep: Prepared, out: Path
                   ) -> tuple[list, dict[str, object]]:
    """Every fold's runs (each method built from what that fold fitted) and, per fold, what
    was fitted; the fitted profiles are written to ``out/profiles-<fold>.yaml``."""
    from hyperion_core.eval.report import simulate

    runs: list = []
    info: dict[str, object] = {}
    for fold in halves(len(prep.inputs)):
        profiles = fold_profiles(cfg, prep, fold)
        write_profiles(out / f"profiles-{slug(fold.name)}.yaml", profiles)
        fold_prep = replace(prep, calibration=[(prep.inputs[i], prep.references[i])
                                               for i in fold.fitted])
        methods = build_methods(cfg, fold_prep, profiles, settings=cfg.settings,
                                device=prep.device, names=list(cfg.methods))
        runs += simulate(fold_prep, methods, cfg.links, settings=cfg.settings,
                         windows=cfg.windows_per_trace, chunk=cfg.chunk, seed=cfg.seed,
                         fold=fold, fusion=method_fusion(list(methods), profiles))
        fusion = profiles.fusion
        info[fold.name] = {
            "scored_frames": list(fold.scored), "fitted_frames": list(fold.fitted),
            "byte_price": profiles.byte_price, "edge_accuracy": profiles.edge_accuracy,
            "fusion_match_iou": None if fusion is None else fusion.match_iou,
            "profiles": f"profiles-{slug(fold.name)}.yaml"}
    return runs, info


def models_on_originals(cfg: EvalConfig, prep: Prepared, results: dict[str, object]
                        ) -> dict[str, object]:
    """Edge and cloud on the original frames (no network) against the ground truth, with
    bootstrap intervals over frames, and the share of the cloud's advantage Hyperion turns
    into answers: (Hyperion − edge-only) / (cloud − edge), from the pooled AP50s."""
    original = Payload(kind="original")
    jobs = {m: [Job(model=m, frame_path=f.path, digest=f.digest, payload=original)  # type: ignore[arg-type]
                for f in prep.inputs] for m in ("edge", "cloud")}
    run_jobs([j for js in jobs.values() for j in js], cache_root=cfg.cache_dir,
             workers=cfg.jobs, label="models on the originals")
    matches = {m: [match_image(t, prep.cache.get(j.key))  # type: ignore[arg-type]
                   for t, j in zip(prep.references, js, strict=True)]
               for m, js in jobs.items()}

    def pooled(m: str):
        return lambda idx: float(ap50([matches[m][i] for i in idx]))

    n = len(prep.inputs)
    out: dict[str, object] = {
        m: bootstrap(pooled(m), n, reps=cfg.reps).as_dict() for m in matches}
    out["cloud_minus_edge"] = paired_difference(pooled("cloud"), pooled("edge"), n,
                                                reps=cfg.reps).as_dict()
    methods = results.get("methods", {})
    if "hyperion" in methods and "edge-only" in methods:  # type: ignore[operator]
        gain = out["cloud_minus_edge"]["value"]  # type: ignore[index]
        got = (methods["hyperion"]["ap50"]["value"]  # type: ignore[index]
               - methods["edge-only"]["ap50"]["value"])  # type: ignore[index]
        out["cloud_gain_realised"] = float(got / gain) if gain > 0 else float("nan")
    return out
