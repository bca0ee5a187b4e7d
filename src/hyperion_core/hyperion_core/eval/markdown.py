"""``results.md``: the evaluation's tables, every compared figure with its 95 % interval."""

from __future__ import annotations


def _ci(cell: dict | None, digits: int = 3, scale: float = 1.0) -> str:
    if not cell or cell.get("value") is None:
        return "n/a"
    value, low, high = (scale * float(cell[k] if cell[k] is not None else float("nan"))
                        for k in ("value", "low", "high"))
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def method_table(rows: dict[str, dict]) -> str:
    """One row per method: AP50, FPS, latency, violations, bytes, edge answers."""
    lines = ["| method | AP50 [95% CI] | FPS | mean latency ms [95% CI] | p95 latency ms "
             "| violation ratio | MB/frame [95% CI] | edge answers |",
             "|---|---|---|---|---|---|---|---|"]
    for method, row in rows.items():
        lines.append(
            f"| {method} | {_ci(row['ap50'])} | {row['fps']:.2f} | "
            f"{_ci(row['mean_latency_ms'], 0)} | {row['p95_latency_ms']:.0f} | "
            f"{row['violation_ratio']:.3f} | {_ci(row['offload_mb_per_frame'])} | "
            f"{row['edge_answer_ratio']:.2f} |")
    return "\n".join(lines)


def gap_table(gaps: dict[str, dict], ratios: dict[str, dict]) -> str:
    """Hyperion's paired AP50 gaps and byte ratios."""
    lines = ["| Hyperion against | AP50 difference [95% CI] | clear? |", "|---|---|---|"]
    for method, gap in gaps.items():
        clear = "yes" if gap["low"] is not None and (gap["low"] > 0 or gap["high"] < 0) else "no"
        lines.append(f"| {method} | {_ci(gap, 3)} | {clear} |")
    if ratios:
        lines += ["", "| Hyperion's bytes per frame over | ratio [95% CI] |", "|---|---|"]
        lines += [f"| {m} | {_ci(r, 2)} |" for m, r in ratios.items()]
    return "\n".join(lines)


def sweep_table(sweep: dict[str, dict], key: str, title: str) -> str:
    """AP50 (and violation ratio) per sweep value, one row per method."""
    values = sorted(sweep, key=float)
    if not values:
        return ""
    methods = list(sweep[values[0]])
    lines = ["| method | " + " | ".join(f"{title} {v}" for v in values) + " |",
             "|---|" + "---|" * len(values)]
    for m in methods:
        cells = [f"{sweep[v][m][key]['value']:.3f} / {sweep[v][m]['violation_ratio']:.2f}"
                 for v in values]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_tables(results: dict) -> str:
    """All tables of one evaluation."""
    setup = results["setup"]
    parts = [f"Budget {setup['budget_ms']:.0f} ms, device profile {setup['device']['name']}, "
             f"{setup['evaluated_frames']} frames in chunks of {setup['chunk']}, "
             f"{setup['runs']} runs over {len(setup['traces'])} traces; reference: "
             f"{setup['reference']}. Intervals: 95 % bootstrap over runs.\n",
             "### All runs pooled\n", method_table(results["methods"])]
    if "hyperion_minus" in results:
        parts += ["\n### Hyperion against each method (paired over the same runs)\n",
                  gap_table(results["hyperion_minus"], results.get("hyperion_bytes_over", {}))]
    if "v2_sweep" in results:
        sweep = results["v2_sweep"]
        ranked = sorted(sweep["policies"].items(), key=lambda kv: -kv[1])
        parts += ["\n### V2 sweep (fixed per-class qualities)\n",
                  f"Best in hindsight: {sweep['best_in_hindsight']}; median policy: "
                  f"{sweep['median']}.\n", "| policy | AP50 |", "|---|---|"]
        parts += [f"| {name} | {ap:.3f} |" for name, ap in ranked]
    for title, key in (("scenario", "per_scenario"), ("content", "per_source")):
        for name, rows in results.get(key, {}).items():
            parts += [f"\n### {title}: {name}\n", method_table(rows)]
            gaps = results.get(f"{key}_gaps", {}).get(name)
            if gaps:
                parts += ["\nPaired over this scenario's runs:\n", gap_table(gaps, {})]
    if "originals" in results:
        o = results["originals"]
        parts += ["\n### The models on the original frames (no network; AP50 [95% CI] over "
                  "frames against the ground truth)\n", "| model | AP50 |", "|---|---|",
                  f"| edge | {_ci(o['edge'])} |", f"| cloud | {_ci(o['cloud'])} |",
                  f"| cloud − edge (paired) | {_ci(o['cloud_minus_edge'])} |"]
        if "cloud_gain_realised" in o:
            parts.append(f"\nShare of the cloud's gain Hyperion realises, (Hyperion − edge-only)"
                         f" / (cloud − edge): {o['cloud_gain_realised']:.2f}")
    if "fusion_losses" in results:
        f = results["fusion_losses"]
        parts.append(f"\nFused frames answered worse than the better of their two inputs (by "
                     f"> 0.01 AP50 on the frame): {f['worse']} of {f['fused']} "
                     f"({f['share']:.3f}); mean fused − max(edge, cloud) per fused frame "
                     f"{f['mean_gap']:+.4f}.")
    for name, fold in results.get("folds", {}).items():
        parts += [f"\n### Cross-fit fold: {name} scored (frames {fold['scored_frames']}; "
                  f"fitted on {fold['fitted_frames']}; byte price {fold['byte_price']:.4f}/MB, "
                  f"fusion match IoU {fold['fusion_match_iou']})\n", method_table(fold["methods"])]
        if fold.get("hyperion_minus"):
            parts += ["\nPaired over this fold's runs:\n", gap_table(fold["hyperion_minus"], {})]
    if "human_labels" in results:
        parts.append("\n### Against human labels (hand-labelled 4K frames, constant uplinks; "
                     "AP50 [95% CI] over the 20 labelled frames)\n")
        rates = list(results["human_labels"])
        methods = list(results["human_labels"][rates[0]]["ap50"])
        parts.append("| method | " + " | ".join(f"{r} Mbit/s" for r in rates) + " |")
        parts.append("|---|" + "---|" * len(rates))
        for m in methods:
            cells = [_ci(results["human_labels"][r]["ap50"][m]) for r in rates]
            parts.append(f"| {m} | " + " | ".join(cells) + " |")
        parts.append("\n| Hyperion minus | " + " | ".join(f"{r} Mbit/s" for r in rates) + " |")
        parts.append("|---|" + "---|" * len(rates))
        for m in methods:
            if m == "hyperion":
                continue
            cells = [_ci(results["human_labels"][r]["hyperion_minus"].get(m)) for r in rates]
            parts.append(f"| {m} | " + " | ".join(cells) + " |")
    if "budget_sweep" in results:
        sweep = results["budget_sweep"]
        parts += [f"\n### Budget sweep, constant uplink {sweep['rate_mbps']:.1f} Mbit/s "
                  "(AP50 / violation ratio)\n", sweep_table(sweep["results"], "ap50", "budget s")]
    if "cloud_sweep" in results:
        parts += ["\n### Cloud compute time sweep (AP50 / violation ratio)\n",
                  sweep_table(results["cloud_sweep"], "ap50", "cloud s")]
    return "\n".join(parts) + "\n"
