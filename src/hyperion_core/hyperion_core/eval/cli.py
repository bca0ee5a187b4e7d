"""``hyperion eval``: trace-driven evaluation of Hyperion, its baselines and ablations.

Example::

    hyperion eval --out runs/eval --traces driving/lte/8 walking/5g/away/1 \\
        --budget-ms 400 --device-profile paper --frames 8 --tiles 2x2 --jobs 2 --seed 0

The two traces above ship with the package
(:data:`hyperion_core.link.traces.EMBEDDED_TRACES_ROOT`), so this runs as is; for the
rest of 5G-MeMU pass ``--traces-root /path/to/5g-memu`` (or set ``HYPERION_TRACES_ROOT``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from hyperion_core.eval.evaluate import DEFAULT_PROFILES, EvalConfig
from hyperion_core.eval.frames import FrameSpec
from hyperion_core.eval.profile_cli import parse_ints, parse_tiles
from hyperion_core.eval.simulate import METHODS, Settings
from hyperion_core.link.traces import EMBEDDED_TRACES_ROOT


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyperion eval", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for results.json and figures")
    p.add_argument("--traces", nargs="+", default=["driving/lte/8", "walking/5g/away/1"],
                   help="5G-MeMU specs scenario/network[/file]/run (default: the two "
                   "embedded traces, driving/lte/8 walking/5g/away/1)")
    p.add_argument("--traces-root", type=Path,
                   default=os.environ.get("HYPERION_TRACES_ROOT") or EMBEDDED_TRACES_ROOT,
                   help="5G-MeMU folder holding throughput/ (default: HYPERION_TRACES_ROOT, "
                   "else the embedded traces driving/lte/8 and walking/5g/away/1)")
    p.add_argument("--budget-ms", type=float, default=400.0, help="latency budget per frame, ms")
    p.add_argument("--device-profile", choices=("paper", "measured"), default="paper",
                   help="compute times: the paper's Jetson/V100 preset or this machine")
    p.add_argument("--frames", type=int, default=8, help="evaluated frames (plus 1 history)")
    p.add_argument("--source", default="array-camera",
                   help="'array-camera' (embedded), a video file or an image folder")
    p.add_argument("--tiles", type=parse_tiles, default=(5, 4),
                   help="array-camera tiles CxR of 768x540 px (5x4 = 3840x2160)")
    p.add_argument("--first", type=int, default=0, help="first clip frame / image index")
    p.add_argument("--ground-truth", type=Path, default=None,
                   help="COCO JSON of the frames (image order = frame order, history first)")
    p.add_argument("--windows", type=int, default=2, help="random trace start offsets per trace")
    p.add_argument("--qualities", type=parse_ints, default=Settings().qualities,
                   help="JPEG qualities the scheduler may choose per class")
    p.add_argument("--sweep-ms", type=parse_ints, default=(300, 400, 500, 650, 1000, 2000),
                   help="budgets of the Fig. 10 sweep, ms (empty string: none)")
    p.add_argument("--size-safety", type=float, default=None,
                   help="scheduler plans with predicted bytes x (1 + this) (default: the "
                   "size profile's recorded p95 relative under-prediction)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--profiles", type=Path, default=DEFAULT_PROFILES, help="profiles YAML")
    p.add_argument("--jobs", type=int, default=1, help="detector worker processes")
    p.add_argument("--seed", type=int, default=0, help="seeds the trace window offsets")
    p.add_argument("--cache-dir", type=Path, default=Path(".hyperion-cache"),
                   help="detector-output cache (sweeps re-use it)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 on bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from hyperion_core.eval.panda import read_ground_truth
    from hyperion_core.eval.report import run_evaluation
    from hyperion_core.link.traces import load_memu

    traces = tuple((spec, load_memu(args.traces_root, spec)) for spec in args.traces)
    truth = None
    if args.ground_truth is not None:
        truth = tuple(read_ground_truth(args.ground_truth))[1 : args.frames + 1]
    cfg = EvalConfig(
        frames=FrameSpec(source=args.source, tiles=args.tiles, first=args.first,
                         frames=args.frames),
        traces=traces, device=args.device_profile,
        settings=Settings(budget_s=args.budget_ms / 1e3, qualities=args.qualities,
                          size_safety=args.size_safety),
        windows=args.windows, seed=args.seed, jobs=args.jobs, cache_dir=args.cache_dir,
        profiles_path=args.profiles, ground_truth=truth,
        sweep_budgets_s=tuple(b / 1e3 for b in args.sweep_ms), methods=tuple(args.methods),
    )
    results = run_evaluation(cfg, args.out)
    print(json.dumps({"reference": results["reference"], "methods": results["methods"]},
                     indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
