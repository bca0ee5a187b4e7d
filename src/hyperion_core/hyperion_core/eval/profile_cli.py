"""``hyperion profile``: fit the scheduler's size and accuracy profiles on real frames.

Examples::

    hyperion profile --out profiles.yaml                  # the embedded clips' profiling frames
    hyperion profile --out mine.yaml --bag bags/cam1 --bag-frames 24 --bag-stride 50

With ``--bag`` the frames come from a recorded rosbag2 of the deployment's own camera (its
image topic; ``--topic`` when it has several), so the profile describes that stream. The
scheduler node loads the result with ``-p scheduler.profiles_file:=mine.yaml``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from hyperion_core.eval.frames import PROFILING, FrameSpec
from hyperion_core.eval.profile_builder import ProfileConfig, measure
from hyperion_core.eval.profile_fit import fit_profiles
from hyperion_core.schedule.profile_file import write_profiles
from hyperion_core.score.sources import SOURCES, ImportanceConfig

#: Qualities the scheduler node offers by default (config/edge.yaml), for the byte price.
SCHEDULER_QUALITIES = (5, 10, 30, 50, 70, 90)


def parse_frame_spec(text: str) -> FrameSpec:
    """``SOURCE[:FIRST[:FRAMES[:STRIDE]]]`` → :class:`FrameSpec` (SOURCE a clip name or a
    path without colons; bags are given with ``--bag``)."""
    source, *numbers = text.split(":")
    fields = dict(zip(("first", "frames", "stride"), (int(v) for v in numbers), strict=False))
    return FrameSpec(source=source, **fields)


def build_parser() -> argparse.ArgumentParser:
    defaults = ProfileConfig()
    p = argparse.ArgumentParser(prog="hyperion profile", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="profiles YAML to write")
    p.add_argument("--frames", type=parse_frame_spec, nargs="+", default=list(PROFILING),
                   help="frame specs SOURCE:FIRST:FRAMES:STRIDE (default: "
                   + " ".join(f"{s.source}:{s.first}:{s.frames}:{s.stride}" for s in PROFILING)
                   + ", disjoint from the evaluation's frames)")
    p.add_argument("--ground-truth", type=Path,
                   help="COCO JSON with one image per file of the --frames folder, in sorted "
                   "order (human labels): answers are scored against it instead of the "
                   "evaluation reference model")
    p.add_argument("--no-fusion", action="store_true",
                   help="do not fit the calibrated fusion (the ensembler then uses Eq. 6)")
    p.add_argument("--bag", type=Path, help="profile a recorded rosbag2 instead")
    p.add_argument("--topic", help="the bag's image topic (when it has several)")
    p.add_argument("--bag-frames", type=int, default=24, help="frames taken from the bag")
    p.add_argument("--bag-stride", type=int, default=10, help="messages between them")
    p.add_argument("--importance", choices=SOURCES, default=defaults.importance.source,
                   help="importance source, as the scorer node is configured")
    p.add_argument("--jobs", type=int, default=1, help="model worker processes")
    p.add_argument("--reps", type=int, default=200, help="bootstrap resamples (effects)")
    p.add_argument("--cache-dir", type=Path, default=Path(".hyperion-cache"),
                   help="model-output cache (re-runs are cheap)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    frames = tuple(args.frames)
    if args.bag is not None:
        source = f"bag:{args.bag}" + (f"#{args.topic}" if args.topic else "")
        frames = (FrameSpec(source=source, frames=args.bag_frames, stride=args.bag_stride),)
    truth = None
    if args.ground_truth is not None:
        from hyperion_core.eval.crossfit import folder_truth

        truth = folder_truth(frames, args.ground_truth)
    cfg = ProfileConfig(frames=frames, jobs=args.jobs, cache_dir=args.cache_dir,
                        importance=replace(ImportanceConfig(), source=args.importance),
                        truth="evaluation reference" if truth is None
                        else str(args.ground_truth))
    start = time.perf_counter()
    measured = measure(cfg, truth=truth)
    profiles, evidence = fit_profiles(measured, cfg, qualities=SCHEDULER_QUALITIES,
                                      reps=args.reps, fuse=not args.no_fusion)
    provenance = {**profiles.provenance,
                  "command": "hyperion profile " + " ".join(sys.argv[1:] if argv is None
                                                             else argv)}
    write_profiles(args.out, replace(profiles, provenance=provenance))
    print(f"fitted in {time.perf_counter() - start:.0f} s")
    acc = profiles.accuracy.stats
    print(f"wrote {args.out}: {len(measured.raw_bytes)} frames, {len(measured.combos)} "
          f"combinations; accuracy fit r={acc.r:.3f} (n={acc.n}), edge alone "
          f"{profiles.edge_accuracy:.3f}, byte price {profiles.byte_price:.4f} per MB")
    for name, held in evidence["held_out"].items():
        print(f"  held-out {name}: r={held['r']:.3f}, rmse={held['rmse']:.4f}")
    for effect in evidence["effects"]:
        print(f"  class {effect['class']} (share {effect['share']:.2f}): effect "
              f"{effect['value']:+.3f} [{effect['low']:+.3f}, {effect['high']:+.3f}]")
    errors = evidence["size_errors"]
    for loop in ("open_loop", "closed_loop"):
        if errors[loop]:
            print(f"  size error {loop.replace('_', ' ')}: median {errors[loop]['p50']:+.3f}, "
                  f"p95 {errors[loop]['p95']:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
