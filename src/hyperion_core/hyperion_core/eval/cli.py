"""``hyperion eval``: trace-driven evaluation of Hyperion, its baselines and ablations.

Examples::

    # the recorded evaluation (docs/eval): every 5G-MeMU uplink run, 100 4K frames
    hyperion eval --out docs/eval --traces-root ../shared/traces/5g-memu --traces all \\
        --v2-sweep --jobs 2

    # a 2-frame smoke test on the two embedded traces (what CI runs)
    hyperion eval --out /tmp/smoke --smoke

Without ``--traces-root`` the two runs shipped with the package are used (``driving/lte/8``,
``walking/5g/away/1``); ``--trace-file`` adds mahimahi or ``time_s,rate_mbps`` CSV traces,
``--constant-mbps`` constant uplinks, and ``--trace-scale`` slows every trace down::

    # the slow-link study (docs/eval/slow): constant 2/4/6 Mbit/s, then 5G-MeMU at x0.1
    hyperion eval --out docs/eval/slow/constant --traces --constant-mbps 2 4 6 --windows 5
    hyperion eval --out docs/eval/slow/x0.1 --traces-root ../shared/traces/5g-memu \
        --traces all --trace-scale 0.1

    # real 4K frames with human labels, cross-fitted (docs/eval/real4k)
    hyperion eval --out docs/eval/real4k --frames ../shared/data/unicamp-uav-dev/images:0:12 \
        --ground-truth ../shared/data/unicamp-uav-dev/gt.json --cross-fit --no-sweeps \
        --no-human-labels --traces-root ../shared/traces/5g-memu --traces all-lte
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from hyperion_core.eval.evaluate import DEFAULT_PROFILES, METHODS, EvalConfig
from hyperion_core.eval.frames import EVALUATION, PROFILING, FrameSpec
from hyperion_core.eval.network import Link, ping_for
from hyperion_core.eval.profile_cli import parse_frame_spec
from hyperion_core.eval.timeline import Settings
from hyperion_core.link.trace import DelayTrace, Trace
from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT

#: Median round trip of the 5G-MeMU LTE ping runs (30 runs; p10 28 ms, p90 50 ms).
CONSTANT_RTT_MS = 34.0
#: Length of a constant uplink trace; it loops, so any window fits.
CONSTANT_TRACE_S = 60.0
#: V2 sweep: every non-decreasing vector of these qualities (class 0 <= class 1 <= class 2).
V2_SWEEP_LEVELS = (10, 50, 90)


def v2_sweep() -> tuple[tuple[int, ...], ...]:
    """Fixed per-class policies of the V2 sweep (non-decreasing over the classes)."""
    return tuple(c for c in itertools.product(V2_SWEEP_LEVELS, repeat=3)
                 if c[0] <= c[1] <= c[2])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyperion eval", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for results and figures")
    p.add_argument("--traces-root", type=Path,
                   default=os.environ.get("HYPERION_TRACES_ROOT") or EMBEDDED_TRACES_ROOT,
                   help="5G-MeMU folder holding throughput/ and ping/ (default: "
                   "HYPERION_TRACES_ROOT, else the two embedded runs)")
    p.add_argument("--traces", nargs="*", default=["driving/lte/8", "walking/5g/away/1"],
                   help="5G-MeMU specs scenario/network[/file]/run, or 'all', 'all-lte', "
                   "'all-5g'")
    p.add_argument("--trace-file", type=Path, nargs="*", default=[],
                   help="extra uplink traces: mahimahi files or time_s,rate_mbps CSV")
    p.add_argument("--constant-mbps", type=float, nargs="*", default=[],
                   help="extra constant uplinks, Mbit/s each (e.g. 2 4 6)")
    p.add_argument("--constant-rtt-ms", type=float, default=CONSTANT_RTT_MS,
                   help="round trip of the constant uplinks, ms (default: the median of "
                   "the 5G-MeMU LTE ping runs)")
    p.add_argument("--trace-scale", type=float, default=1.0,
                   help="multiply every 5G-MeMU and file trace's rates by this (slow-link "
                   "study: 0.1, 0.2)")
    p.add_argument("--frames", type=parse_frame_spec, nargs="+",
                   help="evaluated frames SOURCE:FIRST:FRAMES:STRIDE (default: "
                   + " ".join(f"{s.source}:{s.first}:{s.frames}:{s.stride}" for s in EVALUATION)
                   + "); e.g. a folder of PANDA images")
    p.add_argument("--ground-truth", type=Path,
                   help="COCO JSON, one image per evaluated frame in order (e.g. PANDA "
                   "labels converted by hyperion_core.eval.panda): scored against it")
    p.add_argument("--cross-fit", action="store_true",
                   help="fit profiles, byte price, fusion and calibrations on one half of the "
                   "evaluated frames, score the other half, then swap (few labelled frames, "
                   "e.g. the real 4K track); --profiles is then not used")
    p.add_argument("--byte-price", type=float, default=0.0,
                   help="the scheduler's byte price, accuracy per MB (0: fill the budget, the "
                   "paper and the node's default; negative: the profile's own price)")
    p.add_argument("--windows", type=int, default=1, help="windows (start times) per trace")
    p.add_argument("--chunk", type=int, default=20, help="consecutive frames per window")
    p.add_argument("--budget-ms", type=float, default=400.0, help="latency budget, ms")
    p.add_argument("--device-profile", choices=("paper", "measured"), default="paper",
                   help="compute times: the paper's Jetson/V100 preset or this machine")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--v2-sweep", action="store_true",
                   help=f"also run every non-decreasing fixed policy over {V2_SWEEP_LEVELS}")
    p.add_argument("--no-sweeps", action="store_true",
                   help="skip the budget and cloud-time sweeps")
    p.add_argument("--no-human-labels", action="store_true",
                   help="skip scoring on the hand-labelled frames (their own fixed link)")
    p.add_argument("--smoke", action="store_true",
                   help="2 frames, 2 traces, no sweeps: checks the whole pipeline in minutes")
    p.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES, help="profiles YAML")
    p.add_argument("--jobs", type=int, default=1, help="model worker processes")
    p.add_argument("--seed", type=int, default=0, help="seeds the window offsets")
    p.add_argument("--reps", type=int, default=500, help="bootstrap resamples")
    p.add_argument("--cache-dir", type=Path, default=Path(".hyperion-cache"),
                   help="model-output cache (persistent; a re-run resumes from it)")
    return p


def load_links(args: argparse.Namespace) -> tuple[tuple[str, Link], ...]:
    """The uplinks to replay: 5G-MeMU runs (with their ping data) and trace files."""
    from hyperion_core.link.trace_files import read_trace_file
    from hyperion_core.link.traces import available_specs, load_memu

    specs = args.traces
    if args.traces == ["all"]:
        specs = available_specs(args.traces_root)
    elif args.traces in (["all-lte"], ["all-5g"]):
        network = args.traces[0].removeprefix("all-")
        specs = [s for s in available_specs(args.traces_root) if s.split("/")[1] == network]
    links = [(spec, Link(throughput=load_memu(args.traces_root, spec),
                         ping=ping_for(args.traces_root, spec))) for spec in specs]
    links += [(str(f), Link(throughput=read_trace_file(f))) for f in args.trace_file]
    if args.trace_scale != 1.0:
        links = [(f"{spec} x{args.trace_scale:g}",
                  replace(link, throughput=link.throughput.scaled(args.trace_scale)))
                 for spec, link in links]
    return tuple(links) + tuple(constant_link(mbps, args.constant_rtt_ms)
                                for mbps in args.constant_mbps)


def constant_link(mbps: float, rtt_ms: float) -> tuple[str, Link]:
    """``(name, Link)`` of an uplink of constant rate and round trip."""
    if not (mbps > 0 and rtt_ms >= 0):
        raise ValueError(f"a constant uplink needs rate > 0 and round trip >= 0, got "
                         f"{mbps} Mbit/s, {rtt_ms} ms")
    name = f"constant/{mbps:g}mbps"
    rate = Trace.from_steps([(mbps * 1e6, CONSTANT_TRACE_S)], loop=True, name=name)
    rtt = DelayTrace(times_s=np.zeros(1), rtt_s=np.full(1, rtt_ms / 1e3),
                     period_s=CONSTANT_TRACE_S, name=name)
    return name, Link(throughput=rate, ping=rtt)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad arguments)."""
    from hyperion_core.eval.report import run_evaluation

    args = build_parser().parse_args(argv)
    links = load_links(args)
    cfg = EvalConfig(links=links, windows_per_trace=args.windows, chunk=args.chunk,
                     device=args.device_profile,
                     settings=Settings(budget_s=args.budget_ms / 1e3,
                                       byte_price=None if args.byte_price < 0
                                       else args.byte_price),
                     profiles_path=args.profiles, methods=tuple(args.methods),
                     v2_policies=v2_sweep() if args.v2_sweep else (), seed=args.seed,
                     jobs=args.jobs, cache_dir=args.cache_dir, reps=args.reps,
                     ground_truth=args.ground_truth, cross_fit=args.cross_fit)
    if args.frames:
        cfg = replace(cfg, frames=tuple(args.frames))
    if args.smoke:
        cfg = replace(cfg, frames=(replace(EVALUATION[0], frames=2),),
                      calibration=(replace(PROFILING[0], frames=1),), chunk=2,
                      settings=replace(cfg.settings, warmup_frames=0), links=links[:2],
                      reps=20)
    results = run_evaluation(cfg, args.out, sweeps=not (args.no_sweeps or args.smoke),
                             human_labels=not (args.smoke or args.no_human_labels))
    for method, row in results["methods"].items():  # type: ignore[union-attr]
        ap = row["ap50"]
        print(f"{method:14s} AP50 {ap['value']:.3f} [{ap['low']:.3f}, {ap['high']:.3f}]  "
              f"FPS {row['fps']:.2f}  violations {row['violation_ratio']:.3f}  "
              f"MB/frame {row['offload_mb_per_frame']['value']:.3f}")
    return 0


__all__ = ["FrameSpec", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
