"""Runs an :class:`~hyperion_core.eval.evaluate.EvalConfig`: simulate, detect, score, and
write ``results.json``, ``results.md`` and the figures.

Every trace window runs every method on the same chunk of frames from the same trace time,
so methods are compared on paired runs, and every figure has a bootstrap interval over
runs (:mod:`hyperion_core.eval.scoring`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.crossfit import Fold, cyclic_sequences
from hyperion_core.eval.devices import DeviceProfile
from hyperion_core.eval.evaluate import EvalConfig, Prepared, prepare, save_json, window_offsets
from hyperion_core.eval.methods import build_methods, method_fusion
from hyperion_core.eval.network import Link
from hyperion_core.eval.runner import run_jobs
from hyperion_core.eval.scoring import (
    Fusion,
    RunScores,
    ap50_gap,
    bytes_ratio,
    score_run,
    summarise,
)
from hyperion_core.eval.timeline import Outcome, Settings, run_method
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.link.trace import Trace
from hyperion_core.schedule.profile_file import Profiles, read_profiles

#: The paper's 4G uplink for the budget sweep (Fig. 10), bit/s.
SWEEP_RATE_BPS = 47.9e6
BUDGET_SWEEP_S = (0.3, 0.4, 0.5, 0.65, 1.0, 2.0)
CLOUD_SWEEP_S = (0.04, 0.1, 0.2, 0.4)


@dataclass(frozen=True, kw_only=True, eq=False)
class Run:
    """Every method on one chunk of frames from one trace time.

    Args:
        link: trace spec.
        frames: evaluation frame indices, in order.
        offset_s: trace time of the first frame.
        outcomes: per method, one outcome per frame.
        fusion: per method that fuses with a fitted fusion, that fusion (the others: Eq. 6
            with the ensembler's defaults).
        fold: the cross-fit fold the run belongs to (``""``: none).
    """

    link: str
    frames: list[int]
    offset_s: float
    outcomes: dict[str, list[Outcome]]
    fusion: dict[str, Fusion] = field(default_factory=dict)
    fold: str = ""


def frame_chunks(prep: Prepared, size: int) -> list[list[int]]:
    """Consecutive frames of one source each, ``size`` at a time (sources never mix)."""
    out: list[list[int]] = []
    for source in dict.fromkeys(f.source for f in prep.inputs):
        idx = [f.index for f in prep.inputs if f.source == source]
        out += [idx[k:k + size] for k in range(0, len(idx), size)]
    return out


def simulate(prep: Prepared, methods: dict[str, object], links: tuple[tuple[str, Link], ...],
             *, settings: Settings, windows: int, chunk: int, seed: int,
             fold: Fold | None = None, fusion: dict[str, Fusion] | None = None) -> list[Run]:
    """Every method on every window; chunks are dealt to windows in turn.

    Args:
        fold: play only this fold's scored frames, as loops
            (:func:`~hyperion_core.eval.crossfit.cyclic_sequences`), not chunks.
        fusion: recorded in every run (see :class:`Run`).
    """
    rng = np.random.default_rng(seed)
    if fold is None:
        parts = frame_chunks(prep, chunk)
        horizon = chunk
    else:
        count = len(links) * windows
        parts = cyclic_sequences(fold.scored, runs=count, warmup=settings.warmup_frames)
        horizon = len(parts[0])
    runs, k = [], 0
    for spec, link in links:
        for offset in window_offsets(link, windows, horizon * settings.budget_s * 4, rng):
            frames = parts[k % len(parts)]
            k += 1
            inputs = [prep.inputs[i] for i in frames]
            outcomes = {name: run_method(m, inputs, link, offset, settings.budget_s)  # type: ignore[arg-type]
                        for name, m in methods.items()}
            runs.append(Run(link=spec, frames=frames, offset_s=offset, outcomes=outcomes,
                            fusion=dict(fusion or {}), fold="" if fold is None else fold.name))
    return runs


def detect(runs: list[Run], cfg: EvalConfig) -> None:
    """Run every model pass the answers need (cached ones are skipped)."""
    jobs = [j for r in runs for outs in r.outcomes.values() for o in outs for j in o.jobs]
    run_jobs(jobs, cache_root=cfg.cache_dir, workers=cfg.jobs, label="detect")


def score(runs: list[Run], prep: Prepared, *, warmup: int, fusion: EnsembleConfig
          ) -> dict[str, list[RunScores]]:
    """Per method, one :class:`RunScores` per run (same order for every method).

    Args:
        fusion: Eq. 6 settings of every method without a fitted fusion in its run.
    """
    methods = list(runs[0].outcomes) if runs else []
    return {m: [score_run(r.outcomes[m], [prep.references[i] for i in r.frames],
                          cache=prep.cache, fusion=r.fusion.get(m, fusion), warmup=warmup)
                for r in runs]
            for m in methods}


def compare(scores: dict[str, list[RunScores]], *, budget_s: float, reps: int
            ) -> dict[str, object]:
    """Per-method summaries, Hyperion's paired gaps to every other method, the V2 sweep."""
    summary = {m: summarise(s, budget_s=budget_s, reps=reps) for m, s in scores.items()}
    out: dict[str, object] = {"methods": summary}
    if "hyperion" in scores:
        out["hyperion_minus"] = {m: ap50_gap(scores["hyperion"], s, reps=reps).as_dict()
                                 for m, s in scores.items() if m != "hyperion"}
        out["hyperion_bytes_over"] = {m: bytes_ratio(scores["hyperion"], s, reps=reps).as_dict()
                                      for m in ("elf", "elf-v", "cloud-only") if m in scores
                                      for s in [scores[m]]}
    sweep = {m: summary[m]["ap50"]["value"] for m in summary if m.startswith("v2:")}  # type: ignore[index]
    if sweep:
        ranked = sorted(sweep, key=sweep.get)  # type: ignore[arg-type]
        best, median = ranked[-1], ranked[len(ranked) // 2]
        out["v2_sweep"] = {"policies": sweep, "best_in_hindsight": best, "median": median}
        if "hyperion" in scores:
            out["hyperion_minus"]["v2 best in hindsight"] = ap50_gap(  # type: ignore[index]
                scores["hyperion"], scores[best], reps=reps).as_dict()
            out["hyperion_minus"]["v2 median"] = ap50_gap(  # type: ignore[index]
                scores["hyperion"], scores[median], reps=reps).as_dict()
    return out


#: A 5G-MeMU run's spec: scenario/network/[file/]run.
MEMU_SPEC = re.compile(r"^(static|walking|driving)/(5g|lte)/")


def scenario_of(spec: str) -> str:
    """``driving/lte/8`` → ``driving/lte``; any other link (a trace file, a constant rate)
    is a scenario of its own."""
    return "/".join(spec.split("/")[:2]) if MEMU_SPEC.match(spec) else spec


def budget_sweep(cfg: EvalConfig, prep: Prepared, profiles: Profiles, device: DeviceProfile,
                 fusion: EnsembleConfig) -> dict[str, object]:
    """Fig. 10: every budget on a constant 47.9 Mbit/s uplink, every chunk once."""
    link = Link(throughput=Trace.from_steps([(SWEEP_RATE_BPS, 1e6)], loop=True, name="4G"))
    out = {}
    for budget in BUDGET_SWEEP_S:
        settings = replace(cfg.settings, budget_s=budget)
        methods = build_methods(cfg, prep, profiles, settings=settings, device=device,
                                names=[m for m in cfg.methods if m != "v2"])
        chunks = len(frame_chunks(prep, cfg.chunk))
        runs = simulate(prep, methods, tuple((f"4G/{k}", link) for k in range(chunks)),
                        settings=settings, windows=1, chunk=cfg.chunk, seed=cfg.seed,
                        fusion=method_fusion(list(methods), profiles))
        detect(runs, cfg)
        scores = score(runs, prep, warmup=settings.warmup_frames, fusion=fusion)
        out[str(budget)] = {m: summarise(s, budget_s=budget, reps=cfg.reps)
                            for m, s in scores.items()}
    return out


def cloud_sweep(cfg: EvalConfig, prep: Prepared, profiles: Profiles, device: DeviceProfile,
                fusion: EnsembleConfig) -> dict[str, object]:
    """Sensitivity to the cloud's compute time (the paper's V100 figure is unverified)."""
    out = {}
    for cloud_s in CLOUD_SWEEP_S:
        dev = replace(device, cloud_s=cloud_s, name=f"{device.name}, cloud {cloud_s:g} s")
        methods = build_methods(cfg, prep, profiles, settings=cfg.settings, device=dev,
                                names=[m for m in ("hyperion", "cloud-only", "elf-v", "edge-only")
                                       if m in cfg.methods])
        runs = simulate(prep, methods, cfg.links, settings=cfg.settings,
                        windows=cfg.windows_per_trace, chunk=cfg.chunk, seed=cfg.seed,
                        fusion=method_fusion(list(methods), profiles))
        detect(runs, cfg)
        scores = score(runs, prep, warmup=cfg.settings.warmup_frames, fusion=fusion)
        out[str(cloud_s)] = {m: summarise(s, budget_s=cfg.settings.budget_s, reps=cfg.reps)
                             for m, s in scores.items()}
    return out


def run_evaluation(cfg: EvalConfig, out: Path, *, sweeps: bool = True,
                   human_labels: bool = True) -> dict[str, object]:
    """Evaluate, write ``results.json``, ``results.md`` and the figures into ``out``.

    Args:
        cfg: what to evaluate.
        out: folder for the results.
        sweeps: also run the budget and cloud-time sweeps.
        human_labels: also score every method against the hand labels.
    """
    from hyperion_core.eval import figures
    from hyperion_core.eval.markdown import markdown_tables

    out.mkdir(parents=True, exist_ok=True)
    prep = prepare(cfg)
    profiles = read_profiles(cfg.profiles_path)
    fusion = EnsembleConfig()
    folds: dict[str, object] = {}
    if cfg.cross_fit:
        from hyperion_core.eval.crossfit_run import simulate_folds

        runs, folds = simulate_folds(cfg, prep, out)
    else:
        methods = build_methods(cfg, prep, profiles, settings=cfg.settings, device=prep.device,
                                names=list(cfg.methods))
        runs = simulate(prep, methods, cfg.links, settings=cfg.settings,
                        windows=cfg.windows_per_trace, chunk=cfg.chunk, seed=cfg.seed,
                        fusion=method_fusion(list(methods), profiles))
    detect(runs, cfg)
    scores = score(runs, prep, warmup=cfg.settings.warmup_frames, fusion=fusion)
    by_scenario = {
        scenario: compare({m: [s for s, r in zip(v, runs, strict=True)
                               if scenario_of(r.link) == scenario]
                           for m, v in scores.items()},
                          budget_s=cfg.settings.budget_s, reps=cfg.reps)
        for scenario in sorted({scenario_of(r.link) for r in runs})}
    results: dict[str, object] = {
        **compare(scores, budget_s=cfg.settings.budget_s, reps=cfg.reps),
        "per_scenario": {name: c["methods"] for name, c in by_scenario.items()},
        "per_scenario_gaps": {name: c.get("hyperion_minus", {})
                              for name, c in by_scenario.items()},
        "per_source": {
            source: compare({m: [s for s, r in zip(v, runs, strict=True)
                                 if prep.inputs[r.frames[0]].source == source]
                             for m, v in scores.items()},
                            budget_s=cfg.settings.budget_s, reps=cfg.reps)["methods"]
            for source in sorted({f.source for f in prep.inputs})},
        "setup": {
            "frames": [spec.describe() for spec in cfg.frames],
            "evaluated_frames": len(prep.inputs), "chunk": cfg.chunk,
            "traces": [spec for spec, _ in cfg.links], "runs": len(runs),
            "windows_per_trace": cfg.windows_per_trace, "seed": cfg.seed,
            "budget_ms": cfg.settings.budget_s * 1e3, "device": prep.device.as_dict(),
            "settings": cfg.settings.__dict__, "profiles": str(cfg.profiles_path),
            "importance": cfg.importance.source, "reference": "registry model 'reference' "
            "on the original frames", "methods": list(cfg.methods),
        },
        "trace_mean_mbps": {spec: link.throughput.mean_rate_bps() / 1e6
                            for spec, link in cfg.links},
        "time_series": time_series(runs[0], scores) if runs else {},
    }
    if cfg.cross_fit:
        results["folds"] = {name: {**info, **compare(  # type: ignore[dict-item]
            {m: [s for s, r in zip(v, runs, strict=True) if r.fold == name]
             for m, v in scores.items()}, budget_s=cfg.settings.budget_s, reps=cfg.reps)}
            for name, info in folds.items()}
        results["setup"]["cross_fit"] = "fit on one half of the frames, score the other, swap"  # type: ignore[index]
    if "hyperion" in scores:
        results["fusion_losses"] = fusion_losses(runs, prep, fusion)
    if cfg.ground_truth is not None:
        from hyperion_core.eval.crossfit_run import models_on_originals

        results["originals"] = models_on_originals(cfg, prep, results)
    if human_labels:
        from hyperion_core.eval.labelled_methods import human_label_table

        results["human_labels"] = human_label_table(replace(cfg, v2_policies=()), prep,
                                                    profiles, names=list(cfg.methods))
    if sweeps:
        if cfg.cross_fit:
            raise ValueError("the budget and cloud-time sweeps do not cross-fit: use "
                             "--no-sweeps with --cross-fit")
        results["budget_sweep"] = {"rate_mbps": SWEEP_RATE_BPS / 1e6,
                                   "results": budget_sweep(cfg, prep, profiles, prep.device,
                                                           fusion)}
        results["cloud_sweep"] = cloud_sweep(cfg, prep, profiles, prep.device, fusion)
    save_json(out / "results.json", results)
    (out / "results.md").write_text(markdown_tables(results))
    figures.write_all(results, dict(cfg.links), out)
    return results


def fusion_losses(runs: list[Run], prep: Prepared, fusion: EnsembleConfig,
                  method: str = "hyperion", tolerance: float = 0.01) -> dict[str, float]:
    """How often a fused answer scores below the better of its two inputs on its frame
    (single-frame AP50 against the frame's ground truth), warm-up frames included."""
    from hyperion_core.eval.scoring import resolve
    from hyperion_core.metrics.ap_matches import ap50, match_image

    def frame_ap(truth: object, found: object) -> float:
        value = float(ap50([match_image(truth, found)]))  # type: ignore[arg-type]
        return 1.0 if np.isnan(value) else value  # no person, no box: nothing to lose

    gaps = []
    for run in runs:
        for frame, outcome in zip(run.frames, run.outcomes[method], strict=True):
            if outcome.answer != "fuse":
                continue
            truth = prep.references[frame]
            fused = frame_ap(truth, resolve(outcome, prep.cache, run.fusion.get(method, fusion)))
            inputs = [frame_ap(truth, prep.cache.get(j.key)) for j in outcome.jobs[:2]]
            gaps.append(fused - max(inputs))
    worse = int(sum(g < -tolerance for g in gaps))
    return {"fused": len(gaps), "worse": worse, "share": worse / len(gaps) if gaps else 0.0,
            "mean_gap": float(np.mean(gaps)) if gaps else 0.0}


def time_series(run: Run, scores: dict[str, list[RunScores]]) -> dict[str, object]:
    """Fig. 9 data: the first run's per-frame start, latency, bytes and qualities."""
    return {"trace": run.link, "offset_s": run.offset_s,
            "methods": {m: {"start_s": [o.start_s for o in outs],
                            "latency_s": [o.latency_s for o in outs],
                            "bytes_sent": [o.bytes_sent for o in outs],
                            "answer": [o.answer for o in outs],
                            "qualities": [list(o.qualities) for o in outs]}
                        for m, outs in run.outcomes.items()}}
