"""The paper's evaluation figures from ``results.json`` (matplotlib, Agg backend).

- ``fig8_accuracy_vs_fps.png``: AP50 (with its 95 % interval) against frame rate, one panel
  per network scenario (paper Fig. 8);
- ``fig9_time_series.png``: uplink rate, per-frame latency and bytes sent over one run
  (Fig. 9);
- ``fig10_budget_sweep.png``: AP50 and violation ratio against the latency budget on a
  constant uplink (Fig. 10);
- ``fig_cloud_sweep.png``: AP50 and violation ratio against the cloud's compute time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyperion_core.eval.network import Link

#: Figure resolution: small PNGs for the README.
DPI = 90
MARKERS = {"hyperion": "*", "edge-only": "o", "cloud-only": "s", "elf": "v", "elf-v": "^",
           "remix": "D", "v1": "1", "v3": "3"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _main_methods(rows: dict) -> list[str]:
    """Methods to draw: all but the V2 sweep's policies, plus its default policy."""
    return [m for m in rows if not m.startswith("v2:")] + [m for m in rows if m == "v2:10-50-90"]


def accuracy_vs_fps(results: dict, out: Path) -> Path:
    """Fig. 8: one panel per scenario, a marker per method at (FPS, AP50) with its interval."""
    plt = _pyplot()
    scenarios = list(results["per_scenario"])
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.5 * len(scenarios), 4),
                             squeeze=False)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        rows = results["per_scenario"][scenario]
        for method in _main_methods(rows):
            row = rows[method]
            ap = row["ap50"]
            err = [[100 * (ap["value"] - ap["low"])], [100 * (ap["high"] - ap["value"])]]
            ax.errorbar(row["fps"], 100 * ap["value"], yerr=err, fmt=MARKERS.get(method, "x"),
                        markersize=9, capsize=3, label=method)
        ax.set_title(scenario)
        ax.set_xlabel("frame rate (FPS)")
        ax.set_ylabel("AP50 (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = out / "fig8_accuracy_vs_fps.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def time_series(results: dict, links: dict[str, Link], out: Path) -> Path:
    """Fig. 9: the uplink, per-frame latency and bytes of every method over one run."""
    plt = _pyplot()
    series = results["time_series"]
    link = links[series["trace"]]
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    starts = [s for m in series["methods"].values() for s in m["start_s"]]
    t = np.linspace(min(starts), max(starts) + 1.0, 400)
    top.plot(t, [link.throughput.rate_at(x) / 1e6 for x in t], color="k")
    top.set_ylabel("uplink (Mbit/s)")
    for method in _main_methods(series["methods"]):
        m = series["methods"][method]
        mid.plot(m["start_s"], 1e3 * np.asarray(m["latency_s"]), marker=MARKERS.get(method, "x"),
                 label=method)
        low.plot(m["start_s"], np.asarray(m["bytes_sent"]) / 1e6, marker=MARKERS.get(method, "x"))
    mid.axhline(results["setup"]["budget_ms"], color="r", linestyle="--", linewidth=1)
    mid.set_ylabel("latency (ms)")
    low.set_ylabel("sent (MB)")
    low.set_xlabel(f"trace time (s), {series['trace']}")
    mid.legend(fontsize=7, ncol=4)
    for ax in (top, mid, low):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "fig9_time_series.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def sweep(results: dict, key: str, xlabel: str, name: str, out: Path) -> Path:
    """AP50 and violation ratio against the swept value (Fig. 10 and the cloud sweep)."""
    plt = _pyplot()
    data = results[key]["results"] if "results" in results[key] else results[key]
    values = sorted(data, key=float)
    fig, (acc, vio) = plt.subplots(1, 2, figsize=(10, 4))
    for method in _main_methods(data[values[0]]):
        x = [float(v) * 1e3 for v in values]
        acc.plot(x, [100 * data[v][method]["ap50"]["value"] for v in values],
                 marker=MARKERS.get(method, "x"), label=method)
        vio.plot(x, [data[v][method]["violation_ratio"] for v in values],
                 marker=MARKERS.get(method, "x"))
    acc.set_ylabel("AP50 (%)")
    vio.set_ylabel("violation ratio")
    for ax in (acc, vio):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    acc.legend(fontsize=7)
    fig.tight_layout()
    path = out / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_all(results: dict, links: dict[str, Link], out: Path) -> list[Path]:
    """Every figure whose data ``results`` holds."""
    paths = [accuracy_vs_fps(results, out)]
    if results.get("time_series"):
        paths.append(time_series(results, links, out))
    if "budget_sweep" in results:
        paths.append(sweep(results, "budget_sweep", "latency budget (ms)",
                           "fig10_budget_sweep.png", out))
    if "cloud_sweep" in results:
        paths.append(sweep(results, "cloud_sweep", "cloud compute time (ms)",
                           "fig_cloud_sweep.png", out))
    return paths
