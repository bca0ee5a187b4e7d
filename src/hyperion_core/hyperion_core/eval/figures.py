"""The paper's evaluation figures from ``results.json`` (matplotlib, Agg backend).

- ``fig8_accuracy_vs_fps.png``: AP50 against frame rate, one panel per trace (paper Fig. 8);
- ``fig9_time_series.png``: uplink rate, per-frame rate and per-frame AP50 over time on the
  first trace's first window (Fig. 9);
- ``fig10_budget_sweep.png``: AP50 and violation ratio against the latency budget on a
  constant uplink (Fig. 10).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyperion_core.link.trace import Trace

#: Figure resolution: small PNGs for the README.
DPI = 90


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _markers() -> dict[str, str]:
    return {"hyperion": "*", "edge-only": "o", "cloud-only": "s", "elf": "v", "elf-v": "^",
            "remix": "D", "v1": "1", "v2": "2", "v3": "3"}


def accuracy_vs_fps(results: dict, out: Path) -> Path:
    """Fig. 8: one panel per trace, a marker per method at (FPS, AP50)."""
    plt = _pyplot()
    traces = list(results["per_trace"])
    fig, axes = plt.subplots(1, len(traces), figsize=(5 * len(traces), 4), squeeze=False)
    for ax, spec in zip(axes[0], traces, strict=True):
        for method, row in results["per_trace"][spec].items():
            ax.scatter(row["fps"], 100 * (row["ap50"] or 0), marker=_markers().get(method, "x"),
                       s=90, label=method)
        mean = results.get("trace_mean_mbps", {}).get(spec, float("nan"))
        ax.set_title(f"{spec} (mean {mean:.1f} Mbit/s)")
        ax.set_xlabel("frame rate (FPS)")
        ax.set_ylabel("AP50 (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    path = out / "fig8_accuracy_vs_fps.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def time_series(results: dict, trace: Trace, out: Path) -> Path:
    """Fig. 9: bandwidth, per-frame FPS and per-frame AP50 over time on one window."""
    plt = _pyplot()
    series = results["time_series"]["methods"]
    starts = [s for m in series.values() for s in m["start_s"]]
    t0 = min(starts)
    t1 = max(s + lat for m in series.values() for s, lat in zip(m["start_s"], m["latency_s"],
                                                                strict=True))
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    grid = np.linspace(t0, t1, 400)
    axes[0].plot(grid - t0, [trace.rate_at(t) / 1e6 for t in grid], color="k")
    axes[0].set_ylabel("uplink (Mbit/s)")
    axes[0].set_title(f"{results['time_series']['trace']}, budget {results['budget_ms']:.0f} ms")
    for method, m in series.items():
        start = np.asarray(m["start_s"]) - t0
        lat = np.asarray(m["latency_s"])
        axes[1].step(start, 1.0 / np.maximum(lat, 1e-6), where="post", label=method)
        ap = np.asarray([np.nan if v is None else v for v in m["ap50"]], float)
        axes[2].step(start, 100 * ap, where="post", label=method)
    axes[1].set_ylabel("frame rate (FPS)")
    axes[2].set_ylabel("AP50 per frame (%)")
    axes[2].set_xlabel("time since window start (s)")
    axes[1].legend(fontsize=7, ncol=3)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "fig9_time_series.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def budget_sweep(results: dict, out: Path) -> Path:
    """Fig. 10: AP50 and violation ratio against the latency budget."""
    plt = _pyplot()
    sweep = results["budget_sweep"]["results"]
    budgets = sorted(sweep, key=float)
    if not budgets:
        return out / "fig10_budget_sweep.png"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method in sweep[budgets[0]]:
        x = [1e3 * float(b) for b in budgets]
        axes[0].plot(x, [100 * (sweep[b][method]["ap50"] or 0) for b in budgets],
                     marker=_markers().get(method, "x"), label=method)
        axes[1].plot(x, [100 * sweep[b][method]["violation_ratio"] for b in budgets],
                     marker=_markers().get(method, "x"), label=method)
    rate = results["budget_sweep"]["rate_mbps"]
    for ax, label in zip(axes, ("AP50 (%)", "latency violation ratio (%)"), strict=True):
        ax.set_xlabel("latency budget (ms)")
        ax.set_ylabel(label)
        ax.set_title(f"constant uplink {rate:.1f} Mbit/s")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "fig10_budget_sweep.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_all(results: dict, traces: dict[str, Trace], out: Path) -> list[Path]:
    """All three figures; returns their paths."""
    first = results["time_series"]["trace"]
    return [accuracy_vs_fps(results, out), time_series(results, traces[first], out),
            budget_sweep(results, out)]
