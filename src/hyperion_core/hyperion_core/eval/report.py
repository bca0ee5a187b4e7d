"""Runs an :class:`~hyperion_core.eval.evaluate.EvalConfig` and writes results and figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.evaluate import EvalConfig, prepare, save_json, simulator, window_offsets
from hyperion_core.eval.runner import run_jobs
from hyperion_core.eval.scoring import per_frame_ap50, summarise
from hyperion_core.eval.simulate import Outcome
from hyperion_core.fuse.ensemble import EnsembleConfig
from hyperion_core.link.trace import Trace


def _simulate_all(cfg: EvalConfig, prep: dict[str, object]) -> dict[str, object]:
    rng = np.random.default_rng(cfg.seed)
    main = simulator(cfg, prep, cfg.settings)
    # Room for a sequential run of all frames at ~4 budgets each; offsets spread over the rest.
    horizon = len(prep["inputs"]) * cfg.settings.budget_s * 4  # type: ignore[arg-type]
    per_trace: dict[str, dict[str, list[list[Outcome]]]] = {}
    for spec, trace in cfg.traces:
        offsets = window_offsets(trace, cfg.windows, horizon, rng)
        per_trace[spec] = {m: [main.run(m, trace, o) for o in offsets] for m in cfg.methods}
    sweep: dict[float, dict[str, list[Outcome]]] = {}
    constant = Trace.from_steps([(cfg.sweep_rate_bps, 1e6)], loop=True, name="constant")
    for budget in cfg.sweep_budgets_s:
        sim = simulator(cfg, prep, replace(cfg.settings, budget_s=budget))
        sweep[budget] = {m: sim.run(m, constant, 0.0) for m in cfg.methods}
    return {"per_trace": per_trace, "sweep": sweep, "size_safety": main.scheduler.size_safety}


def run_evaluation(cfg: EvalConfig, out: Path) -> dict[str, object]:
    """Evaluate, write ``results.json`` and the figures into ``out``, return the results."""
    from hyperion_core.eval import figures

    out.mkdir(parents=True, exist_ok=True)
    prep = prepare(cfg)
    sims = _simulate_all(cfg, prep)
    jobs = [j for runs in sims["per_trace"].values() for lists in runs.values()  # type: ignore[union-attr]
            for run in lists for o in run for j in o.jobs]
    jobs += [j for per in sims["sweep"].values() for run in per.values()  # type: ignore[union-attr]
             for o in run for j in o.jobs]
    run_jobs(jobs, cache_root=cfg.cache_dir, workers=cfg.jobs, label="detect")
    cache, refs = prep["cache"], prep["references"]
    ens = EnsembleConfig()
    budget = cfg.settings.budget_s

    def summary(runs: list[list[Outcome]], b: float) -> dict[str, float]:
        return summarise(runs, [refs] * len(runs), budget_s=b, cache=cache, config=ens)  # type: ignore[arg-type]

    per_trace = sims["per_trace"]
    methods = {m: summary([r for spec in per_trace for r in per_trace[spec][m]], budget)  # type: ignore[index]
               for m in cfg.methods}
    breakdown = {spec: {m: summary(per_trace[spec][m], budget) for m in cfg.methods}  # type: ignore[index]
                 for spec in per_trace}  # type: ignore[union-attr]
    sweep = {str(b): {m: summary([runs[m]], b) for m in cfg.methods}
             for b, runs in sims["sweep"].items()}  # type: ignore[union-attr]
    first_spec = cfg.traces[0][0]
    series_runs = {m: per_trace[first_spec][m][0] for m in cfg.methods}  # type: ignore[index]
    series = {m: {"start_s": [o.start_s for o in run], "latency_s": [o.latency_s for o in run],
                  "ap50": per_frame_ap50(run, refs, cache, ens),  # type: ignore[arg-type]
                  "qualities": [list(o.qualities) for o in run]}
              for m, run in series_runs.items()}
    device = prep["device"]
    results = {
        "methods": methods,
        "reference": prep["reference"],
        "traces": [spec for spec, _ in cfg.traces],
        "budget_ms": budget * 1e3,
        "device_profile": cfg.device,
        "device": device.as_dict(),  # type: ignore[attr-defined]
        "per_trace": breakdown,
        "trace_mean_mbps": {spec: t.mean_rate_bps() / 1e6 for spec, t in cfg.traces},
        "budget_sweep": {"rate_mbps": cfg.sweep_rate_bps / 1e6, "results": sweep},
        "time_series": {"trace": first_spec, "methods": series},
        "setup": {"frames": len(refs), "frame_size": list(np.load(prep["inputs"][0].path,  # type: ignore[index]
                  mmap_mode="r").shape[1::-1]), "area_scale": prep["scale"],
                  "windows": cfg.windows, "seed": cfg.seed, "settings": cfg.settings.__dict__,
                  "remix_profile": {"objects": prep["remix"].objects,  # type: ignore[attr-defined]
                                    "recall": prep["remix"].recall},  # type: ignore[attr-defined]
                  "profiles": str(cfg.profiles_path),
                  "size_safety_in_effect": sims["size_safety"]},
    }
    save_json(out / "results.json", results)
    (out / "results.md").write_text(markdown_tables(results))
    figures.write_all(results, {spec: t for spec, t in cfg.traces}, out)
    return results


def markdown_tables(results: dict[str, object]) -> str:
    """Markdown tables of ``results``: all traces pooled, per trace, and the budget sweep."""
    cols = ("ap50", "fps", "mean_latency_ms", "p95_latency_ms", "violation_ratio",
            "offload_mb_per_frame", "edge_answer_ratio")
    head = ("| method | AP50 | FPS | mean latency (ms) | p95 latency (ms) | violation ratio "
            "| MB/frame (4K) | edge answers |\n|---|---|---|---|---|---|---|---|")

    def table(rows: dict[str, dict[str, float]]) -> str:
        lines = [head]
        for method, row in rows.items():
            cells = []
            for c in cols:
                v = row.get(c)
                cells.append("n/a" if v is None else f"{v:.3f}" if c != "mean_latency_ms"
                             and c != "p95_latency_ms" else f"{v:.0f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    parts = [f"Budget {results['budget_ms']:.0f} ms, device profile {results['device_profile']}, "
             f"reference {results['reference']}, traces {', '.join(results['traces'])}.\n",  # type: ignore[arg-type]
             "### All traces and windows pooled\n", table(results["methods"])]  # type: ignore[arg-type]
    for spec, rows in results["per_trace"].items():  # type: ignore[attr-defined]
        parts += [f"\n### {spec}\n", table(rows)]
    sweep = results["budget_sweep"]  # type: ignore[index]
    parts.append(f"\n### Budget sweep, constant uplink {sweep['rate_mbps']:.1f} Mbit/s "
                 "(AP50 / violation ratio)\n")
    budgets = sorted(sweep["results"], key=float)
    methods = list(sweep["results"][budgets[0]]) if budgets else []
    parts.append("| method | " + " | ".join(f"{1e3 * float(b):.0f} ms" for b in budgets) + " |")
    parts.append("|---|" + "---|" * len(budgets))
    for m in methods:
        cells = []
        for b in budgets:
            row = sweep["results"][b][m]
            ap = "n/a" if row["ap50"] is None else f"{row['ap50']:.3f}"
            cells.append(f"{ap} / {row['violation_ratio']:.2f}")
        parts.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(parts) + "\n"
