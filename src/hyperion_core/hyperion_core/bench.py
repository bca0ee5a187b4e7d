"""Per-stage timings of the edge pipeline on a real 3840x2160 frame, one thread.

``python -m hyperion_core.bench --json out.json [--repeats N]`` writes
``{"<stage>": {"median_ms", "p95_ms", "runs"}, …, "jenks_gvf": {"fast", "exact"},
"codec_overhead_ratio": …, …}``.

Inputs: the array-camera frame (vtest.avi tiled to 4K), 16-px patches (240x135). No ViT
runs here, so attention is synthetic and the patch importance is a pixel proxy:
- importance: 4 global layers, 6 heads, a 36x64 = 2,304-token grid (a 576x1024 input),
  fed as per-layer column sums via ``add_column_sums`` (the SPEC's recommended path: the
  model sums inside attention), then mapped onto the 135x240 patch grid;
- jenks/reclass/codec use a proxy importance from the frame: per-patch luma gradient
  energy (heavy-tailed, spatially coherent like real attention maps);
- reclass: 150 synthetic person-sized edge boxes; ensemble: 500 + 500 jittered boxes;
- schedule: size profile fitted on real codec bytes of this frame (fit r reported),
  accuracy weights synthetic.
"""

# ruff: noqa: E402  (thread limits must be set before numpy/OpenCV are imported)
from __future__ import annotations

import os

# Single-threaded by contract; must precede the numpy import to reach OpenBLAS (only
# effective when this module is the first to import numpy, as with ``python -m``).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

from hyperion_core.codec.patch_codec import ClassEncoding, decode_frame, encode_frame
from hyperion_core.data.array_camera import array_camera_frames
from hyperion_core.fuse.boxes import Detections
from hyperion_core.fuse.ensemble import ensemble
from hyperion_core.schedule.knapsack import SchedulerConfig, TransmissionScheduler
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    FitStats,
    ProfileRecord,
    fit_size_profile,
)
from hyperion_core.score.importance import ImportanceAccumulator, importance_on_patch_grid
from hyperion_core.score.jenks import exact_jenks_classes, jenks_classes
from hyperion_core.score.reclass import reclass_patches

PATCH = 16
TOKEN_GRID = (36, 64)


def _timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up: first-call allocations and imports are not per-frame costs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "runs": repeats,
    }


def proxy_importance(frame: np.ndarray) -> np.ndarray:
    """``(rows, cols)`` mean luma gradient magnitude per patch (a stand-in for Eq. 2)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    magnitude = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(
        cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    )
    rows, cols = frame.shape[0] // PATCH, frame.shape[1] // PATCH
    return magnitude.reshape(rows, PATCH, cols, PATCH).mean(axis=(1, 3)).astype(np.float64)


def _boxes(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    xy = rng.uniform(0, [width - 80, height - 160], (n, 2))
    wh = rng.uniform([15, 30], [80, 160], (n, 2))
    return np.hstack([xy, xy + wh])


def run_benchmarks(*, repeats: int) -> dict:
    """Time every stage ``repeats`` times on one real 4K frame; returns the result dict."""
    cv2.setNumThreads(1)
    frame = next(array_camera_frames(1))
    height, width = frame.shape[:2]
    grid = (height // PATCH, width // PATCH)
    rng = np.random.default_rng(0)
    results: dict = {}

    proxy = proxy_importance(frame)
    tokens = cv2.resize(proxy, TOKEN_GRID[::-1], interpolation=cv2.INTER_AREA).reshape(-1)
    layer_sums = [tokens * rng.uniform(0.8, 1.2, tokens.size) for _ in range(4)]

    def importance() -> np.ndarray:
        acc = ImportanceAccumulator(token_grid=TOKEN_GRID)
        for sums in layer_sums:
            acc.add_column_sums(sums, heads=6, queries=tokens.size)
        return importance_on_patch_grid(acc.token_importance(), grid)

    results["importance"] = _timed(importance, repeats)
    results["jenks"] = _timed(lambda: jenks_classes(proxy), repeats)
    fast = jenks_classes(proxy)
    exact = exact_jenks_classes(proxy)
    results["jenks_gvf"] = {"fast": fast.gvf, "exact": exact.gvf}

    edge_boxes = _boxes(rng, 150, width, height)
    edge_scores = rng.uniform(0, 1, 150)
    results["reclass"] = _timed(
        lambda: reclass_patches(
            fast.classes,
            proxy,
            breaks=fast.breaks,
            boxes_xyxy=edge_boxes,
            scores=edge_scores,
            patch_size=PATCH,
        ),
        repeats,
    )
    classes = reclass_patches(
        fast.classes,
        proxy,
        breaks=fast.breaks,
        boxes_xyxy=edge_boxes,
        scores=edge_scores,
        patch_size=PATCH,
    )
    shares = np.bincount(classes.reshape(-1), minlength=3) / classes.size
    results["class_shares"] = shares.tolist()

    raw = frame.size
    quality_set = SchedulerConfig().qualities
    plain = {
        q: len(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, q])[1]) for q in quality_set
    }
    results["jpeg_bytes_by_quality"] = plain
    records = []
    for q in rng.choice(quality_set, size=(24, 3)):
        payload = encode_frame(frame, classes, tuple(ClassEncoding(quality=int(v)) for v in q))
        records.append(
            ProfileRecord(
                shares=tuple(shares),
                qualities=tuple(int(v) for v in q),
                bytes=len(payload),
                raw_bytes=raw,
                accuracy=0.0,
            )
        )
    size_profile = fit_size_profile(records)
    results["size_profile_fit"] = {
        "r": size_profile.stats.r,
        "r2": size_profile.stats.r2,
        "n": size_profile.stats.n,
    }
    accuracy = AccuracyProfile(
        weights={(0, 1): 5e-4, (1, 1): 2e-3, (2, 1): 4e-3},
        bias=0.05,
        stats=FitStats(r=1.0, r2=1.0, n=0, rmse=0.0),
    )
    scheduler = TransmissionScheduler(size_profile=size_profile, accuracy_profile=accuracy)
    results["schedule"] = _timed(
        lambda: scheduler.plan(
            shares=shares,
            raw_bytes=raw,
            t_edge_s=0.12,
            t_cloud_s=0.15,
            bandwidth_bytes_per_s=50e6 / 8,
        ),
        repeats,
    )

    encodings = (ClassEncoding(quality=30), ClassEncoding(quality=60), ClassEncoding(quality=90))
    results["encode"] = _timed(lambda: encode_frame(frame, classes, encodings), repeats)
    payload = encode_frame(frame, classes, encodings)
    results["decode"] = _timed(lambda: decode_frame(payload), repeats)
    results["payload_bytes"] = len(payload)
    # Baseline in the same process: one plain libjpeg-turbo JPEG of the whole frame, so the
    # codec's cost reads as a ratio that holds on a busy or slower machine too.
    whole = simplejpeg.encode_jpeg(frame, quality=60, colorspace="BGR", colorsubsampling="420")
    results["plain_encode"] = _timed(
        lambda: simplejpeg.encode_jpeg(frame, quality=60, colorspace="BGR",
                                       colorsubsampling="420"), repeats)
    results["plain_decode"] = _timed(
        lambda: simplejpeg.decode_jpeg(whole, colorspace="BGR"), repeats)
    for stage in ("encode", "decode"):
        ratio = results[stage]["median_ms"] / results[f"plain_{stage}"]["median_ms"]
        results[f"{stage}_vs_plain"] = ratio
    same = (ClassEncoding(quality=60),) * 3
    results["codec_overhead_ratio"] = len(encode_frame(frame, classes, same)) / plain[60]

    truth = _boxes(rng, 500, width, height)
    labels = rng.integers(0, 2, 500)
    edge = Detections(
        boxes=truth + rng.normal(0, 3, truth.shape), scores=rng.uniform(0, 1, 500), labels=labels
    )
    cloud = Detections(
        boxes=truth + rng.normal(0, 3, truth.shape),
        scores=rng.uniform(0, 1, 500),
        labels=labels.copy(),
    )
    results["ensemble"] = _timed(lambda: ensemble(edge, cloud), repeats)
    return results


def main(argv: list[str] | None = None) -> int:
    """Console entry: run the benchmarks and print / write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write results to this file")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per stage")
    args = parser.parse_args(argv)
    results = run_benchmarks(repeats=args.repeats)
    text = json.dumps(results, indent=2, default=float)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
