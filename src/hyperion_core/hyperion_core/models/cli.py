"""`hyperion models`: the configured models, where their weights come from, what they cost,
how accurate they are against human labels, and where the importance classes land.

- ``--measure``: latency of every model on a 3840x2160 frame, and AP50 of the edge, cloud
  and reference detectors on the hand-labelled 4K composites (the *report* label set), with
  bootstrap intervals over the labelled frames and the paired cloud − edge difference;
- ``--poi``: for every importance source, the share of labelled people's patches in the top
  Jenks class and in classes >= 1, against how much of the frame those classes cover.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hyperion_core.models.ort_runtime import DEVICE_PROVIDERS
from hyperion_core.models.registry import describe_models


def format_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`describe_models` rows."""
    lines = []
    for row in rows:
        latency = row.get("latency_s")
        timing = (
            f"{latency * 1e3:8.0f} ms per {row['frame']} frame" if latency is not None
            else row.get("error", "not measured")
        )
        lines.append(f"{row['name']} ({row['role']}): {row['description']}")
        for w in row["weights"]:
            lines += [f"    weights  {w['package']} {w['installed'] or 'NOT INSTALLED'}: "
                      f"{w['file']}", f"    licence  {w['licence']}"]
        lines += [f"    input    {row['input_size']}", f"    latency  {timing}"]
        if "ap50" in row:
            lines.append(f"    AP50     {row['ap50']} (human labels, 4K, 95% interval)")
    return "\n".join(lines)


def measure_accuracy(rows: list[dict[str, Any]], *, reps: int) -> dict[str, Any]:
    """Add ``ap50`` to the detector rows; return the cloud − edge difference."""
    from hyperion_core.eval.labelled import (
        ap50_difference,
        ap50_interval,
        composites,
        score_tiles,
    )
    from hyperion_core.eval.models import to_eval
    from hyperion_core.models.registry import MODELS, build_detector

    frames = composites("report")
    scores = {}
    for row in rows:
        spec = MODELS[row["name"]]
        if spec.role == "scorer" or "error" in row:
            continue
        detector = build_detector(spec)
        scores[spec.name] = score_tiles(lambda image, d=detector: to_eval(d.predict(image)),
                                        frames)
        row["ap50"] = ap50_interval(scores[spec.name], reps=reps)
    if "cloud" in scores and "edge" in scores:
        return {"cloud_minus_edge": ap50_difference(scores["cloud"], scores["edge"], reps=reps)}
    return {}


def poi_report(*, token_grid: tuple[int, int]) -> list[dict[str, Any]]:
    """POI recall of every importance source on the report composites (human labels)."""

    from hyperion_core.eval.labelled import composites
    from hyperion_core.eval.poi import PoiCounts, object_patches, poi_counts
    from hyperion_core.models.registry import build_detector, build_scorer, get_spec
    from hyperion_core.score.sources import SOURCES, ImportanceConfig, importance_map

    frames = composites("report")
    edge = build_detector(get_spec("edge"))
    scorer = build_scorer(get_spec("scorer", token_grid=token_grid,
                                   scorer_extras=("cls_attention", "saliency")))
    prepared = []
    for frame in frames:
        result = scorer.score(frame.image)
        vit = {"attention": result.patch_map, **result.extra_maps}
        truth = frame.truth.boxes[~frame.truth.crowd]
        objects = object_patches(truth, grid=result.patch_map.shape, patch_size=16)
        prepared.append((vit, edge.predict(frame.image), objects))
    rows = []
    default = ImportanceConfig(source="hybrid")
    for source in SOURCES:
        config = default if source == "hybrid" else ImportanceConfig(source=source)
        total = PoiCounts()
        for vit, found, objects in prepared:
            values = importance_map(config, vit=vit, boxes_xyxy=found.boxes,
                                    scores=found.scores, grid=objects.shape, patch_size=16)
            total += poi_counts(values, objects)
        rows.append({"source": source, "weights": list(config.weights), **total.summary()})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the model table; see the module docstring for the options."""
    parser = argparse.ArgumentParser(prog="hyperion models", description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true",
                        help="time every model on a 3840x2160 frame and score the detectors "
                        "against the hand labels (AP50 with 95%% intervals)")
    parser.add_argument("--poi", action="store_true",
                        help="POI recall of every importance source on the hand-labelled frames")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model (median)")
    parser.add_argument("--reps", type=int, default=500, help="bootstrap resamples")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--execution-provider", choices=tuple(DEVICE_PROVIDERS), default="cpu",
                        help="time the models on this ONNX Runtime provider (cuda, tensorrt: "
                        "onnxruntime-gpu on a GPU machine)")
    args = parser.parse_args(argv)
    rows = describe_models(args.measure, runs=args.runs,
                           execution_provider=args.execution_provider)
    extra: dict[str, Any] = {}
    if args.measure:
        extra.update(measure_accuracy(rows, reps=args.reps))
    print(format_table(rows))
    for name, interval in extra.items():
        print(f"{name.replace('_', ' ')}: AP50 {interval} (paired bootstrap over frames)")
    if args.poi:
        from hyperion_core.models.registry import get_spec

        grid = get_spec("scorer").token_grid
        extra["poi"] = poi_report(token_grid=grid)  # type: ignore[arg-type]
        print(f"\nPOI recall on the hand-labelled 4K frames (ViT grid {grid}):")
        print(f"{'source':16s} {'top recall':>10s} {'top share':>9s} {'>=1 recall':>10s} "
              f"{'>=1 share':>9s} {'lift':>6s}")
        for r in extra["poi"]:
            print(f"{r['source']:16s} {r['top_recall']:10.3f} {r['top_share']:9.3f} "
                  f"{r['upper_recall']:10.3f} {r['upper_share']:9.3f} {r['lift']:6.2f}")
    if args.json:
        document = {"models": rows, **extra}
        with open(args.json, "w") as handle:
            json.dump(document, handle, indent=2,
                      default=lambda o: o.as_dict() if hasattr(o, "as_dict") else str(o))
    missing = any(w["installed"] is None for row in rows for w in row["weights"])
    return 1 if missing or any("error" in row for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
