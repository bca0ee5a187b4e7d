"""``hyperion profile``: fit the size/accuracy profilers on real frames and save them.

Example::

    hyperion profile --out profiles.yaml --frames 8 --first 100 --stride 80 --tiles 2x1 \
        --qualities 10,30,50,70,90 --design orthogonal --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from hyperion_core.eval.frames import FrameSpec
from hyperion_core.eval.profile_builder import ProfileConfig, fit, measure
from hyperion_core.schedule.profiles import save_profiles


def parse_tiles(text: str) -> tuple[int, int]:
    """``"5x4"`` → ``(5, 4)`` (columns x rows of 768x540 array-camera tiles)."""
    cols, rows = (int(v) for v in text.lower().split("x"))
    if cols < 1 or rows < 1:
        raise argparse.ArgumentTypeError(f"tiles must be positive, got {text}")
    return cols, rows


def parse_ints(text: str) -> tuple[int, ...]:
    """``"10,40,70"`` → ``(10, 40, 70)``."""
    return tuple(int(v) for v in text.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    defaults = ProfileConfig()
    p = argparse.ArgumentParser(prog="hyperion profile", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="profiles YAML to write")
    p.add_argument("--frames", type=int, default=defaults.frames.frames, help="frames profiled")
    p.add_argument("--source", default="array-camera",
                   help="'array-camera' (embedded), a video file or an image folder")
    p.add_argument("--tiles", type=parse_tiles, default=defaults.frames.tiles,
                   help="array-camera tiles CxR of 768x540 px (5x4 = 3840x2160)")
    p.add_argument("--first", type=int, default=defaults.frames.first,
                   help="first clip frame / image index")
    p.add_argument("--stride", type=int, default=defaults.frames.stride,
                   help="clip frames / images between profiled frames")
    p.add_argument("--qualities", type=parse_ints, default=defaults.qualities,
                   help="JPEG qualities tried per class")
    p.add_argument("--design", choices=("orthogonal", "full"), default=defaults.design,
                   help="combinations: strength-2 orthogonal array (L^2) or all (L^K)")
    p.add_argument("--per-frame", action="store_true",
                   help="fit accuracy on per-frame AP50 instead of AP50 pooled over frames")
    p.add_argument("--unconstrained", action="store_true",
                   help="allow negative accuracy weights (plain least squares)")
    p.add_argument("--jobs", type=int, default=1, help="detector worker processes")
    p.add_argument("--cache-dir", type=Path, default=Path(".hyperion-cache"),
                   help="detector-output cache (re-runs are cheap)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    cfg = ProfileConfig(
        frames=FrameSpec(source=args.source, tiles=args.tiles, first=args.first,
                         frames=args.frames, stride=args.stride),
        qualities=args.qualities, design=args.design, pooled=not args.per_frame,
        nonnegative=not args.unconstrained, jobs=args.jobs, cache_dir=args.cache_dir,
    )
    start = time.perf_counter()
    measured = measure(cfg)
    acc_records = measured.pooled if cfg.pooled else measured.records
    size, accuracy = fit(measured.records, acc_records, nonnegative=cfg.nonnegative)
    save_profiles(args.out, size, accuracy)
    # The alternatives, for the record: how the shipped fit compares.
    alternatives = {}
    for name, recs, nonneg in (("per-frame, least squares", measured.records, False),
                               ("pooled, least squares", measured.pooled, False),
                               ("pooled, non-negative", measured.pooled, True)):
        a = fit(measured.records, recs, nonnegative=nonneg)[1]
        alternatives[name] = {"r": round(a.stats.r, 4), "r2": round(a.stats.r2, 4),
                              "n": a.stats.n, "rmse": round(a.stats.rmse, 5),
                              "weights": [round(a.weights[(c, 1)], 7) for c in range(3)],
                              "bias": round(a.bias, 5)}
    provenance = {"provenance": {
        "command": "hyperion profile " + " ".join(sys.argv[1:] if argv is None else argv),
        "source": args.source, "tiles": list(args.tiles), "first": args.first,
        "frames": args.frames, "stride": args.stride, "qualities": list(args.qualities),
        "design": args.design, "records": len(measured.records),
        "accuracy_records": len(acc_records),
        "accuracy": "AP50 of the cloud model on the decoded frame vs on the original frame"
        + (", pooled over frames per combination" if cfg.pooled else ", per frame"),
        "accuracy_fit": "non-negative weights (NNLS)" if cfg.nonnegative else "least squares",
        "classes": "ViT-S/14 attention (Eq. 2), 3 Jenks classes, re-classed with edge boxes",
        "alternative_fits": alternatives,
        "seconds": round(time.perf_counter() - start, 1),
    }}
    with open(args.out, "a") as fh:
        fh.write(yaml.safe_dump(provenance, sort_keys=False))
    print(f"size: r={size.stats.r:.3f} R2={size.stats.r2:.3f} n={size.stats.n}; "
          f"accuracy: r={accuracy.stats.r:.3f} R2={accuracy.stats.r2:.3f} n={accuracy.stats.n}"
          f" -> {args.out}")
    if size.relative_error is not None:
        e = size.relative_error
        print(f"size under-prediction (real - predicted)/predicted on its records: "
              f"p50 {e.p50:+.3f}, p95 {e.p95:+.3f}, max {e.max:+.3f} "
              "(p95 is the scheduler's default size margin)")
    print(yaml.safe_dump(alternatives, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
